"""Depthwise convolution: one k x k filter per channel, no mixing across channels."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import ConvBNAct
from effnets.blocks.standard import ACT_HELP, KERNEL_HELP, PAD_HELP, STRIDE_HELP
from effnets.cost import ACTIVATIONS, Cost
from effnets.spec import param


@dataclass(frozen=True)
class DepthwiseSpec(BlockSpec):
    kernel_size: int = param(3, lo=1, hi=15, help=KERNEL_HELP, label="kernel k")
    stride: int = param(1, lo=1, hi=4, help=STRIDE_HELP)
    dilation: int = param(1, lo=1, hi=8, help="Spacing between kernel taps.", advanced=True)
    depth_multiplier: int = param(
        1, lo=1, hi=8, help="Filters per input channel; C_out = C_in * multiplier.", label="depth multiplier"
    )
    padding: int = param(-1, lo=-1, hi=16, help=PAD_HELP, advanced=True)
    activation: str = param("relu", choices=ACTIVATIONS, help=ACT_HELP, advanced=True)


class DepthwiseConv(torch.nn.Module):
    """kxk depthwise conv (groups = C_in) -> BN -> act

    Sifre 2014; Howard et al. 2017 (MobileNets)."""

    def __init__(self, spec: DepthwiseSpec):
        super().__init__()
        c = spec.in_channels
        self.conv = ConvBNAct(
            c,
            c * spec.depth_multiplier,
            spec.kernel_size,
            spec.stride,
            spec.padding,
            spec.dilation,
            groups=c,
            activation=spec.activation,
        )

    @staticmethod
    def cost(spec: DepthwiseSpec, x: Cost) -> Cost:
        k = spec.kernel_size
        return ConvBNAct.cost(
            x,
            x.c * spec.depth_multiplier,
            k,
            spec.stride,
            spec.padding,
            spec.dilation,
            groups=x.c,
            activation=spec.activation,
            label=f"{k}x{k} depthwise",
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


register(
    BlockInfo(
        name="depthwise",
        order=30,
        label="Depthwise convolution",
        spec=DepthwiseSpec,
        module=DepthwiseConv,
        paper="Sifre 2014; Howard et al. 2017 (MobileNets)",
        url="https://arxiv.org/abs/1704.04861",
        explanation=(
            "A grouped conv with as many groups as channels: each channel is filtered by its own k x k kernel. It "
            "filters space but never mixes channels, so it costs k^2 per element, C_out times less than a standard "
            "conv. Alone it cannot combine features; paired with a 1x1 conv it forms the depthwise-separable conv. "
            "Its arithmetic intensity is low, so it is often memory-bound: its small MAC count overstates its speed."
        ),
        formula=r"\text{params} = k^2 C_{in} m + 2 C_{in} m \qquad \text{MACs} = k^2 C_{in} m H_{out} W_{out}",
    )
)
