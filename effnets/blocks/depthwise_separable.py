"""Depthwise-separable convolution, the MobileNetV1 building block."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import ConvBNAct
from effnets.blocks.standard import ACT_HELP, KERNEL_HELP, STRIDE_HELP
from effnets.cost import ACTIVATIONS, Cost
from effnets.spec import param


@dataclass(frozen=True)
class DepthwiseSeparableSpec(BlockSpec):
    out_channels: int = param(64, lo=1, hi=4096, help="Channels of the output (C_out).", label="C_out")
    kernel_size: int = param(3, lo=1, hi=15, help=KERNEL_HELP, label="kernel k")
    stride: int = param(1, lo=1, hi=4, help=STRIDE_HELP)
    activation: str = param("relu", choices=ACTIVATIONS, help=ACT_HELP, advanced=True)


class DepthwiseSeparableConv(torch.nn.Module):
    """kxk depthwise -> BN -> act -> 1x1 pointwise -> BN -> act

    Howard et al. 2017 (MobileNets)."""

    def __init__(self, spec: DepthwiseSeparableSpec):
        super().__init__()
        c = spec.in_channels
        self.depthwise = ConvBNAct(c, c, spec.kernel_size, spec.stride, groups=c, activation=spec.activation)
        self.pointwise = ConvBNAct(c, spec.out_channels, 1, activation=spec.activation)

    @staticmethod
    def cost(spec: DepthwiseSeparableSpec, x: Cost) -> Cost:
        k = spec.kernel_size
        x = ConvBNAct.cost(x, x.c, k, spec.stride, groups=x.c, activation=spec.activation, label=f"{k}x{k} depthwise")
        return ConvBNAct.cost(x, spec.out_channels, 1, activation=spec.activation, label="1x1 pointwise")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


register(
    BlockInfo(
        name="depthwise_separable",
        order=40,
        label="Depthwise-separable convolution",
        spec=DepthwiseSeparableSpec,
        module=DepthwiseSeparableConv,
        paper="Howard et al. 2017 (MobileNets); Chollet 2017 (Xception)",
        url="https://arxiv.org/abs/1704.04861",
        explanation=(
            "A standard conv filters space and mixes channels in one step. Splitting the two - a depthwise k x k "
            "conv for space, a 1x1 conv for channels - costs k^2 C_in + C_in C_out per position instead of "
            "k^2 C_in C_out, a ratio of 1/C_out + 1/k^2: about 8-9x fewer MACs at k = 3. Almost all the remaining "
            "cost sits in the 1x1 conv, which is why later designs (ShuffleNet) attack it."
        ),
        formula=r"\text{MACs} = \underbrace{k^2 C_{in} H_{out} W_{out}}_{\text{depthwise}} + "
        r"\underbrace{C_{in} C_{out} H_{out} W_{out}}_{\text{pointwise}} \qquad "
        r"\frac{\text{MACs}}{\text{standard}} = \frac{1}{C_{out}} + \frac{1}{k^2}",
    )
)
