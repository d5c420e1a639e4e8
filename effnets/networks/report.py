"""One record for a network from any source (registry, the builder, torchvision, timm, ONNX): its totals, its
stages and its layers, counted with the project's conventions (:mod:`effnets.cost`'s docstring: MACs are the
multiply-accumulates of convs and linear layers; the extras lines count the rest, per output element)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from effnets.cost import EXTRA_KINDS

SOURCES = ("registry", "builder", "torchvision", "timm", "onnx")


def no_extras() -> dict[str, int]:
    return dict.fromkeys(EXTRA_KINDS, 0)


@dataclass(frozen=True)
class LayerRow:
    """One leaf layer (a module, or an ONNX node) with its counts per sample.

    Attributes:
        name: the module path ("features.3.block.0.0") or the node's name.
        kind: conv, depthwise conv, grouped conv, transposed conv, linear, norm, act, pool, elementwise, reshape,
            no-op or other (effnets.runtime.layer_trace.KINDS plus what ONNX graphs add).
        stage: the key of the stage the layer belongs to (StageRow.name).
        params: learnable parameters (numel) it holds; macs: its conv/linear MACs.
        acts: output elements it writes; extras: its count on each extras line (EXTRA_KINDS).
        output_shape: its output shape without the batch dimension.
        op: the module's class name or the ONNX op type.
    """

    name: str
    kind: str
    stage: str
    params: int = 0
    macs: int = 0
    acts: int = 0
    extras: dict[str, int] = field(default_factory=no_extras)
    output_shape: tuple[int, ...] = ()
    op: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "stage": self.stage,
            "op": self.op,
            "params": self.params,
            "macs": self.macs,
            "acts": self.acts,
            "extras": dict(self.extras),
            "output_shape": list(self.output_shape),
        }


@dataclass(frozen=True)
class StageRow:
    """One stage (a row of the stage table, a top-level child, timm's ``stages.N``, an ONNX name prefix).

    Attributes:
        name: its key ("stem", "stage3", "features.4", "head"); operator: what it does, in words.
        params, macs, acts, extras: the sums over its layers.
        output_shape: the shape after it (without the batch dimension); layers: how many leaf layers it has.
    """

    name: str
    operator: str
    params: int
    macs: int
    acts: int
    extras: dict[str, int]
    output_shape: tuple[int, ...]
    layers: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "operator": self.operator,
            "params": self.params,
            "macs": self.macs,
            "acts": self.acts,
            "extras": dict(self.extras),
            "output_shape": list(self.output_shape),
            "layers": self.layers,
        }


@dataclass(frozen=True)
class NetworkReport:
    """A network's counts from any source, per sample at ``input_shape``.

    Attributes:
        name: what the user asked for ("efficientnet_b0", "timm:convnext_atto", "model.onnx", "my design").
        source: one of SOURCES.
        input_shape: (C, H, W) it was counted at.
        params, macs, acts, extras: totals (params counted once even where a module is called twice).
        output_shape: the output's shape without the batch dimension.
        stages, layers: the rows (stage sums add up to the totals, except params of shared modules).
        notes: what the user should know (tracers that disagree and why, what was not counted, scaling rules).
        scaling: the scaling rule the network's family has ("" when it has none; then the page says so).
    """

    name: str
    source: str
    input_shape: tuple[int, ...]
    params: int
    macs: int
    acts: int
    extras: dict[str, int]
    output_shape: tuple[int, ...]
    stages: list[StageRow] = field(default_factory=list)
    layers: list[LayerRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    scaling: str = ""

    @property
    def flops(self) -> int:
        """2 x MACs (the conv/linear FLOPs)."""
        return 2 * self.macs

    def to_dict(self, layers: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "source": self.source,
            "input_shape": list(self.input_shape),
            "params": self.params,
            "macs": self.macs,
            "flops": self.flops,
            "acts": self.acts,
            "extras": dict(self.extras),
            "output_shape": list(self.output_shape),
            "stages": [s.to_dict() for s in self.stages],
            "notes": list(self.notes),
            "scaling": self.scaling,
        }
        if layers:
            out["layers"] = [r.to_dict() for r in self.layers]
        return out


def stages_from_layers(layers: list[LayerRow], operators: dict[str, str] | None = None) -> list[StageRow]:
    """Stage rows summed from layer rows, in the order their stages first appear (``operators``: a description
    per stage key; the key itself otherwise)."""
    order: list[str] = []
    groups: dict[str, list[LayerRow]] = {}
    for r in layers:
        if r.stage not in groups:
            order.append(r.stage)
            groups[r.stage] = []
        groups[r.stage].append(r)
    out = []
    for key in order:
        rows = groups[key]
        extras = no_extras()
        for r in rows:
            for k, v in r.extras.items():
                extras[k] = extras.get(k, 0) + v
        out.append(
            StageRow(
                name=key,
                operator=(operators or {}).get(key, key),
                params=sum(r.params for r in rows),
                macs=sum(r.macs for r in rows),
                acts=sum(r.acts for r in rows),
                extras=extras,
                output_shape=rows[-1].output_shape,
                layers=len(rows),
            )
        )
    return out
