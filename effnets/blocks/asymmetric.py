"""Asymmetric (spatially factorised) convolution: 1 x k then k x 1."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import ConvBNAct
from effnets.blocks.standard import ACT_HELP, STRIDE_HELP
from effnets.cost import ACTIVATIONS, Cost
from effnets.spec import param


@dataclass(frozen=True)
class AsymmetricSpec(BlockSpec):
    out_channels: int = param(64, lo=1, hi=4096, help="Channels of the output (C_out).", label="C_out")
    kernel_size: int = param(7, lo=1, hi=15, help="k: a 1 x k conv followed by a k x 1 conv.", label="kernel k")
    stride: int = param(1, lo=1, hi=4, help=STRIDE_HELP)
    activation: str = param("relu", choices=ACTIVATIONS, help=ACT_HELP, advanced=True)


class AsymmetricConv(torch.nn.Module):
    """1xk conv -> BN -> act -> kx1 conv -> BN -> act

    Szegedy et al. 2016 (Inception-v3)."""

    def __init__(self, spec: AsymmetricSpec):
        super().__init__()
        k, s = spec.kernel_size, spec.stride
        self.row = ConvBNAct(
            spec.in_channels, spec.out_channels, (1, k), (1, s), (0, k // 2), activation=spec.activation
        )
        self.col = ConvBNAct(
            spec.out_channels, spec.out_channels, (k, 1), (s, 1), (k // 2, 0), activation=spec.activation
        )

    @staticmethod
    def cost(spec: AsymmetricSpec, x: Cost) -> Cost:
        k, s = spec.kernel_size, spec.stride
        x = ConvBNAct.cost(
            x, spec.out_channels, (1, k), (1, s), (0, k // 2), activation=spec.activation, label=f"1x{k} conv"
        )
        return ConvBNAct.cost(
            x, spec.out_channels, (k, 1), (s, 1), (k // 2, 0), activation=spec.activation, label=f"{k}x1 conv"
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.col(self.row(x))


register(
    BlockInfo(
        name="asymmetric",
        order=60,
        label="Asymmetric (1xk + kx1) convolution",
        spec=AsymmetricSpec,
        module=AsymmetricConv,
        paper="Szegedy et al. 2016, Rethinking the Inception Architecture (Inception-v3)",
        url="https://arxiv.org/abs/1512.00567",
        explanation=(
            "A k x k conv is replaced by a 1 x k conv and a k x 1 conv: the same k x k receptive field for "
            "2k instead of k^2 weights per channel pair (a 7x7 costs 3.5x more than 1x7 + 7x1). The factorised "
            "kernel can only express rank-1 filters per layer, and Inception-v3 found it works best on medium "
            "grids (12-20 pixels)."
        ),
        formula=r"\text{MACs} = k\,C_{in} C_{out} H W + k\,C_{out}^2 H W \quad\text{vs}\quad k^2 C_{in} C_{out} H W",
    )
)
