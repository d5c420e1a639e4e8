"""A convolution followed by squeeze-and-excitation channel attention."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import ConvBNAct, SqueezeExcite
from effnets.blocks.standard import ACT_HELP, KERNEL_HELP, STRIDE_HELP
from effnets.cost import ACTIVATIONS, Cost
from effnets.spec import param


@dataclass(frozen=True)
class SESpec(BlockSpec):
    out_channels: int = param(64, lo=1, hi=4096, help="Channels of the output (C_out).", label="C_out")
    kernel_size: int = param(3, lo=1, hi=15, help=KERNEL_HELP, label="kernel k")
    stride: int = param(1, lo=1, hi=4, help=STRIDE_HELP)
    reduction: int = param(
        16, lo=1, hi=256, help="Reduction ratio r: the squeeze has C_out / r channels.", label="reduction r"
    )
    activation: str = param("relu", choices=ACTIVATIONS, help=ACT_HELP, advanced=True)
    se_activation: str = param("relu", choices=ACTIVATIONS, help="Nonlinearity inside the SE gate.", advanced=True)

    @property
    def squeeze_channels(self) -> int:
        return max(1, self.out_channels // self.reduction)


class ConvSE(nn.Module):
    """kxk conv -> BN -> act -> SE(global pool -> 1x1 -> act -> 1x1 -> sigmoid) x

    Hu et al. 2018."""

    def __init__(self, spec: SESpec):
        super().__init__()
        self.conv = ConvBNAct(
            spec.in_channels, spec.out_channels, spec.kernel_size, spec.stride, activation=spec.activation
        )
        self.se = SqueezeExcite(spec.out_channels, spec.squeeze_channels, spec.se_activation)

    @staticmethod
    def cost(spec: SESpec, x: Cost) -> Cost:
        k = spec.kernel_size
        x = ConvBNAct.cost(x, spec.out_channels, k, spec.stride, activation=spec.activation, label=f"{k}x{k} conv")
        return SqueezeExcite.cost(x, spec.squeeze_channels, spec.se_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.se(self.conv(x))


register(
    BlockInfo(
        name="se",
        order=100,
        label="Squeeze-and-excitation",
        spec=SESpec,
        module=ConvSE,
        paper="Hu et al. 2018, Squeeze-and-Excitation Networks",
        url="https://arxiv.org/abs/1709.01507",
        explanation=(
            "SE pools each channel to one number, passes the vector through a small bottleneck (C -> C/r -> C) and "
            "multiplies every channel by the resulting gate in (0, 1): channel attention from global context. It adds "
            "2C^2/r parameters but almost no MACs (the FCs run on a 1x1 map). The cost that matters is latency: the "
            "global pool is a synchronisation point and the gate an extra pass over the tensor."
        ),
        formula=r"\text{SE params} = 2\tfrac{C^2}{r} + \tfrac{C}{r} + C \qquad \text{SE MACs} = 2\tfrac{C^2}{r}",
        group="unit",
    )
)
