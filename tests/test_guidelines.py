"""ShuffleNetV2's G1-G4 on blocks and models (numbers checked by hand), and the matched-MAC experiments."""

from __future__ import annotations

import math
import threading

import pytest
import torch
from torch import nn

import effnets
from effnets.analysis import guidelines


def by_g(findings) -> dict[str, guidelines.Finding]:
    out = {f.guideline: f for f in findings}
    assert list(out) == ["G1", "G2", "G3", "G4"]
    return out


def test_g1_memory_access_formula():
    mem, low = guidelines.memory_access_1x1(hw=3136, c1=32, c2=192)
    assert mem == 3136 * (32 + 192) + 32 * 192
    b = 3136 * 32 * 192
    assert low == pytest.approx(2 * math.sqrt(3136 * b) + b / 3136)
    eq, eq_low = guidelines.memory_access_1x1(3136, 64, 64)  # equal widths reach the bound
    assert eq == pytest.approx(eq_low)


def test_mbconv_checks():
    f = by_g(guidelines.check_block("mbconv", {"out_channels": 32, "se_ratio": 0.25}, (32, 56, 56)))
    g1 = f["G1"]
    assert g1.status == "warn" and "1:6.0" in g1.summary
    expand = next(r for r in g1.rows if r["label"] == "1x1 expand")
    assert (expand["c_in"], expand["c_out"], expand["ratio"]) == (32, 192, 6.0)
    mem, low = guidelines.memory_access_1x1(3136, 32, 192)
    assert expand["excess"] == pytest.approx(mem / low - 1) and expand["excess"] > guidelines.G1_EXCESS
    se = next(r for r in g1.rows if r["label"] == "SE reduce 1x1")  # on a 1x1 map the weights dominate: balanced
    assert (se["c_in"], se["c_out"]) == (192, 8) and se["excess"] < 0.1
    g2 = f["G2"]
    assert g2.status == "ok" and [r["depthwise"] for r in g2.rows] == [True]
    g3 = f["G3"]
    assert g3.rows == [{"where": "MBConv (inverted residual)", "fragments": 6, "paths": 2, "eager_ops": 12}]
    g4 = f["G4"]
    c = effnets.block_cost("mbconv", (32, 56, 56), out_channels=32)
    assert sum(r["elements"] for r in g4.rows) == c.extra("act") + c.extra("elementwise")
    assert {r["kind"] for r in g4.rows} == {"act", "mul", "add"}


def test_inception_is_fragmented_and_shufflenet_v2_unit_is_not():
    inc = by_g(guidelines.check_block("inception", None, (192, 28, 28)))
    assert inc["G3"].status == "warn" and inc["G3"].rows[0]["paths"] == 4 and inc["G3"].rows[0]["fragments"] == 7
    assert inc["G2"].status == "n/a"
    sv2 = by_g(guidelines.check_block("shuffle_v2", {"out_channels": 116}, (116, 28, 28)))
    assert sv2["G3"].status == "ok" and sv2["G3"].rows[0]["paths"] == 1
    assert sv2["G1"].status == "ok" and all(r["ratio"] == 1.0 for r in sv2["G1"].rows)  # ShuffleNetV2 follows G1


def test_group_counts_in_models():
    rx = by_g(guidelines.check_model("regnetx_400mf"))
    g2 = rx["G2"]
    assert g2.status == "warn"
    assert all(not r["depthwise"] and r["groups"] == r["c_in"] // 16 for r in g2.rows)  # group width 16
    assert all(r["where"].startswith("stage") for r in g2.rows)
    v1 = by_g(guidelines.check_model("shufflenet_v1"))
    assert {r["groups"] for r in v1["G2"].rows if not r["depthwise"]} == {3}
    assert v1["G2"].status == "ok"
    assert (
        by_g(guidelines.check_block("grouped", {"groups": 8, "out_channels": 64}, (64, 14, 14)))["G2"].status == "warn"
    )
    assert by_g(guidelines.check_block("grouped", {"groups": 2, "out_channels": 64}, (64, 14, 14)))["G2"].status == "ok"


def test_model_check_has_one_g3_row_per_block():
    f = by_g(guidelines.check_model("efficientnet_lite0", resolution=224))
    rows = f["G3"].rows
    assert [r["where"] for r in rows][:3] == ["stem.0", "stage2.0", "stage3.0"]
    assert len([r for r in rows if r["where"].startswith("stage")]) == 16  # MBConv blocks of Lite0
    assert f["G3"].status == "ok" and max(r["paths"] for r in rows) == 1
    assert f["G4"].to_dict()["rule"] == guidelines.THRESHOLDS["G4"]


def test_effect_pairs_match_macs_and_differ_only_in_the_aspect():
    for g in ("G1", "G2", "G3", "G4"):
        pair = guidelines.effect_pair(g)
        a, b = pair.follows, pair.breaks
        assert abs(a.macs - b.macs) / a.macs < 0.02, g
        for v in (a, b):
            y = v.module(torch.zeros(1, *v.input_shape))
            assert y.shape[1:] == v.input_shape  # stackable: shape-preserving
    g1 = guidelines.effect_pair("G1")
    convs = [m for m in g1.breaks.module.modules() if isinstance(m, nn.Conv2d)]
    assert {(m.in_channels, m.out_channels) for m in convs} == {(52, 315), (315, 52)}
    g2 = guidelines.effect_pair("G2")
    assert {m.groups for m in g2.breaks.module.modules() if isinstance(m, nn.Conv2d)} == {8}
    assert {m.groups for m in g2.follows.module.modules() if isinstance(m, nn.Conv2d)} == {1}
    g4 = guidelines.effect_pair("G4")
    n_params = [sum(p.numel() for p in v.module.parameters()) for v in (g4.follows, g4.breaks)]
    assert n_params[0] == n_params[1]
    with pytest.raises(ValueError, match="guideline 'G5' is not one of G1, G2, G3, G4"):
        guidelines.effect_pair("G5")
    with pytest.raises(ValueError, match="size 'huge' is not one of small, large"):
        guidelines.effect_pair("G1", "huge")


def test_measured_effect_times_both_interleaved():
    e = guidelines.measured_effect("G3", warmup=1, repeats=3)
    assert e.follows.timing is not None and e.breaks.timing is not None and not e.partial
    assert e.ratio == pytest.approx(e.breaks.median_ms / e.follows.median_ms)
    assert e.follows_macs == e.breaks_macs == e.follows.macs
    assert e.environment["threads"] == torch.get_num_threads() and e.follows.config["guideline"] == "G3"
    assert set(e.to_dict()) >= {"follows", "breaks", "ratio", "question", "environment"}


def test_measured_effects_stop():
    ev = threading.Event()
    ev.set()
    out = guidelines.measured_effects(stop=ev)
    assert len(out) == 1 and out[0].partial and out[0].ratio is None


def _effect(guideline: str, follows: list[float] | None, breaks: list[float] | None) -> guidelines.MeasuredEffect:
    from effnets.runtime.bench import BenchResult
    from effnets.runtime.timing import timing_from_samples

    def result(label: str, samples: list[float] | None) -> BenchResult:
        timing = timing_from_samples(samples) if samples else None
        return BenchResult(label=label, timing=timing, environment={}, config={}, key=label)

    a, b = result("follows", follows), result("breaks", breaks)
    ratio = b.median_ms / a.median_ms if a.timing and b.timing else None
    return guidelines.MeasuredEffect(guideline, "t", "q", a, b, 1000, 1002, ratio, ratio is None, {})


def test_effect_rows_say_an_effect_only_outside_the_spread():
    slower = _effect("G1", [1.0, 1.0, 1.1], [3.0, 3.0, 3.2])  # separated: breaking it is 3x slower
    same = _effect("G2", [1.0, 1.2, 1.4], [1.1, 1.3, 1.5])  # inside each other's spread
    stopped = _effect("G3", [1.0, 1.0, 1.0], None)
    rows = guidelines.effect_rows([slower, same, stopped])
    assert [r["guideline"] for r in rows] == ["G1", "G2", "G3"]
    assert rows[0]["effect of breaking it"] == f"slower by {3.0 / 1.0:.2f}x"
    assert rows[0]["follows (ms)"] == slower.follows.median_ms and rows[0]["MACs breaks"] == 1002
    assert rows[1]["effect of breaking it"].startswith("no measurable effect")
    assert rows[2]["effect of breaking it"] == "not measured (stopped)" and rows[2]["breaks (ms)"] is None
