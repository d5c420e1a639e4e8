"""The ResNet bottleneck (He et al. 2016) and its grouped form, the ResNeXt block (Xie et al. 2017)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from effnets import cost as steps
from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import ConvBNAct
from effnets.cost import Cost
from effnets.spec import SpecError, param

EXPANSION = 4
"""C_out = 4 x planes: the last 1x1 widens the bottleneck's planes four times (torchvision's Bottleneck.expansion)."""
BASE_WIDTH = 64
"""width_per_group is measured against 64 planes: ResNeXt's "32x4d" is 32 groups of 4 channels at 64 planes."""


@dataclass(frozen=True)
class ResNetBottleneckSpec(BlockSpec):
    in_channels: int = param(256, lo=1, hi=4096, help="Channels of the input tensor (C_in).", label="C_in")
    out_channels: int = param(
        512,
        lo=4,
        hi=4096,
        help="Channels of the output, 4 x planes (the last 1x1 expands the planes 4 times); a multiple of 4.",
        label="C_out",
    )
    stride: int = param(
        2,
        choices=(1, 2),
        help="Stride of the block (2 in the first block of stages conv3_x to conv5_x); the shortcut then needs a 1x1 "
        "stride-2 projection.",
    )
    groups: int = param(
        1,
        lo=1,
        hi=64,
        help="Cardinality C: groups of the 3x3 conv (1 = ResNet; ResNeXt uses 32 or 64).",
        label="groups (cardinality)",
    )
    width_per_group: int = param(
        64,
        lo=1,
        hi=512,
        help="d: channels per group at 64 planes; the 3x3's width is int(planes x d / 64) x groups (ResNet 64, "
        "ResNeXt-50 32x4d: 4, Wide ResNet-50-2: 128).",
        label="width per group d",
    )
    stride_on: str = param(
        "3x3",
        choices=("3x3", "1x1"),
        help="Which conv carries the stride: the 3x3 (ResNet v1.5: torchvision, fb.resnet.torch, ResNeXt) or the "
        "first 1x1 (v1: the paper's Caffe models), which skips 3 of every 4 input pixels and costs fewer MACs.",
        advanced=True,
    )

    @property
    def planes(self) -> int:
        """C_out / 4: the bottleneck's base width."""
        return self.out_channels // EXPANSION

    @property
    def width(self) -> int:
        """Channels of the 1x1 reduce and the 3x3: int(planes x width_per_group / 64) x groups (torchvision)."""
        return self.planes * self.width_per_group // BASE_WIDTH * self.groups

    @property
    def projection(self) -> bool:
        """Whether the shortcut is a 1x1 conv + BN (the shapes differ) rather than the identity."""
        return self.stride != 1 or self.in_channels != self.out_channels

    def check(self) -> None:
        if self.out_channels % EXPANSION:
            raise SpecError(
                f"out_channels={self.out_channels} must be a multiple of {EXPANSION}: the last 1x1 expands the "
                f"planes {EXPANSION} times",
                "out_channels",
                self.out_channels,
            )
        if self.width < 1:
            raise SpecError(
                f"width_per_group={self.width_per_group} gives int({self.planes} planes x {self.width_per_group} / 64) "
                f"= 0 channels per group in the 3x3: raise it to at least {-(-BASE_WIDTH // self.planes)}, or raise "
                "out_channels",
                "width_per_group",
                self.width_per_group,
            )


class ResNetBottleneck(nn.Module):
    """1x1 reduce -> 3x3 (groups) -> 1x1 expand x4, + shortcut (identity, or 1x1 s2 conv + BN) -> ReLU

    He et al. 2016; Xie et al. 2017 (ResNeXt: groups > 1). Every conv has BN, the first two ReLU. Parameter order
    (conv1/bn1, conv2/bn2, conv3/bn3, downsample) follows torchvision's Bottleneck, whose stride sits on the 3x3
    (v1.5).
    """

    def __init__(self, spec: ResNetBottleneckSpec):
        super().__init__()
        c_in, c_out, width, s = spec.in_channels, spec.out_channels, spec.width, spec.stride
        s1, s3 = (s, 1) if spec.stride_on == "1x1" else (1, s)
        self.conv1 = ConvBNAct(c_in, width, 1, s1)
        self.conv2 = ConvBNAct(width, width, 3, s3, groups=spec.groups)
        self.conv3 = ConvBNAct(width, c_out, 1, activation="none")
        self.downsample = ConvBNAct(c_in, c_out, 1, s, activation="none") if spec.projection else None
        self.relu = nn.ReLU(inplace=True)

    @staticmethod
    def cost(spec: ResNetBottleneckSpec, x: Cost) -> Cost:
        c_out, width, s, g = spec.out_channels, spec.width, spec.stride, spec.groups
        s1, s3 = (s, 1) if spec.stride_on == "1x1" else (1, s)
        short = steps.branch(x)
        x = ConvBNAct.cost(x, width, 1, s1, label="1x1 reduce" + (" s2" if s1 == 2 else ""))
        x = ConvBNAct.cost(
            x,
            width,
            3,
            s3,
            groups=g,
            label=("3x3 conv" if g == 1 else f"3x3 group conv ({g} groups)") + (" s2" if s3 == 2 else ""),
        )
        x = ConvBNAct.cost(x, c_out, 1, activation="none", label=f"1x1 expand (x{EXPANSION})")
        if spec.projection:
            short = ConvBNAct.cost(
                short,
                c_out,
                1,
                s,
                activation="none",
                label="1x1 projection shortcut" + (" s2" if s == 2 else ""),
                branch_name="shortcut",
            )
        return steps.act(steps.add(x, short), "relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        short = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv3(self.conv2(self.conv1(x))) + short)


register(
    BlockInfo(
        name="resnet_bottleneck",
        order=146,
        label="ResNet bottleneck / ResNeXt block",
        spec=ResNetBottleneckSpec,
        module=ResNetBottleneck,
        paper="He et al. 2016 (ResNet); Xie et al. 2017, Aggregated Residual Transformations (ResNeXt)",
        url="https://arxiv.org/abs/1512.03385",
        explanation=(
            "ResNet-50 and deeper replace two 3x3 convs by a cheaper sandwich: a 1x1 conv shrinks the channels to "
            "a quarter (the planes), a 3x3 works on that thin tensor, and a 1x1 expands it 4 times again before "
            "the shortcut is added and the ReLU applied; the expensive 3x3 then costs 1/16 of one on the wide "
            "tensor. ResNeXt splits the 3x3 into C groups (the cardinality) and widens it so the cost stays about "
            'the same: 32 groups of 4 channels at 64 planes ("32x4d") give 128 channels where ResNet-50 has 64, '
            "and are more accurate at equal MACs. Wide ResNet instead widens the ungrouped 3x3 (d = 128). "
            "torchvision strides the 3x3 (v1.5), the paper the first 1x1 (v1): same parameters, v1.5 more MACs."
        ),
        formula=(
            r"w = \lfloor \tfrac{C_{out}}{4} \cdot \tfrac{d}{64} \rfloor \, g, \quad \text{MACs} = C_{in} w H W"
            r" + 9 \tfrac{w}{g} w H' W' + w C_{out} H' W' \;(+\; C_{in} C_{out} H' W' \text{ projection})"
            r" \quad \text{(v1.5: the stride on the 3x3)}"
        ),
        group="unit",
    )
)
