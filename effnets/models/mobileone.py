"""MobileOne (Vasu et al. 2023): MobileNetV1's depthwise-separable stack with over-parameterized, reparameterizable
stages, laid out like timm's ``byobnet`` MobileOne models (``mobileone_s0``)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from effnets.blocks.mobileone import MobileOneBlock, MobileOneConv, MobileOneSpec
from effnets.blocks.repvgg import DEPLOY_HELP
from effnets.cost import Cost
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
from effnets.models.network import Block, Classifier, Plan, Stage
from effnets.spec import param

PAPER = "Vasu et al. 2023, MobileOne: An Improved One millisecond Mobile Backbone"
URL = "https://arxiv.org/abs/2206.04040"

register_family(
    FamilyInfo(
        name="mobileone",
        label="MobileOne",
        color="#5254a3",
        paper=PAPER,
        url=URL,
        order=28,
        scaling=(
            "Width multipliers per stage (S0: 0.75, 1, 1, 2 of 64, 128, 256, 512; S1-S4 wider) and the number of "
            "over-parameterized branches k (4 in S0, 1 in S1-S4), which changes only the training form; input "
            "resolution."
        ),
    )
)

BASE_WIDTHS = (64, 128, 256, 512)
DEPTHS = (2, 8, 10, 1)  # MobileOne blocks per stage (each a depthwise and a pointwise stage), as in timm
STEM = 48


@dataclass(frozen=True)
class MobileOneStem:
    """One MobileOne stage as the stem: 3x3 conv s2 (+ 1x1 scale branch) while training, one conv once deployed
    (timm's stem: a full ``MobileOneBlock`` with a single conv branch)."""

    out_channels: int
    deploy: bool = False

    def build(self) -> nn.Module:
        return MobileOneConv(3, self.out_channels, 3, 2, 1, 1, self.deploy)

    def cost(self, x: Cost) -> Cost:
        return MobileOneConv.cost(x, self.out_channels, 3, 2, 1, 1, self.deploy, label="conv (stem)")


@dataclass(frozen=True)
class MobileOneNetSpec(ModelSpec):
    """MobileOne-S0: branches k, training or deploy form, resolution."""

    width_1: float = param(0.75, lo=0.25, hi=4.0, step=0.25, help="Stage 1 width = 64 x this (0.75 in S0).")
    width_2: float = param(1.0, lo=0.25, hi=4.0, step=0.25, help="Stage 2 width = 128 x this (1 in S0).")
    width_3: float = param(1.0, lo=0.25, hi=4.0, step=0.25, help="Stage 3 width = 256 x this (1 in S0).")
    width_4: float = param(2.0, lo=0.25, hi=4.0, step=0.25, help="Stage 4 width = 512 x this (2 in S0).")
    num_conv_branches: int = param(
        4,
        lo=1,
        hi=8,
        help="k: conv-BN branches per stage while training (4 in S0, 1 in S1-S4); the deploy form does not change.",
        label="conv branches k",
    )
    deploy: bool = param(False, help=DEPLOY_HELP)
    resolution: int = resolution_param(224)
    dropout: float = dropout_param(0.0)
    num_classes: int = num_classes_param()

    def widths(self) -> tuple[int, ...]:
        multipliers = (self.width_1, self.width_2, self.width_3, self.width_4)
        return tuple(int(c * m) for c, m in zip(BASE_WIDTHS, multipliers, strict=True))


def plan(spec: MobileOneNetSpec) -> Plan:
    """MobileOne conv 3x3 s2 (stem, 48) -> 4 stages of MobileOne blocks (3x3 depthwise stage, s2 in the first block of
    each stage, then a 1x1 stage) -> pool -> FC.

    Each stage is a sum of k conv-BN branches (+ a 1x1 scale branch in the depthwise stages, + an identity BN where
    the shape allows) and ReLU, or with ``deploy`` one conv with a bias. timm's ``mobileone_s0`` layout (stem
    min(64, 64 x width_1), k in the blocks, a single branch in the stem).
    """
    n, d = spec.num_conv_branches, spec.deploy
    widths = spec.widths()
    stem = min(64, widths[0])
    stages = [Stage("stem", "MobileOne conv 3x3 s2" + (" (deployed)" if d else ""), (MobileOneStem(stem, d),), 3, 2)]
    c = stem
    for i, (width, depth) in enumerate(zip(widths, DEPTHS, strict=True), 1):
        blocks = []
        for j in range(depth):
            s = MobileOneSpec(
                in_channels=c, out_channels=width, stride=2 if j == 0 else 1, num_conv_branches=n, deploy=d
            )
            blocks.append(Block(MobileOneBlock, s))
            c = width
        op = f"MobileOne 3x3 dw + 1x1, {width}" + (" (deployed)" if d else f", k={n}")
        stages.append(Stage(f"stage{i}", op, tuple(blocks), 3, 2))
    stages.append(Stage("head", "Pooling & FC", (Classifier(c, spec.num_classes, spec.dropout),), None, 1))
    return Plan(tuple(stages), (3, spec.resolution, spec.resolution))


register(
    ModelInfo(
        name="mobileone_s0",
        label="MobileOne-S0",
        family="mobileone",
        spec=MobileOneNetSpec,
        paper=PAPER,
        url=URL,
        explanation=(
            "Designed for latency on a phone, not for MACs: a plain chain of 3x3 depthwise and 1x1 convs with ReLU "
            "(no residual adds, no SE in S0), because on a mobile chip branches and memory traffic cost more than "
            "their MACs suggest. It trains over-parameterized, each depthwise and 1x1 stage a sum of k = 4 conv-BN "
            "branches plus a 1x1 'scale' branch and an identity BN (5.3M parameters, 1.05 GMACs), and deploys each "
            "stage as one conv with a bias (2.1M parameters, 275M MACs), the same function in eval mode: about "
            "1 ms on an iPhone 12."
        ),
        published=Published.of(
            f"{PAPER}, the paper's ImageNet comparison table (MobileOne-S0: 1.09 ms on iPhone 12)",
            params="2.1M",
            macs="275M",
            top1=71.4,
            resolution=224,
            fields={"deploy": True},
            note=(
                "Figures of the deployed (reparameterized) network; its FLOPs column counts multiply-adds. timm's "
                "mobileone_s0, reparameterized, has 2,078,504 parameters and 275.1M MACs at 224. Latency 1.09 ms "
                "measured by the authors on an iPhone 12 (Core ML)."
            ),
        ),
        also_published=(
            Published.of(
                "MMPretrain, configs/mobileone/README.md (mobileone-s0_8xb32_in1k: params 2.08M, top-1 71.34)",
                params="2.08M",
                top1=71.34,
                resolution=224,
                fields={"deploy": True},
                note="Trained from scratch by MMPretrain; parameters counted on the deployed network.",
            ),
        ),
        torchvision=None,
        defaults={"num_conv_branches": 4},
        plan=plan,
    )
)
