"""Training cost: forward MACs equal effnets' analytic count x batch, backward = two forward-sized products per layer
(checked against the same network with its groups split into plain convs), the activations kept for backward
counted exactly on a hand-sized net and on the meta device as on the CPU, the memory timeline's peak and split,
the measured step, the CLI's JSON and errors, and the Scaling Lab's Training cost tab."""

from __future__ import annotations

import io
import json
import math
from contextlib import redirect_stderr, redirect_stdout

import pytest
import torch
from torch import nn

import effnets
from effnets.analysis import training
from effnets.analysis.scaling import activation_bytes
from effnets.cli import main
from effnets.runtime import training as runtime_training


@pytest.fixture(scope="module")
def small() -> training.TrainingCost:
    """MobileNetV3-Small at 64 px, batch 4 (depthwise convs, SE, in-place Hardswish)."""
    return training.model_training_cost("mobilenet_v3_small", batch=4, resolution=64)


def test_forward_macs_equal_the_analytic_count_times_the_batch(small):
    cost = effnets.model_cost("mobilenet_v3_small", resolution=64)
    assert small.flops.forward_macs == cost.macs * 4
    assert sum(r["forward"] for r in small.flops.rows) == small.flops.forward_macs
    assert small.inference_activation_bytes == activation_bytes(cost, 4, 4)


def test_backward_is_two_forwards_less_the_stems_input_gradient(small):
    f = small.flops
    assert f.backward_macs > f.forward_macs
    assert f.input_grad_skipped > 0
    assert f.backward_macs == 2 * f.forward_macs - f.input_grad_skipped
    stem = next(r for r in f.rows if r["kind"] == "dense conv kxk")
    assert stem["grad wrt input"] == 0 and stem["grad wrt weight"] == stem["forward"]
    for r in f.rows:
        assert r["grad wrt weight"] == r["forward"]  # every layer's weight needs its gradient
    assert 1.9 < f.ratio < 2.0
    # torch 2.14's stock rule multiplies each grouped conv's weight gradient by its groups
    assert f.flop_counter_backward_macs > 10 * f.backward_macs


class _Grouped(nn.Module):
    def __init__(self, c: int, g: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, 2 * c, 3, padding=1, groups=g, bias=False)

    def forward(self, x):
        return self.conv(x)


class _Split(nn.Module):
    """The same grouped conv as ``g`` plain convs on channel slices, concatenated: the stock rule is right here."""

    def __init__(self, c: int, g: int) -> None:
        super().__init__()
        self.g = g
        self.convs = nn.ModuleList(nn.Conv2d(c // g, 2 * c // g, 3, padding=1, bias=False) for _ in range(g))

    def forward(self, x):
        return torch.cat([conv(part) for conv, part in zip(self.convs, x.chunk(self.g, 1), strict=True)], 1)


@pytest.mark.parametrize("groups", [4, 16])
def test_the_grouped_conv_rule_matches_the_same_conv_split_into_plain_ones(groups):
    shape, n = (16, 8, 8), 3

    def flops(factory):
        step = runtime_training.make_step(factory().to("meta"), shape, n, "sgd", device="meta")
        step.x.requires_grad_(True)  # both gradients, so both rules are exercised
        return training.training_flops(step)

    grouped, split = flops(lambda: _Grouped(16, groups)), flops(lambda: _Split(16, groups))
    assert grouped.forward_macs == split.forward_macs
    assert grouped.backward_macs == split.backward_macs == 2 * grouped.forward_macs
    assert split.flop_counter_backward_macs == split.backward_macs
    weight = grouped.forward_macs
    assert grouped.flop_counter_backward_macs == weight + groups * weight  # what the stock rule says


def test_kept_activations_of_a_conv_bn_relu_counted_by_hand():
    def factory():
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True))

    n, out = 4, 8 * 16 * 16
    tc = training.network_training_cost(factory, (3, 16, 16), 3 * 9 * out, out, "conv-bn-relu", batch=n)
    # BN keeps its input (the conv's output) and its batch mean and 1/std; the in-place ReLU keeps its output
    assert tc.timeline.saved == {"BatchNorm2d": n * out * 4 + 2 * 8 * 4, "ReLU": n * out * 4}
    assert tc.inference_activation_bytes == (out + 3 * 16 * 16) * n * 4
    params = 3 * 8 * 9 + 2 * 8
    assert tc.params == params
    assert tc.timeline.baseline["optimizer state"] == params * 4  # SGD's momentum: one buffer per parameter
    assert tc.timeline.baseline["input batch"] == n * 3 * 16 * 16 * 4


def test_saved_activations_exceed_the_inference_figure_for_a_conv_net(small):
    assert small.saved_bytes > 0
    assert small.saved_bytes >= small.inference_activation_bytes
    assert small.timeline.saved_storages <= small.timeline.saved_tensors
    copies = [k for k in small.timeline.saved if "in-place" in k]
    assert copies and copies[0].startswith("Hardswish")  # autograd copies the input an in-place Hardswish overwrites


def test_timeline_peak_holds_params_and_grads_and_ends_with_the_activations_freed(small):
    tl = small.timeline
    param_bytes = small.params * 4
    assert tl.peak_bytes >= param_bytes + param_bytes
    assert sum(tl.peak()["split"].values()) == tl.peak_bytes
    starts = [tl.phase_start(p) for p in runtime_training.PHASES]
    assert starts[0] == 0 < starts[1] < starts[2] < len(tl.ops)
    end = tl.split_at(len(tl.ops) - 1)
    assert end["saved for backward"] == 0 and end["gradients"] == param_bytes
    before_backward = tl.split_at(starts[1] - 1)
    assert before_backward["saved for backward"] == small.saved_bytes and before_backward["gradients"] == 0
    assert small.peak_rows()[0]["category"] == "parameters"


def test_adam_keeps_two_moments_per_parameter():
    tc = training.block_training_cost("mbconv", (16, 16, 16), batch=2, optimizer="adam")
    state = tc.timeline.baseline["optimizer state"]
    n_tensors = sum(1 for _ in effnets.build_block("mbconv", in_channels=16).parameters())
    assert state == 2 * tc.params * 4 + n_tensors * 4  # exp_avg, exp_avg_sq and a float step count per tensor


def test_the_cpu_run_tracks_the_same_memory_as_the_meta_trace():
    shape = (16, 16, 16)

    def timeline(device):
        torch.manual_seed(0)
        module = effnets.build_block("mbconv", in_channels=16)
        return runtime_training.memory_timeline(runtime_training.make_step(module, shape, 2, "sgd", device=device))

    cpu, meta = timeline("cpu"), timeline("meta")
    assert cpu.saved == meta.saved and cpu.peak_bytes == meta.peak_bytes and cpu.ops == meta.ops


def test_a_measured_step_against_inference():
    tc = training.block_training_cost("depthwise_separable", (8, 16, 16), batch=2)
    m = training.measure(lambda: effnets.build_block("depthwise_separable", in_channels=8), tc, "cpu", 0, 2)
    assert m["training_step_ms"] > 0 and m["inference_ms"] > 0 and m["step_to_inference"] > 0
    assert math.isclose(m["macs_ratio"], 1 + tc.flops.ratio)
    assert len(training.measured_metrics(m)) == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_timeline_records_the_allocator():
    step = runtime_training.make_step(effnets.build_block("mbconv", in_channels=16), (16, 32, 32), 4, device="cuda")
    tl = runtime_training.memory_timeline(step)
    assert len(tl.allocator) == len(tl.ops) and set(tl.allocator_peaks) == set(runtime_training.PHASES)
    assert max(tl.allocator_peaks.values()) >= tl.peak_bytes * 0.9


def test_errors_name_the_setting():
    with pytest.raises(ValueError, match="batch 1"):
        training.model_training_cost("mobilenet_v3_small", batch=1, resolution=64)
    with pytest.raises(ValueError, match="optimizer 'lion'"):
        training.model_training_cost("mobilenet_v3_small", batch=2, resolution=64, optimizer="lion")
    with pytest.raises(ValueError, match="meta device has no time"):
        runtime_training.time_step(runtime_training.make_step(_Grouped(4, 2).to("meta"), (4, 4, 4), 2))


def _cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_cli_json():
    code, out, _ = _cli(["train-cost", "block", "mbconv", "--input", "16,16,16", "--batch", "4", "--json"])
    assert code == 0
    d = json.loads(out)
    assert d["flops"]["forward_macs"] == d["analytic_macs_batch"] == effnets.block_cost("mbconv", (16, 16, 16)).macs * 4
    assert d["flops"]["backward_macs"] > d["flops"]["forward_macs"]
    assert d["saved_activation_bytes"] >= d["inference_activation_bytes"] > 0
    assert set(d["memory"]["peak"]["split"]) == set(runtime_training.CATEGORIES) and "series" not in d["memory"]
    code, out, _ = _cli(["train-cost", "model", "mobilenet_v3_small", "--resolution", "64", "--batch", "2",
                         "--optimizer", "adam", "--json", "--series"])  # fmt: skip
    d = json.loads(out)
    assert code == 0 and d["optimizer"] == "adam" and len(d["memory"]["series"]["bytes_alive"]) > 100


@pytest.mark.parametrize(
    "argv, text",
    [
        (["train-cost", "model", "mobilenet_v3_small", "--batch", "1"], "--batch 1"),
        (["train-cost", "model", "no_such_net"], "no_such_net"),
        (["train-cost", "block", "mbconv", "--optimizer", "lion"], "lion"),
        (["train-cost", "block", "mbconv", "--set", "in_channels=3"], "in_channels"),
    ],
)
def test_cli_errors_are_one_line_with_exit_2(argv, text):
    code, _, err = _cli(argv)
    assert code == 2 and text in err and len(err.strip().splitlines()) == 1


def test_scaling_lab_training_tab():
    from effnets.models import MODELS
    from tests.app.conftest import metric, no_exceptions, page

    at = page("scaling_lab.py", section="Training cost").run()
    at.selectbox(key="scaling.family").set_value(MODELS["mobilenet_v3_small"].family).run()
    at.selectbox(key="scaling.preset").set_value("mobilenet_v3_small").run()
    at.number_input(key="scaling.batch").set_value(4)
    at.toggle(key="scaling.train_trace").set_value(True).run()
    no_exceptions(at)
    tc = training.model_training_cost("mobilenet_v3_small", batch=4)
    assert metric(at, "Forward MACs, step") == effnets.report.human(tc.flops.forward_macs)
    assert metric(at, "Peak memory, step") == effnets.report.human_bytes(tc.timeline.peak_bytes)
