"""The user's own network: a stage table of rows (the Network Builder's design), built and costed like a
registered network.

A :class:`Design` is stages of :class:`Row` s. A row is a catalog block (``mbconv``, ``fire`` ...) or one of the
plain layers networks put around blocks (``conv``, ``pool``, ``classifier`` ... :data:`LAYERS`), with its settings
and how many times it repeats. Rows are wired in order: each layer's input channels are the previous layer's output
(its ``in_channels`` / ``in_features`` / ``channels`` field is never written by the user), and a repeated block's
second and later copies run at stride 1, as a stage of a stage table does. :func:`to_plan` turns a design into the
same :class:`~effnets.models.network.Plan` a registered family builds, so one costing path
(:func:`~effnets.models.network.plan_cost`) and one builder serve both; :func:`from_plan` goes the other way
(every registered network is a design: "start from EfficientNet-B0"), exactly: a test checks every registry model.

:func:`scale` applies the scaling controls to a design: output channels times the width multiplier with the
chosen rounding, a block row's repeats times the depth multiplier (rounded up, as EfficientNet does), and the
resolution. B0's design scaled by B4's multipliers is B4.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from typing import Any

from effnets import cost as steps
from effnets.blocks import BLOCKS
from effnets.cost import Cost
from effnets.models import get_model
from effnets.models.convnext import Norm2d, NormClassifier
from effnets.models.densenet import NormReLU, Transition
from effnets.models.mobilenet_v3 import HiddenClassifier
from effnets.models.mobileone import MobileOneStem
from effnets.models.network import (
    Block,
    Classifier,
    Conv,
    ConvClassifier,
    Plan,
    Pool,
    PooledConvClassifier,
    Stage,
)
from effnets.models.scaling import make_divisible, round_repeats
from effnets.models.vgnet import Tail
from effnets.models.xception import SepConvBNReLU
from effnets.spec import SpecError, field_names, parse_bool

LAYERS: dict[str, type] = {
    "conv": Conv,
    "pool": Pool,
    "classifier": Classifier,
    "pooled_conv_classifier": PooledConvClassifier,
    "hidden_classifier": HiddenClassifier,
    "conv_classifier": ConvClassifier,
    "norm_classifier": NormClassifier,
    "norm2d": Norm2d,
    "norm_relu": NormReLU,
    "transition": Transition,
    "sepconv": SepConvBNReLU,
    "mobileone_stem": MobileOneStem,
    "vgnet_tail": Tail,
}
"""The plain layers a design may use besides the catalog's blocks (name -> the layer record networks use)."""

REQUIRED_DEFAULTS: dict[str, Any] = {"kernel_size": 3, "num_classes": 1000, "hidden": 1280, "stride": 1}
"""What a plain layer gets for a required setting the row leaves out (a 3x3 conv, 1000 classes ...)."""

WIRED = ("in_channels", "in_features", "channels")
"""Fields set from the previous layer's output channels, never by the user."""

WIDTH_FIELDS = ("out_channels", "hidden")
"""Fields the width multiplier scales."""

INT_BOUNDS: dict[str, tuple[int, int]] = {
    "out_channels": (1, 65536),
    "hidden": (1, 65536),
    "num_classes": (1, 100000),
    "kernel_size": (1, 31),
    "stride": (1, 16),
    "padding": (-1, 31),
    "groups": (1, 65536),
}
"""Ranges of the plain layers' integer settings (the blocks' own ranges live in their specs)."""

MAX_LAYERS = 10_000
MAX_REPEATS = 1_000
MAX_RESOLUTION = 4096

ROUNDINGS: dict[str, str] = {
    "divisible_8": "nearest multiple of 8, never more than 10 % down (EfficientNet, MobileNetV2/V3 `make_divisible`)",
    "floor_min_8": "rounded down, at least 8 (MobileNetV1's `int(c * alpha)`)",
    "nearest": "nearest whole channel (no rounding rule)",
}
"""Width roundings the scaling controls offer (name -> what it does)."""


def round_width(channels: int, width: float, rounding: str) -> int:
    """``channels`` times ``width`` by the named rounding (:data:`ROUNDINGS`)."""
    if rounding == "divisible_8":
        return make_divisible(channels * width, 8)
    if rounding == "floor_min_8":
        return max(8, int(channels * width))
    if rounding == "nearest":
        return max(1, int(round(channels * width)))
    raise SpecError(f"rounding '{rounding}' is not one of {', '.join(ROUNDINGS)}", "rounding", rounding)


@dataclass(frozen=True)
class Row:
    """One row of a design: a catalog block or a plain layer, its settings, and how many times it repeats.

    Attributes:
        type: a block name (effnets.blocks.BLOCKS) or a plain layer (:data:`LAYERS`).
        fields: the settings the user gave, as (name, value) pairs (never the wired input channels).
        repeats: copies in a row (blocks only; plain layers are one copy).
    """

    type: str
    fields: tuple[tuple[str, Any], ...] = ()
    repeats: int = 1

    def __post_init__(self) -> None:  # one order for the settings (the spec's), so that equal rows compare equal
        order = _field_order(self.type)
        ranked = sorted(self.fields, key=lambda kv: order.get(kv[0], len(order)))
        object.__setattr__(self, "fields", tuple(ranked))

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.fields)

    @property
    def is_block(self) -> bool:
        return self.type in BLOCKS

    def with_settings(self, **changes: Any) -> Row:
        return dataclasses.replace(self, fields=tuple({**self.settings, **changes}.items()))


def _field_order(kind: str) -> dict[str, int]:
    if kind in BLOCKS:
        return {n: i for i, n in enumerate(field_names(BLOCKS[kind].spec))}
    if kind in LAYERS:
        return {f.name: i for i, f in enumerate(dataclasses.fields(LAYERS[kind]))}
    return {}


@dataclass(frozen=True)
class Design:
    """A whole network: its stages (tuples of rows), input resolution and input channels."""

    stages: tuple[tuple[Row, ...], ...]
    resolution: int = 224
    in_channels: int = 3

    @property
    def layer_count(self) -> int:
        return sum(r.repeats for st in self.stages for r in st)


def stage_names(design: Design) -> list[str]:
    """'stem' for the first stage, 'head' for a last stage that classifies, 'stage2' ... between (1-based, as the
    EfficientNet paper's Table 1 counts the stem as stage 1)."""
    n = len(design.stages)
    names = []
    for i, st in enumerate(design.stages):
        if i == 0 and n > 1:
            names.append("stem")
        elif i == n - 1 and n > 1 and any("classifier" in r.type for r in st):
            names.append("head")
        else:
            names.append(f"stage{i + 1}")
    return names


class RowError(SpecError):
    """A row that cannot be built, with where it is (0-based stage and row indices)."""

    def __init__(self, message: str, stage: int, row: int, field: str | None = None, value: Any = None):
        super().__init__(message, field, value)
        self.stage, self.row = stage, row


def _where(design: Design, i: int, j: int) -> str:
    row = design.stages[i][j]
    return f"{stage_names(design)[i]}, row {j + 1} ({row.type})"


def coerce(cls: type, name: str, value: Any) -> Any:
    """A plain layer's setting as its type (from text or JSON), bounded."""
    hints = typing.get_type_hints(cls)
    t = hints.get(name)
    if isinstance(value, str) and t is not str:
        text = value.strip()
        if t is bool:
            value = parse_bool(text)
        elif name == "padding" and text == "tf_same":
            value = text
        elif t is float:
            value = float(text)
        else:
            value = int(float(text)) if float(text).is_integer() else float(text)
    if t is bool and not isinstance(value, bool):
        raise ValueError(f"{name}: {value!r} is not true or false")
    if t is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"{name}: {value!r} is not a finite number")
        value = float(value)
    if name in INT_BOUNDS and not (name == "padding" and value == "tf_same"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name}: {value!r} is not a whole number")
        lo, hi = INT_BOUNDS[name]
        if not lo <= value <= hi:
            raise ValueError(f"{name}={value} is outside {lo}..{hi}")
    if name == "dropout" and not 0.0 <= value < 1.0:
        raise ValueError(f"dropout={value} must be in [0, 1)")
    if t is str and not isinstance(value, str):
        raise ValueError(f"{name}: {value!r} is not text")
    return value


def _layer(row: Row, c: int) -> Any:
    """The layer record of a plain-layer row at input channels ``c``."""
    cls = LAYERS[row.type]
    names = [f.name for f in dataclasses.fields(cls)]
    values: dict[str, Any] = {}
    for k, v in row.fields:
        if k not in names or k in WIRED or k == "label":
            valid = ", ".join(n for n in names if n not in WIRED and n != "label")
            raise SpecError(f"'{k}' is not a setting of {row.type} (its settings: {valid})", k, v)
        values[k] = coerce(cls, k, v)
    for w in WIRED:
        if w in names:
            values[w] = c
    for f in dataclasses.fields(cls):
        if f.name not in values and f.default is dataclasses.MISSING and f.name in REQUIRED_DEFAULTS:
            values[f.name] = REQUIRED_DEFAULTS[f.name]
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in values and f.default is dataclasses.MISSING]
    if missing:
        raise SpecError(f"{row.type} needs {', '.join(missing)}", missing[0])
    try:
        return cls(**values)
    except (TypeError, ValueError) as e:
        raise SpecError(f"{row.type}: {e}") from None


def _block_specs(row: Row, c: int, h: int, w: int) -> tuple[list[Block], int, int, int]:
    """The blocks of a block row at input C x H x W, and the shape after them."""
    info = BLOCKS[row.type]
    names = field_names(info.spec)
    for k, v in row.fields:
        if k not in names or k in WIRED:
            valid = ", ".join(n for n in names if n not in WIRED)
            raise SpecError(f"'{k}' is not a setting of {row.type} (its settings: {valid})", k, v)
    layers = []
    for j in range(row.repeats):
        values = {**row.settings, "in_channels": c}
        if j > 0 and "stride" in names:
            values["stride"] = 1
        spec = info.make_spec(**values)
        layer = Block(info.module, spec)
        y = layer.cost(steps.start(c, h, w, record_steps=False))
        layers.append(layer)
        c, h, w = y.output_shape
    return layers, c, h, w


def check_limits(design: Design) -> None:
    """Refuse a design too big to analyse safely (message says which limit)."""
    if not design.stages:
        raise SpecError("the design has no stages: add a stem row at least")
    if not 1 <= design.resolution <= MAX_RESOLUTION:
        raise SpecError(f"resolution={design.resolution} is outside 1..{MAX_RESOLUTION}", "resolution")
    if not 1 <= design.in_channels <= 64:
        raise SpecError(f"in_channels={design.in_channels} is outside 1..64", "in_channels")
    for i, st in enumerate(design.stages):
        for j, r in enumerate(st):
            if r.type not in BLOCKS and r.type not in LAYERS:
                raise RowError(f"{_where(design, i, j)}: {unknown_type(r.type)}", i, j, "type", r.type)
            if not 1 <= r.repeats <= MAX_REPEATS or (r.repeats > 1 and not r.is_block):
                what = f"1..{MAX_REPEATS}" if r.is_block else "1 (a plain layer is not repeated)"
                raise RowError(f"{_where(design, i, j)}: repeats={r.repeats} must be {what}", i, j, "repeats")
    if design.layer_count > MAX_LAYERS:
        raise SpecError(f"the design has {design.layer_count:,} layers; at most {MAX_LAYERS:,} are analysed")


def unknown_type(name: str) -> str:
    """'X is not a block or layer' with the nearest valid names."""
    import difflib

    valid = [*BLOCKS, *LAYERS]
    near = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(near)}?" if near else f"choose one of {', '.join(valid)}"
    return f"'{name[:40]}' is not a block or layer type; {hint}"


def to_plan(design: Design) -> Plan:
    """The design as a stage plan (what builds and costs it). Raises :class:`RowError` naming the first row that
    cannot be built, and why."""
    check_limits(design)
    c, h, w = design.in_channels, design.resolution, design.resolution
    stages = []
    names = stage_names(design)
    for i, st in enumerate(design.stages):
        layers: list[Any] = []
        for j, row in enumerate(st):
            try:
                if row.is_block:
                    blocks, c, h, w = _block_specs(row, c, h, w)
                    layers += blocks
                else:
                    layer = _layer(row, c)
                    y = layer.cost(steps.start(c, h, w, record_steps=False))
                    layers.append(layer)
                    c, h, w = y.output_shape
            except RowError:
                raise
            except (SpecError, ValueError) as e:
                msg = e.message if isinstance(e, SpecError) else str(e)
                raise RowError(f"{_where(design, i, j)}: {msg}", i, j, getattr(e, "field", None)) from None
        stages.append(Stage(names[i], describe_stage(st), tuple(layers), repeats=sum(r.repeats for r in st)))
    return Plan(tuple(stages), (design.in_channels, design.resolution, design.resolution))


def describe_stage(rows: tuple[Row, ...]) -> str:
    """A stage's operator in words: 'mbconv x2 (e=6, k=3)', rows joined by ' + '."""
    parts = []
    for r in rows:
        s = r.settings
        keys = [k for k in ("expand_ratio", "kernel_size", "stride") if k in s]
        detail = ", ".join(f"{ALIAS_OF.get(k, k)}={s[k]:g}" for k in keys)
        parts.append(r.type + (f" x{r.repeats}" if r.repeats > 1 else "") + (f" ({detail})" if detail else ""))
    return " + ".join(parts)


ALIAS_OF = {"out_channels": "c", "kernel_size": "k", "stride": "s", "expand_ratio": "e", "se_ratio": "se",
            "groups": "g", "activation": "act", "num_classes": "classes"}  # fmt: skip
"""Short names the architecture string and the stage descriptions use."""


# ----- from a registered network -----------------------------------------------------------------------------------


def _layer_type(layer: Any) -> str:
    for name, cls in LAYERS.items():
        if type(layer) is cls:
            return name
    raise SpecError(f"{type(layer).__name__} layers cannot be part of a design yet")


def _plain_row(layer: Any) -> Row:
    values = []
    for f in dataclasses.fields(layer):
        if f.name in WIRED or f.name == "label":
            continue
        v = getattr(layer, f.name)
        if f.default is dataclasses.MISSING or v != f.default:
            values.append((f.name, v))
    return Row(_layer_type(layer), tuple(values))


def _block_fields(spec: Any) -> dict[str, Any]:
    return {k: v for k, v in spec.changed_fields().items() if k != "in_channels"} | _required(spec)


def _required(spec: Any) -> dict[str, Any]:
    """Fields a row must state even at their default (out_channels and stride: a row reads better with them)."""
    return {k: getattr(spec, k) for k in ("out_channels", "stride") if hasattr(spec, k)}


def from_plan(plan: Plan) -> Design:
    """A registered network's plan as a design: consecutive copies of one block (the same settings but their input
    channels, the later ones at stride 1) become one row with repeats. Building the design gives the plan back."""
    stages = []
    for st in plan.stages:
        rows: list[Row] = []
        prev_block: tuple[str, dict[str, Any]] | None = None
        for layer in st.layers:
            if isinstance(layer, Block):
                name = next(n for n, b in BLOCKS.items() if b.module is layer.module and isinstance(layer.spec, b.spec))
                fields_ = _block_fields(layer.spec)
                later = {**fields_, "stride": 1} if "stride" in fields_ else fields_
                if prev_block is not None and prev_block[0] == name and rows and later == prev_block[1]:
                    rows[-1] = dataclasses.replace(rows[-1], repeats=rows[-1].repeats + 1)
                    continue
                rows.append(Row(name, tuple(fields_.items())))
                prev_block = (name, later)
            else:
                rows.append(_plain_row(layer))
                prev_block = None
        stages.append(tuple(rows))
    c, r, _ = plan.input_shape
    return Design(tuple(stages), resolution=r, in_channels=c)


def from_model(name: str, **fields: Any) -> Design:
    """The design of registered model ``name`` (with some of its spec's fields changed)."""
    info = get_model(name)
    return from_plan(info.stage_plan(info.make_spec(**fields)))


# ----- scaling -----------------------------------------------------------------------------------------------------


def scale(
    design: Design,
    width: float = 1.0,
    depth: float = 1.0,
    resolution: int | None = None,
    rounding: str = "divisible_8",
) -> Design:
    """The design with each row's output channels (and hidden widths) times ``width`` by ``rounding``, each block
    row's repeats rounded up from ``repeats x depth`` (plain layers are not repeated), and the given input
    resolution. Widths the blocks derive (an expansion, an SE squeeze) follow from the scaled channels."""
    for name, v in (("width", width), ("depth", depth)):
        if not (isinstance(v, int | float) and math.isfinite(v) and 0.05 <= v <= 10):
            raise SpecError(f"{name} multiplier {v!r} must be between 0.05 and 10", name, v)
    if rounding not in ROUNDINGS:
        round_width(1, 1.0, rounding)
    stages = []
    for st in design.stages:
        rows = []
        for r in st:
            changes = {
                k: round_width(int(v), width, rounding)
                for k, v in r.fields
                if k in WIDTH_FIELDS and isinstance(v, int) and width != 1.0
            }
            row = r.with_settings(**changes) if changes else r
            if r.is_block and depth != 1.0:
                row = dataclasses.replace(row, repeats=max(1, round_repeats(r.repeats, depth)))
            rows.append(row)
        stages.append(tuple(rows))
    res = design.resolution if resolution is None else int(resolution)
    return Design(tuple(stages), resolution=res, in_channels=design.in_channels)


# ----- costing with a message on the row that is impossible --------------------------------------------------------


@dataclass(frozen=True)
class StageCost:
    """One stage of a design as built so far: its counts, output shape and receptive field."""

    name: str
    operator: str
    params: int
    macs: int
    acts: int
    output_shape: tuple[int, int, int]
    receptive_field: tuple[int, int]
    layers: int


@dataclass(frozen=True)
class DesignCost:
    """What the builder shows: a row per stage up to the first impossible row, the totals of what builds, and the
    problem (None when the whole design builds)."""

    stages: list[StageCost]
    total: Cost | None
    problem: RowError | None = None
    plan: Plan | None = None
    notes: list[str] = field(default_factory=list)


def evaluate(design: Design) -> DesignCost:
    """Cost a design stage by stage; an impossible row stops it with a message on that row (never raises for a
    row's settings; raises SpecError only for a design over the limits)."""
    try:
        plan = to_plan(design)
    except RowError as e:
        good = Design(design.stages[: e.stage], design.resolution, design.in_channels) if e.stage else None
        partial = evaluate(good).stages if good is not None else []
        return DesignCost(partial, None, e)
    x = steps.start(*plan.input_shape, record_steps=False)
    rows = []
    for st in plan.stages:
        before = x
        for layer in st.layers:
            x = layer.cost(x)
        rows.append(
            StageCost(
                st.name,
                st.operator,
                x.params - before.params,
                x.macs - before.macs,
                x.acts - before.acts,
                x.output_shape,
                x.receptive_field,
                len(st.layers),
            )  # fmt: skip
        )
    return DesignCost(rows, x, None, plan)
