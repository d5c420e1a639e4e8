"""Conclusions after a measurement agree with the numbers: drawn timing tables with and without effects."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from effnets.analysis.verdicts import Timed, busy, busy_machine, compare_pair, fronts, latency_spread, separated


@st.composite
def timed(draw, label: str = "x"):
    median = draw(st.floats(0.05, 50.0))
    lo = draw(st.floats(0.5, 1.0)) * median
    hi = draw(st.floats(1.0, 2.0)) * median
    return Timed(label, draw(st.integers(1_000, 10**9)), median, lo, hi)


@given(a=timed("follows"), b=timed("breaks"))
def test_a_ratio_is_an_effect_only_outside_its_spread(a, b):
    text = compare_pair(a, b)
    ratio = b.median_ms / a.median_ms
    if not separated(a, b):
        assert text.startswith("no measurable effect")
    elif ratio > 1:
        assert text == f"slower by {ratio:.2f}x"
    else:
        assert text.startswith("faster by") and "does not hold" in text


def test_a_1_01x_ratio_is_no_effect():
    assert compare_pair(Timed("a", 1, 1.0, 0.9, 1.1), Timed("b", 1, 1.01, 0.92, 1.12)).startswith("no measurable")


@given(items=st.lists(timed(), min_size=2, max_size=7), matched=st.booleans())
def test_latency_spread_names_the_computed_fastest_and_slowest(items, matched):
    items = [Timed(f"block{i}", t.macs, t.median_ms, t.p10_ms, t.p90_ms) for i, t in enumerate(items)]
    text = latency_spread(items, matched)
    fast = min(items, key=lambda t: t.median_ms)
    slow = max(items, key=lambda t: t.median_ms)
    assert text.startswith("At matched MACs" if matched else "At the same channels")
    if separated(fast, slow):
        m = re.search(r"takes ([\d.]+)x as long", text)
        assert m and float(m.group(1)) == round(slow.median_ms / fast.median_ms, 1)
        assert slow.label in text and fast.label in text
    else:
        assert "do not differ measurably" in text and "several-fold" not in text


def test_fronts_say_whether_they_differ():
    assert fronts(["a", "b"], ["b", "a"]).startswith("Here the front by measured latency holds the same")
    text = fronts(["a", "b"], ["a", "c"])
    assert "is not the one by MACs" in text and "by latency only: c" in text and "by MACs only: b" in text


def test_busy_names_the_results_whose_p90_is_far_above_their_p10():
    from effnets.runtime.bench import BenchResult
    from effnets.runtime.timing import BUSY_SPREAD, timing_from_samples

    samples = {
        "steady": [1.0] * 10,
        "noisy": [1.0] * 5 + [10.0] * 5,  # p10 1 ms, p90 10 ms
        "mild": [1.0] * 5 + [1.5] * 5,
        "failed": None,
    }
    results = [
        BenchResult(n, timing_from_samples(s) if s else None, {}, {}, n, error=None if s else "x")
        for n, s in samples.items()
    ]
    # A second way: the spread from the samples, 10th and 90th percentiles interpolated linearly.
    import numpy as np

    expected = [n for n, s in samples.items() if s and np.percentile(s, 90) > BUSY_SPREAD * np.percentile(s, 10)]
    assert busy(results) == expected == ["noisy"]
    text = busy_machine(["MobileNet V2", "noisy"], BUSY_SPREAD, "Measure latency")
    assert "MobileNet V2, noisy" in text and f"more than {BUSY_SPREAD:g} x p10" in text
    assert text.endswith("Press *Measure latency* again.")
    assert busy_machine([], BUSY_SPREAD, "Measure") == ""
