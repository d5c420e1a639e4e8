"""The RegNet X/Y block: a ResNeXt bottleneck with a fixed group width, optional SE."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from effnets import cost as steps
from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import ConvBNAct, SqueezeExcite
from effnets.cost import Cost
from effnets.spec import SpecError, param


@dataclass(frozen=True)
class RegNetSpec(BlockSpec):
    in_channels: int = param(48, lo=1, hi=4096, help="Channels of the input tensor (C_in).", label="C_in")
    out_channels: int = param(96, lo=1, hi=4096, help="Block width w (C_out).", label="C_out (w)")
    stride: int = param(2, choices=(1, 2), help="Stride of the 3x3 group conv (2 in each stage's first block).")
    group_width: int = param(
        16, lo=1, hi=1024, help="g: channels per group of the 3x3 conv (groups = w_b / g).", label="group width g"
    )
    bottleneck_ratio: float = param(
        1.0,
        lo=0.25,
        hi=4.0,
        step=0.25,
        help="b: bottleneck width w_b = w x b (RegNet found b = 1 best).",
        label="bottleneck b",
    )
    se_ratio: float = param(
        0.0,
        lo=0.0,
        hi=1.0,
        step=0.05,
        help="RegNetY: SE width = round(ratio x C_in), 0.25 in the paper; 0 = RegNetX.",
        label="SE ratio",
    )

    @property
    def bottleneck_channels(self) -> int:
        return int(round(self.out_channels * self.bottleneck_ratio))

    @property
    def groups(self) -> int:
        return self.bottleneck_channels // self.group_width

    def check(self) -> None:
        wb, g = self.bottleneck_channels, self.group_width
        if wb < 1:
            raise SpecError(
                f"bottleneck width out_channels x bottleneck_ratio = {wb} is below 1", "out_channels", self.out_channels
            )
        if g > wb:
            raise SpecError(
                f"group_width={g} is above the bottleneck width {wb} (out_channels x bottleneck_ratio): "
                "a group cannot hold more channels than there are",
                "group_width",
                self.group_width,
            )
        if wb % g:
            raise SpecError(
                f"group_width={g} must divide the bottleneck width {wb} (out_channels x bottleneck_ratio)",
                "group_width",
                self.group_width,
            )
        if self.se_ratio > 0 and int(round(self.se_ratio * self.in_channels)) < 1:
            raise SpecError(
                f"SE width round(se_ratio x in_channels) = round({self.se_ratio} x {self.in_channels}) is below 1",
                "se_ratio",
                self.se_ratio,
            )


class RegNetBlock(nn.Module):
    """1x1 -> 3x3 group conv (g channels per group) -> [SE] -> 1x1, + shortcut (1x1 s2 + BN if needed)
    Radosavovic et al. 2020. Layout and parameter order (proj, a, b, se, c) follow torchvision's ResBottleneckBlock."""

    def __init__(self, spec: RegNetSpec):
        super().__init__()
        wb = spec.bottleneck_channels
        self.proj = (
            ConvBNAct(spec.in_channels, spec.out_channels, 1, spec.stride, activation="none")
            if spec.in_channels != spec.out_channels or spec.stride != 1
            else None
        )
        layers: list[nn.Module] = [
            ConvBNAct(spec.in_channels, wb, 1),
            ConvBNAct(wb, wb, 3, spec.stride, groups=spec.groups),
        ]
        if spec.se_ratio > 0:
            layers.append(SqueezeExcite(wb, int(round(spec.se_ratio * spec.in_channels)), "relu"))
        layers.append(ConvBNAct(wb, spec.out_channels, 1, activation="none"))
        self.f = nn.Sequential(*layers)
        self.activation = nn.ReLU(inplace=True)

    @staticmethod
    def cost(spec: RegNetSpec, x: Cost) -> Cost:
        wb = spec.bottleneck_channels
        short = steps.branch(x)
        if spec.in_channels != spec.out_channels or spec.stride != 1:
            short = ConvBNAct.cost(
                short,
                spec.out_channels,
                1,
                spec.stride,
                activation="none",
                label="1x1 projection shortcut",
                branch_name="shortcut",
            )
        x = ConvBNAct.cost(x, wb, 1, label="1x1 conv a")
        x = ConvBNAct.cost(x, wb, 3, spec.stride, groups=spec.groups, label=f"3x3 group conv b ({spec.groups} groups)")
        if spec.se_ratio > 0:
            x = SqueezeExcite.cost(x, int(round(spec.se_ratio * spec.in_channels)), "relu")
        x = ConvBNAct.cost(x, spec.out_channels, 1, activation="none", label="1x1 conv c")
        return steps.act(steps.add(x, short), "relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        short = x if self.proj is None else self.proj(x)
        return self.activation(short + self.f(x))


register(
    BlockInfo(
        name="regnet",
        order=150,
        label="RegNet X/Y block",
        spec=RegNetSpec,
        module=RegNetBlock,
        paper="Radosavovic et al. 2020, Designing Network Design Spaces",
        url="https://arxiv.org/abs/2003.13678",
        explanation=(
            "RegNet does not design a block, it designs the space: the block is a plain ResNeXt bottleneck whose "
            "group conv has a fixed number of channels per group (group width g), and the search found that good "
            "networks have bottleneck ratio 1 and widths that grow roughly linearly, quantised to a few stages. "
            "RegNetY adds SE, sized from the block's input width."
        ),
        formula=r"\text{MACs} = H W C_{in} w_b + 9 H'W' w_b\, g + H'W' w_b\, w \;(+\;\text{shortcut}, \text{SE})",
        group="unit",
    )
)
