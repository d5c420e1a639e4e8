"""Xception's residual module of separable convolutions (and the pointwise-first 'extreme Inception' variant)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from effnets import cost as steps
from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import ConvBNAct
from effnets.cost import Cost
from effnets.spec import param


@dataclass(frozen=True)
class XceptionSpec(BlockSpec):
    in_channels: int = param(64, lo=1, hi=4096, help="Channels of the input tensor (C_in).", label="C_in")
    out_channels: int = param(128, lo=1, hi=4096, help="Channels of the output (C_out).", label="C_out")
    repeats: int = param(
        2,
        lo=1,
        hi=4,
        help="Separable convs in the module (2 in the entry and exit flows, 3 in the middle flow).",
        label="separable convs",
    )
    stride: int = param(2, choices=(1, 2), help="2: a 3x3 max pool after the convs and a 1x1 stride-2 shortcut.")
    grow_first: bool = param(
        True,
        help="Change the width in the first separable conv (entry flow) rather than the last (exit flow).",
        advanced=True,
    )
    start_with_relu: bool = param(
        True, help="A ReLU before the first separable conv (all modules but the first).", advanced=True
    )
    order: str = param(
        "depthwise_first",
        choices=("depthwise_first", "pointwise_first"),
        help="depthwise_first: the separable conv Xception uses (3x3 depthwise then 1x1). "
        "pointwise_first: the paper's 'extreme Inception' (1x1 then 3x3 depthwise).",
    )


class SeparableConv(nn.Sequential):
    """3x3 depthwise -> 1x1 pointwise with nothing between (or the pointwise-first order); no bias."""

    def __init__(self, cin: int, cout: int, pointwise_first: bool = False):
        if pointwise_first:
            super().__init__(
                nn.Conv2d(cin, cout, 1, bias=False), nn.Conv2d(cout, cout, 3, padding=1, groups=cout, bias=False)
            )
        else:
            super().__init__(
                nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False), nn.Conv2d(cin, cout, 1, bias=False)
            )

    @staticmethod
    def cost(x: Cost, cout: int, pointwise_first: bool = False, i: int = 1) -> Cost:
        if pointwise_first:
            x = steps.conv(x, cout, 1, label=f"sep{i} 1x1 pointwise")
            return steps.conv(x, cout, 3, groups=cout, label=f"sep{i} 3x3 depthwise")
        x = steps.conv(x, x.c, 3, groups=x.c, label=f"sep{i} 3x3 depthwise")
        return steps.conv(x, cout, 1, label=f"sep{i} 1x1 pointwise")


class XceptionModule(nn.Module):
    """[ReLU] sepconv -> BN -> ReLU -> sepconv -> BN [-> maxpool s2] + (1x1 conv s2 + BN | identity)

    Chollet 2017.

    The shortcut is a 1x1 conv (stride) + BN when the shape changes, else the identity."""

    def __init__(self, spec: XceptionSpec):
        super().__init__()
        pf = spec.order == "pointwise_first"
        layers: list[nn.Module] = []
        c = spec.in_channels
        for i, cout in enumerate(_widths(spec)):
            if i > 0 or spec.start_with_relu:
                layers.append(nn.ReLU(inplace=False))
            layers += [SeparableConv(c, cout, pf), nn.BatchNorm2d(cout)]
            c = cout
        if spec.stride == 2:
            layers.append(nn.MaxPool2d(3, 2, 1))
        self.rep = nn.Sequential(*layers)
        self.skip = (
            ConvBNAct(spec.in_channels, spec.out_channels, 1, spec.stride, activation="none")
            if spec.stride != 1 or spec.in_channels != spec.out_channels
            else None
        )

    @staticmethod
    def cost(spec: XceptionSpec, x: Cost) -> Cost:
        pf = spec.order == "pointwise_first"
        trunk = x
        for i, cout in enumerate(_widths(spec)):
            if i > 0 or spec.start_with_relu:
                x = steps.act(x, "relu")
            x = steps.norm(SeparableConv.cost(x, cout, pf, i + 1))
        if spec.stride == 2:
            x = steps.pool(x, 3, 2, 1, kind="max")
        short = steps.branch(trunk)
        if spec.stride != 1 or spec.in_channels != spec.out_channels:
            short = ConvBNAct.cost(
                short,
                spec.out_channels,
                1,
                spec.stride,
                activation="none",
                label="1x1 shortcut conv",
                branch_name="shortcut",
            )
        return steps.add(x, short)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rep(x) + (x if self.skip is None else self.skip(x))


def _widths(spec: XceptionSpec) -> list[int]:
    if spec.grow_first:
        return [spec.out_channels] * spec.repeats
    return [spec.in_channels] * (spec.repeats - 1) + [spec.out_channels]


register(
    BlockInfo(
        name="xception",
        order=140,
        label="Xception module",
        spec=XceptionSpec,
        module=XceptionModule,
        paper="Chollet 2017, Xception: Deep Learning with Depthwise Separable Convolutions",
        url="https://arxiv.org/abs/1610.02357",
        explanation=(
            "Xception takes the Inception idea to its extreme: if cross-channel and spatial correlations can be "
            "mapped separately, use one 1x1 conv and then a separate 3x3 filter per channel. The paper's analysis "
            "is pointwise-first; the network uses the depthwise-first separable conv (the order matters little in a "
            "stack). Every module is residual; the 1x1 stride-2 shortcut carries the signal across downsampling."
        ),
        formula=r"\text{sepconv MACs} = 9 C_{in} H W + C_{in} C_{out} H W",
        group="unit",
    )
)
