"""Conclusions drawn from measurements, computed from the numbers they conclude from.

A sentence after a timing says what the timing shows: whether two latencies differ at all given their spread, by how
much, and whether two Pareto fronts are the same. A ratio inside the spread of its two measurements is no effect, and
the sentence says so instead of "slower by 1.01x".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Timed:
    """A measured thing: its label, its count of MACs and its latency (median, p10, p90 in ms)."""

    label: str
    macs: int
    median_ms: float
    p10_ms: float
    p90_ms: float


def separated(a: Timed, b: Timed) -> bool:
    """The two latencies differ beyond their spread: one's p10 above the other's p90."""
    return a.p10_ms > b.p90_ms or b.p10_ms > a.p90_ms


def compare_pair(follows: Timed, breaks: Timed) -> str:
    """How breaking a guideline changed the latency: 'slower by 1.52x', 'faster by 1.20x (the guideline does not
    hold here)', or 'no measurable effect (1.01x, within the spread)'."""
    ratio = breaks.median_ms / follows.median_ms
    if not separated(follows, breaks):
        return f"no measurable effect ({ratio:.2f}x, within the spread)"
    if ratio > 1:
        return f"slower by {ratio:.2f}x"
    return f"faster by {1 / ratio:.2f}x (the guideline does not hold here)"


def latency_spread(items: Sequence[Timed], matched: bool) -> str:
    """What a table of blocks timed at the same MACs (``matched``) or the same channels shows, in one sentence."""
    if len(items) < 2:
        return "Time at least two blocks to compare them."
    fast = min(items, key=lambda t: t.median_ms)
    slow = max(items, key=lambda t: t.median_ms)
    ratio = slow.median_ms / fast.median_ms
    macs_ratio = max(t.macs for t in items) / max(1, min(t.macs for t in items))
    where = "At matched MACs" if matched else f"At the same channels (their MACs differ up to {macs_ratio:.1f}x)"
    if not separated(fast, slow):
        return (
            f"{where} the blocks' latencies do not differ measurably here: the slowest, {slow.label}, is within the "
            f"spread of the fastest, {fast.label} ({ratio:.2f}x)."
        )
    claim = (
        f"{where} the slowest block, {slow.label} ({slow.median_ms:.3f} ms), takes {ratio:.1f}x as long as the "
        f"fastest, {fast.label} ({fast.median_ms:.3f} ms)"
    )
    if matched:
        return claim + ": their cost in time depends on the bytes they move per MAC and how well the device runs them."
    per_mac = (slow.median_ms / max(1, slow.macs)) / (fast.median_ms / max(1, fast.macs))
    return claim + f"; per MAC the slowest is {per_mac:.1f}x the fastest."


def fronts(by_macs: Sequence[str], by_latency: Sequence[str]) -> str:
    """Whether the accuracy Pareto front by measured latency is the one by MACs, naming the models that differ."""
    a, b = set(by_macs), set(by_latency)
    if a == b:
        return f"Here the front by measured latency holds the same models as the front by MACs: {', '.join(sorted(a))}."
    parts = []
    if b - a:
        parts.append(f"on it by latency only: {', '.join(sorted(b - a))}")
    if a - b:
        parts.append(f"on it by MACs only: {', '.join(sorted(a - b))}")
    return "The Pareto front by measured latency on this device is not the one by MACs (" + "; ".join(parts) + ")."


def busy(results: Sequence) -> list[str]:
    """Labels of the timed results whose spread says the machine was busy (their ``timing.busy``): their medians are
    not to be trusted."""
    return [r.label for r in results if r.timing is not None and r.timing.busy]


def busy_machine(labels: Sequence[str], limit: float, button: str) -> str:
    """The warning for results whose p90 exceeds ``limit`` x p10 (empty when there are none): measure again."""
    if not labels:
        return ""
    return (
        f"Busy machine: the spread of {', '.join(labels)} (p90 more than {limit:g} x p10) says something else ran "
        f"during the measurement. Press *{button}* again."
    )
