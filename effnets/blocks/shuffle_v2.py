"""ShuffleNet V2 unit: channel split instead of group convs, designed for measured speed (guidelines G1-G4)."""

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
class ShuffleV2Spec(BlockSpec):
    in_channels: int = param(116, lo=1, hi=4096, help="Channels of the input tensor (C_in).", label="C_in")
    out_channels: int = param(116, lo=2, hi=4096, help="Channels of the output; even (two halves).", label="C_out")
    stride: int = param(1, choices=(1, 2), help="1: split, transform one half, concat. 2: two downsampling branches.")
    kernel_size: int = param(3, choices=(3, 5, 7), help="Depthwise kernel size.", label="kernel k", advanced=True)

    def check(self) -> None:
        if self.out_channels % 2:
            raise SpecError(
                f"out_channels={self.out_channels} must be even: the unit concatenates two equal halves",
                "out_channels",
                self.out_channels,
            )
        if self.stride == 1:
            if self.in_channels % 2:
                raise SpecError(
                    f"in_channels={self.in_channels} must be even: a stride-1 unit splits its input into two halves",
                    "in_channels",
                    self.in_channels,
                )
            if self.in_channels != self.out_channels:
                raise SpecError(
                    f"a stride-1 ShuffleNetV2 unit keeps the width: in_channels={self.in_channels} must equal "
                    f"out_channels={self.out_channels}",
                    "in_channels",
                    self.in_channels,
                )


class ShuffleV2Unit(nn.Module):
    """split -> (identity | 1x1 -> kxk dw -> 1x1) -> concat -> shuffle

    That is stride 1. Stride 2: [kxk depthwise s2 -> 1x1 on x, 1x1 -> kxk depthwise s2 -> 1x1 on x] -> concat ->
    shuffle. Ma et al. 2018. Layout and parameter order follow torchvision's InvertedResidual (branch1, then
    branch2)."""

    def __init__(self, spec: ShuffleV2Spec):
        super().__init__()
        half, k, s = spec.out_channels // 2, spec.kernel_size, spec.stride
        self.stride = s
        if s == 2:
            self.branch1 = nn.Sequential(
                ConvBNAct(spec.in_channels, spec.in_channels, k, s, groups=spec.in_channels, activation="none"),
                ConvBNAct(spec.in_channels, half, 1),
            )
        b_in = spec.in_channels if s == 2 else half
        self.branch2 = nn.Sequential(
            ConvBNAct(b_in, half, 1),
            ConvBNAct(half, half, k, s, groups=half, activation="none"),
            ConvBNAct(half, half, 1),
        )

    @staticmethod
    def cost(spec: ShuffleV2Spec, x: Cost) -> Cost:
        half, k, s = spec.out_channels // 2, spec.kernel_size, spec.stride
        if s == 1:
            x = steps.marker(x, "channel split", "split")
            keep = steps.with_channels(steps.branch(x), half, label="x1 (identity half)", branch_name="identity")
            b = steps.with_channels(x, half, label="x2 (transformed half)")
        else:
            b = x
            keep = steps.branch(x)
            keep = ConvBNAct.cost(
                keep,
                keep.c,
                k,
                s,
                groups=keep.c,
                activation="none",
                label=f"{k}x{k} depthwise s2",
                branch_name="branch1",
            )
            keep = ConvBNAct.cost(keep, half, 1, label="1x1 conv", branch_name="branch1")
        b = ConvBNAct.cost(b, half, 1, label="1x1 conv")
        b = ConvBNAct.cost(b, half, k, s, groups=half, activation="none", label=f"{k}x{k} depthwise")
        b = ConvBNAct.cost(b, half, 1, label="1x1 conv")
        y = steps.concat(b, keep, steps.branch(b))
        return steps.marker(y, "channel shuffle g=2", "shuffle")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


register(
    BlockInfo(
        name="shuffle_v2",
        order=90,
        label="ShuffleNet V2 unit",
        spec=ShuffleV2Spec,
        module=ShuffleV2Unit,
        paper="Ma et al. 2018, ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design",
        url="https://arxiv.org/abs/1807.11164",
        explanation=(
            "ShuffleNet V2 starts from measured speed, not MACs: equal input/output widths minimise memory access "
            "(G1), group convs cost memory traffic (G2), fragmented branches hurt parallelism (G3) and element-wise "
            "ops are not free (G4). So half the channels pass through untouched, the other half go through dense "
            "1x1 convs with equal widths, and a concat (not an add) plus a shuffle mixes the halves."
        ),
        formula=r"\text{MACs} = 2\left(\tfrac{C}{2}\right)^2 H W + 9\tfrac{C}{2} H W \quad (\text{stride } 1)",
        group="unit",
    )
)
