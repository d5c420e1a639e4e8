"""The difference of two networks, stage by stage: stages aligned by name where both have it (a design and the
network it started from, two presets of one family) and by position otherwise, with the change in params, MACs
and activation memory per stage and in total, and the change in measured latency when both were measured."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from effnets.networks.report import NetworkReport, StageRow

PRESETS: dict[str, tuple[str, str, str]] = {
    "b0_vs_b1": ("efficientnet_b0", "efficientnet_b1", "EfficientNet-B0 vs B1: compound scaling, one step of phi"),
    "v2_vs_v3": ("mobilenet_v2", "mobilenet_v3_large", "MobileNetV2 vs V3-Large: SE, hard-swish, a searched table"),
    "train_vs_deploy": ("repvgg_a0", "repvgg_a0@deploy=1", "RepVGG-A0 training vs deploy form: branches folded"),
    "mobileone_deploy": ("mobileone_s0", "mobileone_s0@deploy=1", "MobileOne-S0 training vs deploy form"),
    "resnet_vs_convnext": ("resnet50", "convnext_tiny", "ResNet-50 vs ConvNeXt-T: the modernised ResNet"),
}
"""Diffs the lessons need (key -> (a, b, what it teaches)); the builder adds 'your design vs where it started'."""


@dataclass(frozen=True)
class DiffRow:
    """One aligned pair of stages (either side None where a stage exists in one network only)."""

    a: StageRow | None
    b: StageRow | None

    def _v(self, side: StageRow | None, key: str) -> int:
        return getattr(side, key) if side is not None else 0

    def delta(self, key: str) -> int:
        return self._v(self.b, key) - self._v(self.a, key)

    def to_dict(self) -> dict[str, Any]:
        def one(s: StageRow | None) -> dict[str, Any] | None:
            if s is None:
                return None
            return {"stage": s.name, "operator": s.operator, "params": s.params, "macs": s.macs, "acts": s.acts,
                    "output_shape": list(s.output_shape)}  # fmt: skip

        return {"a": one(self.a), "b": one(self.b), **{f"d_{k}": self.delta(k) for k in ("params", "macs", "acts")}}


@dataclass(frozen=True)
class Diff:
    a: NetworkReport
    b: NetworkReport
    rows: list[DiffRow]
    latency_ms: tuple[float, float] | None = None
    notes: list[str] = field(default_factory=list)

    def total(self, key: str) -> int:
        return getattr(self.b, key) - getattr(self.a, key)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "a": {"name": self.a.name, "source": self.a.source, "params": self.a.params, "macs": self.a.macs,
                  "acts": self.a.acts, "input_shape": list(self.a.input_shape)},
            "b": {"name": self.b.name, "source": self.b.source, "params": self.b.params, "macs": self.b.macs,
                  "acts": self.b.acts, "input_shape": list(self.b.input_shape)},
            "d_params": self.total("params"),
            "d_macs": self.total("macs"),
            "d_acts": self.total("acts"),
            "stages": [r.to_dict() for r in self.rows],
            "notes": list(self.notes),
        }  # fmt: skip
        if self.latency_ms is not None:
            out["latency_ms"] = list(self.latency_ms)
            out["d_latency_ms"] = self.latency_ms[1] - self.latency_ms[0]
        return out


def align(a: list[StageRow], b: list[StageRow]) -> list[DiffRow]:
    """Pairs of stages: equal names pair up (difflib's matching blocks, in order); the stages between two matches
    pair by position, and the rest stand alone."""
    rows: list[DiffRow] = []
    sm = difflib.SequenceMatcher(a=[s.name for s in a], b=[s.name for s in b], autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            rows += [DiffRow(a[i], b[j]) for i, j in zip(range(i1, i2), range(j1, j2), strict=True)]
            continue
        n = max(i2 - i1, j2 - j1)
        for k in range(n):
            rows.append(DiffRow(a[i1 + k] if i1 + k < i2 else None, b[j1 + k] if j1 + k < j2 else None))
    return rows


def diff(a: NetworkReport, b: NetworkReport, latency_ms: tuple[float, float] | None = None) -> Diff:
    """The stage-by-stage difference b - a (``latency_ms``: both networks' measured latencies, same device and
    engine, when they were measured)."""
    notes = []
    if a.input_shape != b.input_shape:
        notes.append(
            f"the inputs differ ({'x'.join(map(str, a.input_shape))} vs {'x'.join(map(str, b.input_shape))}): "
            "part of the difference in MACs and activations is the resolution, not the layers"
        )
    return Diff(a, b, align(a.stages, b.stages), latency_ms, notes)


def diff_refs(ref_a: str, ref_b: str) -> Diff:
    """The diff of two network references (:func:`effnets.networks.sources.resolve`)."""
    from effnets.networks.sources import resolve

    return diff(resolve(ref_a), resolve(ref_b))
