"""Conclusions after a measurement agree with the numbers: drawn timing tables with and without effects."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from effnets.analysis.verdicts import Timed, compare_pair, fronts, latency_spread, separated


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
