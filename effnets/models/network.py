"""Networks as stage tables: one description that both builds the module and costs it.

A family builder turns a spec into a :class:`Plan`: an ordered list of :class:`Stage` rows (stem, stages, head),
each holding layers. A layer is a small frozen record with ``build()`` (the ``nn.Module``) and ``cost(x)`` (the
analytic cost, :mod:`effnets.cost`). Most layers are catalog blocks (:class:`Block`); the rest are the few plain
layers networks need around them (stem convs, pools, classifiers). Building and costing read the same records, so
they cannot drift apart; the tests check both against tracers.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

from torch import nn

from effnets import cost as steps
from effnets.blocks._layers import ConvBNAct, TFSamePad, make_act
from effnets.cost import EXTRA_KINDS, Cost


class Layer(Protocol):
    """What a stage holds: something that builds a module and costs it."""

    def build(self) -> nn.Module: ...

    def cost(self, x: Cost) -> Cost: ...


@dataclass(frozen=True)
class Block:
    """A catalog block (effnets.blocks): its module class (with the static ``cost``) and its validated spec."""

    module: type[nn.Module]
    spec: Any

    def build(self) -> nn.Module:
        return self.module(self.spec)

    def cost(self, x: Cost) -> Cost:
        return self.module.cost(self.spec, x)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Conv:
    """conv -> [BN] -> [act] (or conv -> act -> BN with ``act_first``, VGNet's order).

    ``padding`` is an int (-1: k // 2) or "tf_same" for TensorFlow 'SAME' padding, built as a :class:`TFSamePad`
    in front of an unpadded conv.
    """

    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int = 1
    padding: int | str = -1
    groups: int = 1
    bias: bool = False
    norm: bool = True
    activation: str = "relu"
    act_first: bool = False
    bn_eps: float = 1e-5
    label: str = ""

    def __post_init__(self) -> None:
        if self.act_first and self.padding == "tf_same":
            raise ValueError("TF 'SAME' padding is only supported for conv -> BN -> act layers")

    def build(self) -> nn.Module:
        k, s = self.kernel_size, self.stride
        if self.act_first:
            pad = k // 2 if self.padding == -1 else self.padding
            layers: list[nn.Module] = [
                nn.Conv2d(self.in_channels, self.out_channels, k, s, pad, groups=self.groups, bias=self.bias),
                make_act(self.activation),
            ]
            if self.norm:
                layers.append(nn.BatchNorm2d(self.out_channels, eps=self.bn_eps))
            return nn.Sequential(*layers)
        conv = ConvBNAct(
            self.in_channels,
            self.out_channels,
            k,
            s,
            0 if self.padding == "tf_same" else self.padding,  # type: ignore[arg-type]
            groups=self.groups,
            norm=self.norm,
            activation=self.activation,
            bias=self.bias,
            bn_eps=self.bn_eps,
        )
        return nn.Sequential(TFSamePad(k, s), conv) if self.padding == "tf_same" else conv

    def cost(self, x: Cost) -> Cost:
        k = self.kernel_size
        label = self.label or f"{k}x{k} conv" + (f" s{self.stride}" if self.stride > 1 else "")
        pad: int | str = "tf_same" if self.padding == "tf_same" else (k // 2 if self.padding == -1 else self.padding)
        x = steps.conv(x, self.out_channels, k, self.stride, pad, 1, self.groups, self.bias, label)
        if self.act_first:
            x = steps.act(x, self.activation)
            return steps.norm(x) if self.norm else x
        if self.norm:
            x = steps.norm(x)
        return steps.act(x, self.activation)


@dataclass(frozen=True)
class Pool:
    """k x k max or average pooling."""

    kernel_size: int
    stride: int
    padding: int = 0
    ceil_mode: bool = False
    kind: str = "max"

    def build(self) -> nn.Module:
        if self.kind == "max":
            return nn.MaxPool2d(self.kernel_size, self.stride, self.padding, ceil_mode=self.ceil_mode)
        return nn.AvgPool2d(self.kernel_size, self.stride, self.padding, ceil_mode=self.ceil_mode)

    def cost(self, x: Cost) -> Cost:
        return steps.pool(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.kind)


@dataclass(frozen=True)
class Classifier:
    """global average pool -> flatten -> dropout -> FC (torchvision's head layout)."""

    in_features: int
    num_classes: int
    dropout: float = 0.0
    bias: bool = True

    def build(self) -> nn.Module:
        return nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(1),
            nn.Dropout(self.dropout),
            nn.Linear(self.in_features, self.num_classes, bias=self.bias),
        )

    def cost(self, x: Cost) -> Cost:
        return steps.linear(steps.global_pool(x), self.num_classes, self.bias, label="FC")


@dataclass(frozen=True)
class PooledConvClassifier:
    """global average pool -> 1x1 conv -> [BN] -> act -> flatten -> dropout -> FC: a 1x1 conv on the pooled 1x1 map
    before the classifier (timm's GhostNet head: the conv with a bias; ``norm``: MobileNetV4's, the conv without a
    bias and a BN after it)."""

    in_channels: int
    hidden: int
    num_classes: int
    dropout: float = 0.0
    activation: str = "relu"
    norm: bool = False

    def build(self) -> nn.Module:
        conv = nn.Conv2d(self.in_channels, self.hidden, 1, bias=not self.norm)
        norm = [nn.BatchNorm2d(self.hidden)] if self.norm else []
        return nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            conv,
            *norm,
            make_act(self.activation),
            nn.Flatten(1),
            nn.Dropout(self.dropout),
            nn.Linear(self.hidden, self.num_classes),
        )

    def cost(self, x: Cost) -> Cost:
        x = steps.global_pool(x)
        label = f"1x1 conv {self.in_channels}->{self.hidden} (pooled)"
        x = steps.conv(x, self.hidden, 1, bias=not self.norm, label=label)
        x = steps.act(steps.norm(x) if self.norm else x, self.activation)
        return steps.linear(x, self.num_classes, label="FC")


@dataclass(frozen=True)
class ConvClassifier:
    """dropout -> 1x1 conv (bias) to the classes -> ReLU -> global average pool -> flatten (SqueezeNet's head)."""

    in_channels: int
    num_classes: int
    dropout: float = 0.5

    def build(self) -> nn.Module:
        return nn.Sequential(
            nn.Dropout(self.dropout),
            nn.Conv2d(self.in_channels, self.num_classes, 1),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(1),
        )

    def cost(self, x: Cost) -> Cost:
        x = steps.conv(x, self.num_classes, 1, bias=True, label="1x1 conv to classes")
        return steps.global_pool(steps.act(x, "relu"))


@dataclass(frozen=True)
class Stage:
    """One row of a stage table (EfficientNet paper, Table 1): an operator repeated over some layers.

    Attributes:
        name: module name in the built network ("stem", "stage3", "head").
        operator: what the row does ("MBConv6, k5x5", "Conv3x3").
        layers: the layers in order.
        kernel: the main kernel size (None when mixed or not a conv).
        stride: the stride of the row (of its first layer).
        expand_ratio: MBConv's t, where it applies.
        repeats: the "#Layers" column (defaults to the number of layers).
    """

    name: str
    operator: str
    layers: tuple[Layer, ...]
    kernel: int | None = None
    stride: int = 1
    expand_ratio: float | None = None
    repeats: int | None = None

    @property
    def repeat_count(self) -> int:
        """How many layers the row repeats, as the paper's table gives it (``repeats`` where a row's layers are not
        all repeats of one block, else the number of layers)."""
        return self.repeats if self.repeats is not None else len(self.layers)


@dataclass(frozen=True)
class Plan:
    """A whole network: its stages and input shape."""

    stages: tuple[Stage, ...]
    input_shape: tuple[int, int, int]
    notes: tuple[str, ...] = field(default=())


class Network(nn.Sequential):
    """stem -> stages -> head, one child per stage row, built from a :class:`Plan` (children named by the rows)."""

    def __init__(self, plan: Plan):
        super().__init__(
            OrderedDict((st.name, nn.Sequential(*[layer.build() for layer in st.layers])) for st in plan.stages)
        )
        self.input_shape = plan.input_shape


# ----- the cost of a plan: the one costing path of every network ----------------------------------------------


@dataclass(frozen=True)
class StageRow:
    """One row of a stage table like the EfficientNet paper's Table 1, with its exact cost.

    Attributes:
        stage: 1-based row number (the stem is stage 1, as in Table 1).
        operator: what the row does.
        resolution: the INPUT resolution (H, W) of the row.
        channels: output channels (for a row that ends in pooling and a classifier, the channels it pools, as in
            Table 1: B0's head row has 1280).
        repeats: how many layers (blocks) the row repeats (Table 1's #Layers).
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
    repeats: int
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
            "repeats": self.repeats,
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


@functools.lru_cache(maxsize=2048)  # an entry holds a block's step records (~4 KB measured): at most ~9 MB
def _layer_from_fresh(layer: Any, c: int, h: int, w: int, jump: int, record_steps: bool) -> Cost:
    return layer.cost(Cost(c, h, w, jump=jump, record_steps=record_steps))


def apply_layer(layer: Any, x: Cost) -> Cost:
    """``layer.cost(x)``, from a memo of the layer costed once on a fresh input of x's shape and stride product
    (``jump``). What a layer adds does not depend on what came before it: the totals and the step records add up,
    the receptive field grows by the same amount (each conv or pool adds ``(span - 1) * jump``, a branch point takes
    the largest of such sums) and the stride product is the fresh run's. So the identical blocks of a deep stage
    are costed once (B7 at 600: 58 layers, 17 distinct). A test checks this against ``layer.cost(x)`` itself for
    every registered model."""
    try:
        y = _layer_from_fresh(layer, x.c, x.h, x.w, x.jump, x.record_steps)
    except TypeError:  # an unhashable layer: cost it directly
        return layer.cost(x)
    return Cost(
        y.c,
        y.h,
        y.w,
        x.params + y.params,
        x.macs + y.macs,
        x.acts + y.acts,
        tuple(a + b for a, b in zip(x.extras, y.extras, strict=True)),
        x.rf_h + y.rf_h - 1,
        x.rf_w + y.rf_w - 1,
        y.jump,
        x.global_context or y.global_context,
        x.steps + y.steps,
        x.record_steps,
    )


def plan_cost(plan: Plan, record_steps: bool = True, memo: bool = True) -> ModelCost:
    """Cost a plan row by row. ``record_steps=False`` skips the per-layer step records (for sweeps); ``memo=False``
    calls every layer's ``cost`` on the running record instead of :func:`apply_layer` (the same numbers, slower)."""
    apply = apply_layer if memo else (lambda layer, x: layer.cost(x))
    x = steps.start(*plan.input_shape, record_steps=record_steps)
    rows: list[StageRow] = []
    for i, st in enumerate(plan.stages, 1):
        before = x
        channels = None  # Table 1's #Channels: the head row's is the width it pools, not the class count
        for layer in st.layers:
            if isinstance(layer, Classifier) and channels is None:
                channels = x.c
            x = apply(layer, x)
        rows.append(
            StageRow(
                stage=i,
                operator=st.operator,
                resolution=(before.h, before.w),
                channels=x.c if channels is None else channels,
                repeats=st.repeat_count,
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


@dataclass(frozen=True)
class Totals:
    """A network's totals without the per-stage rows (what sweeps need)."""

    params: int
    macs: int
    acts: int
    extras: tuple[int, ...]
    output_shape: tuple[int, int, int]


@functools.lru_cache(maxsize=1 << 16)
def _layer_totals(layer: Any, c: int, h: int, w: int) -> tuple[int, int, int, tuple[int, ...], tuple[int, int, int]]:
    y = layer.cost(steps.start(c, h, w, record_steps=False))
    return y.params, y.macs, y.acts, y.extras, y.output_shape


def plan_totals(plan: Plan) -> Totals:
    """The same totals as :func:`plan_cost`, faster for sweeps: each distinct (layer, input shape) is costed once by
    its own ``cost`` and remembered, so the identical blocks of a deep stage, and the layers that neighbouring points
    of a sweep share, cost nothing the second time. Counts are additive over layers, so the sum equals
    :func:`plan_cost`'s running total (a test checks it for every registered model). No per-stage rows, receptive
    field or step records.
    """
    c, h, w = plan.input_shape
    params = macs = acts = 0
    extras = [0] * len(EXTRA_KINDS)
    for stage in plan.stages:
        for layer in stage.layers:
            try:
                p, m, a, e, (c, h, w) = _layer_totals(layer, c, h, w)
            except TypeError:  # an unhashable layer: cost it without the memo
                y = layer.cost(steps.start(c, h, w, record_steps=False))
                p, m, a, e, (c, h, w) = y.params, y.macs, y.acts, y.extras, y.output_shape
            params += p
            macs += m
            acts += a
            extras = [x + y for x, y in zip(extras, e, strict=True)]
    return Totals(params, macs, acts, tuple(extras), (c, h, w))
