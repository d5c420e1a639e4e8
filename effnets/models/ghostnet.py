"""GhostNet (Han et al. 2020): the paper's Table 1, one stage row per G-bneck, as timm builds it
(``timm.models.ghostnet``), with its width multiplier."""

from __future__ import annotations

from dataclasses import dataclass

from effnets.blocks._layers import make_divisible
from effnets.blocks.ghost import GhostBottleneck, GhostSpec
from effnets.models import (
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
from effnets.models.network import Block, Conv, Plan, PooledConvClassifier, Stage
from effnets.spec import param

PAPER = "Han et al. 2020, GhostNet: More Features from Cheap Operations"
URL = "https://arxiv.org/abs/1911.11907"
DIVISOR = 4  # timm (and the authors' code) round every width x alpha to a multiple of 4

register_family(
    FamilyInfo(
        name="ghostnet",
        label="GhostNet",
        color="#637939",
        paper=PAPER,
        url=URL,
        order=26,
        scaling=(
            "Width multiplier: the stem, every expanded and output width and the last 1x1 conv x alpha, each "
            "rounded to a multiple of 4 (never losing more than 10 %), the SE width re-derived from the rounded "
            "expanded width; the 1280-wide conv after the pool stays; and input resolution."
        ),
    )
)


@dataclass(frozen=True)
class GBneckRow:
    """One 'G-bneck' row of the paper's Table 1: kernel, #exp, #out, SE ratio, stride."""

    kernel: int
    expanded: int
    out: int
    se_ratio: float
    stride: int


STEM = 16
# Paper Table 1 (timm's _create_ghostnet cfgs: the same rows, k, t, c, SE, s).
ROWS: tuple[GBneckRow, ...] = (
    GBneckRow(3, 16, 16, 0.0, 1),
    GBneckRow(3, 48, 24, 0.0, 2),
    GBneckRow(3, 72, 24, 0.0, 1),
    GBneckRow(5, 72, 40, 0.25, 2),
    GBneckRow(5, 120, 40, 0.25, 1),
    GBneckRow(3, 240, 80, 0.0, 2),
    GBneckRow(3, 200, 80, 0.0, 1),
    GBneckRow(3, 184, 80, 0.0, 1),
    GBneckRow(3, 184, 80, 0.0, 1),
    GBneckRow(3, 480, 112, 0.25, 1),
    GBneckRow(3, 672, 112, 0.25, 1),
    GBneckRow(5, 672, 160, 0.25, 2),
    GBneckRow(5, 960, 160, 0.0, 1),
    GBneckRow(5, 960, 160, 0.25, 1),
    GBneckRow(5, 960, 160, 0.0, 1),
    GBneckRow(5, 960, 160, 0.25, 1),
)
HEAD_CONV = 1280  # the paper's 'Conv2d 1x1, 1280' after the pool, not scaled by alpha


@dataclass(frozen=True)
class GhostNetSpec(ModelSpec):
    """GhostNet: the paper's Table 1 with width multiplier alpha and resolution."""

    width_mult: float = param(
        1.0,
        lo=0.1,
        hi=3.0,
        step=0.05,
        help="alpha: every width x alpha, rounded to a multiple of 4 (the paper's 0.5, 1.0, 1.3); the SE width "
        "follows the rounded expanded width; the 1280-wide head conv stays.",
        label="width multiplier alpha",
    )
    resolution: int = resolution_param(224)
    dropout: float = dropout_param(0.2)
    num_classes: int = num_classes_param()


def _width(channels: int, alpha: float) -> int:
    """timm's ``make_divisible(channels x alpha, 4)``."""
    return make_divisible(channels * alpha, DIVISOR)


def plan(spec: GhostNetSpec) -> Plan:
    """conv3x3 s2 16 -> 16 G-bneck rows -> conv1x1 960 -> pool -> conv1x1 1280 (ReLU) -> dropout -> FC.

    One stage row per row of the paper's Table 1; widths x alpha rounded to multiples of 4 as timm does (each
    bneck's expanded and output width separately; the last 1x1 conv takes the last row's expanded width).
    """
    a = spec.width_mult
    stem = _width(STEM, a)
    stages = [Stage("stem", "Conv2d 3x3", (Conv(3, stem, 3, 2, label="3x3 conv s2 (stem)"),), 3, 2)]
    c_in = stem
    for i, row in enumerate(ROWS):
        mid, c_out = _width(row.expanded, a), _width(row.out, a)
        block = GhostSpec(
            in_channels=c_in,
            out_channels=c_out,
            kernel_size=row.kernel,
            stride=row.stride,
            expanded_channels=mid,
            se_ratio=row.se_ratio,
        )
        op = f"G-bneck {row.kernel}x{row.kernel}, exp {mid}" + (", SE" if row.se_ratio else "")
        stages.append(
            Stage(f"stage{i + 2}", op, (Block(GhostBottleneck, block),), row.kernel, row.stride, round(mid / c_in, 2))
        )
        c_in = c_out
    last_conv = _width(ROWS[-1].expanded, a)
    n = len(stages) + 1
    stages.append(Stage(f"stage{n}", "Conv2d 1x1", (Conv(c_in, last_conv, 1, label="1x1 conv (head)"),), 1, 1))
    stages.append(
        Stage(
            "head",
            f"AvgPool, Conv2d 1x1 {HEAD_CONV}, FC",
            (PooledConvClassifier(last_conv, HEAD_CONV, spec.num_classes, spec.dropout),),
            None,
            1,
            repeats=1,
        )
    )
    return Plan(tuple(stages), (3, spec.resolution, spec.resolution))


_EXPLANATION = (
    "MobileNetV3's layout (same stage widths, strides and SE placement, a 1280-wide 1x1 conv after the pool) built "
    "from Ghost bottlenecks: each 1x1 conv is replaced by a Ghost module that computes half its output maps with a "
    "real 1x1 conv and the other half from those with a cheap 3x3 depthwise conv, because trained networks' maps "
    "come in near-duplicate pairs. Downsampling is a stride-2 depthwise conv between the two modules, and every "
    "block has a residual (a depthwise + 1x1 conv path where the shape changes)."
)

register(
    ModelInfo(
        name="ghostnet_100",
        label="GhostNet 1.0x",
        family="ghostnet",
        spec=GhostNetSpec,
        paper=PAPER,
        url=URL,
        explanation=_EXPLANATION,
        published=Published.of(
            f"{PAPER}, ImageNet comparison of small networks: GhostNet 1.0x",
            params="5.2M",
            macs="141M",
            top1=73.9,
            resolution=224,
            note="timm's ghostnet_100 builds the same layers: 5,182,508 parameters, 141.15M MACs at 224.",
        ),
        torchvision=None,
        defaults={"width_mult": 1.0},
        plan=plan,
    )
)
