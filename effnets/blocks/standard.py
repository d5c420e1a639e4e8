"""Standard convolution: the baseline every efficient block is measured against."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import ConvBNAct
from effnets.cost import ACTIVATIONS, Cost
from effnets.spec import param

KERNEL_HELP = "Kernel size k (k x k window)."
STRIDE_HELP = "Stride s: 2 halves the height and width."
PAD_HELP = "Zero padding on each side; -1 = 'same' (dilation * (k - 1) / 2), which keeps H x W at stride 1."
ACT_HELP = "Nonlinearity after batch norm."


@dataclass(frozen=True)
class StandardSpec(BlockSpec):
    out_channels: int = param(64, lo=1, hi=4096, help="Channels of the output (C_out).", label="C_out")
    kernel_size: int = param(3, lo=1, hi=15, help=KERNEL_HELP, label="kernel k")
    stride: int = param(1, lo=1, hi=4, help=STRIDE_HELP)
    padding: int = param(-1, lo=-1, hi=16, help=PAD_HELP, advanced=True)
    activation: str = param("relu", choices=ACTIVATIONS, help=ACT_HELP, advanced=True)


class StandardConv(torch.nn.Module):
    """kxk conv -> BN -> act

    The dense convolution of VGG and ResNet: every output sees every input channel."""

    def __init__(self, spec: StandardSpec):
        super().__init__()
        self.conv = ConvBNAct(
            spec.in_channels, spec.out_channels, spec.kernel_size, spec.stride, spec.padding, activation=spec.activation
        )

    @staticmethod
    def cost(spec: StandardSpec, x: Cost) -> Cost:
        return ConvBNAct.cost(
            x,
            spec.out_channels,
            spec.kernel_size,
            spec.stride,
            spec.padding,
            activation=spec.activation,
            label=f"{spec.kernel_size}x{spec.kernel_size} conv",
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


register(
    BlockInfo(
        name="standard",
        order=10,
        label="Standard convolution",
        spec=StandardSpec,
        module=StandardConv,
        paper="LeCun et al. 1998; Simonyan & Zisserman 2015 (VGG)",
        url="https://arxiv.org/abs/1409.1556",
        explanation=(
            "Every output channel mixes every input channel over a k x k window, so the cost grows with "
            "k^2 * C_in * C_out at each output position. Efficient designs attack one of those factors: grouping "
            "splits C_in, depthwise convs remove the channel mixing, 1x1 convs remove the window."
        ),
        formula=r"\text{params} = k^2 C_{in} C_{out} + 2C_{out} \qquad "
        r"\text{MACs} = k^2 C_{in} C_{out} H_{out} W_{out}",
    )
)
