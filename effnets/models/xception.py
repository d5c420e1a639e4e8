"""Xception (Chollet 2017): entry, middle and exit flows of residual separable-conv modules, input 299."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from effnets import cost as steps
from effnets.blocks.xception import SeparableConv, XceptionModule, XceptionSpec
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
from effnets.models.network import Block, Classifier, Conv, Plan, Stage
from effnets.spec import param

PAPER = "Chollet 2017, Xception: Deep Learning with Depthwise Separable Convolutions"
URL = "https://arxiv.org/abs/1610.02357"

register_family(
    FamilyInfo(
        name="xception",
        label="Xception",
        color="#bcbd22",
        paper=PAPER,
        url=URL,
        order=50,
        scaling=("No multiplier: the number of middle-flow blocks (8 in the paper) is its one depth setting."),
    )
)


@dataclass(frozen=True)
class XceptionRow:
    """One residual module of the flows: output channels, separable convs, stride, where the width changes."""

    channels: int
    repeats: int
    stride: int
    grow_first: bool = True
    start_with_relu: bool = True


ENTRY: tuple[XceptionRow, ...] = (
    XceptionRow(128, 2, 2, start_with_relu=False),
    XceptionRow(256, 2, 2),
    XceptionRow(728, 2, 2),
)
MIDDLE = XceptionRow(728, 3, 1)
EXIT = XceptionRow(1024, 2, 2, grow_first=False)
EXIT_TAIL = (1536, 2048)


@dataclass(frozen=True)
class SepConvBNReLU:
    """separable conv (3x3 depthwise -> 1x1, no bias) -> BN -> ReLU: the exit flow's last two layers."""

    in_channels: int
    out_channels: int

    def build(self) -> nn.Module:
        return nn.Sequential(
            SeparableConv(self.in_channels, self.out_channels), nn.BatchNorm2d(self.out_channels), nn.ReLU(inplace=True)
        )

    def cost(self, x: Cost) -> Cost:
        return steps.act(steps.norm(SeparableConv.cost(x, self.out_channels)), "relu")


@dataclass(frozen=True)
class XceptionNetSpec(ModelSpec):
    """Xception: the number of middle-flow modules and the input side (299 in the paper)."""

    middle_repeats: int = param(
        8,
        lo=0,
        hi=16,
        help="Residual modules of 3 separable convs in the middle flow (8 in the paper).",
        label="middle flow modules",
    )
    resolution: int = resolution_param(299, lo=71)
    dropout: float = dropout_param(0.0)
    num_classes: int = num_classes_param()


def plan(spec: XceptionNetSpec) -> Plan:
    """conv3x3 s2 32 (valid) -> conv3x3 64 (valid) -> entry flow (3 modules) -> middle flow (8 modules) -> exit flow
    (1 module, sepconv 1536, sepconv 2048) -> pool -> FC. Layout of keras.applications.Xception."""
    stem = (
        Conv(3, 32, 3, 2, 0, label="3x3 conv s2 (no padding)"),
        Conv(32, 64, 3, 1, 0, label="3x3 conv (no padding)"),
    )
    stages = [Stage("stem", "Conv3x3 x2", stem, 3, 2)]
    c_in = 64
    entry = []
    for row in ENTRY:
        s = XceptionSpec(
            in_channels=c_in,
            out_channels=row.channels,
            repeats=row.repeats,
            stride=row.stride,
            grow_first=row.grow_first,
            start_with_relu=row.start_with_relu,
        )
        entry.append(Block(XceptionModule, s))
        c_in = row.channels
    stages.append(Stage("entry", "Xception module (entry flow)", tuple(entry), 3, 2))
    if spec.middle_repeats:
        m = XceptionSpec(in_channels=c_in, out_channels=MIDDLE.channels, repeats=MIDDLE.repeats, stride=MIDDLE.stride)
        stages.append(
            Stage(
                "middle",
                "Xception module (middle flow)",
                tuple(Block(XceptionModule, m) for _ in range(spec.middle_repeats)),
                3,
                1,
            )
        )
        c_in = MIDDLE.channels
    ex = XceptionSpec(
        in_channels=c_in,
        out_channels=EXIT.channels,
        repeats=EXIT.repeats,
        stride=EXIT.stride,
        grow_first=EXIT.grow_first,
    )
    tail = (Block(XceptionModule, ex), SepConvBNReLU(EXIT.channels, EXIT_TAIL[0]), SepConvBNReLU(*EXIT_TAIL))
    stages.append(Stage("exit", "Xception module & SeparableConv x2 (exit flow)", tail, 3, 2))
    stages.append(
        Stage("head", "Pooling & FC", (Classifier(EXIT_TAIL[1], spec.num_classes, spec.dropout),), None, 1, repeats=1)
    )
    return Plan(tuple(stages), (3, spec.resolution, spec.resolution))


register(
    ModelInfo(
        name="xception",
        label="Xception",
        family="xception",
        spec=XceptionNetSpec,
        paper=PAPER,
        url=URL,
        explanation=(
            "Inception taken to the extreme: if channel and spatial correlations can be mapped separately, map them "
            "completely separately - a 1x1 conv and a 3x3 filter per channel, i.e. a depthwise-separable conv. "
            "Xception is 36 separable convs in 14 residual modules; it has about Inception V3's parameters but "
            "uses them better. It is not a mobile network: at 299x299 it costs over 8 GMACs."
        ),
        published=Published.of(
            f"{PAPER}, Table 3 (and keras.applications.Xception: 22,855,952 trainable params)",
            params="22,855,952",
            top1=79.0,
            resolution=299,
        ),
        torchvision=None,
        defaults={},
        plan=plan,
    )
)
