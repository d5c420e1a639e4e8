"""MobileNetV1 (Howard et al. 2017) and MobileNetV2 (Sandler et al. 2018), with the width multiplier alpha and the
resolution multiplier rho."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from effnets.blocks.depthwise_separable import DepthwiseSeparableConv, DepthwiseSeparableSpec
from effnets.blocks.mbconv import MBConv, MBConvSpec
from effnets.models import (
    MODELS,
    FamilyInfo,
    ModelInfo,
    ModelSpec,
    Published,
    dropout_param,
    num_classes_param,
    register,
    register_family,
    resolution_param,
)
from effnets.models.network import Block, Classifier, Conv, Plan, Stage
from effnets.models.scaling import mobilenet_v1_channels, mobilenet_v2_channels
from effnets.spec import param

V1_PAPER = "Howard et al. 2017, MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications"
V1_URL = "https://arxiv.org/abs/1704.04861"
V2_PAPER = "Sandler et al. 2018, MobileNetV2: Inverted Residuals and Linear Bottlenecks"
V2_URL = "https://arxiv.org/abs/1801.04381"

register_family(
    FamilyInfo(
        name="mobilenet_v1",
        label="MobileNetV1",
        color="#2ca02c",
        paper=V1_PAPER,
        url=V1_URL,
        order=20,
        scaling=(
            "Width multiplier alpha (every layer's channels x alpha; MACs and params fall about as alpha^2) and "
            "resolution multiplier rho (MACs fall as rho^2; params unchanged)."
        ),
    )
)
register_family(
    FamilyInfo(
        name="mobilenet_v2",
        label="MobileNetV2",
        color="#9467bd",
        paper=V2_PAPER,
        url=V2_URL,
        order=21,
        scaling=(
            "Width multiplier (channels rounded to multiples of 8; the last 1x1 keeps 1280 below 1.0) and input "
            "resolution."
        ),
    )
)


@dataclass(frozen=True)
class SeparableRow:
    """One row of MobileNetV1's body (paper Table 1): depthwise-separable convs to ``channels``, the first with
    ``stride``."""

    channels: int
    stride: int
    repeats: int = 1


V1_STEM = 32
# Paper Table 1, grouped into rows of equal output width: (64,1) (128,2)(128,1) (256,2)(256,1) (512,2) 5x(512,1)
# (1024,2)(1024,1).
V1_ROWS: tuple[SeparableRow, ...] = (
    SeparableRow(64, 1),
    SeparableRow(128, 2, 2),
    SeparableRow(256, 2, 2),
    SeparableRow(512, 2, 6),
    SeparableRow(1024, 2, 2),
)


@dataclass(frozen=True)
class InvertedResidualRow:
    """One row of MobileNetV2's table (paper Table 2): t (expansion), c (channels), n (repeats), s (first stride)."""

    t: float
    c: int
    n: int
    s: int


V2_STEM = 32
V2_HEAD = 1280
V2_ROWS: tuple[InvertedResidualRow, ...] = (
    InvertedResidualRow(1, 16, 1, 1),
    InvertedResidualRow(6, 24, 2, 2),
    InvertedResidualRow(6, 32, 3, 2),
    InvertedResidualRow(6, 64, 4, 2),
    InvertedResidualRow(6, 96, 3, 1),
    InvertedResidualRow(6, 160, 3, 2),
    InvertedResidualRow(6, 320, 1, 1),
)

_ALPHA_HELP = "alpha: every layer's channels x alpha (the paper's 1.0, 0.75, 0.5, 0.25)."
_RHO_NOTE = " rho = resolution / 224 (the paper's 224, 192, 160, 128)."


@dataclass(frozen=True)
class MobileNetV1Spec(ModelSpec):
    """MobileNetV1: width multiplier alpha and resolution (rho x 224)."""

    width_mult: float = param(1.0, lo=0.05, hi=2.0, step=0.05, help=_ALPHA_HELP, label="width multiplier alpha")
    resolution: int = resolution_param(224)
    dropout: float = dropout_param(0.001)
    num_classes: int = num_classes_param()


@dataclass(frozen=True)
class MobileNetV2Spec(ModelSpec):
    """MobileNetV2: width multiplier alpha and resolution (rho x 224)."""

    width_mult: float = param(
        1.0,
        lo=0.05,
        hi=2.0,
        step=0.05,
        help=_ALPHA_HELP + " Rounded to multiples of 8; the last conv never drops below 1280.",
        label="width multiplier alpha",
    )
    resolution: int = resolution_param(224)
    dropout: float = dropout_param(0.2)
    num_classes: int = num_classes_param()


def plan_v1(spec: MobileNetV1Spec) -> Plan:
    """conv3x3 s2 32 -> 13 depthwise-separable convs (64 ... 1024) -> pool -> FC; every conv BN + ReLU."""
    a = spec.width_mult
    stem = mobilenet_v1_channels(V1_STEM, a)
    stages = [Stage("stem", "Conv3x3", (Conv(3, stem, 3, 2, label="3x3 conv s2 (stem)"),), 3, 2)]
    c_in = stem
    for i, row in enumerate(V1_ROWS):
        c_out = mobilenet_v1_channels(row.channels, a)
        blocks = []
        for j in range(row.repeats):
            s = DepthwiseSeparableSpec(in_channels=c_in, out_channels=c_out, stride=row.stride if j == 0 else 1)
            blocks.append(Block(DepthwiseSeparableConv, s))
            c_in = c_out
        stages.append(Stage(f"stage{i + 2}", "Conv dw3x3 + Conv1x1", tuple(blocks), 3, row.stride))
    stages.append(
        Stage("head", "Pooling & FC", (Classifier(c_in, spec.num_classes, spec.dropout),), None, 1, repeats=1)
    )
    return Plan(tuple(stages), (3, spec.resolution, spec.resolution))


def plan_v2(spec: MobileNetV2Spec) -> Plan:
    """conv3x3 s2 32 -> 17 inverted residuals (MBConv, ReLU6, no SE) -> conv1x1 1280 -> pool -> dropout -> FC.

    Layout of torchvision.models.mobilenet_v2 (``_make_divisible`` widths; the last conv is 1280 x max(1, alpha)).
    """
    a = spec.width_mult
    stem = mobilenet_v2_channels(V2_STEM, a)
    head = mobilenet_v2_channels(V2_HEAD * max(1.0, a), 1.0)
    stages = [Stage("stem", "Conv3x3", (Conv(3, stem, 3, 2, activation="relu6", label="3x3 conv s2 (stem)"),), 3, 2)]
    c_in = stem
    for i, row in enumerate(V2_ROWS):
        c_out = mobilenet_v2_channels(row.c, a)
        blocks = []
        for j in range(row.n):
            s = MBConvSpec(
                in_channels=c_in,
                out_channels=c_out,
                kernel_size=3,
                stride=row.s if j == 0 else 1,
                expand_ratio=row.t,
                se_ratio=0.0,
                activation="relu6",
            )
            blocks.append(Block(MBConv, s))
            c_in = c_out
        stages.append(Stage(f"stage{i + 2}", f"Bottleneck t={row.t:g}", tuple(blocks), 3, row.s, row.t))
    stages.append(
        Stage(
            "head",
            "Conv1x1 & Pooling & FC",
            (
                Conv(c_in, head, 1, activation="relu6", label="1x1 conv (head)"),
                Classifier(head, spec.num_classes, spec.dropout),
            ),
            1,
            1,
            repeats=1,
        )
    )
    return Plan(tuple(stages), (3, spec.resolution, spec.resolution))


def mobilenet_grid(
    alphas: Iterable[float] = (1.0, 0.75, 0.5, 0.25),
    resolutions: Iterable[int] = (224, 192, 160, 128),
    model: str = "mobilenet_v1",
) -> list[dict]:
    """Params and MACs of MobileNet over a grid of width multipliers (alpha) and resolutions (rho x 224), as in the
    MobileNetV1 paper's Tables 6 and 7: one row per (alpha, resolution). Analytic, no modules built.

    Args:
        alphas: width multipliers.
        resolutions: input sides.
        model: "mobilenet_v1" or "mobilenet_v2".

    Returns:
        Rows with ``width_mult``, ``resolution``, ``rho``, ``params`` and ``macs``.
    """
    if model not in ("mobilenet_v1", "mobilenet_v2"):
        raise ValueError(f"model='{model}' is not allowed: choose one of mobilenet_v1, mobilenet_v2")
    info = MODELS[model]
    rows = []
    for a in alphas:
        for r in resolutions:
            c = info.cost(info.make_spec(width_mult=a, resolution=r), record_steps=False)
            rows.append({"width_mult": a, "resolution": r, "rho": r / 224, "params": c.params, "macs": c.macs})
    return rows


_V1_SOURCE = f"{V1_PAPER}, Tables 6 and 7"
register(
    ModelInfo(
        name="mobilenet_v1",
        label="MobileNetV1",
        family="mobilenet_v1",
        spec=MobileNetV1Spec,
        paper=V1_PAPER,
        url=V1_URL,
        explanation=(
            "A plain stack of depthwise-separable convolutions: each 3x3 conv is split into a per-channel 3x3 filter "
            "and a 1x1 conv that mixes channels, for 8-9x fewer MACs. Two global knobs trade accuracy for cost: the "
            "width multiplier alpha thins every layer (cost ~ alpha^2) and the resolution multiplier rho shrinks the "
            "input (cost ~ rho^2)." + _RHO_NOTE
        ),
        published=Published.of(_V1_SOURCE, params="4.2M", macs="569M", top1=70.6, resolution=224),
        also_published=(
            Published.of(
                _V1_SOURCE, params="2.6M", macs="325M", top1=68.4, resolution=224, fields={"width_mult": 0.75}
            ),
            Published.of(_V1_SOURCE, params="1.3M", macs="149M", top1=63.7, resolution=224, fields={"width_mult": 0.5}),
            Published.of(_V1_SOURCE, params="0.5M", macs="41M", top1=50.6, resolution=224, fields={"width_mult": 0.25}),
            Published.of(_V1_SOURCE, params="4.2M", macs="418M", top1=69.1, resolution=192),
            Published.of(
                _V1_SOURCE,
                params="4.2M",
                macs="290M",
                top1=67.2,
                resolution=160,
                mismatch=("macs",),
                note=(
                    "Table 7's MACs are Table 6's 569M scaled by rho^2 (569 x (160/224)^2 = 290.3M), but the FC "
                    "(1.02M) does not shrink with the input: the exact count at 160 is 290.68M. At 192 and 128 the "
                    "same shortcut stays within the rounding."
                ),
            ),
            Published.of(_V1_SOURCE, params="4.2M", macs="186M", top1=64.4, resolution=128),
        ),
        torchvision=None,
        defaults={},
        plan=plan_v1,
    )
)

register(
    ModelInfo(
        name="mobilenet_v2",
        label="MobileNetV2",
        family="mobilenet_v2",
        spec=MobileNetV2Spec,
        paper=V2_PAPER,
        url=V2_URL,
        explanation=(
            "Inverted residuals: the skip connects thin bottlenecks while each block expands 6x inside, filters the "
            "wide tensor depthwise and projects back with a linear 1x1 (a ReLU there would destroy information in "
            "the low-dimensional space). Fewer MACs than MobileNetV1 at higher accuracy." + _RHO_NOTE
        ),
        published=Published.of(
            f"{V2_PAPER}, Table 4",
            params="3.4M",
            macs="300M",
            top1=72.0,
            resolution=224,
            mismatch=("params", "macs"),
            note=(
                "The network of the paper's Table 2 has 3,504,872 learnable parameters (torchvision builds the same "
                "layers; 3,470,760 without BN), so 3.4M is not its rounded count: it reads like 3.47M truncated. "
                "300M is a round figure: the exact MACs are 300.77M with the FC (1.28M), 299.49M without."
            ),
        ),
        torchvision="mobilenet_v2",
        defaults={},
        plan=plan_v2,
    )
)
