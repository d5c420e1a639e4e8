"""The ConvNeXt block (Liu et al. 2022, A ConvNet for the 2020s): a ResNet block modernised step by step towards a
Transformer block, laid out like torchvision's ``convnext.CNBlock`` (its parameter shapes, in its order)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from effnets import cost as steps
from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.cost import Cost
from effnets.spec import param

LN_EPS = 1e-6
"""torchvision's (and the official code's) layer-norm epsilon in ConvNeXt."""
LAYER_SCALE_INIT = 1e-6
"""Initial value of the layer scale (the paper's Appendix A: 1e-6); the value changes nothing in the counts."""


@dataclass(frozen=True)
class ConvNeXtSpec(BlockSpec):
    in_channels: int = param(
        96, lo=1, hi=4096, help="Channels of the input and of the output (C; the block keeps the shape).", label="C"
    )
    kernel_size: int = param(
        7,
        choices=(3, 5, 7, 9, 11),
        help="Kernel of the depthwise conv (ConvNeXt: 7; the paper's kernel study tries 3 to 11, gaining up to 7).",
        label="kernel k",
    )
    expand_ratio: float = param(
        4.0,
        lo=1.0,
        hi=8.0,
        step=0.5,
        help="t: the first 1x1 (a Linear on channels-last) widens C to t C, the second projects back (4, as a "
        "Transformer's MLP).",
        label="expand ratio t",
    )
    layer_scale: bool = param(
        True,
        help="Multiply the residual branch by a learnable per-channel scale (initialised to 1e-6) before the add: C "
        "parameters and 1 multiply per element.",
    )

    @property
    def expanded_channels(self) -> int:
        """t C, rounded, at least 1 (torchvision: 4 * dim)."""
        return max(1, int(round(self.in_channels * self.expand_ratio)))


class LayerNorm2d(nn.LayerNorm):
    """Layer norm over the channels of an N x C x H x W map (channels-last inside), torchvision's ``LayerNorm2d``:
    ConvNeXt's stem, its downsampling layers and its head use it."""

    def __init__(self, channels: int, eps: float = LN_EPS):
        super().__init__(channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    """kxk depthwise (bias) -> LN -> 1x1 expand t (Linear) -> GELU -> 1x1 project (Linear) -> [layer scale] + identity

    Liu et al. 2022 (ConvNeXt), Fig. 4. The 1x1 convs are ``nn.Linear`` on a channels-last tensor, as in torchvision's
    ``CNBlock``; its parameter order (layer scale, depthwise conv, LN, the two Linears) is kept. Stochastic depth is
    the identity at inference and has no parameters, so it is left out.
    """

    def __init__(self, spec: ConvNeXtSpec):
        super().__init__()
        c, k, hidden = spec.in_channels, spec.kernel_size, spec.expanded_channels
        self.layer_scale = nn.Parameter(torch.full((c, 1, 1), LAYER_SCALE_INIT)) if spec.layer_scale else None
        self.dwconv = nn.Conv2d(c, c, k, padding=k // 2, groups=c, bias=True)
        self.norm = nn.LayerNorm(c, eps=LN_EPS)
        self.pwconv1 = nn.Linear(c, hidden)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(hidden, c)

    @staticmethod
    def cost(spec: ConvNeXtSpec, x: Cost) -> Cost:
        c, k, hidden = spec.in_channels, spec.kernel_size, spec.expanded_channels
        short = steps.branch(x)
        x = steps.conv(x, c, k, groups=c, bias=True, label=f"{k}x{k} depthwise")
        x = steps.layer_norm(x)
        x = steps.conv(x, hidden, 1, bias=True, label=f"1x1 expand x{spec.expand_ratio:g} (Linear)")
        x = steps.act(x, "gelu")
        x = steps.conv(x, c, 1, bias=True, label="1x1 project (Linear)")
        if spec.layer_scale:
            x = steps.layer_scale(x)
        return steps.add(x, short)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.dwconv(x).permute(0, 2, 3, 1))
        y = self.pwconv2(self.act(self.pwconv1(y))).permute(0, 3, 1, 2)
        if self.layer_scale is not None:
            y = self.layer_scale * y
        return x + y


register(
    BlockInfo(
        name="convnext",
        order=147,
        label="ConvNeXt block",
        spec=ConvNeXtSpec,
        module=ConvNeXtBlock,
        paper="Liu et al. 2022, A ConvNet for the 2020s (ConvNeXt)",
        url="https://arxiv.org/abs/2201.03545",
        explanation=(
            "A ResNet bottleneck rebuilt like a Transformer block: one large 7x7 depthwise conv mixes space (the "
            "role of self-attention), then an inverted bottleneck of two 1x1 convs, C to 4C and back, mixes "
            "channels (the MLP), with a single LayerNorm and a single GELU, no batch norm, and a learnable "
            "per-channel layer scale on the residual branch. The large kernel is cheap because it is depthwise: "
            "k^2 C against 2 t C^2 MACs per pixel for the two 1x1s, so at C = 96 the 7x7 is about 6 % of the "
            "block's MACs and the 1x1s the other 94 % (the share shrinks as C grows). What is not cheap is the "
            "memory traffic: the 4C-wide tensor, and a LayerNorm and GELU that, unlike batch norm, cannot fold "
            "into a conv at inference."
        ),
        formula=(
            r"\text{MACs} = (k^2 C + 2\,t\,C^2)\,H W,\quad"
            r"\text{params} = k^2 C + C + 2C + (C\,tC + tC) + (tC\,C + C) + [C]"
            r"\quad\text{(depthwise + bias, LN, two Linears, [layer scale])}"
        ),
        group="unit",
    )
)
