"""Per-layer time on the eager path (effnets.runtime.per_layer): one row per leaf layer, MACs that sum to
FlopCounterMode's total and match each conv's formula, positive times, the sum against the whole with the gap's
pieces adding up, stages from the registry's rows, and ``bench model NAME --per-layer --json`` as a user runs it.
Small models at low resolution, few repeats: nothing here asserts a speed."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import effnets
from effnets.cli import main
from effnets.counting import build_on_meta, flop_counter_macs
from effnets.models import MODELS
from effnets.runtime import per_layer


def _called_leaves(model: nn.Module, shape) -> list[str]:
    """Names of the leaf modules a forward calls, seen by plain forward hooks (an independent count)."""
    seen: list[str] = []
    names = {id(m): n for n, m in model.named_modules()}
    hooks = [
        m.register_forward_hook(lambda m, a, o: seen.append(names[id(m)]) if names[id(m)] not in seen else None)
        for m in model.modules()
        if not list(m.children())
    ]
    with torch.no_grad():
        model(torch.zeros(1, *shape))
    for h in hooks:
        h.remove()
    return seen


@pytest.fixture(scope="module")
def v3_small():
    model = effnets.build_model("mobilenet_v3_small").eval()
    r = per_layer.profile(
        model, (3, 64, 64), warmup=1, repeats=3, stage_labels=per_layer.stage_labels("mobilenet_v3_small")
    )
    return model, r


def test_one_row_per_leaf_layer(v3_small):
    model, r = v3_small
    assert sorted(row.name for row in r.layers) == sorted(_called_leaves(model, (3, 64, 64)))
    types = {row.name: row.type for row in r.layers}
    modules = dict(model.named_modules())
    assert all(type(modules[n]).__name__ == t for n, t in types.items())


def test_macs_sum_to_flop_counter_and_match_each_conv(v3_small):
    model, r = v3_small
    total = flop_counter_macs(build_on_meta(lambda: effnets.build_model("mobilenet_v3_small")), (3, 64, 64))
    assert sum(row.macs for row in r.layers) == total == r.flop_counter_macs
    info = MODELS["mobilenet_v3_small"]
    assert total == info.cost(info.make_spec(resolution=64), record_steps=False).macs  # the analytic model agrees
    modules = dict(model.named_modules())
    for row in r.layers:
        m = modules[row.name]
        if isinstance(m, nn.Conv2d):
            out = torch.Size(row.out_shape).numel()
            assert row.macs == out * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1], row.name
        elif isinstance(m, nn.Linear):
            assert row.macs == m.in_features * m.out_features, row.name
        else:
            assert row.macs == 0, row.name


def test_times_positive_and_gap_adds_up(v3_small):
    _, r = v3_small
    assert all(row.ms > 0 and row.p10_ms <= row.ms <= row.p90_ms for row in r.layers)
    assert r.median_ms > 0 and r.sum_ms == pytest.approx(sum(row.ms for row in r.layers))
    assert r.median_ms == pytest.approx(r.sum_ms + r.outside_ms - r.hook_ms)
    assert sum(row.share_ms for row in r.layers) == pytest.approx(1.0)
    assert sum(row.share_macs for row in r.layers) == pytest.approx(1.0)
    assert r.outside_ops.get("add", 0) > 0 and r.outside_ops.get("mul", 0) > 0  # residual adds, SE scales
    assert r.container_calls > 0
    assert len(r.gap) >= 3 and "whole forward" in r.gap[0]
    d = r.to_dict()
    assert d["backend"] == "eager" and len(d["layers"]) == len(r.layers)


def test_stages_are_the_registry_rows(v3_small):
    _, r = v3_small
    labels = per_layer.stage_labels("mobilenet_v3_small")
    assert [g.name for g in r.stages] == list(labels.values())
    assert sum(g.layers for g in r.stages) == len(r.layers)
    assert sum(g.ms for g in r.stages) == pytest.approx(r.sum_ms)
    assert sum(g.macs for g in r.stages) == r.flop_counter_macs
    assert {g.name for g in r.kinds} <= set(per_layer.KINDS)


def test_layer_kinds():
    kinds = {
        nn.Conv2d(8, 16, 3): "conv",
        nn.Conv2d(8, 8, 3, groups=8): "depthwise conv",
        nn.Conv2d(8, 16, 3, groups=2): "grouped conv",
        nn.ConvTranspose2d(8, 8, 2): "transposed conv",
        nn.Linear(4, 4): "linear",
        nn.BatchNorm2d(4): "norm",
        nn.LayerNorm(4): "norm",
        nn.Hardswish(): "act",
        nn.AdaptiveAvgPool2d(1): "pool",
        nn.Dropout(): "no-op",
        nn.Flatten(): "no-op",
    }
    for m, kind in kinds.items():
        assert per_layer.layer_kind(m) == kind, m
    assert per_layer.layer_kind(nn.Module()) == "other"


def test_block_outside_ops_and_shapes():
    tr = per_layer.trace_layers(effnets.build_block("shuffle_v2", in_channels=32, out_channels=32), (32, 16, 16))
    ops = {op.op for op in tr.outside}
    assert "cat" in ops  # the concat of the two branches is no module
    assert all(layer.in_shape[0] == 1 for layer in tr.layers)
    r = per_layer.block_per_layer("resnet_basic", {"out_channels": 16}, (16, 8, 8), warmup=0, repeats=1)
    assert r.outside_ops.get("add") == 1 and {row.kind for row in r.layers} >= {"conv", "norm", "act"}


def test_bench_model_per_layer_json(capsys):
    code = main(["bench", "model", "shufflenet_v2_x0_5", "--per-layer", "--json", "--resolution", "32", "--device",
                 "cpu", "--threads", "1", "--warmup", "0", "--repeats", "2"])  # fmt: skip
    assert code == 0
    d = json.loads(capsys.readouterr().out)
    assert d["backend"] == "eager" and d["median_ms"] > 0 and d["sum_ms"] > 0
    assert {"name", "kind", "macs", "ms"} <= set(d["layers"][0])
    model = effnets.build_model("shufflenet_v2_x0_5").eval()
    assert len(d["layers"]) == len(_called_leaves(model, (3, 32, 32)))
    assert sum(row["macs"] for row in d["layers"]) == effnets.model_cost("shufflenet_v2_x0_5", resolution=32).macs


def test_bench_model_per_layer_text_and_errors(capsys):
    assert main(["bench", "model", "mnasnet0_5", "--per-layer", "--resolution", "32", "--device", "cpu",
                 "--warmup", "0", "--repeats", "1"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "sum of the layers" in out and "the slowest layers" in out
    assert main(["bench", "model", "mnasnet0_5", "--per-layer", "--compile"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("effnets: error:") and "--compile" in err and len(err.splitlines()) == 1


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_events_path():
    model = effnets.build_model("mobilenet_v3_small").eval()
    r = per_layer.profile(model, (3, 64, 64), device="cuda", warmup=1, repeats=3)
    assert all(row.ms > 0 for row in r.layers) and r.environment["device"].startswith("cuda")
    assert sum(row.macs for row in r.layers) == r.flop_counter_macs
