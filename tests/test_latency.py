"""The Latency Lab's data: blocks set up at the same channels or matched MACs, their rows, their roofline points."""

from __future__ import annotations

import pytest

import effnets
from effnets.analysis import latency, roofline
from effnets.blocks import BLOCKS
from effnets.report import human
from effnets.runtime.bench import BenchResult, BenchRun
from effnets.runtime.timing import timing_from_samples

NAMES = ["standard", "grouped", "depthwise_separable", "shuffle_v2", "mbconv", "fire", "inception"]


@pytest.mark.parametrize(("c", "hw", "k"), [(16, 8, 3), (64, 28, 3), (24, 14, 5), (8, 4, 1)])
def test_the_target_is_the_standard_convs_k2_c2_hw2(c, hw, k):
    assert latency.standard_macs(c, hw, k) == k * k * c * c * hw * hw


def test_same_channels_cost_what_the_registry_says():
    built, skipped = latency.setups(NAMES, "same", 32, 8, 3, "fp32", 4)
    assert not skipped and list(built) == NAMES
    for name, s in built.items():
        assert s.shape == (32, 8, 8) and s.label == BLOCKS[name].label
        assert s.cost.macs == effnets.block_cost(name, (32, 8, 8), **s.fields).macs
        again = roofline.block_intensity(name, s.fields, s.shape, "fp32", 4)
        assert (s.intensity.bytes, s.intensity.macs) == (again.bytes, again.macs)


def test_matched_widths_are_the_closest_multiple_of_8():
    target = latency.standard_macs(16, 8, 3)
    built, _ = latency.setups(["grouped", "fire", "depthwise_separable"], "matched", 16, 8, 3, "fp32", 1)
    for name, s in built.items():
        c = s.spec.in_channels
        assert c % 8 == 0
        for other in (c - 8, c + 8):  # a neighbouring width is never closer to the standard conv's MACs
            if other < 8:
                continue
            try:
                macs = latency.setups([name], "same", other, 8, 3, "fp32", 1)[0][name].cost.macs
            except KeyError:  # the block cannot take that width
                continue
            assert abs(s.cost.macs - target) <= abs(macs - target), (name, c, other)


def test_a_block_that_cannot_take_the_settings_is_left_out_with_why():
    built, skipped = latency.setups(["grouped", "standard"], "same", 1, 8, 3, "fp32", 1)
    assert list(built) == ["standard"]
    assert len(skipped) == 1 and skipped[0].startswith(BLOCKS["grouped"].label + ": ")


def _result(built, ms: dict[str, float]) -> dict:
    ceilings = roofline.Ceilings("cpu", "CPU", {"fp32": 50.0}, 10.0, {"fp32": 512}, 64.0, {}, 1.0)
    results = [
        BenchResult(label=n, timing=timing_from_samples([v] * 3), environment={}, config={}, key=n)
        for n, v in ms.items()
    ]
    return {"ceilings": ceilings, "run": BenchRun(results, False, [], {}, 1, 3)}


def test_rows_count_the_batch_and_place_timed_blocks_on_the_roof():
    batch = 4
    built, _ = latency.setups(["standard", "depthwise_separable", "fire"], "same", 32, 8, 3, "fp32", batch)
    rows, points = latency.table(built, batch)
    assert not points and all("median ms" not in r for r in rows)
    result = _result(built, {"standard": 2.0, "depthwise_separable": 0.5})  # fire not timed
    rows, points = latency.table(built, batch, result)
    by = {r["block"]: r for r in rows}
    assert [p.label for p in points] == [BLOCKS["standard"].label, BLOCKS["depthwise_separable"].label]
    for name, ms in (("standard", 2.0), ("depthwise_separable", 0.5)):
        s, row = built[name], by[BLOCKS[name].label]
        assert row[latency.macs_column(batch)] == s.cost.macs * batch
        gmacs = s.cost.macs * batch / (ms / 1e3) / 1e9
        assert row["GMAC/s"] == pytest.approx(gmacs)
        roof = min(50.0, 10.0 * s.cost.macs * batch / s.intensity.bytes)
        assert row["% of roof"] == pytest.approx(100 * gmacs / roof)
        assert row["bound by"] == ("memory" if s.intensity.intensity < 50.0 / 10.0 else "compute")
    assert "median ms" not in by[BLOCKS["fire"].label]
    assert set(latency.column_formats(batch)) <= set().union(*rows)


def test_timed_and_the_sentence_name_the_blocks():
    built, _ = latency.setups(["standard", "mbconv"], "matched", 16, 8, 3, "fp32", 2)
    items = latency.timed(built, _result(built, {"standard": 1.0, "mbconv": 3.0})["run"])
    assert [(t.label, t.macs, t.median_ms) for t in items] == [
        (BLOCKS["standard"].label, built["standard"].cost.macs, 1.0),
        (BLOCKS["mbconv"].label, built["mbconv"].cost.macs, 3.0),
    ]
    text = latency.describe(2, "matched", 16, 8, 3, 2, "CPU", "auto", 1, "fp32")
    assert f"about {human(16 * 16 * 9 * 64)} MACs per image" in text and "1 thread," in text
    assert "each mapping 16 -> 16 channels" in latency.describe(2, "same", 16, 8, 3, 2, "CPU", "auto", 3, "fp32")


@pytest.mark.parametrize("c, hw", [(1, 224), (4, 28), (16, 8), (64, 28)])
def test_matched_mode_matches_the_standard_conv_or_says_which_block_it_could_not(c, hw):
    names = ["standard", "grouped", "fire", "mbconv", "depthwise_separable"]
    target = latency.standard_macs(c, hw, 3)
    built, _ = latency.setups(names, "matched", c, hw, 3, "fp32", 1)
    assert built["standard"].cost.macs == target and built["standard"].spec.in_channels == c  # the reference itself
    for s in built.values():
        ratio = s.cost.macs / target
        close = 1 / latency.MATCH_TOLERANCE <= ratio <= latency.MATCH_TOLERANCE
        assert close == (s.note == ""), (s.name, ratio, s.note)
        if not close:
            assert s.note.startswith(f"{s.label} is not matched: its closest width, C={s.spec.in_channels}")
    assert "0.0M" not in latency.describe(len(built), "matched", c, hw, 3, 1, "CPU", "auto", 1, "fp32")
