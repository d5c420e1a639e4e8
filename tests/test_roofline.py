"""Roofline: the byte model on layers whose traffic is known by hand, measured ceilings (small sizes), plot data."""

from __future__ import annotations

import math

import pytest
import torch

import effnets
import effnets.runtime.inference
from effnets.analysis import roofline

HAS_CUDA = torch.cuda.is_available()


def test_standard_conv_traffic_by_hand():
    # 3x3 conv 64 -> 64 on 56x56 (padding keeps the size), BN, ReLU
    c = effnets.block_cost("standard", (64, 56, 56), out_channels=64)
    (layer,) = roofline.layer_traffic(c, "fp32")
    assert layer.macs == 64 * 64 * 9 * 56 * 56
    assert layer.input_bytes == 64 * 56 * 56 * 4
    assert layer.weight_bytes == 64 * 64 * 9 * 4  # no bias
    assert layer.output_bytes == 64 * 56 * 56 * 4
    assert layer.intensity == pytest.approx(layer.macs / (layer.input_bytes + layer.weight_bytes + layer.output_bytes))
    half = roofline.layer_traffic(c, "fp16")[0]
    assert half.bytes * 2 == layer.bytes and half.intensity == pytest.approx(2 * layer.intensity)


def test_batch_scales_activations_not_weights():
    c = effnets.block_cost("standard", (64, 56, 56), out_channels=64)
    one, four = roofline.arithmetic_intensity(c, batch=1), roofline.arithmetic_intensity(c, batch=4)
    w = 64 * 64 * 9 * 4
    assert four.macs == 4 * one.macs
    assert four.bytes - w == 4 * (one.bytes - w)
    assert four.intensity > one.intensity


def test_depthwise_is_memory_heavy_and_block_totals_add_up():
    dw = roofline.block_intensity("depthwise", None, (64, 56, 56))
    std = roofline.block_intensity("standard", {"out_channels": 64}, (64, 56, 56))
    # a depthwise 3x3 does 9 MACs per output element and moves ~8 bytes for it: intensity near 1
    assert dw.intensity == pytest.approx(9 * 64 * 3136 / ((2 * 64 * 3136 + 64 * 9) * 4))
    assert std.intensity > 50 * dw.intensity
    mb = roofline.block_intensity("mbconv", {"out_channels": 32}, (32, 28, 28))
    assert mb.macs == sum(t.macs for t in mb.layers) == effnets.block_cost("mbconv", (32, 28, 28)).macs
    assert mb.bytes == sum(t.bytes for t in mb.layers)
    assert {t.branch for t in mb.layers} == {"", "SE"}
    assert mb.to_dict(layers=True)["layers"][0]["label"] == "1x1 expand"


def test_model_intensity_counts_every_conv_and_the_classifier():
    i = roofline.model_intensity("efficientnet_lite0")
    assert i.macs == effnets.model_cost("efficientnet_lite0").macs
    fc = i.layers[-1]
    assert fc.kind == "linear" and fc.input_bytes == 1280 * 4 and fc.weight_bytes == (1280 * 1000 + 1000) * 4
    assert 1 < i.intensity < 50
    assert roofline.model_intensity("efficientnet_lite0", resolution=112).macs < i.macs


def test_errors_are_actionable():
    c = effnets.block_cost("standard", (8, 8, 8))
    with pytest.raises(ValueError, match="precision 'int8' is not one of fp32, fp16, bf16"):
        roofline.layer_traffic(c, "int8")
    with pytest.raises(ValueError, match="batch=0 must be at least 1"):
        roofline.layer_traffic(c, batch=0)
    from effnets import cost

    bare = cost.conv(cost.start(8, 8, 8, record_steps=False), 8, 3)
    with pytest.raises(ValueError, match="record_steps=True"):
        roofline.arithmetic_intensity(bare)
    with pytest.raises(ValueError, match="latency 0 ms must be positive"):
        roofline.achieved_gmacs(10, 0)
    with pytest.raises(ValueError, match="precision 'fp16' is not available on cpu"):
        roofline.measure_ceilings("cpu", "fp16")


def test_ceilings_measured_and_cached_and_the_roof():
    roofline.clear_cache()
    c = roofline.measure_ceilings("cpu", matmul_n=256, copy_mb=8, repeats=2)
    assert c.peak_gmacs["fp32"] > 0 and c.bandwidth_gbs > 0
    assert c.matmul_n == {"fp32": 256} and c.copy_mb == 8
    assert c.environment["threads"] == torch.get_num_threads() and c.seconds > 0
    assert roofline.measure_ceilings("cpu", matmul_n=256, copy_mb=8, repeats=2) is c  # cached
    if "bf16" in effnets.runtime.devices.supported_precisions("cpu"):
        b = roofline.measure_ceilings("cpu", "bf16", matmul_n=128, copy_mb=8, repeats=2)
        assert b.peak_gmacs["bf16"] > 0 and b.matmul_n == {"fp32": 128, "bf16": 128}
        assert b.bandwidth_gbs == c.bandwidth_gbs  # the copy is measured once per (device, threads, size)
    ridge = c.ridge()
    assert ridge == pytest.approx(c.peak_gmacs["fp32"] / c.bandwidth_gbs)
    assert c.attainable(ridge / 10) == pytest.approx(c.bandwidth_gbs * ridge / 10)
    assert c.attainable(ridge * 10) == pytest.approx(c.peak_gmacs["fp32"])
    i = roofline.block_intensity("depthwise", None, (32, 28, 28))
    p = roofline.roofline_point("depthwise", i, latency_ms=0.5, ceilings=c)
    assert p.achieved_gmacs == pytest.approx(i.macs / 0.5e-3 / 1e9)
    assert p.bound == ("memory" if i.intensity < ridge else "compute")
    assert p.efficiency == pytest.approx(p.achieved_gmacs / c.attainable(i.intensity))
    plot = roofline.roofline_plot(c, [p], n=16)
    assert len(plot.x) == 16 and plot.x[0] < min(i.intensity, ridge) and plot.x[-1] > max(i.intensity, ridge)
    assert all(math.isclose(y, c.attainable(x)) for x, y in zip(plot.x, plot.roof["fp32"], strict=True))
    d = plot.to_dict()
    assert d["points"][0]["label"] == "depthwise" and "weights" in d["byte_model"] and d["ridge"]["fp32"] == ridge


def test_default_sizes_fit_the_device():
    assert roofline.default_sizes("cpu") == (1024, 128)
    assert roofline.default_sizes("cpu", "bf16")[0] <= 1024
    if HAS_CUDA:
        assert roofline.default_sizes("cuda") == (8192, 1024)


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")
def test_cuda_ceilings():
    c = roofline.measure_ceilings("cuda", "fp16")
    # any CUDA GPU worth running this on: > 1 TMAC/s fp16 and > 100 GB/s; fp16 at least as fast as fp32
    assert c.peak_gmacs["fp16"] > 1000 and c.bandwidth_gbs > 100
    assert c.peak_gmacs["fp16"] >= c.peak_gmacs["fp32"]
    assert c.device.startswith("cuda") and c.seconds < 30


def test_roofline_figure_spans_the_data_and_the_ridge_and_says_its_ceilings_in_prose():
    from effnets.figures.zoo import roofline_figure, spread_labels

    c = roofline.Ceilings("cpu", "CPU (x86_64, 2 threads)", {"fp32": 400.0}, 20.0, {"fp32": 1024}, 128.0, {}, 1.0)
    blocks = ["standard", "depthwise", "depthwise_separable", "shuffle_v2", "mbconv"]
    pts = [
        roofline.roofline_point(n, roofline.block_intensity(n, None, (32, 28, 28)), 0.3 + i / 10, c)
        for i, n in enumerate(blocks)
    ]
    plot = roofline.roofline_plot(c, pts)
    fig = roofline_figure(plot)
    lo, hi = 10 ** fig.layout.xaxis.range[0], 10 ** fig.layout.xaxis.range[1]
    xs = [p.intensity for p in pts] + [c.ridge()]
    assert lo < min(xs) and hi > max(xs) and hi / lo < 16 * max(xs) / min(xs) * 1.01  # a margin, not 1e8
    assert not fig.layout.annotations  # (on a log axis an annotation's x is a power of ten)
    text = c.describe()
    assert "{" not in text and "1,024 x 1,024 matmul" in text and "20.0 GB/s" in text
    positions = spread_labels([(1.0, 1.0), (1.1, 1.05), (1.2, 0.95), (50.0, 50.0)])
    assert len(set(positions[:3])) == 3 and positions[3] == "top center"
