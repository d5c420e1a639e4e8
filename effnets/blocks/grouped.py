"""Grouped convolution (AlexNet, ResNeXt): the channels split into g groups that do not see each other."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import ConvBNAct
from effnets.blocks.standard import ACT_HELP, KERNEL_HELP, PAD_HELP, STRIDE_HELP
from effnets.cost import ACTIVATIONS, Cost
from effnets.spec import SpecError, param


@dataclass(frozen=True)
class GroupedSpec(BlockSpec):
    out_channels: int = param(64, lo=1, hi=4096, help="Channels of the output (C_out).", label="C_out")
    kernel_size: int = param(3, lo=1, hi=15, help=KERNEL_HELP, label="kernel k")
    stride: int = param(1, lo=1, hi=4, help=STRIDE_HELP)
    groups: int = param(4, lo=1, hi=4096, help="Number of groups g; must divide C_in and C_out.", label="groups g")
    padding: int = param(-1, lo=-1, hi=16, help=PAD_HELP, advanced=True)
    activation: str = param("relu", choices=ACTIVATIONS, help=ACT_HELP, advanced=True)

    def check(self) -> None:
        for name, c in (("in_channels", self.in_channels), ("out_channels", self.out_channels)):
            if c % self.groups:
                raise SpecError(f"groups={self.groups} must divide {name}={c}", "groups", self.groups)


class GroupedConv(torch.nn.Module):
    """kxk group conv (g groups) -> BN -> act

    Krizhevsky et al. 2012; Xie et al. 2017 (ResNeXt)."""

    def __init__(self, spec: GroupedSpec):
        super().__init__()
        self.conv = ConvBNAct(
            spec.in_channels,
            spec.out_channels,
            spec.kernel_size,
            spec.stride,
            spec.padding,
            groups=spec.groups,
            activation=spec.activation,
        )

    @staticmethod
    def cost(spec: GroupedSpec, x: Cost) -> Cost:
        k = spec.kernel_size
        return ConvBNAct.cost(
            x,
            spec.out_channels,
            k,
            spec.stride,
            spec.padding,
            groups=spec.groups,
            activation=spec.activation,
            label=f"{k}x{k} group conv g={spec.groups}",
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


register(
    BlockInfo(
        name="grouped",
        order=20,
        label="Grouped convolution",
        spec=GroupedSpec,
        module=GroupedConv,
        paper="Krizhevsky et al. 2012 (AlexNet); Xie et al. 2017 (ResNeXt)",
        url="https://arxiv.org/abs/1611.05431",
        explanation=(
            "The input channels are split into g groups and each group is convolved on its own, so every output "
            "channel sees only C_in/g inputs: parameters and MACs fall to 1/g of the standard conv. The price is that "
            "information does not flow between groups, which ShuffleNet repairs with a channel shuffle; and many "
            "groups raise memory access cost (ShuffleNetV2's guideline G2)."
        ),
        formula=r"\text{params} = k^2 \tfrac{C_{in}}{g} C_{out} + 2C_{out} \qquad "
        r"\text{MACs} = k^2 \tfrac{C_{in}}{g} C_{out} H_{out} W_{out}",
    )
)
