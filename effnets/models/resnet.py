"""ResNet (He et al. 2016) and ResNeXt (Xie et al. 2017): the baseline every efficient network is compared to, laid
out as torchvision builds it (v1.5: a bottleneck's stride on its 3x3)."""

from __future__ import annotations

from dataclasses import dataclass

from effnets.blocks.resnet_basic import ResNetBasicBlock, ResNetBasicSpec
from effnets.blocks.resnet_bottleneck import EXPANSION, ResNetBottleneck, ResNetBottleneckSpec
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
from effnets.models.network import Block, Classifier, Conv, Plan, Pool, Stage
from effnets.spec import SpecError, param

PAPER = "He et al. 2016, Deep Residual Learning for Image Recognition"
URL = "https://arxiv.org/abs/1512.03385"
RESNEXT_PAPER = "Xie et al. 2017, Aggregated Residual Transformations for Deep Neural Networks"
RESNEXT_URL = "https://arxiv.org/abs/1611.05431"

register_family(
    FamilyInfo(
        name="resnet",
        label="ResNet / ResNeXt",
        color="#8c6d31",
        paper=f"{PAPER}; {RESNEXT_PAPER}",
        url=URL,
        order=80,
        scaling=(
            "Depth by the number of blocks per stage (18 and 34 layers of basic blocks, 50, 101 and 152 of "
            "bottlenecks), width by width_per_group, the channels per group of the bottleneck's 3x3, with the groups "
            "(ResNeXt's 32x4d, Wide ResNet's 128); no multiplier: the stage planes 64-128-256-512 stay fixed."
        ),
    )
)

STEM_CHANNELS = 64
STAGE_PLANES = (64, 128, 256, 512)
"""Planes of conv2_x ... conv5_x (paper Table 1): a basic block's width, a bottleneck's width before the x4."""
BLOCKS_PER_STAGE: dict[int, tuple[int, int, int, int]] = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}
"""Paper Table 1; from 50 layers on, each block is a bottleneck (3 convs) instead of a basic block (2)."""
BOTTLENECK_FROM = 50
MAX_WIDTH = 4096  # the block catalog's largest width


@dataclass(frozen=True)
class ResNetSpec(ModelSpec):
    """ResNet / ResNeXt / Wide ResNet: depth (blocks per stage), cardinality and channels per group."""

    depth: int = param(
        50,
        choices=tuple(BLOCKS_PER_STAGE),
        help="Layers, which fix the blocks per stage (paper Table 1): 18 = [2, 2, 2, 2] and 34 = [3, 4, 6, 3] basic "
        "blocks; 50 = [3, 4, 6, 3], 101 = [3, 4, 23, 3] and 152 = [3, 8, 36, 3] bottlenecks.",
        label="depth (layers)",
    )
    groups: int = param(
        1,
        lo=1,
        hi=64,
        help="Cardinality C: groups of every bottleneck's 3x3 conv (1 = ResNet; ResNeXt 32 or 64). Depth 50 and "
        "more only.",
        label="groups (cardinality)",
    )
    width_per_group: int = param(
        64,
        lo=1,
        hi=256,
        help="d: channels per group of the 3x3 in conv2_x, doubling with each stage (ResNet 64, ResNeXt 4 or 8, "
        "Wide ResNet 128). Depth 50 and more only.",
        label="width per group d",
    )
    stride_on: str = param(
        "3x3",
        choices=("3x3", "1x1"),
        help="Where a bottleneck's stride sits: on the 3x3 (v1.5, torchvision's and ResNeXt's) or on the first 1x1 "
        "(v1, the paper's Caffe models: same parameters, fewer MACs).",
        advanced=True,
    )
    resolution: int = resolution_param(224)
    num_classes: int = num_classes_param()

    @property
    def bottleneck(self) -> bool:
        return self.depth >= BOTTLENECK_FROM

    def check(self) -> None:
        if not self.bottleneck:
            for name, value, plain in (("groups", self.groups, 1), ("width_per_group", self.width_per_group, 64)):
                if value != plain:
                    raise SpecError(
                        f"{name}={value} needs bottleneck blocks: ResNet-{self.depth} stacks basic blocks, whose "
                        f"3x3 convs are neither grouped nor widened; choose depth 50 or more, or set {name} back to "
                        f"{plain}",
                        name,
                        value,
                    )
        widest = STAGE_PLANES[-1] * self.width_per_group // 64 * self.groups
        if widest > MAX_WIDTH:
            raise SpecError(
                f"conv5_x's 3x3 would be {widest} channels wide (8 x {self.width_per_group} per group, "
                f"{self.groups} times), above the {MAX_WIDTH} a block allows: lower groups or width_per_group",
                "width_per_group",
                self.width_per_group,
            )


def plan(spec: ResNetSpec) -> Plan:
    """conv7x7 s2 64 -> maxpool 3x3 s2 -> 4 stages of basic blocks or bottlenecks (64, 128, 256, 512 planes; stride 2
    in the first block of the last three) -> pool -> FC.

    Layout of torchvision.models.resnet: no dropout, a 1x1 stride-2 projection (the paper's option B) wherever a
    block changes the shape, the bottleneck's stride on its 3x3 unless ``stride_on`` is "1x1".
    """
    stages = [
        Stage(
            "stem",
            "Conv7x7 & MaxPool",
            (Conv(3, STEM_CHANNELS, 7, 2, label="7x7 conv s2 (stem)"), Pool(3, 2, 1)),
            7,
            2,
            repeats=1,
        )
    ]
    c_in = STEM_CHANNELS
    g, d = spec.groups, spec.width_per_group
    if not spec.bottleneck:
        operator = "Basic block [3x3, 3x3]"
    elif g == 1:
        operator = "Bottleneck [1x1, 3x3, 1x1]" + (" (wide)" if d != 64 else "")
    else:
        operator = f"ResNeXt bottleneck [1x1, 3x3 g={g}, 1x1]"
    for i, (planes, n) in enumerate(zip(STAGE_PLANES, BLOCKS_PER_STAGE[spec.depth], strict=True)):
        stride = 1 if i == 0 else 2
        blocks = []
        for j in range(n):
            s = stride if j == 0 else 1
            if spec.bottleneck:
                c_out = planes * EXPANSION
                b = ResNetBottleneckSpec(
                    in_channels=c_in,
                    out_channels=c_out,
                    stride=s,
                    groups=g,
                    width_per_group=d,
                    stride_on=spec.stride_on,
                )
                blocks.append(Block(ResNetBottleneck, b))
            else:
                c_out = planes
                blocks.append(Block(ResNetBasicBlock, ResNetBasicSpec(in_channels=c_in, out_channels=c_out, stride=s)))
            c_in = c_out
        stages.append(Stage(f"stage{i + 2}", f"conv{i + 2}_x: {operator}", tuple(blocks), 3, stride))
    stages.append(Stage("head", "Pooling & FC", (Classifier(c_in, spec.num_classes),), None, 1, repeats=1))
    return Plan(tuple(stages), (3, spec.resolution, spec.resolution))


_TABLE1 = f"{PAPER}, Table 1 (FLOPs = multiply-adds)"
_V1 = {"stride_on": "1x1"}
_TEN_CROP = (
    "The paper's accuracies are 10-crop testing (Tables 2 and 3), so they are given here and not as top-1, which "
    "the Zoo compares with single-crop figures"
)
_V1_NOTE = (
    "The paper's networks (its Caffe models) stride a bottleneck's first 1x1, not its 3x3 (v1, stride_on=1x1), so "
    "the figure describes that network; torchvision's v1.5 has the same parameters and more MACs."
)
_R18_NOTE = (
    "The MACs agree with or without the three 1x1 projection shortcuts (19.3M). "
    f"{_TEN_CROP}: 27.88 % top-1 error for ResNet-18 with option A shortcuts (zero-padded identity, Table 2)."
)
_R34_NOTE = (
    "The exact count with torchvision's 1x1 projection shortcuts (option B) is 3,663,761,408, which rounds to 3.7; "
    "with the paper's option A (zero-padded identity shortcuts, no projections) it is 3,644,493,824, which rounds to "
    f"3.6. {_TEN_CROP}: 24.52 % top-1 error for ResNet-34 B (Table 3)."
)
_R50_NOTE = (
    f"{_V1_NOTE} Its exact count (option B projections) is 3,857,973,248, 3,855,925,248 without the FC: 3.9 "
    "rounded, yet the paper prints 3.8, whereas its 101- and 152-layer figures round the exact 7.57G and 11.28G "
    f"correctly; torchvision's v1.5 costs 4.09G. {_TEN_CROP}: 22.85 % top-1 error (Table 3)."
)
_R101_NOTE = f"{_V1_NOTE} {_TEN_CROP}: 21.75 % top-1 error (Table 3)."
_R152_NOTE = f"{_V1_NOTE} {_TEN_CROP}: 21.43 % top-1 error (Table 3)."
_RESNEXT_TABLES = f"{RESNEXT_PAPER}, Table 1 (params, FLOPs) and Table 3 (top-1 error, single 224 crop)"
_RESNEXT_R50_NOTE = (
    "ResNeXt's ResNet-50 is fb.resnet.torch's, which strides the 3x3 like torchvision (v1.5): hence 4.1 GFLOPs "
    "where He et al. give 3.8. Its 25.5M is the count without batch norm's gamma and beta (25,503,912); with them "
    "the network has 25,557,032 (torchvision's num_params), which rounds to 25.6M."
)
_EXPLANATION = (
    "The residual network: each block learns a correction F(x) added to its input, so a 152-layer network trains "
    "where a plain one of 34 layers already degrades. A 7x7 stem and a max-pool take the image to 56x56, four stages "
    "of 64, 128, 256 and 512 planes halve it down to 7x7, and one FC classifies the pooled features. It is the "
    "baseline the efficient networks measure themselves against: accurate, regular, and costly in MACs and "
    "parameters, since every spatial conv is a full 3x3."
)

register(
    ModelInfo(
        name="resnet18",
        label="ResNet-18",
        family="resnet",
        spec=ResNetSpec,
        paper=PAPER,
        url=URL,
        explanation=_EXPLANATION + " ResNet-18 stacks two basic blocks (two 3x3 convs each) per stage.",
        published=Published.of(_TABLE1, macs="1.8B", resolution=224, note=_R18_NOTE),
        torchvision="resnet18",
        defaults={"depth": 18},
        plan=plan,
    )
)

register(
    ModelInfo(
        name="resnet34",
        label="ResNet-34",
        family="resnet",
        spec=ResNetSpec,
        paper=PAPER,
        url=URL,
        explanation=_EXPLANATION + " ResNet-34 stacks 3, 4, 6 and 3 basic blocks: the plain-vs-residual network of "
        "the paper's Figure 3.",
        published=Published.of(_TABLE1, macs="3.6B", resolution=224, mismatch=("macs",), note=_R34_NOTE),
        torchvision="resnet34",
        defaults={"depth": 34},
        plan=plan,
    )
)

register(
    ModelInfo(
        name="resnet50",
        label="ResNet-50",
        family="resnet",
        spec=ResNetSpec,
        paper=PAPER,
        url=URL,
        explanation=_EXPLANATION
        + " ResNet-50 replaces the basic blocks by bottlenecks (1x1 reduce, 3x3, 1x1 expand x4): deeper at about "
        "the cost of ResNet-34, with 2048 channels at the end.",
        published=Published.of(_TABLE1, macs="3.8B", resolution=224, fields=_V1, mismatch=("macs",), note=_R50_NOTE),
        also_published=(
            Published.of(
                _RESNEXT_TABLES,
                params="25.5M",
                macs="4.1B",
                top1=76.1,
                resolution=224,
                mismatch=("params",),
                note=_RESNEXT_R50_NOTE,
            ),
        ),
        torchvision="resnet50",
        defaults={},
        plan=plan,
    )
)

for _depth, _macs, _note in ((101, "7.6B", _R101_NOTE), (152, "11.3B", _R152_NOTE)):
    register(
        ModelInfo(
            name=f"resnet{_depth}",
            label=f"ResNet-{_depth}",
            family="resnet",
            spec=ResNetSpec,
            paper=PAPER,
            url=URL,
            explanation=_EXPLANATION + f" ResNet-{_depth} has ResNet-50's bottlenecks with "
            f"{BLOCKS_PER_STAGE[_depth][2]} blocks in its third stage.",
            published=Published.of(_TABLE1, macs=_macs, resolution=224, fields=_V1, note=_note),
            torchvision=f"resnet{_depth}",
            defaults={"depth": _depth},
            plan=plan,
        )
    )

register(
    ModelInfo(
        name="resnext50_32x4d",
        label="ResNeXt-50 (32x4d)",
        family="resnet",
        spec=ResNetSpec,
        paper=RESNEXT_PAPER,
        url=RESNEXT_URL,
        explanation=(
            "ResNet-50 with its bottleneck 3x3 split into 32 groups (the cardinality) of 4 channels at 64 planes, "
            "8 at 128 and so on: 128 channels where ResNet-50 has 64, at about the same parameters and MACs, "
            "because a grouped 3x3 costs 1/32 of a full one. More groups beat going deeper or wider at the same "
            "cost (the paper's main result); RegNet's blocks are this block with a fixed group width."
        ),
        published=Published.of(_RESNEXT_TABLES, params="25.0M", macs="4.2B", top1=77.8, resolution=224),
        torchvision="resnext50_32x4d",
        defaults={"groups": 32, "width_per_group": 4},
        plan=plan,
    )
)
