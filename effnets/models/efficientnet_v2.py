"""EfficientNetV2-S/M/L (Tan & Le 2021): Fused-MBConv in the early stages, MBConv with SE in the later ones, each size
from its own stage table (paper Table 4 for S; google/automl efficientnetv2/effnetv2_configs.py for M and L)."""

from __future__ import annotations

from dataclasses import dataclass

from effnets.blocks.fused_mbconv import FusedMBConv, FusedMBConvSpec
from effnets.blocks.mbconv import MBConv, MBConvSpec
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
from effnets.models.scaling import round_filters, round_repeats
from effnets.spec import param

PAPER = "Tan & Le 2021, EfficientNetV2: Smaller Models and Faster Training"
URL = "https://arxiv.org/abs/2104.00298"
AUTOML = "google/automl efficientnetv2/README.md (official code and checkpoints)"

register_family(
    FamilyInfo(
        name="efficientnet_v2",
        label="EfficientNetV2-S/M/L",
        color="#1b9e77",
        paper=PAPER,
        url=URL,
        order=15,
        scaling=(
            "Non-uniform scaling: S is searched; M and L scale it up by compound scaling with more layers added to "
            "the later stages and the largest image size capped at 480, so each has its own stage table rather than "
            "one multiplier. All are trained with progressive learning: image size and regularisation rise together "
            "over training."
        ),
    )
)


@dataclass(frozen=True)
class V2Row:
    """One row of a stage table (paper Table 4): Fused-MBConv{t} or MBConv{t}, k{kernel}, first stride, SE ratio."""

    fused: bool
    expand_ratio: float
    kernel: int
    stride: int
    channels: int
    repeats: int
    se_ratio: float = 0.0


HEAD_CHANNELS = 1280
# (stem channels, rows): torchvision's _efficientnet_conf, the same tables as google/automl effnetv2_configs.py.
STAGE_TABLES: dict[str, tuple[int, tuple[V2Row, ...]]] = {
    "s": (
        24,
        (
            V2Row(True, 1, 3, 1, 24, 2),
            V2Row(True, 4, 3, 2, 48, 4),
            V2Row(True, 4, 3, 2, 64, 4),
            V2Row(False, 4, 3, 2, 128, 6, 0.25),
            V2Row(False, 6, 3, 1, 160, 9, 0.25),
            V2Row(False, 6, 3, 2, 256, 15, 0.25),
        ),
    ),
    "m": (
        24,
        (
            V2Row(True, 1, 3, 1, 24, 3),
            V2Row(True, 4, 3, 2, 48, 5),
            V2Row(True, 4, 3, 2, 80, 5),
            V2Row(False, 4, 3, 2, 160, 7, 0.25),
            V2Row(False, 6, 3, 1, 176, 14, 0.25),
            V2Row(False, 6, 3, 2, 304, 18, 0.25),
            V2Row(False, 6, 3, 1, 512, 5, 0.25),
        ),
    ),
    "l": (
        32,
        (
            V2Row(True, 1, 3, 1, 32, 4),
            V2Row(True, 4, 3, 2, 64, 7),
            V2Row(True, 4, 3, 2, 96, 7),
            V2Row(False, 4, 3, 2, 192, 10, 0.25),
            V2Row(False, 6, 3, 1, 224, 19, 0.25),
            V2Row(False, 6, 3, 2, 384, 25, 0.25),
            V2Row(False, 6, 3, 1, 640, 7, 0.25),
        ),
    ),
}


@dataclass(frozen=True)
class EfficientNetV2Spec(ModelSpec):
    """EfficientNetV2: one of the S/M/L stage tables, optionally scaled by width and depth like the official code."""

    variant: str = param(
        "s",
        choices=tuple(STAGE_TABLES),
        help="Which stage table: S (searched), M or L (S's rows with more layers, mostly in the later stages).",
        label="stage table",
    )
    width_mult: float = param(
        1.0,
        lo=0.05,
        hi=4.0,
        step=0.05,
        help="Every layer's channels x w, rounded to a multiple of 8 (the official code's width coefficient; "
        "1.0 for S, M and L).",
        label="width multiplier w",
    )
    depth_mult: float = param(
        1.0,
        lo=0.1,
        hi=6.0,
        step=0.05,
        help="Each stage's number of blocks x d, rounded up (the official code's depth coefficient; 1.0 for S/M/L).",
        label="depth multiplier d",
    )
    resolution: int = resolution_param(384)
    dropout: float = dropout_param(0.2)
    bn_eps: float = param(
        1e-3,
        lo=1e-6,
        hi=1e-2,
        help="BatchNorm epsilon (1e-3 in torchvision's and the official checkpoints).",
        advanced=True,
    )
    num_classes: int = num_classes_param()


def _operator(row: V2Row) -> str:
    name = "Fused-MBConv" if row.fused else "MBConv"
    se = f", SE{row.se_ratio:g}" if row.se_ratio else ""
    return f"{name}{row.expand_ratio:g}, k{row.kernel}x{row.kernel}{se}"


def plan(spec: EfficientNetV2Spec) -> Plan:
    """Stem conv3x3 s2 -> 3 Fused-MBConv stages -> 3 or 4 MBConv+SE stages -> conv1x1 1280 -> pool -> dropout -> FC.

    Every conv is followed by BN and SiLU except the linear 1x1 projections. Width and depth multipliers (1.0 in the
    released S/M/L) round like EfficientNet's: channels to multiples of 8, repeats up.
    """
    w, d, eps = spec.width_mult, spec.depth_mult, spec.bn_eps
    stem_channels, rows = STAGE_TABLES[spec.variant]
    stem = round_filters(stem_channels, w)
    head = round_filters(HEAD_CHANNELS, w)
    stages = [
        Stage(
            "stem", "Conv3x3", (Conv(3, stem, 3, 2, activation="silu", bn_eps=eps, label="3x3 conv s2 (stem)"),), 3, 2
        )
    ]
    c_in = stem
    for i, row in enumerate(rows):
        c_out = round_filters(row.channels, w)
        blocks = []
        for j in range(round_repeats(row.repeats, d)):
            stride = row.stride if j == 0 else 1
            if row.fused:
                s = FusedMBConvSpec(
                    in_channels=c_in,
                    out_channels=c_out,
                    kernel_size=row.kernel,
                    stride=stride,
                    expand_ratio=row.expand_ratio,
                    se_ratio=row.se_ratio,
                    bn_eps=eps,
                )
                blocks.append(Block(FusedMBConv, s))
            else:
                s = MBConvSpec(
                    in_channels=c_in,
                    out_channels=c_out,
                    kernel_size=row.kernel,
                    stride=stride,
                    expand_ratio=row.expand_ratio,
                    se_ratio=row.se_ratio,
                    activation="silu",
                    bn_eps=eps,
                )
                blocks.append(Block(MBConv, s))
            c_in = c_out
        stages.append(Stage(f"stage{i + 2}", _operator(row), tuple(blocks), row.kernel, row.stride, row.expand_ratio))
    stages.append(
        Stage(
            "head",
            "Conv1x1 & Pooling & FC",
            (
                Conv(c_in, head, 1, activation="silu", bn_eps=eps, label="1x1 conv (head)"),
                Classifier(head, spec.num_classes, spec.dropout),
            ),
            1,
            1,
            repeats=1,
        )
    )
    return Plan(tuple(stages), (3, spec.resolution, spec.resolution))


# Paper Table 7 and the official README, against the exact counts of the tables above at the eval sizes (384, 480,
# 480). torchvision builds the same tables (its L weights are the official checkpoint, loaded into these layers):
#   S: 21,458,488 params, 8.366B MACs at 384 (2.850B at 224) | paper 22M, 8.8B | README 21.5M, 8.4B
#   M: 54,139,356 params, 24.582B at 480 | paper 54M, 24B | README 54.1M, 24.7B
#   L: 118,515,272 params, 56.080B at 480 | paper 120M, 53B | README 119.5M, 56.3B
# The paper's MACs are above the network's for S and below for M and L, so neither a counting rule nor another
# resolution explains them. The README's MACs exceed conv + FC by 0.03B / 0.12B / 0.22B, about the per-element
# batch-norm and element-wise (SE gate, residual) work (0.05B / 0.13B / 0.23B): its profiler seems to count some of
# it. Its L parameter count (119.5M, 0.98M more) is not explained by the architecture.
_PAPER_NOTE = (
    "Where the paper's rounded figures miss the exact counts, they do not follow from the network it released "
    "(torchvision builds the same stage tables and loads the official L checkpoint into them): its MACs are above "
    "the exact count for S and below it for M and L, so no counting rule or resolution explains them."
)
_TRAP_NOTE = (
    " torchvision's weight metadata (_ops {ops}) is GMACs at its {res} px eval crop, not at 224 px, where the same "
    "network has {macs224} MACs."
)
_README_NOTE = (
    "The README's FLOPs exceed the conv + FC MACs by about the network's per-element batch-norm and element-wise "
    "(SE gate, residual) work ({extra}), so its profiler seems to count some of it."
)
_README_L_PARAMS = " Its parameter count (119.5M against 118,515,272) is not explained by the architecture."
# name: (label, resolution, dropout, paper (params, MACs, top-1, mismatch), README (params, MACs, top-1, mismatch))
_PRESETS = {
    "s": ("EfficientNetV2-S", 384, 0.2, ("22M", "8.8B", 83.9, ("params", "macs")), ("21.5M", "8.4B", 83.9, ())),
    "m": ("EfficientNetV2-M", 480, 0.3, ("54M", "24B", 85.1, ("macs",)), ("54.1M", "24.7B", 85.2, ("macs",))),
    "l": (
        "EfficientNetV2-L",
        480,
        0.4,
        ("120M", "53B", 85.7, ("params", "macs")),
        ("119.5M", "56.3B", 85.7, ("params", "macs")),
    ),
}
_MACS_224 = {"s": "2.850B", "m": "5.362B", "l": "12.231B"}  # the exact count at 224 px (a test checks it)
_OPS = {"s": "8.366", "m": "24.582", "l": "56.08"}
_README_NOTES = {
    "m": _README_NOTE.format(extra="24.7B - 24.58B = 0.12B against 0.13B"),
    "l": _README_NOTE.format(extra="56.3B - 56.08B = 0.22B against 0.23B") + _README_L_PARAMS,
}

for _v, (_label, _res, _drop, _paper, _readme) in _PRESETS.items():
    register(
        ModelInfo(
            name=f"efficientnet_v2_{_v}",
            label=_label,
            family="efficientnet_v2",
            spec=EfficientNetV2Spec,
            paper=PAPER,
            url=URL,
            explanation=(
                "EfficientNetV2 was searched for training speed and parameter efficiency, not FLOPs. Its early, "
                "high-resolution stages use Fused-MBConv (one full 3x3 conv instead of a 1x1 expand and a depthwise "
                "3x3: more MACs, but faster on accelerators), with small expansion ratios and no SE; the later "
                "stages keep MBConv with SE. M and L scale S up non-uniformly: more layers go into the later stages "
                "and the image size stops at 480, so each size has its own table. All three are trained with "
                "progressive learning (small images and weak regularisation first, both rising over training)."
            ),
            published=Published.of(
                f"{PAPER}, Table 7",
                params=_paper[0],
                macs=_paper[1],
                top1=_paper[2],
                resolution=_res,
                mismatch=_paper[3],
                note=_PAPER_NOTE + _TRAP_NOTE.format(ops=_OPS[_v], res=_res, macs224=_MACS_224[_v]),
            ),
            also_published=(
                Published.of(
                    f"{AUTOML}, ImageNet1K table",
                    params=_readme[0],
                    macs=_readme[1],
                    top1=_readme[2],
                    resolution=_res,
                    mismatch=_readme[3],
                    note=_README_NOTES.get(_v, ""),
                ),
            ),
            torchvision=f"efficientnet_v2_{_v}",
            defaults={"variant": _v, "resolution": _res, "dropout": _drop},
            plan=plan,
        )
    )
