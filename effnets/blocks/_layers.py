"""Layers shared by the blocks, each with its cost function beside it."""

from __future__ import annotations

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

from effnets import cost as steps
from effnets.cost import Cost


def make_act(kind: str) -> nn.Module:
    """nn.Module for an activation name of :data:`effnets.cost.ACTIVATIONS`."""
    table = {
        "relu": lambda: nn.ReLU(inplace=True),
        "relu6": lambda: nn.ReLU6(inplace=True),
        "silu": lambda: nn.SiLU(inplace=True),
        "hardswish": lambda: nn.Hardswish(inplace=True),
        "sigmoid": nn.Sigmoid,
        "hardsigmoid": nn.Hardsigmoid,  # as torchvision's SE gate (not in place: aten.hardsigmoid)
        "gelu": nn.GELU,  # exact (erf) GELU, as ConvNeXt and torchvision's CNBlock
        "none": nn.Identity,
    }
    if kind not in table:
        raise ValueError(f"activation '{kind}' is not one of {', '.join(table)}")
    return table[kind]()


def resolve_padding(k: int | tuple[int, int], dilation: int, padding: int) -> tuple[int, int]:
    """padding -1 means 'same at stride 1': dilation * (k - 1) // 2 per axis."""
    kh, kw = (k, k) if isinstance(k, int) else k
    if padding < 0:
        return steps.same_padding(kh, dilation), steps.same_padding(kw, dilation)
    return padding, padding


class ConvBNAct(nn.Sequential):
    """conv -> [BN] -> [act], laid out like torchvision's Conv2dNormActivation (children 0, 1, 2)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = -1,
        dilation: int = 1,
        groups: int = 1,
        norm: bool = True,
        activation: str = "relu",
        bias: bool = False,
        bn_eps: float = 1e-5,
    ):
        if isinstance(padding, int):
            padding = resolve_padding(kernel_size, dilation, padding)
        layers: list[nn.Module] = [
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride=stride,
                padding=padding,
                dilation=dilation,
                groups=groups,
                bias=bias,
            )
        ]
        if norm:
            layers.append(nn.BatchNorm2d(out_channels, eps=bn_eps))
        if activation != "none":
            layers.append(make_act(activation))
        super().__init__(*layers)
        self.out_channels = out_channels

    @staticmethod
    def cost(
        x: Cost,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = -1,
        dilation: int = 1,
        groups: int = 1,
        norm: bool = True,
        activation: str = "relu",
        bias: bool = False,
        label: str = "",
        branch_name: str = "",
    ) -> Cost:
        if isinstance(padding, int):
            padding = resolve_padding(kernel_size, dilation, padding)
        x = steps.conv(x, out_channels, kernel_size, stride, padding, dilation, groups, bias, label, branch_name)
        if norm:
            x = steps.norm(x, branch_name=branch_name)
        return steps.act(x, activation, branch_name=branch_name)


class SqueezeExcite(nn.Module):
    """global avg pool -> 1x1 conv (bias) -> act -> 1x1 conv (bias) -> gate -> scale the input (Hu et al. 2018).

    Parameter order (fc1, fc2) matches torchvision.ops.SqueezeExcitation.
    """

    def __init__(self, channels: int, squeeze_channels: int, activation: str = "relu", gate: str = "sigmoid"):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.act = make_act(activation)
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
        self.gate = make_act(gate)

    @staticmethod
    def cost(x: Cost, squeeze_channels: int, activation: str = "relu", gate: str = "sigmoid") -> Cost:
        return steps.squeeze_excite(x, squeeze_channels, activation, gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.gate(self.fc2(self.act(self.fc1(self.avgpool(x)))))
        return x * s


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups (ShuffleNet): (g, C/g) -> (C/g, g)."""
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


torch.fx.wrap("channel_shuffle")  # one box in fx-traced diagrams instead of view/transpose/reshape


class TFSamePad(nn.Module):
    """TensorFlow 'SAME' padding for a k x k, stride s conv: the odd pixel goes bottom/right, sized per input."""

    def __init__(self, kernel_size: int, stride: int, dilation: int = 1):
        super().__init__()
        self.kernel_size, self.stride, self.dilation = kernel_size, stride, dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ph = steps.tf_same_pad(x.shape[-2], self.kernel_size, self.stride, self.dilation)
        pw = steps.tf_same_pad(x.shape[-1], self.kernel_size, self.stride, self.dilation)
        if ph == (0, 0) and pw == (0, 0):
            return x
        return F.pad(x, (pw[0], pw[1], ph[0], ph[1]))

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``v`` to the nearest multiple of ``divisor`` (at least ``min_value``), adding a divisor when rounding
    down lost more than 10 % (TensorFlow's round_filters and torchvision's _make_divisible)."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v
