"""VGNet (Zhang et al., ICME 2022; code ffiirree/cv-models): networks designed from what trained kernels look like.

Stages carry their feature map as two halves: a downsampling block (fixed Gaussian blur s2, or learnable depthwise s2)
starts each stage, half-identity blocks follow. Every pointwise block is conv -> ReLU -> BN (activation before BN),
as in the paper's code.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from effnets import cost as steps
from effnets.blocks.vgnet import (
    VGNetDownsampling,
    VGNetDownsamplingSpec,
    VGNetHalfIdentity,
    VGNetHalfIdentitySpec,
    depthwise_cost,
    make_depthwise,
)
from effnets.cost import Cost
from effnets.models import (
    FamilyInfo,
    ModelInfo,
    ModelSpec,
    Published,
    dropout_param,
    num_classes_param,
    register,
    register_family,
    resolution_param,
)
from effnets.models.network import Block, Classifier, Conv, Plan, Stage
from effnets.spec import param

PAPER = "Zhang et al. 2022, Efficient CNN Architecture Design Guided by Visualization (VGNet, ICME 2022)"
URL = "https://arxiv.org/abs/2207.10318"

register_family(
    FamilyInfo(
        name="vgnet",
        label="VGNet",
        color="#393b79",
        paper=PAPER,
        url=URL,
        order=70,
        scaling="Sizes named by their parameter budget (1.0M to 5.0M), each with its own widths and blocks per stage.",
    )
)

# (channels of stem and stages 1-4, blocks per stage = 1 downsampling + n-1 half-identity).
SIZES: dict[str, tuple[tuple[int, int, int, int, int], tuple[int, int, int, int]]] = {
    "1_0mp": ((28, 56, 112, 224, 368), (4, 7, 13, 2)),
    "1_5mp": ((32, 64, 128, 256, 512), (3, 7, 14, 2)),
    "2_0mp": ((32, 72, 168, 376, 512), (3, 6, 13, 2)),
    "2_5mp": ((32, 80, 192, 400, 544), (3, 6, 16, 2)),
    "5_0mp": ((32, 88, 216, 456, 856), (4, 7, 15, 5)),
}
SE_RATIO = 0.25
TAIL_SHARE = 8


class SharedDepthwise(nn.Module):
    """split into t chunks of C/t channels -> the same 3x3 depthwise kernels on each chunk -> concat.

    The paper-era code's tail conv (ffiirree/cv-models ``SharedDepthwiseConv2d``, t = 8): C/t x 9 weights do the work
    of C x 9.
    """

    def __init__(self, channels: int, t: int = TAIL_SHARE):
        super().__init__()
        if channels % t:
            raise ValueError(f"channels={channels} must be divisible by t={t} to share depthwise kernels")
        self.t = t
        self.conv = nn.Conv2d(channels // t, channels // t, 3, 1, 1, groups=channels // t, bias=False)

    @staticmethod
    def cost(x: Cost, t: int = TAIL_SHARE) -> Cost:
        y = steps.conv(
            x, x.c, 3, 1, 1, groups=x.c, label=f"3x3 depthwise (one set of {x.c // t} kernels shared by {t} chunks)"
        )
        shared = x.params + (x.c // t) * 9
        if not y.record_steps:
            return replace(y, params=shared)
        return replace(y, params=shared, steps=(*y.steps[:-1], replace(y.steps[-1], params=(x.c // t) * 9)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = x.chunk(self.t, 1)  # indexed, not iterated: torch.fx can trace a fixed count of chunks
        return torch.cat([self.conv(parts[i]) for i in range(self.t)], 1)


@dataclass(frozen=True)
class Tail:
    """VGNet's last depthwise 3x3 before the final pointwise block: shared learnable kernels, or VGNetF's fixed bank."""

    channels: int
    kind: str = "learnable"

    def build(self) -> nn.Module:
        if self.kind == "learnable":
            return SharedDepthwise(self.channels)
        return make_depthwise(self.channels, self.kind, 1)

    def cost(self, x: Cost) -> Cost:
        if self.kind == "learnable":
            return SharedDepthwise.cost(x)
        return depthwise_cost(x, self.kind, 1)


@dataclass(frozen=True)
class VGNetSpec(ModelSpec):
    """VGNet: size, SE and which depthwise kernels are fixed (C: none, G: downsampling blur, F: all)."""

    size: str = param(
        "1_0mp",
        choices=tuple(SIZES),
        help="The paper's sizes, named by their parameter budget (1.0MP = about 1.0 million parameters).",
    )
    se: bool = param(False, help="Squeeze-excitation (ratio 0.25) after every pointwise block: the SE variants.")
    downsampling: str = param(
        "gaussian",
        choices=("gaussian", "learnable"),
        help="gaussian: a fixed blur before subsampling (VGNetG, VGNetF); learnable: a trained depthwise s2 (VGNetC).",
        label="downsampling kernels",
    )
    depthwise: str = param(
        "learnable",
        choices=("learnable", "edge"),
        help="The other depthwise convs: learnable (VGNetC, VGNetG) or VGNetF's fixed bank of edge and blur kernels "
        "(Sobel, Laplacian, Gaussians), followed by BN.",
        label="depthwise kernels",
    )
    resolution: int = resolution_param(224)
    dropout: float = dropout_param(0.0)
    num_classes: int = num_classes_param()


def plan(spec: VGNetSpec) -> Plan:
    """conv3x3 s2 -> ReLU -> BN, then 4 stages of [downsampling block + half-identity blocks], then depthwise 3x3 ->
    pointwise block -> pool -> FC."""
    channels, blocks = SIZES[spec.size]
    se = SE_RATIO if spec.se else 0.0
    stem = Conv(3, channels[0], 3, 2, act_first=True, label="3x3 conv s2 (stem)")
    stages = [Stage("stem", "Conv3x3", (stem,), 3, 2)]
    c_in = channels[0]
    for i, (c, n) in enumerate(zip(channels[1:], blocks, strict=True)):
        layers: list = [
            Block(
                VGNetDownsampling,
                VGNetDownsamplingSpec(
                    in_channels=c_in, out_channels=c, stride=2, depthwise=spec.downsampling, se_ratio=se
                ),
            )
        ]
        layers += [
            Block(VGNetHalfIdentity, VGNetHalfIdentitySpec(in_channels=c, depthwise=spec.depthwise, se_ratio=se))
            for _ in range(n - 1)
        ]
        op = "Downsampling" + (" & HalfIdentity" if n > 1 else "")
        stages.append(Stage(f"stage{i + 2}", op, tuple(layers), 3, 2))
        c_in = c
    head = (
        Tail(c_in, spec.depthwise),
        Conv(c_in, c_in, 1, act_first=True, label="1x1 pointwise"),
        Classifier(c_in, spec.num_classes, spec.dropout),
    )
    stages.append(Stage("head", "DWConv3x3 & Conv1x1 & Pooling & FC", head, 3, 1, repeats=1))
    return Plan(tuple(stages), (3, spec.resolution, spec.resolution))


_EXPLANATION = (
    "Designed by looking at trained kernels: strided depthwise kernels look like Gaussian blurs (a low-pass filter "
    "before subsampling, as the sampling theorem asks), so VGNetG fixes them; mid-network depthwise kernels are "
    "often near-identity and neighbouring layers similar, so half the channels pass through each block unchanged; "
    "many kernels look like edge detectors, so VGNetF fixes all depthwise kernels to a bank of Sobel, Laplacian and "
    "Gaussian filters."
)
_VARIANTS = {
    "g": ("VGNetG", {"downsampling": "gaussian", "depthwise": "learnable"}),
    "c": ("VGNetC", {"downsampling": "learnable", "depthwise": "learnable"}),
    "f": ("VGNetF", {"downsampling": "gaussian", "depthwise": "edge"}),
}
_PRESETS = [("g", s) for s in SIZES] + [("c", "1_5mp"), ("f", "1_5mp")]
_PAPER_SOURCE = f"{PAPER}, results table"
_PUBLISHED = {
    ("g", "1_0mp"): (
        Published.of(
            _PAPER_SOURCE,
            params="0.99M",
            top1=67.7,
            resolution=224,
            mismatch=("params",),
            note=(
                "Built from the paper-era code (ffiirree/cv-models vgnet_g_1_0mp: tail depthwise kernels shared over "
                "8 chunks) the network has 997,358 parameters, which rounds to 1.00M; its SE variant's 1,143,190 "
                "matches the paper's 1.14M, so 0.99M looks truncated rather than rounded."
            ),
        ),
        (Published.of(_PAPER_SOURCE, params="1.14M", top1=69.2, resolution=224, fields={"se": True}),),
    ),
    ("f", "1_5mp"): (
        Published.of(
            _PAPER_SOURCE, top1=66.2, resolution=224, note="edge + Gaussian kernel bank (64.4 % with edge kernels only)"
        ),
        (),
    ),
}

for _v, _size in _PRESETS:
    _label, _fields = _VARIANTS[_v]
    _pub, _also = _PUBLISHED.get((_v, _size), (None, ()))
    register(
        ModelInfo(
            name=f"vgnet{_v}_{_size}",
            label=f"{_label}-{_size.replace('_', '.').upper().replace('MP', 'MP')}",
            family="vgnet",
            spec=VGNetSpec,
            paper=PAPER,
            url=URL,
            explanation=_EXPLANATION,
            published=_pub,
            also_published=_also,
            torchvision=None,
            defaults={"size": _size, **_fields},
            plan=plan,
        )
    )
