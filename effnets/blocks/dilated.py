"""Dilated (atrous) convolution: a wider view for the same number of weights."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import ConvBNAct
from effnets.blocks.standard import ACT_HELP, KERNEL_HELP, PAD_HELP, STRIDE_HELP
from effnets.cost import ACTIVATIONS, Cost
from effnets.spec import param


@dataclass(frozen=True)
class DilatedSpec(BlockSpec):
    out_channels: int = param(64, lo=1, hi=4096, help="Channels of the output (C_out).", label="C_out")
    kernel_size: int = param(3, lo=1, hi=15, help=KERNEL_HELP, label="kernel k")
    dilation: int = param(2, lo=1, hi=16, help="Spacing d between kernel taps; the window spans d(k-1)+1 pixels.")
    stride: int = param(1, lo=1, hi=4, help=STRIDE_HELP)
    padding: int = param(-1, lo=-1, hi=32, help=PAD_HELP, advanced=True)
    activation: str = param("relu", choices=ACTIVATIONS, help=ACT_HELP, advanced=True)


class DilatedConv(torch.nn.Module):
    """kxk conv with dilation d -> BN -> act

    Yu & Koltun 2016; Chen et al. (DeepLab)."""

    def __init__(self, spec: DilatedSpec):
        super().__init__()
        self.conv = ConvBNAct(
            spec.in_channels,
            spec.out_channels,
            spec.kernel_size,
            spec.stride,
            spec.padding,
            spec.dilation,
            activation=spec.activation,
        )

    @staticmethod
    def cost(spec: DilatedSpec, x: Cost) -> Cost:
        k, d = spec.kernel_size, spec.dilation
        return ConvBNAct.cost(
            x,
            spec.out_channels,
            k,
            spec.stride,
            spec.padding,
            d,
            activation=spec.activation,
            label=f"{k}x{k} conv dilation {d}",
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


register(
    BlockInfo(
        name="dilated",
        order=50,
        label="Dilated (atrous) convolution",
        spec=DilatedSpec,
        module=DilatedConv,
        paper="Yu & Koltun 2016, Multi-scale context aggregation by dilated convolutions",
        url="https://arxiv.org/abs/1511.07122",
        explanation=(
            "The kernel's taps are spread d pixels apart, so a 3x3 kernel with d = 2 sees a 5x5 window for the cost "
            "of a 3x3: the receptive field grows without extra parameters, MACs or downsampling. Segmentation nets "
            "use it to keep resolution. The gaps can miss thin detail (gridding) when dilations repeat."
        ),
        formula=r"\text{MACs} = k^2 C_{in} C_{out} H_{out} W_{out} \qquad \text{window} = d(k-1)+1",
    )
)
