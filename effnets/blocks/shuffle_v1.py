"""ShuffleNet V1 unit: pointwise group convs made to talk to each other by a channel shuffle."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from effnets import cost as steps
from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import ConvBNAct, channel_shuffle
from effnets.cost import Cost
from effnets.spec import SpecError, param


@dataclass(frozen=True)
class ShuffleV1Spec(BlockSpec):
    in_channels: int = param(240, lo=1, hi=4096, help="Channels of the input tensor (C_in).", label="C_in")
    out_channels: int = param(
        240,
        lo=1,
        hi=4096,
        help="Channels of the output. Stride 1: equal to C_in. Stride 2: more than C_in (the "
        "branch adds C_out - C_in channels to the pooled input).",
        label="C_out",
    )
    groups: int = param(3, lo=1, hi=16, help="Groups g of the 1x1 group convs.", label="groups g")
    stride: int = param(1, choices=(1, 2), help="1: residual add. 2: concat with a 3x3 average-pooled shortcut.")
    grouped_first: bool = param(
        True,
        help="Group the first 1x1 conv. ShuffleNet leaves it dense in the first unit of stage 2, where C_in is small.",
        label="group the first 1x1",
        advanced=True,
    )
    bottleneck_ratio: float = param(
        0.25, lo=0.05, hi=1.0, step=0.05, help="Bottleneck width = C_out x ratio (the paper uses 1/4).", advanced=True
    )

    @property
    def branch_channels(self) -> int:
        return self.out_channels if self.stride == 1 else self.out_channels - self.in_channels

    @property
    def mid_channels(self) -> int:
        return int(self.out_channels * self.bottleneck_ratio)

    def check(self) -> None:
        g = self.groups
        if self.stride == 1 and self.in_channels != self.out_channels:
            raise SpecError(
                f"a stride-1 ShuffleNet unit adds its input to its output, so in_channels={self.in_channels} "
                f"must equal out_channels={self.out_channels}",
                "in_channels",
                self.in_channels,
            )
        if self.stride == 2 and self.out_channels <= self.in_channels:
            raise SpecError(
                f"a stride-2 ShuffleNet unit concatenates the pooled input with its branch, so out_channels="
                f"{self.out_channels} must be greater than in_channels={self.in_channels}",
                "out_channels",
                self.out_channels,
            )
        if self.mid_channels < 1:
            raise SpecError(
                f"bottleneck width out_channels x bottleneck_ratio = {self.mid_channels} is below 1",
                "out_channels",
                self.out_channels,
            )
        if self.mid_channels % g:
            raise SpecError(
                f"groups={g} must divide the bottleneck width {self.mid_channels} (C_out x ratio)",
                "groups",
                self.groups,
            )
        if self.grouped_first and self.in_channels % g:
            raise SpecError(
                f"groups={g} must divide in_channels={self.in_channels} (or don't group the first 1x1)",
                "groups",
                self.groups,
            )
        if self.branch_channels % g:
            raise SpecError(
                f"groups={g} must divide the branch output {self.branch_channels} "
                f"({'C_out' if self.stride == 1 else 'C_out - C_in'})",
                "groups",
                self.groups,
            )


class ShuffleV1Unit(nn.Module):
    """1x1 group conv -> shuffle -> 3x3 depthwise -> 1x1 group conv [+ x | concat avgpool(x)]

    Each conv is followed by BN (the first also by ReLU; the depthwise conv carries the stride), then ReLU(x + branch)
    at stride 1 or ReLU(concat(avgpool(x), branch)) at stride 2. Zhang et al. 2018."""

    def __init__(self, spec: ShuffleV1Spec):
        super().__init__()
        g, mid = spec.groups, spec.mid_channels
        self.groups, self.stride = g, spec.stride
        self.compress = ConvBNAct(spec.in_channels, mid, 1, groups=g if spec.grouped_first else 1)
        self.depthwise = ConvBNAct(mid, mid, 3, spec.stride, groups=mid, activation="none")
        self.expand = ConvBNAct(mid, spec.branch_channels, 1, groups=g, activation="none")
        self.shortcut = nn.AvgPool2d(3, 2, 1) if spec.stride == 2 else nn.Identity()
        self.act = nn.ReLU(inplace=True)

    @staticmethod
    def cost(spec: ShuffleV1Spec, x: Cost) -> Cost:
        g, mid = spec.groups, spec.mid_channels
        b = ConvBNAct.cost(x, mid, 1, groups=g if spec.grouped_first else 1, label="1x1 group conv (compress)")
        b = steps.marker(b, f"channel shuffle g={g}", "shuffle")
        b = ConvBNAct.cost(b, mid, 3, spec.stride, groups=mid, activation="none", label="3x3 depthwise")
        b = ConvBNAct.cost(b, spec.branch_channels, 1, groups=g, activation="none", label="1x1 group conv (expand)")
        if spec.stride == 1:
            y = steps.add(b, steps.branch(x), label="residual add")
        else:
            short = steps.pool(
                steps.branch(x), 3, 2, 1, kind="avg", label="3x3 avg pool s2 (shortcut)", branch_name="shortcut"
            )
            y = steps.concat(b, short, steps.branch(b), label="concat [shortcut, branch]")
        return steps.act(y, "relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.compress(x)
        if self.groups > 1:
            b = channel_shuffle(b, self.groups)
        b = self.expand(self.depthwise(b))
        if self.stride == 1:
            return self.act(x + b)
        return self.act(torch.cat([self.shortcut(x), b], 1))


register(
    BlockInfo(
        name="shuffle_v1",
        order=80,
        label="ShuffleNet V1 unit",
        spec=ShuffleV1Spec,
        module=ShuffleV1Unit,
        paper="Zhang et al. 2018, ShuffleNet",
        url="https://arxiv.org/abs/1707.01083",
        explanation=(
            "In a depthwise-separable design the dense 1x1 convs dominate the cost. ShuffleNet groups them too, which "
            "cuts their cost by g, and inserts a channel shuffle so that the next group conv sees channels from every "
            "group. At equal cost, more groups buy wider layers (the paper's g = 3 or 8 nets are wider than g = 1). "
            "At stride 2 the unit concatenates a pooled copy of its input instead of adding it, growing the width."
        ),
        formula=r"\text{MACs} = \tfrac{C_{in} C_b}{g} H W + 9 C_b H'W' + \tfrac{C_b C_{br}}{g} H'W', "
        r"\; C_b = \tfrac{C_{out}}{4}",
        group="unit",
    )
)
