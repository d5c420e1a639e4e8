"""MnasNet (Tan et al. 2019): the B1 network of the paper's first version, without squeeze-excitation, as torchvision
builds it (``torchvision.models.mnasnet``, version 2: the stem scaled with the width too)."""

from __future__ import annotations

from dataclasses import dataclass

from effnets.blocks._layers import make_divisible
from effnets.blocks.mbconv import MBConv, MBConvSpec
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
from effnets.models.network import Block, Classifier, Conv, Plan, Stage
from effnets.spec import param

PAPER = "Tan et al. 2019, MnasNet: Platform-Aware Neural Architecture Search for Mobile"
URL = "https://arxiv.org/abs/1807.11626"

register_family(
    FamilyInfo(
        name="mnasnet",
        label="MnasNet",
        color="#e7ba52",
        paper=PAPER,
        url=URL,
        order=24,
        scaling=(
            "Depth multiplier (a width multiplier in this project's terms): every width but the last 1x1 conv's 1280 "
            "x alpha, rounded to a multiple of 8 (rounding up unless that adds more than 10 %); and input resolution."
        ),
    )
)


@dataclass(frozen=True)
class MBConvStack:
    """One row of MnasNet-B1 (paper v1, Figure 7): MBConv{expand_ratio} k{kernel}, {repeats} blocks to
    {channels}, the first with ``stride``."""

    expand_ratio: int
    kernel: int
    stride: int
    channels: int
    repeats: int


STEM = 32
SEPCONV = 16  # the depthwise-separable conv after the stem: 3x3 depthwise, then a linear 1x1 to 16
HEAD = 1280  # never scaled
STACKS: tuple[MBConvStack, ...] = (
    MBConvStack(3, 3, 2, 24, 3),
    MBConvStack(3, 5, 2, 40, 3),
    MBConvStack(6, 5, 2, 80, 3),
    MBConvStack(6, 3, 1, 96, 2),
    MBConvStack(6, 5, 2, 192, 4),
    MBConvStack(6, 3, 1, 320, 1),
)


@dataclass(frozen=True)
class MnasNetSpec(ModelSpec):
    """MnasNet-B1: width multiplier alpha (the paper's depth multiplier) and resolution."""

    width_mult: float = param(
        1.0,
        lo=0.1,
        hi=3.0,
        step=0.05,
        help="alpha (the paper's 'depth multiplier'): every width but the last conv's 1280 x alpha, rounded to a "
        "multiple of 8; torchvision ships 0.5, 0.75, 1.0 and 1.3.",
        label="width multiplier alpha",
    )
    resolution: int = resolution_param(224)
    dropout: float = dropout_param(0.2)
    num_classes: int = num_classes_param()


def _width(channels: int, alpha: float) -> int:
    """torchvision's _round_to_multiple_of(channels x alpha, 8): the same rule as _make_divisible."""
    return make_divisible(channels * alpha, 8)


def plan(spec: MnasNetSpec) -> Plan:
    """conv3x3 s2 32 -> SepConv 3x3 16 (linear) -> 6 stacks of MBConv (ReLU, no SE) -> conv1x1 1280 -> pool ->
    dropout -> FC.

    The layout of torchvision's MNASNet (B1): the separable conv has no skip at any width, a stack's first block
    carries its stride, and the last 1x1 conv stays 1280 wide.
    """
    a = spec.width_mult
    stem, sep = _width(STEM, a), _width(SEPCONV, a)
    stages = [
        Stage("stem", "Conv3x3", (Conv(3, stem, 3, 2, label="3x3 conv s2 (stem)"),), 3, 2),
        Stage(
            "stage2",
            "SepConv, k3x3",
            (
                Conv(stem, stem, 3, groups=stem, label="3x3 depthwise"),
                Conv(stem, sep, 1, activation="none", label="1x1 project (linear)"),
            ),
            3,
            1,
            repeats=1,
        ),
    ]
    c_in = sep
    for i, row in enumerate(STACKS):
        c_out = _width(row.channels, a)
        blocks = []
        for j in range(row.repeats):
            s = MBConvSpec(
                in_channels=c_in,
                out_channels=c_out,
                kernel_size=row.kernel,
                stride=row.stride if j == 0 else 1,
                expand_ratio=row.expand_ratio,
                se_ratio=0.0,
                activation="relu",
            )
            blocks.append(Block(MBConv, s))
            c_in = c_out
        op = f"MBConv{row.expand_ratio}, k{row.kernel}x{row.kernel}"
        stages.append(Stage(f"stage{i + 3}", op, tuple(blocks), row.kernel, row.stride, row.expand_ratio))
    stages.append(
        Stage(
            "head",
            "Conv1x1 & Pooling & FC",
            (Conv(c_in, HEAD, 1, label="1x1 conv (head)"), Classifier(HEAD, spec.num_classes, spec.dropout)),
            1,
            1,
            repeats=1,
        )
    )
    return Plan(tuple(stages), (3, spec.resolution, spec.resolution))


_EXPLANATION = (
    "The first network found by searching for accuracy AND measured phone latency (a reward acc x (lat / target)^w) "
    "rather than FLOPs, in a factorized space where each stage chooses its own block, kernel, expansion and depth. "
    "The result mixes 3x3 and 5x5 depthwise kernels and expansions 3 and 6 where MobileNetV2 repeats one block: "
    "the diversity the search space was built to allow. This is B1, without squeeze-excitation; MnasNet-A1 adds SE "
    "and became the starting point of EfficientNet-B0 and MobileNetV3."
)
register(
    ModelInfo(
        name="mnasnet0_5",
        label="MnasNet-B1 0.5",
        family="mnasnet",
        spec=MnasNetSpec,
        paper=PAPER,
        url=URL,
        explanation=_EXPLANATION + " Here at half width: every layer but the last 1x1 conv halved.",
        published=None,
        torchvision="mnasnet0_5",
        defaults={"width_mult": 0.5},
        plan=plan,
    )
)

register(
    ModelInfo(
        name="mnasnet1_0",
        label="MnasNet-B1 1.0",
        family="mnasnet",
        spec=MnasNetSpec,
        paper=PAPER,
        url=URL,
        explanation=_EXPLANATION,
        published=Published.of(
            f"{PAPER}, arXiv v1 (2018), abstract",
            top1=74.0,
            resolution=224,
            note="The first version's MnasNet is this B1 network (its Figure 7); the later versions report "
            "MnasNet-A1 (with SE: 75.2 %, 3.9M, 312M), another network.",
        ),
        torchvision="mnasnet1_0",
        defaults={},
        plan=plan,
    )
)

for _alpha, _name in ((0.75, "mnasnet0_75"), (1.3, "mnasnet1_3")):
    register(
        ModelInfo(
            name=_name,
            label=f"MnasNet-B1 {_alpha:g}",
            family="mnasnet",
            spec=MnasNetSpec,
            paper=PAPER,
            url=URL,
            explanation=_EXPLANATION + f" Here at width {_alpha:g}: every layer but the last 1x1 conv scaled.",
            published=None,  # torchvision's metadata (added by the registry) is the source for this width
            torchvision=_name,
            defaults={"width_mult": _alpha},
            plan=plan,
        )
    )
