"""ConvNeXt (Liu et al. 2022, A ConvNet for the 2020s): a patchify stem, four stages of ConvNeXt blocks with a
separate LayerNorm + 2x2 stride-2 conv between them, and a LayerNorm head, as torchvision builds it
(``torchvision.models.convnext``), with width and depth multipliers."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn

from effnets import cost as steps
from effnets.blocks._layers import make_divisible
from effnets.blocks.convnext import ConvNeXtBlock, ConvNeXtSpec, LayerNorm2d
from effnets.cost import Cost
from effnets.models import (
    FamilyInfo,
    ModelInfo,
    ModelSpec,
    Published,
    num_classes_param,
    register,
    register_family,
    resolution_param,
)
from effnets.models.network import Block, Classifier, Conv, Plan, Stage
from effnets.spec import param

PAPER = "Liu et al. 2022, A ConvNet for the 2020s"
URL = "https://arxiv.org/abs/2201.03545"
EXPAND = 4  # every block's inverted bottleneck is 4x its width (paper Sec. 2.4)
PATCH = 4  # the stem: a 4x4 stride-4 conv, non-overlapping patches as in Swin-T
DIVISOR = 8  # a scaled base width is rounded to a multiple of 8

register_family(
    FamilyInfo(
        name="convnext",
        label="ConvNeXt",
        color="#d62728",
        paper=PAPER,
        url=URL,
        order=85,
        scaling=(
            "The paper scales by hand, like Swin: T to S deepens stage 3 from 9 to 27 blocks, S to B and L widen the "
            "base width C from 96 to 128 and 192 (stages C, 2C, 4C, 8C). Here the variant picks those tables; the "
            "width multiplier scales C (rounded to a multiple of 8), the depth multiplier every stage's blocks "
            "(rounded up); and input resolution."
        ),
    )
)

VARIANTS: dict[str, tuple[int, tuple[int, int, int, int]]] = {
    "tiny": (96, (3, 3, 9, 3)),
    "small": (96, (3, 3, 27, 3)),
    "base": (128, (3, 3, 27, 3)),
    "large": (192, (3, 3, 27, 3)),
}
"""Paper Sec. 3: ConvNeXt-T C = (96, 192, 384, 768), B = (3, 3, 9, 3); -S B = (3, 3, 27, 3); -B C = 128...; -L 192..."""


@dataclass(frozen=True)
class Norm2d:
    """LayerNorm over the channels of a map (ConvNeXt's stem, downsampling and head norms)."""

    channels: int

    def build(self) -> nn.Module:
        return LayerNorm2d(self.channels)

    def cost(self, x: Cost) -> Cost:
        return steps.layer_norm(x, label="LN (channels)")


@dataclass(frozen=True)
class NormClassifier(Classifier):
    """global average pool -> LayerNorm -> flatten -> FC (ConvNeXt's head; torchvision's avgpool + classifier)."""

    def build(self) -> nn.Module:
        return nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            LayerNorm2d(self.in_features),
            nn.Flatten(1),
            nn.Linear(self.in_features, self.num_classes, bias=self.bias),
        )

    def cost(self, x: Cost) -> Cost:
        x = steps.layer_norm(steps.global_pool(x), label="LN (pooled)")
        return steps.linear(x, self.num_classes, self.bias, label="FC")


@dataclass(frozen=True)
class ConvNeXtNetSpec(ModelSpec):
    """ConvNeXt: a variant's stage table with width and depth multipliers, the blocks' kernel and layer scale."""

    variant: str = param(
        "tiny",
        choices=tuple(VARIANTS),
        help="The paper's stage tables: T = 96 wide, (3, 3, 9, 3) blocks; S = 96, (3, 3, 27, 3); B = 128 and L = 192 "
        "wide with S's depths.",
        label="variant",
    )
    width_mult: float = param(
        1.0,
        lo=0.25,
        hi=2.5,
        step=0.05,
        help="w: the base width C x w, rounded to a multiple of 8; the stages are C, 2C, 4C, 8C (S to B is w = 4/3).",
        label="width multiplier w",
    )
    depth_mult: float = param(
        1.0,
        lo=0.25,
        hi=3.0,
        step=0.05,
        help="d: each stage's blocks x d, rounded up (T to S is not uniform: only stage 3 grows, 9 to 27).",
        label="depth multiplier d",
    )
    kernel_size: int = param(
        7,
        choices=(3, 5, 7, 9, 11),
        help="Every block's depthwise kernel (7; the paper's Sec. 2.5 finds 7 the point where gains saturate).",
        label="kernel k",
    )
    layer_scale: bool = param(
        True, help="A learnable per-channel scale on each residual branch (C parameters per block).", advanced=True
    )
    resolution: int = resolution_param(224)
    num_classes: int = num_classes_param()

    @property
    def widths(self) -> tuple[int, int, int, int]:
        base = make_divisible(VARIANTS[self.variant][0] * self.width_mult, DIVISOR)
        return (base, 2 * base, 4 * base, 8 * base)

    @property
    def depths(self) -> tuple[int, ...]:
        return tuple(max(1, math.ceil(n * self.depth_mult - 1e-9)) for n in VARIANTS[self.variant][1])


def plan(spec: ConvNeXtNetSpec) -> Plan:
    """conv4x4 s4 (bias) -> LN -> 4 stages of ConvNeXt blocks (C, 2C, 4C, 8C), each after the first behind LN ->
    conv2x2 s2 (bias) -> global pool -> LN -> FC.

    torchvision's layout (``features`` 0-7, ``avgpool``, ``classifier``) in its parameter order; one stage row per
    stage and per downsampling layer.
    """
    widths, depths, k = spec.widths, spec.depths, spec.kernel_size
    stem = (
        Conv(3, widths[0], PATCH, PATCH, 0, bias=True, norm=False, activation="none", label="4x4 conv s4 (patchify)"),
        Norm2d(widths[0]),
    )
    stages = [Stage("stem", "Conv4x4 s4 (patchify) & LN", stem, PATCH, PATCH, repeats=1)]
    c_in = widths[0]
    for i, (c, n) in enumerate(zip(widths, depths, strict=True)):
        if i:
            down = (Norm2d(c_in), Conv(c_in, c, 2, 2, 0, bias=True, norm=False, activation="none", label="2x2 conv s2"))
            stages.append(Stage(f"down{i + 1}", "LN & Conv2x2 s2 (downsampling)", down, 2, 2, repeats=1))
        blocks = tuple(
            Block(ConvNeXtBlock, ConvNeXtSpec(in_channels=c, kernel_size=k, layer_scale=spec.layer_scale))
            for _ in range(n)
        )
        stages.append(Stage(f"stage{i + 1}", f"ConvNeXt block, k{k}x{k}, {c} wide", blocks, k, 1, float(EXPAND)))
        c_in = c
    stages.append(Stage("head", "Pooling & LN & FC", (NormClassifier(c_in, spec.num_classes),), None, 1, repeats=1))
    return Plan(tuple(stages), (3, spec.resolution, spec.resolution))


_TABLE1 = f"{PAPER}, Table 1 (ImageNet-1K trained, 224 px; FLOPs = multiply-adds)"
_EXPLANATION = (
    "ResNet-50 modernised step by step towards Swin-T (the paper's Fig. 2 roadmap, see the ConvNeXt roadmap): a "
    "4x4 stride-4 'patchify' stem, stages of (3, 3, 9, 3) blocks 96, 192, 384 and 768 wide, each block a 7x7 "
    "depthwise conv followed by an inverted bottleneck of two 1x1 convs (4x wider in between) with one LayerNorm "
    "and one GELU, and separate LayerNorm + 2x2 stride-2 convs between the stages. Pure convolution, at ResNet-50's "
    "cost, as accurate as Swin-T: the depthwise convs carry only a few percent of the MACs, the 1x1s nearly all."
)

register(
    ModelInfo(
        name="convnext_tiny",
        label="ConvNeXt-T",
        family="convnext",
        spec=ConvNeXtNetSpec,
        paper=PAPER,
        url=URL,
        explanation=_EXPLANATION,
        published=Published.of(_TABLE1, params="29M", macs="4.5G", top1=82.1, resolution=224),
        torchvision="convnext_tiny",
        defaults={"variant": "tiny"},
        plan=plan,
    )
)

register(
    ModelInfo(
        name="convnext_small",
        label="ConvNeXt-S",
        family="convnext",
        spec=ConvNeXtNetSpec,
        paper=PAPER,
        url=URL,
        explanation=_EXPLANATION + " ConvNeXt-S is T with stage 3 three times deeper (27 blocks), as Swin-S is.",
        published=Published.of(_TABLE1, params="50M", macs="8.7G", top1=83.1, resolution=224),
        torchvision="convnext_small",
        defaults={"variant": "small"},
        plan=plan,
    )
)
