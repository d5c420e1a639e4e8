"""Fused-MBConv: MBConv with its 1x1 expand and kxk depthwise fused into one full kxk conv (EfficientNetV2)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from effnets import cost as steps
from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import ConvBNAct, SqueezeExcite
from effnets.cost import ACTIVATIONS, Cost
from effnets.spec import param


@dataclass(frozen=True)
class FusedMBConvSpec(BlockSpec):
    out_channels: int = param(32, lo=1, hi=4096, help="Channels of the output (C_out).", label="C_out")
    kernel_size: int = param(3, choices=(3, 5, 7), help="Kernel of the fused (full) conv.", label="kernel k")
    stride: int = param(1, choices=(1, 2), help="Stride of the fused kxk conv; the residual needs stride 1.")
    expand_ratio: float = param(
        4.0,
        lo=1.0,
        hi=8.0,
        step=0.5,
        help="t: the kxk conv widens C_in to t C_in and a linear 1x1 projects back (1 = one kxk conv to C_out).",
        label="expand ratio t",
    )
    se_ratio: float = param(
        0.0,
        lo=0.0,
        hi=1.0,
        step=0.05,
        help="SE width = max(1, int(C_in x ratio)); 0 = no SE (EfficientNetV2 uses none in its Fused-MBConv stages).",
        label="SE ratio",
    )
    activation: str = param("silu", choices=ACTIVATIONS, help="Swish (SiLU) in EfficientNetV2.")
    bn_eps: float = param(
        1e-5, lo=1e-6, hi=1e-2, help="BatchNorm epsilon (1e-3 in EfficientNetV2's checkpoints).", advanced=True
    )

    @property
    def expanded_channels(self) -> int:
        return int(round(self.in_channels * self.expand_ratio))

    @property
    def expands(self) -> bool:
        """Whether the block has the 1x1 projection (torchvision: expanded width != C_in)."""
        return self.expanded_channels != self.in_channels

    @property
    def squeeze_channels(self) -> int:
        return max(1, int(self.in_channels * self.se_ratio)) if self.se_ratio > 0 else 0

    @property
    def use_residual(self) -> bool:
        return self.stride == 1 and self.in_channels == self.out_channels


class FusedMBConv(nn.Module):
    """kxk conv (expand, stride) -> [SE] -> 1x1 project (no activation) [+ skip]; t = 1: [SE] -> one kxk conv

    Tan & Le 2021 (EfficientNetV2).

    Parameter order (fused expand, SE fc1/fc2, project) follows torchvision's FusedMBConv, which has no SE. With SE
    and t = 1 the gate sits before the single conv, on the block's input, as in the official code (google/automl
    efficientnetv2 ``FusedMBConvBlock``).
    """

    def __init__(self, spec: FusedMBConvSpec):
        super().__init__()
        k, s, a, eps = spec.kernel_size, spec.stride, spec.activation, spec.bn_eps
        self.use_residual = spec.use_residual
        layers: list[nn.Module] = []
        if spec.expands:
            mid = spec.expanded_channels
            layers.append(ConvBNAct(spec.in_channels, mid, k, s, activation=a, bn_eps=eps))
            if spec.squeeze_channels:
                layers.append(SqueezeExcite(mid, spec.squeeze_channels, a))
            layers.append(ConvBNAct(mid, spec.out_channels, 1, activation="none", bn_eps=eps))
        else:
            if spec.squeeze_channels:
                layers.append(SqueezeExcite(spec.in_channels, spec.squeeze_channels, a))
            layers.append(ConvBNAct(spec.in_channels, spec.out_channels, k, s, activation=a, bn_eps=eps))
        self.block = nn.Sequential(*layers)

    @staticmethod
    def cost(spec: FusedMBConvSpec, x: Cost) -> Cost:
        k, s, a = spec.kernel_size, spec.stride, spec.activation
        s2 = " s2" if s == 2 else ""
        trunk = x
        if spec.expands:
            x = ConvBNAct.cost(x, spec.expanded_channels, k, s, activation=a, label=f"{k}x{k} fused expand{s2}")
            if spec.squeeze_channels:
                x = SqueezeExcite.cost(x, spec.squeeze_channels, a)
            x = ConvBNAct.cost(x, spec.out_channels, 1, activation="none", label="1x1 project (linear)")
        else:
            if spec.squeeze_channels:
                x = SqueezeExcite.cost(x, spec.squeeze_channels, a)
            x = ConvBNAct.cost(x, spec.out_channels, k, s, activation=a, label=f"{k}x{k} conv{s2}")
        if spec.use_residual:
            x = steps.add(x, steps.branch(trunk))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.use_residual else y


register(
    BlockInfo(
        name="fused_mbconv",
        order=115,
        label="Fused-MBConv (EfficientNetV2)",
        spec=FusedMBConvSpec,
        module=FusedMBConv,
        paper="Tan & Le 2021 (EfficientNetV2)",
        url="https://arxiv.org/abs/2104.00298",
        explanation=(
            "MBConv's 1x1 expand and kxk depthwise become one full kxk conv from C_in to t C_in, followed by the "
            "same linear 1x1 projection (with t = 1 the block is a single kxk conv to C_out). The fused conv costs "
            "about k^2 C_in / (C_in + k^2) times the MACs of the pair it replaces (6.5x for k = 3, C_in = 24), yet "
            "it runs faster on GPUs and TPUs in the early, high-resolution stages where C_in is small: one dense "
            "conv keeps the hardware busy, while a depthwise conv moves many bytes for few MACs. EfficientNetV2 "
            "therefore uses it in its first three stages only and keeps MBConv with SE for the later, wider ones. "
            "The skip exists at stride 1 with C_in = C_out."
        ),
        formula=(
            r"\text{params} = k^2 C_{in}\, t C_{in} + t C_{in} C_{out} \;(+\;\text{BN, SE});\quad "
            r"\text{MACs} = k^2 C_{in}\, t C_{in} H' W' + t C_{in} C_{out} H' W' \;(+\;\text{SE});\quad "
            r"t = 1:\; k^2 C_{in} C_{out} H' W'"
        ),
        group="unit",
    )
)
