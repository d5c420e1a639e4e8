"""VGNet's blocks (Zhang et al., ICME 2022): designs read off the kernels that trained networks learn.

Shared by ``vgnet_downsampling`` and ``vgnet_half_identity``. The paper's code writes every 1x1 "pointwise block"
as conv -> activation -> BN (activation before BN) with no bias; SE widths are rounded to multiples of 8.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from effnets import cost as steps
from effnets.analysis.kernels import KERNEL_KINDS, FixedDepthwise
from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import SqueezeExcite, make_act, make_divisible
from effnets.cost import ACTIVATIONS, Cost
from effnets.spec import param

KIND_HELP = (
    "learnable: a trained 3x3 depthwise conv (VGNetC). gaussian: a fixed blur (VGNetG's downsampling). edge: VGNetF's "
    "fixed bank of 8 kernels (Sobel, Laplacian, two Gaussians) repeated over channels, followed by BN."
)


def se_width(channels: int, ratio: float) -> int:
    """VGNet's SE width: int(channels x ratio) rounded to a multiple of 8."""
    return make_divisible(int(channels * ratio), 8)


def make_depthwise(channels: int, kind: str, stride: int) -> nn.Module:
    """The block's depthwise 3x3: a plain learnable conv, a fixed blur, or the fixed edge bank + BN."""
    if kind == "learnable":
        return nn.Conv2d(channels, channels, 3, stride, 1, groups=channels, bias=False)
    if kind == "gaussian":
        return FixedDepthwise(channels, "gaussian", stride)
    return nn.Sequential(FixedDepthwise(channels, "edge", stride), nn.BatchNorm2d(channels))


def depthwise_cost(x: Cost, kind: str, stride: int, branch_name: str = "") -> Cost:
    label = f"3x3 depthwise{' s2' if stride == 2 else ''}"
    if kind == "learnable":
        return steps.conv(x, x.c, 3, stride, 1, groups=x.c, label=label, branch_name=branch_name)
    y = steps.fixed_depthwise(x, 3, stride, label=f"{label} {kind}")
    return steps.norm(y, branch_name=branch_name) if kind == "edge" else y


class PointwiseBlock(nn.Sequential):
    """1x1 conv (no bias) -> act -> BN [-> SE], VGNet's order."""

    def __init__(self, cin: int, cout: int, activation: str, se_ratio: float):
        layers = [nn.Conv2d(cin, cout, 1, bias=False), make_act(activation), nn.BatchNorm2d(cout)]
        if se_ratio > 0:
            layers.append(SqueezeExcite(cout, se_width(cout, se_ratio), "relu"))
        super().__init__(*layers)

    @staticmethod
    def cost(x: Cost, cout: int, activation: str, se_ratio: float) -> Cost:
        x = steps.norm(steps.act(steps.conv(x, cout, 1, label="1x1 pointwise"), activation))
        if se_ratio > 0:
            x = SqueezeExcite.cost(x, se_width(cout, se_ratio), "relu")
        return x


@dataclass(frozen=True)
class VGNetDownsamplingSpec(BlockSpec):
    in_channels: int = param(56, lo=1, hi=4096, help="Channels of the input tensor (C_in).", label="C_in")
    out_channels: int = param(112, lo=2, hi=4096, help="Channels of the output (C_out); even.", label="C_out")
    stride: int = param(2, choices=(1, 2), help="Stride of the depthwise 3x3 (2 at the start of each stage).")
    depthwise: str = param("gaussian", choices=KERNEL_KINDS, help=KIND_HELP, label="depthwise kernels")
    se_ratio: float = param(
        0.0, lo=0.0, hi=1.0, step=0.05, help="SE on the new channels (0.25 in the SE variants).", label="SE ratio"
    )
    activation: str = param("relu", choices=ACTIVATIONS, help="Nonlinearity of the pointwise block.", advanced=True)

    @property
    def split(self) -> int:
        return 0 if self.in_channels > self.out_channels else min(self.out_channels // 2, self.in_channels)

    def check(self) -> None:
        if self.out_channels % 2:
            raise ValueError(f"out_channels={self.out_channels} must be even: the stage carries two equal halves")


class VGNetDownsampling(nn.Module):
    """3x3 depthwise s2 (blur) -> [last `split` channels as identity | 1x1 pointwise block -> C_out - split] -> concat.
    Zhang et al. 2022 (VGNet)."""

    def __init__(self, spec: VGNetDownsamplingSpec):
        super().__init__()
        self.split = spec.split
        self.downsample = make_depthwise(spec.in_channels, spec.depthwise, spec.stride)
        self.pointwise = PointwiseBlock(
            spec.in_channels, spec.out_channels - spec.split, spec.activation, spec.se_ratio
        )

    @staticmethod
    def cost(spec: VGNetDownsamplingSpec, x: Cost) -> Cost:
        x = depthwise_cost(x, spec.depthwise, spec.stride)
        new = PointwiseBlock.cost(x, spec.out_channels - spec.split, spec.activation, spec.se_ratio)
        if not spec.split:
            return new
        keep = steps.with_channels(
            steps.branch(x), spec.split, label=f"last {spec.split} channels (identity half)", branch_name="identity"
        )
        return steps.concat(new, keep, steps.branch(new))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        new = self.pointwise(x)
        if not self.split:
            return new
        return torch.cat([x[:, x.shape[1] - self.split :], new], 1)


@dataclass(frozen=True)
class VGNetHalfIdentitySpec(BlockSpec):
    in_channels: int = param(112, lo=2, hi=4096, help="Channels C of input and output; even.", label="C")
    depthwise: str = param("learnable", choices=KERNEL_KINDS, help=KIND_HELP, label="depthwise kernels")
    se_ratio: float = param(
        0.0, lo=0.0, hi=1.0, step=0.05, help="SE on the new half (0.25 in the SE variants).", label="SE ratio"
    )
    activation: str = param("relu", choices=ACTIVATIONS, help="Nonlinearity of the pointwise block.", advanced=True)

    def check(self) -> None:
        if self.in_channels % 2:
            raise ValueError(f"in_channels={self.in_channels} must be even: the block works on two equal halves")


class VGNetHalfIdentity(nn.Module):
    """[x0, x1] -> concat(x0, dw3x3(x1)) -> 1x1 pointwise block (C -> C/2) = new; output [x1, new].
    Half the channels pass unchanged; half the pointwise work is saved. Zhang et al. 2022 (VGNet)."""

    def __init__(self, spec: VGNetHalfIdentitySpec):
        super().__init__()
        half = spec.in_channels // 2
        self.half3x3 = make_depthwise(half, spec.depthwise, 1)
        self.pointwise = PointwiseBlock(spec.in_channels, half, spec.activation, spec.se_ratio)

    @staticmethod
    def cost(spec: VGNetHalfIdentitySpec, x: Cost) -> Cost:
        half = spec.in_channels // 2
        x = steps.marker(x, "split into halves x0, x1", "split")
        x0 = steps.with_channels(steps.branch(x), half, label="x0", branch_name="x0")
        x1 = steps.with_channels(x, half, label="x1")
        d = depthwise_cost(x1, spec.depthwise, 1)
        mixed = steps.concat(d, x0, steps.branch(d), label="concat [x0, dw(x1)]")
        new = PointwiseBlock.cost(mixed, half, spec.activation, spec.se_ratio)
        passed = steps.with_channels(steps.branch(x), half, label="x1 passes unchanged", branch_name="identity")
        return steps.concat(new, passed, steps.branch(new), label="concat [x1, new]")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x0, x1 = x.chunk(2, dim=1)
        new = self.pointwise(torch.cat([x0, self.half3x3(x1)], 1))
        return torch.cat([x1, new], 1)


register(
    BlockInfo(
        name="vgnet_downsampling",
        label="VGNet downsampling block",
        spec=VGNetDownsamplingSpec,
        module=VGNetDownsampling,
        paper="Zhang et al. 2022, Efficient CNN Architecture Design Guided by Visualization (VGNet)",
        url="https://arxiv.org/abs/2207.10318",
        layout="3x3 depthwise s2 (fixed Gaussian blur) -> [identity half | 1x1 -> act -> BN] -> concat",
        explanation=(
            "Trained networks learn Gaussian-like kernels in their strided depthwise convs: a low-pass filter before "
            "subsampling, as the sampling theorem asks. VGNet stops learning them and fixes a Gaussian blur (a buffer, "
            "not a parameter). Part of the blurred input is passed on as the identity half of the stage; a 1x1 block "
            "computes only the remaining channels."
        ),
        formula=r"\text{MACs} = 9 C_{in} H'W' + C_{in}(C_{out} - s) H'W', \quad s = \min(C_{out}/2, C_{in})",
        group="vgnet",
    )
)

register(
    BlockInfo(
        name="vgnet_half_identity",
        label="VGNet half-identity block",
        spec=VGNetHalfIdentitySpec,
        module=VGNetHalfIdentity,
        paper="Zhang et al. 2022, Efficient CNN Architecture Design Guided by Visualization (VGNet)",
        url="https://arxiv.org/abs/2207.10318",
        layout="[x0, x1] -> concat(x0, dw3x3(x1)) -> 1x1 (C -> C/2) -> output [x1, new]",
        explanation=(
            "In the middle of a trained network many depthwise kernels are close to the identity and adjacent layers "
            "produce similar feature maps. So VGNet passes half the channels through unchanged and computes only the "
            "other half: the 1x1 conv maps C channels to C/2, halving the pointwise cost of a full block."
        ),
        formula=r"\text{MACs} = 9\tfrac{C}{2} H W + C\,\tfrac{C}{2} H W",
        group="vgnet",
    )
)
