"""MobileNetV4 (Qin et al. 2024): MNv4-Conv-S as timm builds it (``timm.models.mobilenetv3._gen_mobilenet_v4``,
variant ``mobilenetv4_conv_small``), one stage row per row of its architecture definition, with timm's width
multiplier."""

from __future__ import annotations

from dataclasses import dataclass

from effnets.blocks._layers import make_divisible
from effnets.blocks.uib import VARIANT_LABELS, UIBSpec, UniversalInvertedBottleneck
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
from effnets.models.network import Block, Conv, Plan, PooledConvClassifier, Stage
from effnets.spec import param

PAPER = "Qin et al. 2024, MobileNetV4: Universal Models for the Mobile Ecosystem"
URL = "https://arxiv.org/abs/2404.10518"
TIMM_RESULTS = (
    "timm's ImageNet evaluation, huggingface/pytorch-image-models results/results-imagenet.csv (commit 4e5207c, "
    "2025-10-30)"
)
DIVISOR = 8  # timm's round_channels: make_divisible(channels x multiplier, 8), never losing more than 10 %

register_family(
    FamilyInfo(
        name="mobilenet_v4",
        label="MobileNetV4",
        color="#d6616b",
        paper=PAPER,
        url=URL,
        order=23,
        scaling=(
            "Width multiplier (timm's channel_multiplier): every block's output width x alpha, rounded to a "
            "multiple of 8 (never losing more than 10 %), each expanded width re-derived from the rounded input; "
            "the stem stays 32 wide below alpha = 1 and the 1280-wide conv after the pool never scales; and input "
            "resolution."
        ),
    )
)


@dataclass(frozen=True)
class Row:
    """One row of the architecture: a plain conv (``conv``: conv -> BN -> ReLU, timm's ``cn``) or a UIB (timm's
    ``uir``) with its start and middle depthwise kernels (0: none), expansion, output width, stride and repeats."""

    block: str
    out: int
    stride: int = 1
    kernel: int = 0
    start_kernel: int = 0
    expand: float = 1.0
    repeats: int = 1

    @property
    def variant(self) -> str:
        return {(True, True): "extra_dw", (False, True): "ib", (True, False): "convnext", (False, False): "ffn"}[
            (bool(self.start_kernel), bool(self.kernel))
        ]


STEM = 32
# timm's arch_def for 'mobilenetv4_conv_small' (the paper's MNv4-Conv-S table), stage by stage.
CONV_SMALL: tuple[Row, ...] = (
    Row("conv", 32, 2, kernel=3),
    Row("conv", 32, 1, kernel=1),
    Row("conv", 96, 2, kernel=3),
    Row("conv", 64, 1, kernel=1),
    Row("uib", 96, 2, kernel=5, start_kernel=5, expand=3.0),
    Row("uib", 96, 1, kernel=3, expand=2.0, repeats=4),
    Row("uib", 96, 1, start_kernel=3, expand=4.0),
    Row("uib", 128, 2, kernel=3, start_kernel=3, expand=6.0),
    Row("uib", 128, 1, kernel=5, start_kernel=5, expand=4.0),
    Row("uib", 128, 1, kernel=5, expand=4.0),
    Row("uib", 128, 1, kernel=5, expand=3.0),
    Row("uib", 128, 1, kernel=3, expand=4.0, repeats=2),
    Row("conv", 960, 1, kernel=1),
)
HEAD_CONV = 1280  # timm's num_features: the 1x1 conv after the pool, never scaled


@dataclass(frozen=True)
class MobileNetV4Spec(ModelSpec):
    """MobileNetV4 conv small: the architecture table with width multiplier alpha and resolution."""

    width_mult: float = param(
        1.0,
        lo=0.1,
        hi=3.0,
        step=0.05,
        help="alpha: every block's output width x alpha, rounded to a multiple of 8 (timm's 0.35 and 0.5); the "
        "stem stays 32 below 1, the 1280-wide head conv always.",
        label="width multiplier alpha",
    )
    resolution: int = resolution_param(224)
    dropout: float = dropout_param(0.0)
    num_classes: int = num_classes_param()


def _width(channels: int, alpha: float) -> int:
    """timm's ``round_channels(channels, alpha)``: make_divisible(channels x alpha, 8)."""
    return make_divisible(channels * alpha, DIVISOR)


def plan(spec: MobileNetV4Spec) -> Plan:
    """conv3x3 s2 32 -> conv rows (3x3 s2, 1x1) x 2 -> UIB rows (ExtraDW, IB, ConvNeXt-like) -> conv1x1 960 -> pool
    -> conv1x1 1280 (BN, ReLU) -> dropout -> FC.

    One stage row per row of timm's architecture definition (a row with repeats holds that many blocks); widths x
    alpha rounded to multiples of 8 as timm does, the stem only from alpha = 1 up.
    """
    a = spec.width_mult
    stem = STEM if a < 1.0 else _width(STEM, a)
    stages = [Stage("stem", "Conv2d 3x3", (Conv(3, stem, 3, 2, label="3x3 conv s2 (stem)"),), 3, 2)]
    c_in = stem
    for i, row in enumerate(CONV_SMALL):
        c_out = _width(row.out, a)
        name = f"stage{i + 2}"
        k, s = row.kernel, row.stride
        if row.block == "conv":
            label = f"{k}x{k} conv" + (f" s{s}" if s > 1 else "")
            stages.append(Stage(name, f"Conv2d {k}x{k}", (Conv(c_in, c_out, k, s, label=label),), k, s))
            c_in = c_out
            continue
        layers = []
        for r in range(row.repeats):
            block = UIBSpec(
                in_channels=c_in,
                out_channels=c_out,
                variant=row.variant,
                start_kernel_size=row.start_kernel or 3,
                kernel_size=row.kernel or 3,
                stride=s if r == 0 else 1,
                expand_ratio=row.expand,
            )
            layers.append(Block(UniversalInvertedBottleneck, block))
            c_in = c_out
        kernels = "x".join(str(k) for k in (row.start_kernel, row.kernel) if k) or "1x1"
        op = f"UIB {VARIANT_LABELS[row.variant]} {kernels}, e{row.expand:g}"
        stages.append(Stage(name, op, tuple(layers), row.kernel or row.start_kernel or 1, s, row.expand))
    stages.append(
        Stage(
            "head",
            f"AvgPool, Conv2d 1x1 {HEAD_CONV}, FC",
            (PooledConvClassifier(c_in, HEAD_CONV, spec.num_classes, spec.dropout, norm=True),),
            None,
            1,
            repeats=1,
        )
    )
    return Plan(tuple(stages), (3, spec.resolution, spec.resolution))


_EXPLANATION = (
    "The conv-only small model of MobileNetV4, found by a two-stage architecture search over one block, the "
    "universal inverted bottleneck: each layer picks whether it has a depthwise conv before the 1x1 expansion, "
    "after it, both (ExtraDW) or neither (FFN). MNv4-Conv-S starts with plain 3x3 s2 and 1x1 convs at high "
    "resolution (fast on every accelerator), downsamples with ExtraDW blocks, uses inverted bottlenecks and a "
    "ConvNeXt-like block in between, and moves its widest 1x1 conv (960 -> 1280) after the pool as MobileNetV3 "
    "did, with a batch norm there. No SE and no hard-swish: ReLU everywhere, so that it runs well on DSPs and "
    "NPUs too, the 'universal' of the title."
)

register(
    ModelInfo(
        name="mobilenetv4_conv_small",
        label="MobileNetV4 Conv-S",
        family="mobilenet_v4",
        spec=MobileNetV4Spec,
        paper=PAPER,
        url=URL,
        explanation=_EXPLANATION,
        published=Published.of(
            f"{PAPER}, the ImageNet-1K classification results table: MNv4-Conv-S",
            params="3.8M",
            macs="0.2G",
            top1=73.8,
            resolution=224,
            note="timm's mobilenetv4_conv_small builds the same layers: 3,774,024 parameters, 186.0M MACs at 224.",
        ),
        also_published=(
            Published.of(
                f"{TIMM_RESULTS}: mobilenetv4_conv_small.e2400_r224_in1k at 224 (crop 0.875)",
                params="3.77M",
                top1=73.756,
                resolution=224,
                note="timm's own training (2400 epochs); 74.644 at its 256 test size.",
            ),
            Published.of(
                f"{TIMM_RESULTS}: mobilenetv4_conv_small_050.e3000_r224_in1k at 224 (crop 0.875)",
                params="2.24M",
                top1=64.778,
                resolution=224,
                fields={"width_mult": 0.5},
                note="timm's width-0.5 model (channel_multiplier 0.5; the stem stays 32).",
            ),
        ),
        torchvision=None,
        defaults={"width_mult": 1.0},
        plan=plan,
    )
)
