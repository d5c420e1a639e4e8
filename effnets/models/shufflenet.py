"""ShuffleNet V1 (Zhang et al. 2018; megvii-model/ShuffleNet-Series) and ShuffleNet V2 (Ma et al. 2018; the layout of
torchvision.models.shufflenet_v2_*)."""

from __future__ import annotations

from dataclasses import dataclass

from effnets.blocks.shuffle_v1 import ShuffleV1Spec, ShuffleV1Unit
from effnets.blocks.shuffle_v2 import ShuffleV2Spec, ShuffleV2Unit
from effnets.models import (
    MODELS,
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
from effnets.spec import param

V1_PAPER = "Zhang et al. 2018, ShuffleNet: An Extremely Efficient Convolutional Neural Network for Mobile Devices"
V1_URL = "https://arxiv.org/abs/1707.01083"
V2_PAPER = "Ma et al. 2018, ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design"
V2_URL = "https://arxiv.org/abs/1807.11164"

register_family(
    FamilyInfo(
        name="shufflenet_v1",
        label="ShuffleNet V1",
        color="#8c564b",
        paper=V1_PAPER,
        url=V1_URL,
        order=30,
        scaling=(
            "The group count g sets the widths at a fixed budget (more groups, wider channels); a scale factor s "
            "multiplies them (only s = 1 is registered here)."
        ),
    )
)
register_family(
    FamilyInfo(
        name="shufflenet_v2",
        label="ShuffleNet V2",
        color="#e377c2",
        paper=V2_PAPER,
        url=V2_URL,
        order=31,
        scaling=("Width presets 0.5x, 1.0x, 1.5x, 2.0x (each stage's channels from the paper's Table 5)."),
    )
)
MEGVII_V1 = "megvii-model/ShuffleNet-Series ShuffleNetV1/README.md (official code)"
MEGVII_V2 = "megvii-model/ShuffleNet-Series ShuffleNetV2/README.md (official code)"

STEM_CHANNELS = 24
STAGE_REPEATS = (4, 8, 4)
# ShuffleNet 1x output channels of stages 2-4 for each number of groups g (paper Table 1): more groups make the
# 1x1 convs cheaper, which buys wider layers at about the same cost.
V1_WIDTHS: dict[int, tuple[int, int, int]] = {
    1: (144, 288, 576),
    2: (200, 400, 800),
    3: (240, 480, 960),
    4: (272, 544, 1088),
    8: (384, 768, 1536),
}
# torchvision.models.shufflenet_v2_x*: stages 2-4 and conv5.
V2_WIDTHS: dict[float, tuple[int, int, int, int]] = {
    0.5: (48, 96, 192, 1024),
    1.0: (116, 232, 464, 1024),
    1.5: (176, 352, 704, 1024),
    2.0: (244, 488, 976, 2048),
}


def shufflenet_v1_widths(groups: int) -> tuple[int, int, int, int]:
    """ShuffleNet V1 1x widths (stem, stage 2, stage 3, stage 4) for ``groups`` g (paper Table 1)."""
    if groups not in V1_WIDTHS:
        raise ValueError(f"groups={groups} is not allowed: choose one of {', '.join(map(str, V1_WIDTHS))}")
    return (STEM_CHANNELS, *V1_WIDTHS[groups])


def shufflenet_v1_groups_sweep(resolution: int = 224) -> list[dict]:
    """One row per g in (1, 2, 3, 4, 8): stage widths, params and MACs (paper Table 1: at about equal cost, more
    groups allow more channels)."""
    info = MODELS["shufflenet_v1"]
    rows = []
    for g in V1_WIDTHS:
        c = info.cost(info.make_spec(groups=g, resolution=resolution), record_steps=False)
        rows.append({"groups": g, "widths": shufflenet_v1_widths(g), "params": c.params, "macs": c.macs})
    return rows


@dataclass(frozen=True)
class ShuffleNetV1Spec(ModelSpec):
    """ShuffleNet V1 1x: the number of groups g picks the stage widths (paper Table 1)."""

    groups: int = param(
        3,
        choices=(1, 2, 3, 4, 8),
        help="g: groups of the 1x1 convs. More groups = cheaper 1x1 convs = wider stages at equal cost.",
        label="groups g",
    )
    resolution: int = resolution_param(224)
    num_classes: int = num_classes_param()


@dataclass(frozen=True)
class ShuffleNetV2Spec(ModelSpec):
    """ShuffleNet V2: one of the paper's four sizes."""

    width_mult: float = param(
        1.0,
        choices=(0.5, 1.0, 1.5, 2.0),
        help="The paper's sizes 0.5x, 1x, 1.5x and 2x (fixed channel tables, not a continuous multiplier).",
        label="size",
    )
    resolution: int = resolution_param(224)
    num_classes: int = num_classes_param()


def _stem() -> Stage:
    """Both versions' stem: 3x3 conv s2 to 24 channels, then 3x3 max-pool s2."""
    return Stage(
        "stem",
        "Conv3x3 & MaxPool",
        (Conv(3, STEM_CHANNELS, 3, 2, label="3x3 conv s2 (stem)"), Pool(3, 2, 1)),
        3,
        2,
        repeats=1,
    )


def plan_v1(spec: ShuffleNetV1Spec) -> Plan:
    """conv3x3 s2 24 -> maxpool 3x3 s2 -> 3 stages of 4/8/4 ShuffleNet units -> pool -> FC (no bias, as the official
    code). The first unit of each stage has stride 2; the first 1x1 of stage 2 is not grouped."""
    g = spec.groups
    stages = [_stem()]
    c_in = STEM_CHANNELS
    for i, (c_out, n) in enumerate(zip(V1_WIDTHS[g], STAGE_REPEATS, strict=True)):
        blocks = []
        for j in range(n):
            s = ShuffleV1Spec(
                in_channels=c_in,
                out_channels=c_out,
                groups=g,
                stride=2 if j == 0 else 1,
                grouped_first=not (i == 0 and j == 0),
            )
            blocks.append(Block(ShuffleV1Unit, s))
            c_in = c_out
        stages.append(Stage(f"stage{i + 2}", f"ShuffleNet unit g={g}", tuple(blocks), 3, 2))
    stages.append(
        Stage("head", "Pooling & FC", (Classifier(c_in, spec.num_classes, 0.0, bias=False),), None, 1, repeats=1)
    )
    return Plan(tuple(stages), (3, spec.resolution, spec.resolution))


def plan_v2(spec: ShuffleNetV2Spec) -> Plan:
    """conv3x3 s2 24 -> maxpool 3x3 s2 -> 3 stages of 4/8/4 ShuffleNet V2 units -> conv1x1 -> pool -> FC."""
    *widths, c5 = V2_WIDTHS[spec.width_mult]
    stages = [_stem()]
    c_in = STEM_CHANNELS
    for i, (c_out, n) in enumerate(zip(widths, STAGE_REPEATS, strict=True)):
        blocks = []
        for j in range(n):
            blocks.append(
                Block(ShuffleV2Unit, ShuffleV2Spec(in_channels=c_in, out_channels=c_out, stride=2 if j == 0 else 1))
            )
            c_in = c_out
        stages.append(Stage(f"stage{i + 2}", "ShuffleNet V2 unit", tuple(blocks), 3, 2))
    stages.append(
        Stage(
            "head",
            "Conv1x1 & Pooling & FC",
            (Conv(c_in, c5, 1, label="1x1 conv5"), Classifier(c5, spec.num_classes)),
            1,
            1,
            repeats=1,
        )
    )
    return Plan(tuple(stages), (3, spec.resolution, spec.resolution))


# Paper Table 1 gives the 1x complexity per g in MFLOPs (= MACs). Its five figures are the network's conv MACs
# without the final FC layer (g = 2: 140.04M; with the FC 140.84M would round to 141M), so they are compared that way.
# The official code's README gives params, FLOPs and top-1 error for the g = 3 and g = 8 networks it released.
_V1_TABLE1 = {1: "143M", 2: "140M", 4: "133M", 8: "137M"}
_V1_T1_NOTE = "Table 1 counts the convolutions only, not the final FC layer."
register(
    ModelInfo(
        name="shufflenet_v1",
        label="ShuffleNet V1 1x",
        family="shufflenet_v1",
        spec=ShuffleNetV1Spec,
        paper=V1_PAPER,
        url=V1_URL,
        explanation=(
            "In a small depthwise-separable network nearly all MACs are in the dense 1x1 convs. ShuffleNet makes "
            "them group convs (g times cheaper) and shuffles channels between groups so information still mixes. "
            "The saved budget goes into wider stages: g = 8 has 384 channels where g = 1 has 144, at the same cost. "
            "Downsampling units concatenate an average-pooled shortcut instead of adding it."
        ),
        published=Published.of(
            f"{V1_PAPER}, Table 1 (ShuffleNet 1x, g = 3)",
            macs="137M",
            resolution=224,
            macs_scope="no_fc",
            note=_V1_T1_NOTE,
        ),
        also_published=(
            *(
                Published.of(
                    f"{V1_PAPER}, Table 1 (ShuffleNet 1x, g = {g})",
                    macs=m,
                    resolution=224,
                    fields={"groups": g},
                    macs_scope="no_fc",
                    note=_V1_T1_NOTE,
                )
                for g, m in _V1_TABLE1.items()
            ),
            Published.of(
                f"{MEGVII_V1}, 1.0x group=3",
                params="1.9M",
                macs="138M",
                top1=67.8,
                resolution=224,
                mismatch=("macs",),
                note=(
                    "The official network (ShuffleNetV1/network.py, blocks.py) is ours layer for layer; its MACs are "
                    "137.46M with the FC (136.50M without), so the README's 138M is rounded up. Its g = 8 figure "
                    "(138M for 138.37M) agrees."
                ),
            ),
            Published.of(
                f"{MEGVII_V1}, 1.0x group=8",
                params="2.4M",
                macs="138M",
                top1=68.0,
                resolution=224,
                fields={"groups": 8},
            ),
        ),
        torchvision=None,
        defaults={},
        plan=plan_v1,
    )
)

# The official code (ShuffleNetV2/blocks.py) differs from torchvision's network, which we build, in one unit: the
# first unit of stage 2 (input 24 channels) keeps 24 channels in its projection branch and computes C - 24 in its
# main branch, where torchvision's computes C/2 in each. That adds 0.91M MACs at 1x, 3.21M at 1.5x and 7.53M at 2x
# (145.81M, 298.97M and 590.78M: the README's 146M, 299M and 591M). At 0.5x (C/2 = 24) the two are identical and the
# count is 40.48M: the README's 41M is not explained by the architecture.
_V2_NOTE = (
    "The official code's first unit of stage 2 splits its 24 input channels differently from torchvision's (24 + "
    "C-24 instead of C/2 + C/2 channels), which adds 0.91M MACs at 1x, 3.21M at 1.5x and 7.53M at 2x; with that unit "
    "the counts round to the README's figures. At 0.5x the units are identical (40.48M vs 41M: unexplained)."
)
_V2_README = {
    0.5: ("1.4M", "41M", 61.1),
    1.0: ("2.3M", "146M", 69.4),
    1.5: ("3.5M", "299M", 72.6),
    2.0: ("7.4M", "591M", 75.0),
}
for _s, (_params, _macs, _top1) in _V2_README.items():
    _tag = f"x{_s:.1f}".replace(".", "_")
    register(
        ModelInfo(
            name=f"shufflenet_v2_{_tag}",
            label=f"ShuffleNet V2 {_s:g}x",
            family="shufflenet_v2",
            spec=ShuffleNetV2Spec,
            paper=V2_PAPER,
            url=V2_URL,
            explanation=(
                "Designed from measured speed, not MACs: equal input and output widths (G1), no group convs (G2), "
                "few branches (G3) and few element-wise ops (G4). Each unit splits the channels in half, passes one "
                "half through untouched, transforms the other with dense 1x1 convs around a depthwise 3x3, "
                "concatenates and shuffles."
            ),
            published=Published.of(
                f"{MEGVII_V2} ({_s:g}x)",
                params=_params,
                macs=_macs,
                top1=_top1,
                resolution=224,
                mismatch=("macs",),
                note=_V2_NOTE,
            ),
            torchvision=f"shufflenet_v2_{_tag}",
            defaults={"width_mult": _s},
            plan=plan_v2,
        )
    )
