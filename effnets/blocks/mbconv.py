"""MBConv: the inverted residual of MobileNetV2 and, with squeeze-excitation, of EfficientNet."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from effnets import cost as steps
from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import ConvBNAct, SqueezeExcite, TFSamePad
from effnets.cost import ACTIVATIONS, Cost
from effnets.spec import param


@dataclass(frozen=True)
class MBConvSpec(BlockSpec):
    out_channels: int = param(32, lo=1, hi=4096, help="Channels of the output (C_out).", label="C_out")
    kernel_size: int = param(3, choices=(3, 5, 7), help="Depthwise kernel size.", label="kernel k")
    stride: int = param(1, choices=(1, 2), help="Stride of the depthwise conv; the residual needs stride 1.")
    expand_ratio: float = param(
        6.0,
        lo=1.0,
        hi=8.0,
        step=0.5,
        help="t: the 1x1 expansion widens C_in to t C_in (1 = no expansion layer).",
        label="expand ratio t",
    )
    se_ratio: float = param(
        0.25,
        lo=0.0,
        hi=1.0,
        step=0.05,
        help="SE width = max(1, int(C_in x ratio)); 0 = no SE. EfficientNet uses 0.25 of the block's INPUT width.",
        label="SE ratio",
    )
    activation: str = param("silu", choices=ACTIVATIONS, help="Swish (SiLU) in EfficientNet, ReLU6 in MobileNetV2.")
    bn_eps: float = param(
        1e-5, lo=1e-6, hi=1e-2, help="BatchNorm epsilon (1e-3 for TensorFlow checkpoints).", advanced=True
    )
    tf_padding: bool = param(
        False,
        help="TensorFlow 'SAME' padding (odd pixel bottom/right), as the original "
        "EfficientNet checkpoints were trained with.",
        advanced=True,
    )

    @property
    def expanded_channels(self) -> int:
        return int(round(self.in_channels * self.expand_ratio))

    @property
    def squeeze_channels(self) -> int:
        return max(1, int(self.in_channels * self.se_ratio)) if self.se_ratio > 0 else 0

    @property
    def use_residual(self) -> bool:
        return self.stride == 1 and self.in_channels == self.out_channels


class MBConv(nn.Module):
    """1x1 expand -> kxk depthwise -> [SE] -> 1x1 project (no activation) [+ skip]

    Sandler et al. 2018; Tan & Le 2019.

    Parameter order (expand, depthwise, SE fc1/fc2, project) follows torchvision's MBConv and InvertedResidual.
    """

    def __init__(self, spec: MBConvSpec):
        super().__init__()
        mid, k, s, a = spec.expanded_channels, spec.kernel_size, spec.stride, spec.activation
        eps = spec.bn_eps
        self.use_residual = spec.use_residual
        layers: list[nn.Module] = []
        if mid != spec.in_channels:
            layers.append(ConvBNAct(spec.in_channels, mid, 1, activation=a, bn_eps=eps))
        if spec.tf_padding:
            layers.append(TFSamePad(k, s))
            layers.append(ConvBNAct(mid, mid, k, s, 0, groups=mid, activation=a, bn_eps=eps))
        else:
            layers.append(ConvBNAct(mid, mid, k, s, groups=mid, activation=a, bn_eps=eps))
        if spec.squeeze_channels:
            layers.append(SqueezeExcite(mid, spec.squeeze_channels, a))
        layers.append(ConvBNAct(mid, spec.out_channels, 1, activation="none", bn_eps=eps))
        self.block = nn.Sequential(*layers)

    @staticmethod
    def cost(spec: MBConvSpec, x: Cost) -> Cost:
        mid, k, s, a = spec.expanded_channels, spec.kernel_size, spec.stride, spec.activation
        trunk = x
        if mid != spec.in_channels:
            x = ConvBNAct.cost(x, mid, 1, activation=a, label="1x1 expand")
        x = ConvBNAct.cost(
            x,
            mid,
            k,
            s,
            "tf_same" if spec.tf_padding else -1,
            groups=mid,
            activation=a,
            label=f"{k}x{k} depthwise" + (" s2" if s == 2 else ""),
        )
        if spec.squeeze_channels:
            x = SqueezeExcite.cost(x, spec.squeeze_channels, a)
        x = ConvBNAct.cost(x, spec.out_channels, 1, activation="none", label="1x1 project (linear)")
        if spec.use_residual:
            x = steps.add(x, steps.branch(trunk))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.use_residual else y


register(
    BlockInfo(
        name="mbconv",
        order=110,
        label="MBConv (inverted residual)",
        spec=MBConvSpec,
        module=MBConv,
        paper="Sandler et al. 2018 (MobileNetV2); Tan & Le 2019 (EfficientNet)",
        url="https://arxiv.org/abs/1801.04381",
        explanation=(
            "The residual connects the thin ends and the block widens inside: a 1x1 conv expands C_in by t, a cheap "
            "depthwise conv filters the wide tensor, and a linear 1x1 projects back (no ReLU, which would destroy "
            "information in a low-dimensional space). EfficientNet adds SE whose width is a quarter of the block's "
            "input, not of the expanded tensor. The skip only exists at stride 1 with C_in = C_out."
        ),
        formula=r"\text{MACs} = t C_{in}^2 H W + k^2 t C_{in} H' W' + t C_{in} C_{out} H' W' \;(+\;\text{SE})",
        group="unit",
    )
)
