"""EfficientNet B0-B7 (Tan & Le 2019) and EfficientNet-Lite0-4 (tensorflow/tpu efficientnet/lite), from B0's stage
table and the compound-scaling rules."""

from __future__ import annotations

import math
from dataclasses import dataclass

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
from effnets.models.scaling import compound_coefficients, round_filters, round_repeats
from effnets.spec import param

PAPER = "Tan & Le 2019, EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks"
URL = "https://arxiv.org/abs/1905.11946"
LITE_SOURCE = "tensorflow/tpu models/official/efficientnet/lite/README.md"

register_family(
    FamilyInfo(
        name="efficientnet",
        label="EfficientNet B0-B7",
        color="#1f77b4",
        paper=PAPER,
        url=URL,
        order=10,
        scaling=(
            "Compound scaling: depth alpha^phi, width beta^phi, resolution gamma^phi (alpha 1.2, beta 1.1, gamma "
            "1.15, so alpha beta^2 gamma^2 is about 2); widths rounded to multiples of 8, repeats rounded up. The "
            "released B1-B7 round phi's resolutions and coefficients by hand."
        ),
    )
)
register_family(
    FamilyInfo(
        name="efficientnet_lite",
        label="EfficientNet-Lite0-4",
        color="#ff7f0e",
        paper=f"{LITE_SOURCE} (Google 2020)",
        url="https://github.com/tensorflow/tpu/tree/master/models/official/efficientnet/lite",
        order=11,
        scaling=(
            "B0's width and depth coefficients without SE and with ReLU6; the stem (32) and head (1280) widths "
            "and the first and last stages' repeats are never scaled."
        ),
    )
)


@dataclass(frozen=True)
class MBConvRow:
    """One row of B0's stage table (paper Table 1): MBConv{expand_ratio}, k{kernel}, stride of its first block."""

    expand_ratio: float
    kernel: int
    stride: int
    channels: int
    repeats: int


STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
B0_STAGES: tuple[MBConvRow, ...] = (
    MBConvRow(1, 3, 1, 16, 1),
    MBConvRow(6, 3, 2, 24, 2),
    MBConvRow(6, 5, 2, 40, 2),
    MBConvRow(6, 3, 2, 80, 3),
    MBConvRow(6, 5, 1, 112, 3),
    MBConvRow(6, 5, 2, 192, 4),
    MBConvRow(6, 3, 1, 320, 1),
)

# (width_mult, depth_mult, resolution, dropout) as released (tensorflow/tpu efficientnet_builder.py).
B_COEFFICIENTS: dict[int, tuple[float, float, int, float]] = {
    0: (1.0, 1.0, 224, 0.2),
    1: (1.0, 1.1, 240, 0.2),
    2: (1.1, 1.2, 260, 0.3),
    3: (1.2, 1.4, 300, 0.3),
    4: (1.4, 1.8, 380, 0.4),
    5: (1.6, 2.2, 456, 0.4),
    6: (1.8, 2.6, 528, 0.5),
    7: (2.0, 3.1, 600, 0.5),
}
# efficientnet_lite_builder.py
LITE_COEFFICIENTS: dict[int, tuple[float, float, int, float]] = {
    0: (1.0, 1.0, 224, 0.2),
    1: (1.0, 1.1, 240, 0.2),
    2: (1.1, 1.2, 260, 0.3),
    3: (1.2, 1.4, 280, 0.3),
    4: (1.4, 1.8, 300, 0.3),
}


def _width(default: float = 1.0):
    return param(
        default,
        lo=0.05,
        hi=4.0,
        step=0.05,
        help="w = beta^phi: every layer's channels x w, rounded to a multiple of 8 (never losing more than 10 %).",
        label="width multiplier w",
    )


def _depth(default: float = 1.0):
    return param(
        default,
        lo=0.1,
        hi=6.0,
        step=0.05,
        help="d = alpha^phi: each stage's number of blocks x d, rounded up (ceil).",
        label="depth multiplier d",
    )


_TF_PADDING_HELP = (
    "TensorFlow 'SAME' padding for the stride-2 convs (0 top/left, 1 bottom/right on even inputs), as the TF-trained "
    "checkpoints expect; symmetric padding computes a different function with the same cost."
)


@dataclass(frozen=True)
class EfficientNetSpec(ModelSpec):
    """EfficientNet B0-B7: B0's stage table scaled by width, depth and resolution (presets: released values)."""

    width_mult: float = _width()
    depth_mult: float = _depth()
    resolution: int = resolution_param(224)
    dropout: float = dropout_param(0.2)
    se_ratio: float = param(
        0.25,
        lo=0.0,
        hi=1.0,
        step=0.05,
        help="SE width = ratio x the block's INPUT channels (0 = no SE).",
        advanced=True,
    )
    bn_eps: float = param(1e-5, lo=1e-6, hi=1e-2, help="BatchNorm epsilon (1e-3 in the TF checkpoints).", advanced=True)
    tf_padding: bool = param(False, help=_TF_PADDING_HELP, advanced=True)
    num_classes: int = num_classes_param()


@dataclass(frozen=True)
class EfficientNetLiteSpec(ModelSpec):
    """EfficientNet-Lite0-4: no SE, ReLU6, fixed stem/head and first/last depths; TF padding for the checkpoints."""

    width_mult: float = _width()
    depth_mult: float = _depth()
    resolution: int = resolution_param(224)
    dropout: float = dropout_param(0.2)
    bn_eps: float = param(1e-3, lo=1e-6, hi=1e-2, help="BatchNorm epsilon (1e-3: the TF checkpoints').", advanced=True)
    tf_padding: bool = param(False, help=_TF_PADDING_HELP, advanced=True)
    num_classes: int = num_classes_param()


def plan(spec: EfficientNetSpec | EfficientNetLiteSpec) -> Plan:
    """Stem conv3x3 s2 -> 7 MBConv stages -> conv1x1 -> pool -> dropout -> FC, scaled by width and depth.

    Lite (tensorflow/tpu ``fix_head_stem``): no SE, ReLU6, stem 32 and head 1280 never width-scaled, and the first and
    last stages' repeats never depth-scaled.
    """
    lite = isinstance(spec, EfficientNetLiteSpec)
    w, d, eps = spec.width_mult, spec.depth_mult, spec.bn_eps
    act = "relu6" if lite else "silu"
    se = 0.0 if lite else spec.se_ratio  # type: ignore[union-attr]
    pad: int | str = "tf_same" if spec.tf_padding else -1
    stem = STEM_CHANNELS if lite else round_filters(STEM_CHANNELS, w)
    head = HEAD_CHANNELS if lite else round_filters(HEAD_CHANNELS, w)
    stages = [
        Stage(
            "stem", "Conv3x3", (Conv(3, stem, 3, 2, pad, activation=act, bn_eps=eps, label="3x3 conv s2 (stem)"),), 3, 2
        )
    ]
    c_in = stem
    last = len(B0_STAGES) - 1
    for i, row in enumerate(B0_STAGES):
        c_out = round_filters(row.channels, w)
        n = row.repeats if lite and i in (0, last) else round_repeats(row.repeats, d)
        blocks = []
        for j in range(n):
            s = MBConvSpec(
                in_channels=c_in,
                out_channels=c_out,
                kernel_size=row.kernel,
                stride=row.stride if j == 0 else 1,
                expand_ratio=row.expand_ratio,
                se_ratio=se,
                activation=act,
                bn_eps=eps,
                tf_padding=spec.tf_padding,
            )
            blocks.append(Block(MBConv, s))
            c_in = c_out
        op = f"MBConv{row.expand_ratio:g}, k{row.kernel}x{row.kernel}"
        stages.append(Stage(f"stage{i + 2}", op, tuple(blocks), row.kernel, row.stride, row.expand_ratio))
    stages.append(
        Stage(
            "head",
            "Conv1x1 & Pooling & FC",
            (
                Conv(c_in, head, 1, activation=act, bn_eps=eps, label="1x1 conv (head)"),
                Classifier(head, spec.num_classes, spec.dropout),
            ),
            1,
            1,
            repeats=1,
        )
    )
    return Plan(tuple(stages), (3, spec.resolution, spec.resolution))


def released_vs_compound(alpha: float = 1.2, beta: float = 1.1, gamma: float = 1.15) -> list[dict]:
    """B0-B7 as released beside alpha^phi, beta^phi, gamma^phi with phi = the model's number.

    The paper says B1-B7 come from scaling B0 "with different phi" (Eq. 3), but the released coefficients are not
    those powers for any single phi per model: B7's depth is 3.1 where 1.2^7 = 3.58, B1 has width 1.0 where
    1.1^1 = 1.1. Users keep asking why (tensorflow/tpu issues 390 and 738) and the repository gives no derivation. Each
    row therefore also gives the phi each released coefficient implies on its own (log(d) / log(alpha), ...): they
    disagree within a model, so the released numbers are rounded choices near the rule, not the rule.
    """
    rows = []
    for phi, (w, d, r, _) in B_COEFFICIENTS.items():
        cd, cw, cr = compound_coefficients(phi, alpha, beta, gamma)
        rows.append(
            {
                "model": f"efficientnet_b{phi}",
                "phi": phi,
                "width_released": w,
                "width_compound": cw,
                "width_implied_phi": math.log(w) / math.log(beta),
                "depth_released": d,
                "depth_compound": cd,
                "depth_implied_phi": math.log(d) / math.log(alpha),
                "resolution_released": r,
                "resolution_compound": 224 * cr,
                "resolution_implied_phi": math.log(r / 224) / math.log(gamma),
            }
        )
    return rows


# Paper Table 2 (arXiv v5). Our exact counts equal torchvision's layer by layer (tests), but not always the paper's
# rounded figures at the stated resolutions: B2 has 9,109,994 params (paper 9.2M), and the MACs of B1 (0.687B at
# 240), B4 (4.394B at 380), B5 (10.27B at 456) and B7 (37.75B at 600) miss 0.70B / 4.2B / 9.9B / 37B by more than
# the rounding, in both directions, so no single counting rule (FC or not, another resolution) explains them. The
# paper's numbers came from TF's profiler; others hit the same gaps (tensorflow/tpu#765, Lyken17/pytorch-OpCounter#69).
_B_PAPER = {
    0: ("5.3M", "0.39B", 77.1, ()),
    1: ("7.8M", "0.70B", 79.1, ("macs",)),
    2: ("9.2M", "1.0B", 80.1, ("params",)),
    3: ("12M", "1.8B", 81.6, ()),
    4: ("19M", "4.2B", 82.9, ("macs",)),
    5: ("30M", "9.9B", 83.6, ("macs",)),
    6: ("43M", "19B", 84.0, ()),
    7: ("66M", "37B", 84.3, ("macs",)),
}
_B_MISMATCH_NOTE = (
    "The paper's rounded figure does not follow from the network it describes at this resolution (torchvision builds "
    "the same layers and counts the same); the paper counted with TF's profiler (tensorflow/tpu#765)."
)

for _i, (_w, _d, _r, _p) in B_COEFFICIENTS.items():
    _params, _macs, _top1, _mm = _B_PAPER[_i]
    register(
        ModelInfo(
            name=f"efficientnet_b{_i}",
            label=f"EfficientNet-B{_i}",
            family="efficientnet",
            spec=EfficientNetSpec,
            paper=PAPER,
            url=URL,
            explanation=(
                "B0 was found by neural architecture search (MnasNet's space, optimising accuracy and FLOPs); B1-B7 "
                "scale it up in depth, width and resolution together. The compound rule says: for 2^phi times the "
                "FLOPs, multiply depth by 1.2^phi, width by 1.1^phi and resolution by 1.15^phi, because deeper nets "
                "need wider layers and larger inputs to use their extra receptive field. Blocks are MBConv with "
                "squeeze-excitation and swish."
            ),
            published=Published.of(
                f"{PAPER}, Table 2",
                params=_params,
                macs=_macs,
                top1=_top1,
                resolution=_r,
                mismatch=_mm,
                note=_B_MISMATCH_NOTE if _mm else "",
            ),
            torchvision=f"efficientnet_b{_i}",
            defaults={"width_mult": _w, "depth_mult": _d, "resolution": _r, "dropout": _p},
            plan=plan,
        )
    )

_LITE_README = {
    0: ("4.7M", "407M", 75.1),
    1: ("5.4M", "631M", 76.7),
    2: ("6.1M", "899M", 77.6),
    3: ("8.2M", "1.44B", 79.8),
    4: ("13.0M", "2.64B", 81.5),
}

# The README's parameter counts match the network exactly (Lite0: 4,652,008, also the count of the released
# checkpoint), but its MAdds exceed the network's conv + FC MACs by 5.7 % (Lite0: 407M vs 385.2M) down to 3.4 % (Lite4),
# about 3x the conv output elements each time (21.8M for Lite0's 6.7M). Lite0 is B0 without SE, whose MACs are 0.6M,
# so the gap is not architecture: the README counts more than multiply-accumulates (per-element work such as batch
# norm, ReLU6 and bias), as TF's profiler does.
_LITE_NOTE = (
    "The README's MAdds exceed the conv + FC MACs of this network by about 3 operations per conv output element "
    "(Lite0: +21.8M on 385.2M); its parameter counts match exactly, so the README counts per-element work too."
)

for _i, (_w, _d, _r, _p) in LITE_COEFFICIENTS.items():
    _params, _macs, _top1 = _LITE_README[_i]
    register(
        ModelInfo(
            name=f"efficientnet_lite{_i}",
            label=f"EfficientNet-Lite{_i}",
            family="efficientnet_lite",
            spec=EfficientNetLiteSpec,
            paper=f"{LITE_SOURCE} (Google 2020), after {PAPER}",
            url="https://github.com/tensorflow/tpu/tree/master/models/official/efficientnet/lite",
            explanation=(
                "EfficientNet for phones and edge accelerators: squeeze-excitation removed (poorly supported on "
                "mobile accelerators), swish replaced by ReLU6 (friendlier to 8-bit quantization), and the stem and "
                "head kept at 32 and 1280 channels while the rest scales, so the bigger variants stay small and fast."
            ),
            published=Published.of(
                f"{LITE_SOURCE} (params, MAdds, FP32 top-1)",
                params=_params,
                macs=_macs,
                top1=_top1,
                resolution=_r,
                mismatch=("macs",),
                note=_LITE_NOTE,
            ),
            torchvision=None,
            defaults={"width_mult": _w, "depth_mult": _d, "resolution": _r, "dropout": _p},
            plan=plan,
        )
    )
