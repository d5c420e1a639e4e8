"""The model registry: whole networks built from stage tables of catalog blocks, each with an analytic cost.

A family file (``efficientnet.py``, ``regnet.py`` ...) defines a spec (a frozen :class:`ModelSpec` whose fields are
declared with :func:`effnets.spec.param`, so the UI can draw widgets), a ``plan(spec)`` function that turns the spec
into a stage table (:class:`effnets.models.network.Plan`), and registers one :class:`ModelInfo` per preset
(``efficientnet_b3`` = the EfficientNet spec with B3's coefficients). Building and costing both read the plan, so the
analytic cost never needs the module, and the tests check them against each other and against torchvision.

Published figures (papers, official code, torchvision's weight metadata) live here with their source, as written
there ("5.3M", "0.39B"); the tolerance of a comparison is half a unit of the figure's last digit.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from effnets import cost as steps
from effnets.cost import EXTRA_KINDS, Cost
from effnets.models.network import Classifier, Network, Plan
from effnets.spec import OutputTooSmall, Spec, make_spec, param

# ----- specs ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec(Spec):
    """Base of every model spec. Each family declares ``resolution`` and ``num_classes`` (with :func:`resolution_param`
    and :func:`num_classes_param`) among its own fields, in the order the UI should show them."""


def resolution_param(default: int = 224, lo: int = 32, hi: int = 1024) -> Any:
    """The input side in pixels (square inputs). It changes the cost, never the parameters."""
    return param(
        default,
        lo=lo,
        hi=hi,
        step=1,
        help="Input image side in pixels (H = W). Changes MACs and activations, never the parameters.",
        label="resolution",
    )


def num_classes_param() -> Any:
    """The classifier's output count (changes only the last layer)."""
    return param(1000, lo=1, hi=100_000, help="Outputs of the classifier (1000 for ImageNet).", advanced=True)


def dropout_param(default: float) -> Any:
    """Dropout before the classifier: no parameters, no MACs."""
    return param(
        default,
        lo=0.0,
        hi=0.9,
        step=0.05,
        help="Dropout before the classifier (training only; costs nothing).",
        advanced=True,
    )


# ----- published figures ----------------------------------------------------------------------------------------

_UNITS = {"": 1, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9}
_FIGURE = re.compile(r"^\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*([KMBG]?)\s*$")


def parse_figure(text: str) -> tuple[float, float]:
    """A figure as a paper writes it -> (value, tolerance): '5.3M' -> (5.3e6, 0.05e6); '22,855,952' -> (22855952, 0).

    The tolerance is half a unit of the last written digit: the most the true value can differ from the figure if
    the source rounded correctly.
    """
    m = _FIGURE.match(text)
    if not m:
        raise ValueError(f"published figure '{text}' is not a number with an optional K/M/B/G unit")
    digits, unit = m.group(1).replace(",", ""), m.group(2)
    scale = _UNITS[unit]
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    value = float(digits) * scale
    tol = 0.0 if (not unit and decimals == 0) else 0.5 * 10.0**-decimals * scale
    return value, tol


@dataclass(frozen=True)
class Published:
    """Figures a paper, an official repository or torchvision's weight metadata gives for a network.

    Attributes:
        params: learnable parameters (None if the source gives none).
        macs: multiply-accumulates at ``resolution`` (the papers' "FLOPs"/"MAdds").
        top1: ImageNet top-1 accuracy in percent.
        resolution: the input side the figures are for.
        source: where they come from (paper table, file, enum).
        params_tol, macs_tol: half a unit of the figure's last written digit.
        fields: spec fields (beyond the preset's) the figures describe, e.g. {"se": True} or {"groups": 8}.
        mismatch: "params" and/or "macs" where the exact count of the network the source describes knowingly
            differs from its figure by more than the rounding; ``note`` says why.
        note: the explanation of a mismatch, or what the figure covers.
        macs_scope: what the MACs figure counts: "all" (every conv and linear layer) or "no_fc" (all but the final
            fully connected layer, as some papers count).
    """

    params: float | None
    macs: float | None
    top1: float | None
    resolution: int | None
    source: str
    params_tol: float = 0.0
    macs_tol: float = 0.0
    fields: Mapping[str, Any] = field(default_factory=dict)
    mismatch: tuple[str, ...] = ()
    note: str = ""
    macs_scope: str = "all"

    @classmethod
    def of(
        cls,
        source: str,
        *,
        params: str | None = None,
        macs: str | None = None,
        top1: float | None = None,
        resolution: int | None = None,
        fields: Mapping[str, Any] | None = None,
        mismatch: tuple[str, ...] = (),
        note: str = "",
        macs_scope: str = "all",
    ) -> Published:
        """Figures as the source writes them: ``Published.of("paper", params="5.3M", macs="0.39B", top1=77.1)``."""
        if macs_scope not in ("all", "no_fc"):
            raise ValueError(f"macs_scope='{macs_scope}' is not one of all, no_fc")
        p, pt = parse_figure(params) if params else (None, 0.0)
        m, mt = parse_figure(macs) if macs else (None, 0.0)
        return cls(p, m, top1, resolution, source, pt, mt, dict(fields or {}), tuple(mismatch), note, macs_scope)

    def agrees(self, what: str, exact: int) -> bool | None:
        """Whether an exact count lies within the figure's rounding (None when the source gives no figure)."""
        value = self.params if what == "params" else self.macs
        tol = self.params_tol if what == "params" else self.macs_tol
        if value is None:
            return None
        return abs(exact - value) <= tol * (1 + 1e-9)


# ----- costs ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageRow:
    """One row of a stage table like the EfficientNet paper's Table 1, with its exact cost.

    Attributes:
        stage: 1-based row number (the stem is stage 1, as in Table 1).
        operator: what the row does.
        resolution: the INPUT resolution (H, W) of the row.
        channels: output channels (for a row that ends in pooling and a classifier, the channels it pools, as in
            Table 1: B0's head row has 1280).
        layers: number of layers (blocks) in the row.
        kernel: main kernel size (None when not a single conv kernel).
        stride: stride of the row's first layer.
        expand_ratio: MBConv expansion t where it applies.
        params, macs, acts: the row's share of the totals.
        extras: the row's share of each extras line (bn, act, elementwise, pool, sampling).
        output_shape: (C, H, W) after the row.
    """

    stage: int
    operator: str
    resolution: tuple[int, int]
    channels: int
    layers: int
    kernel: int | None
    stride: int
    expand_ratio: float | None
    params: int
    macs: int
    acts: int
    extras: dict[str, int]
    output_shape: tuple[int, int, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "operator": self.operator,
            "resolution": list(self.resolution),
            "channels": self.channels,
            "layers": self.layers,
            "kernel": self.kernel,
            "stride": self.stride,
            "expand_ratio": self.expand_ratio,
            "params": self.params,
            "macs": self.macs,
            "acts": self.acts,
            "extras": dict(self.extras),
            "output_shape": list(self.output_shape),
        }


@dataclass(frozen=True)
class ModelCost:
    """Analytic cost of a whole network: the totals and one :class:`StageRow` per row of its stage table (the rows
    sum to the totals)."""

    total: Cost
    stages: list[StageRow]
    input_shape: tuple[int, int, int]

    @property
    def params(self) -> int:
        return self.total.params

    @property
    def macs(self) -> int:
        return self.total.macs

    @property
    def flops(self) -> int:
        return self.total.flops

    @property
    def acts(self) -> int:
        return self.total.acts

    @property
    def output_shape(self) -> tuple[int, int, int]:
        return self.total.output_shape

    def to_dict(self, stages: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "params": self.params,
            "macs": self.macs,
            "flops": self.flops,
            "acts": self.acts,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "extras": self.total.extras_dict,
        }
        if stages:
            out["stages"] = [r.to_dict() for r in self.stages]
        return out


def plan_cost(plan: Plan, record_steps: bool = True) -> ModelCost:
    """Cost a plan row by row. ``record_steps=False`` skips the per-layer step records (for sweeps)."""
    x = steps.start(*plan.input_shape, record_steps=record_steps)
    rows: list[StageRow] = []
    for i, st in enumerate(plan.stages, 1):
        before = x
        channels = None  # Table 1's #Channels: the head row's is the width it pools, not the class count
        for layer in st.layers:
            if isinstance(layer, Classifier) and channels is None:
                channels = x.c
            x = layer.cost(x)
        rows.append(
            StageRow(
                stage=i,
                operator=st.operator,
                resolution=(before.h, before.w),
                channels=x.c if channels is None else channels,
                layers=st.depth,
                kernel=st.kernel,
                stride=st.stride,
                expand_ratio=st.expand_ratio,
                params=x.params - before.params,
                macs=x.macs - before.macs,
                acts=x.acts - before.acts,
                extras={k: a - b for k, a, b in zip(EXTRA_KINDS, x.extras, before.extras, strict=True)},
                output_shape=x.output_shape,
            )
        )
    return ModelCost(total=x, stages=rows, input_shape=plan.input_shape)


# ----- the registry ---------------------------------------------------------------------------------------------

FAMILIES: tuple[str, ...] = (
    "efficientnet",
    "efficientnet_lite",
    "mobilenet_v1",
    "mobilenet_v2",
    "shufflenet_v1",
    "shufflenet_v2",
    "squeezenet",
    "xception",
    "regnet",
    "vgnet",
)


@dataclass(frozen=True)
class ModelInfo:
    """Everything the pages and the CLI know about a model preset.

    Attributes:
        name: registry key (``efficientnet_b3``).
        label: human name.
        family: one of :data:`FAMILIES`.
        spec: the family's spec class.
        paper, url: short citation and link.
        explanation: one paragraph.
        published: the primary published figures for the preset (paper or official code), or None.
        torchvision: name of the torchvision builder of the same network, if any.
        defaults: the preset's field values.
        plan: spec -> stage table (builds and costs the network).
        torchvision_fields: spec fields under which the network equals torchvision's exactly (RegNet:
            ``{"rounding": "torchvision"}``).
        also_published: further figures (other sources, other settings of the spec).
    """

    name: str
    label: str
    family: str
    spec: type[ModelSpec]
    paper: str
    url: str
    explanation: str
    published: Published | None
    torchvision: str | None
    defaults: dict[str, Any]
    plan: Callable[[Any], Plan]
    torchvision_fields: dict[str, Any] = field(default_factory=dict)
    also_published: tuple[Published, ...] = ()

    def make_spec(self, **fields: Any) -> ModelSpec:
        """The preset's spec with some fields changed; unknown keys raise ValueError naming the key."""
        return make_spec(self.spec, **{**self.defaults, **fields})  # type: ignore[return-value]

    def _check(self, spec: ModelSpec) -> None:
        if not isinstance(spec, self.spec):
            raise ValueError(f"{self.name} needs a {self.spec.__name__}, got a {type(spec).__name__}")

    def stage_plan(self, spec: ModelSpec) -> Plan:
        """The stage table of ``spec`` (what both :meth:`build` and :meth:`cost` read)."""
        self._check(spec)
        return self.plan(spec)

    def build(self, spec: ModelSpec) -> nn.Module:
        """The torch module for ``spec`` (children: one ``nn.Sequential`` per stage row)."""
        return Network(self.stage_plan(spec))

    def cost(self, spec: ModelSpec, record_steps: bool = True) -> ModelCost:
        """Analytic cost of ``spec`` without building the module.

        Raises:
            ValueError: the resolution is too small for the network's downsampling (message names it).
        """
        plan = self.stage_plan(spec)
        try:
            return plan_cost(plan, record_steps)
        except OutputTooSmall as e:
            res = getattr(spec, "resolution", None)
            raise OutputTooSmall(f"resolution={res} is too small for {self.name}: {e}", "resolution", res) from None

    def torchvision_published(self) -> Published | None:
        """torchvision's weight metadata for the same network (num_params, _ops in GMACs, acc@1, crop size), read
        from its first ImageNet weight enum: a second source beside the paper."""
        if not self.torchvision:
            return None
        from torchvision.models import get_model_weights

        w = list(get_model_weights(self.torchvision))[0]
        meta = w.meta
        crop = w.transforms.keywords.get("crop_size") if hasattr(w.transforms, "keywords") else None
        return Published(
            params=float(meta["num_params"]),
            macs=float(meta["_ops"]) * 1e9,
            top1=float(meta["_metrics"]["ImageNet-1K"]["acc@1"]),
            resolution=int(crop) if crop else None,
            source=f"torchvision {type(w).__name__}.{w.name}.meta (num_params, _ops GFLOPS = GMACs, acc@1)",
            params_tol=0.0,
            macs_tol=0.0005e9,
            fields=dict(self.torchvision_fields),
            note="torchvision's own training recipe; accuracy differs from the paper's.",
        )

    def published_figures(self) -> list[Published]:
        """Every published figure for this preset: the primary one, the others, and torchvision's."""
        out = [p for p in (self.published, *self.also_published) if p is not None]
        tv = self.torchvision_published()
        if tv is not None:
            out.append(tv)
        return out

    def published_spec(self, published: Published) -> ModelSpec:
        """The spec a published figure describes: the preset, the figure's fields and its resolution."""
        fields = dict(published.fields)
        if published.resolution is not None and "resolution" not in fields:
            fields["resolution"] = published.resolution
        return self.make_spec(**fields)

    def compare_published(self) -> list[dict[str, Any]]:
        """Every published figure beside our exact count of the network it describes.

        Returns:
            One row per figure and quantity ("params", "macs"): source, fields, resolution, published value,
            tolerance, ours, whether they agree within the figure's rounding, whether the registry documents a
            mismatch, and the note.
        """
        rows = []
        for pub in self.published_figures():
            spec = self.published_spec(pub)
            plan = self.stage_plan(spec)
            c = plan_cost(plan, record_steps=False)
            ours = {"params": c.params, "macs": c.macs}
            if pub.macs_scope == "no_fc":
                ours["macs"] -= _final_fc_macs(plan)
            for what in ("params", "macs"):
                value = pub.params if what == "params" else pub.macs
                if value is None:
                    continue
                rows.append(
                    {
                        "model": self.name,
                        "quantity": what,
                        "source": pub.source,
                        "fields": dict(pub.fields),
                        "resolution": spec.resolution,  # type: ignore[attr-defined]
                        "published": value,
                        "tolerance": pub.params_tol if what == "params" else pub.macs_tol,
                        "ours": ours[what],
                        "agrees": bool(pub.agrees(what, ours[what])),
                        "documented_mismatch": what in pub.mismatch,
                        "scope": pub.macs_scope if what == "macs" else "all",
                        "note": pub.note,
                    }
                )
        return rows

    def build_torchvision(self) -> nn.Module | None:
        """torchvision's builder of the same network (no weights), or None."""
        if not self.torchvision:
            return None
        import torchvision.models

        return torchvision.models.get_model(self.torchvision, weights=None)


def _final_fc_macs(plan: Plan) -> int:
    from effnets.models.network import Classifier

    return sum(
        layer.in_features * layer.num_classes for layer in plan.stages[-1].layers if isinstance(layer, Classifier)
    )


MODELS: dict[str, ModelInfo] = {}


def register(info: ModelInfo) -> ModelInfo:
    """Add a model preset to the registry (called at the bottom of each family file)."""
    if info.name in MODELS:
        raise RuntimeError(f"model '{info.name}' registered twice")
    if info.family not in FAMILIES:
        raise RuntimeError(f"model '{info.name}': unknown family '{info.family}'")
    info.make_spec()  # the preset must be a valid spec
    MODELS[info.name] = info
    return info


def get_model(name: str) -> ModelInfo:
    """Look up a model preset; an unknown name raises ValueError listing the known ones."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model '{name}' (known models: {', '.join(MODELS)})") from None


def _discover() -> None:
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name not in ("network", "scaling") and not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")


_discover()
_sorted = sorted(MODELS.items(), key=lambda kv: FAMILIES.index(kv[1].family))
MODELS.clear()
MODELS.update(_sorted)

from effnets.models.efficientnet import released_vs_compound  # noqa: E402
from effnets.models.mobilenet import mobilenet_grid  # noqa: E402
from effnets.models.regnet import sample_regnet_space  # noqa: E402
from effnets.models.scaling import (  # noqa: E402
    adjust_widths_groups,
    compound_coefficients,
    compound_scaling,
    regnet_widths,
    round_filters,
    round_repeats,
)
from effnets.models.shufflenet import shufflenet_v1_groups_sweep, shufflenet_v1_widths  # noqa: E402

__all__ = [
    "MODELS",
    "FAMILIES",
    "ModelInfo",
    "ModelSpec",
    "ModelCost",
    "StageRow",
    "Published",
    "get_model",
    "register",
    "plan_cost",
    "parse_figure",
    "round_filters",
    "round_repeats",
    "compound_coefficients",
    "compound_scaling",
    "regnet_widths",
    "adjust_widths_groups",
    "sample_regnet_space",
    "mobilenet_grid",
    "shufflenet_v1_widths",
    "shufflenet_v1_groups_sweep",
    "released_vs_compound",
]
