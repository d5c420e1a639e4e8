"""MobileNetV3's inverted residual: hard-swish or ReLU, and an SE sized from the EXPANDED width with a hard-sigmoid
gate (Howard et al. 2019), laid out like torchvision's ``mobilenetv3.InvertedResidual``."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from effnets import cost as steps
from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import ConvBNAct, SqueezeExcite, make_divisible
from effnets.cost import ACTIVATIONS, Cost
from effnets.spec import SpecError, param

SE_ACTIVATION = "relu"  # the SE's inner nonlinearity is ReLU in every MobileNetV3 block, hard-swish ones included
SE_DIVISOR = 8


@dataclass(frozen=True)
class MBConvV3Spec(BlockSpec):
    out_channels: int = param(
        32, lo=1, hi=4096, help="Channels of the output (C_out, '#out' in the paper).", label="C_out"
    )
    kernel_size: int = param(
        5, choices=(3, 5, 7), help="Depthwise kernel size (3 or 5 in MobileNetV3).", label="kernel k"
    )
    stride: int = param(1, choices=(1, 2), help="Stride of the depthwise conv; the residual needs stride 1.")
    expanded_channels: int = param(
        96,
        lo=1,
        hi=8192,
        help="Width of the depthwise stage ('exp size' in the paper's Tables 1 and 2, not a ratio of C_in: 184 from "
        "80 in Large). Equal to C_in: no 1x1 expansion layer.",
        label="expanded width",
    )
    se_ratio: float = param(
        0.25,
        lo=0.0,
        hi=1.0,
        step=0.05,
        help="SE width = the EXPANDED width x ratio, rounded to a multiple of 8 (MobileNetV3: a quarter); 0 = no SE. "
        "EfficientNet's MBConv takes the ratio of the block's input instead.",
        label="SE ratio",
    )
    activation: str = param(
        "hardswish",
        choices=ACTIVATIONS,
        help="Hard-swish ('HS') in the later layers of MobileNetV3, ReLU ('RE') early.",
    )
    gate: str = param(
        "hardsigmoid",
        choices=("hardsigmoid", "sigmoid"),
        help="The SE gate: hard-sigmoid relu6(x + 3) / 6 in MobileNetV3 (cheap, quantization-friendly), sigmoid in "
        "SENet and EfficientNet.",
        advanced=True,
    )
    bn_eps: float = param(
        1e-3, lo=1e-6, hi=1e-2, help="BatchNorm epsilon (1e-3 in torchvision's MobileNetV3).", advanced=True
    )

    def check(self) -> None:
        if self.se_ratio > 0 and int(self.expanded_channels * self.se_ratio) < 1:
            raise SpecError(
                f"se_ratio={self.se_ratio} of expanded_channels={self.expanded_channels} leaves no SE channel: raise "
                "one of them or set se_ratio=0",
                "se_ratio",
                self.se_ratio,
            )

    @property
    def expand_ratio(self) -> float:
        """t = expanded width / C_in (for tables; the block is defined by the width itself)."""
        return self.expanded_channels / self.in_channels

    @property
    def squeeze_channels(self) -> int:
        """torchvision's ``_make_divisible(expanded // 4, 8)`` for the ratio 0.25; 0 without SE."""
        if self.se_ratio <= 0:
            return 0
        return make_divisible(int(self.expanded_channels * self.se_ratio), SE_DIVISOR)

    @property
    def use_residual(self) -> bool:
        return self.stride == 1 and self.in_channels == self.out_channels


class MBConvV3(nn.Module):
    """[1x1 expand] -> kxk depthwise -> [SE on the expanded width, hard-sigmoid gate] -> 1x1 project [+ skip]

    Howard et al. 2019 (MobileNetV3), section 5.

    Parameter order (expand, depthwise, SE fc1/fc2, project) follows torchvision's ``mobilenetv3.InvertedResidual``,
    and so does its ``block`` child: the same state-dict layout inside the block.
    """

    def __init__(self, spec: MBConvV3Spec):
        super().__init__()
        mid, k, s, a, eps = spec.expanded_channels, spec.kernel_size, spec.stride, spec.activation, spec.bn_eps
        self.use_residual = spec.use_residual
        layers: list[nn.Module] = []
        if mid != spec.in_channels:
            layers.append(ConvBNAct(spec.in_channels, mid, 1, activation=a, bn_eps=eps))
        layers.append(ConvBNAct(mid, mid, k, s, groups=mid, activation=a, bn_eps=eps))
        if spec.squeeze_channels:
            layers.append(SqueezeExcite(mid, spec.squeeze_channels, SE_ACTIVATION, spec.gate))
        layers.append(ConvBNAct(mid, spec.out_channels, 1, activation="none", bn_eps=eps))
        self.block = nn.Sequential(*layers)

    @staticmethod
    def cost(spec: MBConvV3Spec, x: Cost) -> Cost:
        mid, k, s, a = spec.expanded_channels, spec.kernel_size, spec.stride, spec.activation
        trunk = x
        if mid != spec.in_channels:
            x = ConvBNAct.cost(x, mid, 1, activation=a, label="1x1 expand")
        x = ConvBNAct.cost(
            x, mid, k, s, groups=mid, activation=a, label=f"{k}x{k} depthwise" + (" s2" if s == 2 else "")
        )
        if spec.squeeze_channels:
            x = SqueezeExcite.cost(x, spec.squeeze_channels, SE_ACTIVATION, spec.gate)
        x = ConvBNAct.cost(x, spec.out_channels, 1, activation="none", label="1x1 project (linear)")
        if spec.use_residual:
            x = steps.add(x, steps.branch(trunk))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.use_residual else y


register(
    BlockInfo(
        name="mbconv_v3",
        order=112,
        label="MobileNetV3 inverted residual (h-swish, hard SE)",
        spec=MBConvV3Spec,
        module=MBConvV3,
        paper="Howard et al. 2019, Searching for MobileNetV3",
        url="https://arxiv.org/abs/1905.02244",
        explanation=(
            "MobileNetV2's inverted residual with MnasNet's squeeze-excitation, tuned for phones. The nonlinearity "
            "is hard-swish x relu6(x + 3) / 6, a piecewise-linear swish that is cheap and quantizes well, used only "
            "in the later layers where the maps are small (ReLU early). The SE sits after the depthwise conv and its "
            "width is a quarter of the EXPANDED tensor rounded to a multiple of 8 (EfficientNet takes a quarter of "
            "the block's input), with a hard-sigmoid gate relu6(x + 3) / 6. The expanded width is searched per "
            "layer, not a fixed ratio; the skip only exists at stride 1 with C_in = C_out."
        ),
        formula=(
            r"\text{MACs} = C_{in} E H W + k^2 E H' W' + 2 E S + E C_{out} H' W', \quad S = "
            r"\mathrm{round}_8(E/4)"
        ),
        group="unit",
    )
)
