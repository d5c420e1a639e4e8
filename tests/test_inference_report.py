"""The Inference Lab's sentences and numbers, checked against the results they are made of."""

from __future__ import annotations

import re

import pytest

import effnets
from effnets.analysis import inference_report as report
from effnets.runtime import bench, weights
from effnets.runtime.timing import timing_from_samples


def _timing(samples, warmup=(40.0, 12.0)) -> dict:
    env = {"device_name": "CPU (test)", "torch": "2.x", "threads": 1}
    return {**timing_from_samples(samples, warmup).to_dict(), "environment": env}


def test_settings_line_says_every_setting():
    line = report.settings_line("efficientnet_lite0", "random init", "CPU", "bf16", channels_last=True, engine="eager")
    assert line.split(" · ") == [
        "**efficientnet_lite0**",
        "weights: **random init**",
        "CPU",
        "bf16",
        "channels_last",
        "eager",
    ]
    assert report.settings_line("m", "w", "GPU", "fp32", False, "fast").endswith("fp32 · fast path")
    assert report.settings_line("m", "w", "CPU", "fp32", True, "openvino").endswith("fp32 · OpenVINO")
    assert weights.download_hint("mobilenet_v1") in report.random_init_warning("mobilenet_v1")


def test_predictions_in_words():
    preds = [{"label": "tabby", "prob": 0.6123, "index": 281}, {"label": "tiger cat", "prob": 0.2, "index": 282}]
    assert report.top1_caption(preds) == f"top-1: **tabby** ({0.6123:.1%}), ImageNet class 281"
    assert report.top_title(5, True) == "top-5" and "meaningless" in report.top_title(3, False)
    assert [report.verdict_kind(v) for v in (True, False, None)] == ["success", "warning", "info"]


def test_preprocessing_in_words():
    tr = weights.eval_transform("efficientnet_lite0")
    text = report.preprocess_intro("efficientnet_lite0", "chelsea", tr)
    for value in (tr.resize, tr.crop, tr.interpolation, tr.normalization):
        assert str(value) in text
    step = {"name": "crop", "description": "centre crop", "shape": "3x224x224", "dtype": "float32"}
    assert report.step_text(step) == "**crop**: centre crop  \ntensor 3x224x224, float32"


def test_busy_is_flagged_with_its_spread():
    calm = _timing([10.0, 10.2, 10.1, 10.3, 9.9, 10.0])
    busy = _timing([10.0, 11.0, 48.0, 10.5, 70.0, 9.8, 35.0])
    assert report.busy_warning(calm) is None
    assert f"p90 is {busy['p90_ms'] / busy['p10_ms']:.1f} x p10" in report.busy_warning(busy)


def test_achieved_rate_agrees_with_the_benchmark_records():
    t = timing_from_samples([4.0, 5.0, 6.0])
    result = bench.BenchResult("m", t, {}, {}, "key", macs=400_000_000)
    assert report.gmacs_per_s(400_000_000, t.median_ms) == pytest.approx(result.gmacs_per_s)


def test_model_macs_is_the_analytic_cost_at_the_weights_settings():
    macs = report.model_macs("efficientnet_lite0", 224)
    fields = weights.pretrained_fields("efficientnet_lite0")
    assert macs == effnets.model_cost("efficientnet_lite0", resolution=224, **fields).macs
    assert report.model_macs("efficientnet_lite0", 160) < macs
    assert report.model_macs("regnet_x_400mf", 224) is None  # torchvision's reference model: not costed here


def test_latency_metrics_read_back():
    t = _timing([8.0, 10.0, 12.0])
    metrics = {m.label: m for m in report.latency_metrics(t, 400_000_000)}
    assert list(metrics) == ["Median latency", "p10 / p90", "Throughput", "Achieved"]
    assert float(metrics["Median latency"].value.removesuffix(" ms")) == pytest.approx(t["median_ms"], abs=0.05)
    p10, p90 = (float(x) for x in re.findall(r"[\d.]+", metrics["p10 / p90"].value))
    assert (p10, p90) == (round(t["p10_ms"]), round(t["p90_ms"]))
    assert float(metrics["Throughput"].value.split()[0]) == round(1e3 / t["median_ms"])
    gmacs = float(metrics["Achieved"].value.split()[0])
    assert gmacs == pytest.approx(0.4 / (t["median_ms"] / 1e3), abs=0.05)  # 0.4 GMAC per image
    assert [m.label for m in report.latency_metrics(t, None)] == ["Median latency", "p10 / p90", "Throughput"]


def test_environment_caption_names_what_the_timing_ran_on():
    t = _timing([8.0, 10.0, 12.0], warmup=(41.4, 12.6))
    text = report.environment_caption(t, "fp16", engine="fast", channels_last=True, warmup=2, repeats=3)
    assert text.startswith("CPU (test) · torch 2.x · 1 CPU thread · fp16 · fast path · channels_last")
    assert text.endswith("2 warm-up + 3 timed runs (warm-up: 41, 13 ms).")
    assert report.timing_key(("m", True, "cpu", 3)) == "infer:m:True:cpu:3"
