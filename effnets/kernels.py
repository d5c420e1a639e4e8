"""Fixed convolution kernels (Gaussian blur, Sobel, Laplacian) and the depthwise module that applies them.

The kernels are the ones the VGNet paper (Zhang et al., ICME 2022) found trained networks learn on their own:
strided depthwise kernels look like Gaussians (low-pass filters before downsampling) and many others like edge
detectors. A :class:`FixedDepthwise` layer stores them as a buffer, so they are not parameters and are never trained.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

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
