"""Deformable convolution: the kernel's sampling points move, by offsets predicted from the input."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from effnets import cost as steps
from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import make_act, resolve_padding
from effnets.blocks.standard import ACT_HELP, KERNEL_HELP, PAD_HELP, STRIDE_HELP
from effnets.cost import ACTIVATIONS, Cost
from effnets.spec import SpecError, param


@dataclass(frozen=True)
class DeformableSpec(BlockSpec):
    out_channels: int = param(64, lo=1, hi=4096, help="Channels of the output (C_out).", label="C_out")
    kernel_size: int = param(3, lo=1, hi=9, help=KERNEL_HELP, label="kernel k")
    stride: int = param(1, lo=1, hi=4, help=STRIDE_HELP)
    dilation: int = param(1, lo=1, hi=8, help="Spacing of the regular grid the offsets start from.", advanced=True)
    padding: int = param(-1, lo=-1, hi=16, help=PAD_HELP, advanced=True)
    offset_groups: int = param(
        1,
        lo=1,
        hi=64,
        help="Channel groups that share one offset field; must divide C_in.",
        label="offset groups",
        advanced=True,
    )
    modulated: bool = param(
        True, help="DCNv2: also predict a per-point mask in (0, 1) that weights each sample.", label="modulation mask"
    )
    activation: str = param("relu", choices=ACTIVATIONS, help=ACT_HELP, advanced=True)

    def check(self) -> None:
        if self.in_channels % self.offset_groups:
            raise SpecError(
                f"offset_groups={self.offset_groups} must divide in_channels={self.in_channels}",
                "offset_groups",
                self.offset_groups,
            )


class DeformableConv(nn.Module):
    """offset conv (+ mask conv) -> kxk deformable conv (bilinear sampling at shifted points) -> BN -> act
    Dai et al. 2017 (DCN); Zhu et al. 2019 (DCNv2). Uses torchvision.ops.DeformConv2d."""

    def __init__(self, spec: DeformableSpec):
        super().__init__()
        k, s, d = spec.kernel_size, spec.stride, spec.dilation
        p = resolve_padding(k, d, spec.padding)
        n_points = spec.offset_groups * k * k
        self.offset = nn.Conv2d(spec.in_channels, 2 * n_points, k, s, p, d, bias=True)
        self.mask = nn.Conv2d(spec.in_channels, n_points, k, s, p, d, bias=True) if spec.modulated else None
        # Zero-initialised predictors start as a regular conv: offsets 0, mask 0.5.
        for m in (self.offset, self.mask):
            if m is not None and m.weight.device.type != "meta":
                nn.init.zeros_(m.weight)
                nn.init.zeros_(m.bias)
        from torchvision.ops import DeformConv2d  # imported here: torchvision costs 2 s at start-up

        self.conv = DeformConv2d(spec.in_channels, spec.out_channels, k, s, p, d, bias=False)
        self.bn = nn.BatchNorm2d(spec.out_channels)
        self.act = make_act(spec.activation)

    @staticmethod
    def cost(spec: DeformableSpec, x: Cost) -> Cost:
        k, s, d = spec.kernel_size, spec.stride, spec.dilation
        p = resolve_padding(k, d, spec.padding)
        n_points = spec.offset_groups * k * k
        off = steps.conv(
            steps.branch(x), 2 * n_points, k, s, p, d, bias=True, label=f"{k}x{k} offset conv", branch_name="offsets"
        )
        y = steps.side(x, off)
        if spec.modulated:
            m = steps.conv(
                steps.branch(x), n_points, k, s, p, d, bias=True, label=f"{k}x{k} mask conv", branch_name="mask"
            )
            y = steps.side(y, steps.act(m, "sigmoid", branch_name="mask"))
        # The deformable conv reads k*k shifted points per output position and input channel, each interpolated
        # from 4 neighbours (+1 multiply by the mask), then multiplies them with the weights like a regular conv.
        per = 5 if spec.modulated else 4
        sampled = x.c * k * k * off.h * off.w
        y = steps.count_extra(
            y,
            "sampling",
            sampled * per,
            f"bilinear sampling ({per} per sampled value)",
            "sample",
            out_shape=(x.c * k * k, off.h, off.w),
        )
        y = steps.conv(y, spec.out_channels, k, s, p, d, label=f"{k}x{k} deformable conv")
        y = steps.norm(y)
        return steps.act(y, spec.activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        offset = self.offset(x)
        mask = torch.sigmoid(self.mask(x)) if self.mask is not None else None
        return self.act(self.bn(self.conv(x, offset, mask)))

    def sampling_points(self, x: torch.Tensor) -> torch.Tensor:
        """The (dy, dx) offsets predicted for ``x``: shape (N, offset_groups * k * k, 2, H_out, W_out)."""
        off = self.offset(x)
        n, c, h, w = off.shape
        return off.view(n, c // 2, 2, h, w)


register(
    BlockInfo(
        name="deformable",
        order=160,
        label="Deformable convolution",
        spec=DeformableSpec,
        module=DeformableConv,
        paper="Dai et al. 2017, Deformable Convolutional Networks; Zhu et al. 2019 (DCNv2)",
        url="https://arxiv.org/abs/1703.06211",
        explanation=(
            "A regular conv samples a fixed grid. A deformable conv first predicts, with an ordinary conv, a 2-D "
            "offset for each of the k x k sampling points at every output position (and in DCNv2 a mask weight), "
            "then samples the input there by bilinear interpolation. The MACs of the conv itself are those of a "
            "regular conv; the offset/mask convs and the gather-and-interpolate work come on top, and the irregular "
            "memory access makes it much slower than its count. Tracers count deform_conv2d as 0 unless told."
        ),
        formula=r"\text{MACs} = \underbrace{k^2 C_{in}\,3k^2 H'W'}_{\text{offset+mask}} + "
        r"\underbrace{k^2 C_{in} C_{out} H'W'}_{\text{deformable conv}} \quad + \text{sampling } 5 k^2 C_{in} H'W'",
    )
)
