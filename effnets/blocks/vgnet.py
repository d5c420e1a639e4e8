"""VGNet's blocks (Zhang et al., ICME 2022): designs read off the kernels that trained networks learn.

Shared by ``vgnet_downsampling`` and ``vgnet_half_identity``. The paper's code writes every 1x1 "pointwise block"
as conv -> activation -> BN (activation before BN) with no bias; SE widths are rounded to multiples of 8.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from effnets import cost as steps
from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import SqueezeExcite, make_act, make_divisible
from effnets.cost import ACTIVATIONS, Cost
from effnets.spec import SpecError, param

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


# ----- VGNet's fixed kernels: Gaussian blur, Sobel, Laplacian, and the depthwise layer that applies them -----------
# The kernels trained networks learn on their own (the VGNet paper's observation). A FixedDepthwise layer stores them
# as a buffer, so they are not parameters and are never trained.

GAUSSIAN_SIGMA = 1.1
SHARP_GAUSSIAN_SIGMA = 0.6


def gaussian(sigma: float = GAUSSIAN_SIGMA, size: int = 3) -> torch.Tensor:
    """Normalised size x size Gaussian (sums to 1). sigma 1.1 gives VGNet's blur: centre .1853, edge .1226."""
    if sigma <= 0:
        raise ValueError(f"sigma={sigma} must be positive")
    if size < 1 or size % 2 == 0:
        raise ValueError(f"size={size} must be odd and positive")
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    k = torch.exp(-(xx**2 + yy**2) / (2 * sigma**2))
    return (k / k.sum()).float()


def _t(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def library() -> dict[str, torch.Tensor]:
    """The named 3x3 kernels: VGNetF's bank of 8, plus identity for comparison."""
    return {
        "sobel_y": _t([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]) / 2,
        "sobel_x": _t([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]) / 2,
        "laplacian_8": _t([[-1, -2, -1], [-2, 12, -2], [-1, -2, -1]]) / 12,
        "laplacian_4": _t([[0, -1, 0], [-1, 4, -1], [0, -1, 0]]) / 4,
        "sobel_diag": _t([[0, 1, 2], [-1, 0, 1], [-2, -1, 0]]) / 2,
        "sobel_antidiag": _t([[-2, -1, 0], [-1, 0, 1], [0, 1, 2]]) / 2,
        "gaussian": gaussian(GAUSSIAN_SIGMA),
        "gaussian_sharp": gaussian(SHARP_GAUSSIAN_SIGMA),
        "identity": _t([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    }


EDGE_BANK = (
    "sobel_y",
    "sobel_x",
    "laplacian_8",
    "laplacian_4",
    "sobel_diag",
    "sobel_antidiag",
    "gaussian",
    "gaussian_sharp",
)
KERNEL_KINDS = ("learnable", "gaussian", "edge")


def bank(kind: str, channels: int) -> torch.Tensor:
    """Depthwise weight (channels, 1, 3, 3) for a fixed kind: 'gaussian' (every channel blurred alike) or 'edge'
    (VGNetF: the 8 kernels of EDGE_BANK repeated over the channels)."""
    lib = library()
    if kind == "gaussian":
        return lib["gaussian"].expand(channels, 1, 3, 3).clone()
    if kind == "edge":
        ks = torch.stack([lib[n] for n in EDGE_BANK])
        reps = math.ceil(channels / len(EDGE_BANK))
        return ks.repeat(reps, 1, 1)[:channels].unsqueeze(1).clone()
    raise ValueError(f"fixed kernel kind '{kind}' is not 'gaussian' or 'edge'")


class FixedDepthwise(nn.Module):
    """A 3x3 depthwise conv whose weights are a buffer (not a parameter, never trained)."""

    def __init__(self, channels: int, kind: str, stride: int = 1):
        super().__init__()
        self.stride = stride
        self.kind = kind
        self.register_buffer("weight", bank(kind, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, None, self.stride, 1, 1, self.weight.shape[0])

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, kind={self.kind}, stride={self.stride}, fixed"


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
            raise SpecError(
                f"out_channels={self.out_channels} must be even: the stage carries two equal halves",
                "out_channels",
                self.out_channels,
            )


class VGNetDownsampling(nn.Module):
    """3x3 depthwise s2 (fixed Gaussian blur) -> [identity half | 1x1 -> act -> BN] -> concat
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
            raise SpecError(
                f"in_channels={self.in_channels} must be even: the block works on two equal halves",
                "in_channels",
                self.in_channels,
            )


class VGNetHalfIdentity(nn.Module):
    """[x0, x1] -> concat(x0, dw3x3(x1)) -> 1x1 (C -> C/2) -> output [x1, new]
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
        order=170,
        label="VGNet downsampling block",
        spec=VGNetDownsamplingSpec,
        module=VGNetDownsampling,
        paper="Zhang et al. 2022, Efficient CNN Architecture Design Guided by Visualization (VGNet)",
        url="https://arxiv.org/abs/2207.10318",
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
        order=180,
        label="VGNet half-identity block",
        spec=VGNetHalfIdentitySpec,
        module=VGNetHalfIdentity,
        paper="Zhang et al. 2022, Efficient CNN Architecture Design Guided by Visualization (VGNet)",
        url="https://arxiv.org/abs/2207.10318",
        explanation=(
            "In the middle of a trained network many depthwise kernels are close to the identity and adjacent layers "
            "produce similar feature maps. So VGNet passes half the channels through unchanged and computes only the "
            "other half: the 1x1 conv maps C channels to C/2, halving the pointwise cost of a full block."
        ),
        formula=r"\text{MACs} = 9\tfrac{C}{2} H W + C\,\tfrac{C}{2} H W",
        group="vgnet",
    )
)
