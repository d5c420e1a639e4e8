"""A stack of n 3x3 convolutions: VGG's answer to large kernels."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import ConvBNAct
from effnets.blocks.standard import ACT_HELP, STRIDE_HELP
from effnets.cost import ACTIVATIONS, Cost
from effnets.spec import param


@dataclass(frozen=True)
class Stacked3x3Spec(BlockSpec):
    out_channels: int = param(64, lo=1, hi=4096, help="Channels of every conv's output (C_out).", label="C_out")
    repeats: int = param(
        2, lo=1, hi=8, help="n stacked 3x3 convs: the receptive field is (2n+1) x (2n+1).", label="layers n"
    )
    stride: int = param(1, lo=1, hi=4, help=STRIDE_HELP + " Applied by the first conv.")
    activation: str = param("relu", choices=ACTIVATIONS, help=ACT_HELP, advanced=True)


class Stacked3x3(torch.nn.Module):
    """n x (3x3 conv -> BN -> act)

    Simonyan & Zisserman 2015 (VGG)."""

    def __init__(self, spec: Stacked3x3Spec):
        super().__init__()
        layers = []
        c = spec.in_channels
        for i in range(spec.repeats):
            layers.append(ConvBNAct(c, spec.out_channels, 3, spec.stride if i == 0 else 1, activation=spec.activation))
            c = spec.out_channels
        self.layers = nn.Sequential(*layers)

    @staticmethod
    def cost(spec: Stacked3x3Spec, x: Cost) -> Cost:
        for i in range(spec.repeats):
            x = ConvBNAct.cost(
                x,
                spec.out_channels,
                3,
                spec.stride if i == 0 else 1,
                activation=spec.activation,
                label=f"3x3 conv #{i + 1}",
            )
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


register(
    BlockInfo(
        name="stacked_3x3",
        order=70,
        label="Stacked 3x3 convolutions",
        spec=Stacked3x3Spec,
        module=Stacked3x3,
        paper="Simonyan & Zisserman 2015 (VGG)",
        url="https://arxiv.org/abs/1409.1556",
        explanation=(
            "n stacked 3x3 convs see a (2n+1) x (2n+1) window, like one large kernel, but with 9n C^2 instead of "
            "(2n+1)^2 C^2 weights (two 3x3 = 18 C^2 against 25 C^2 for one 5x5; three = 27 against 49 for 7x7) and "
            "with a nonlinearity between layers. The lesson of VGG, kept by nearly every network since."
        ),
        formula=r"\text{MACs} = 9 C_{in} C_{out} H W + (n-1)\, 9 C_{out}^2 H W \quad\text{vs}\quad "
        r"(2n+1)^2 C_{in} C_{out} H W",
    )
)
