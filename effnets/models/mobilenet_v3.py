"""MobileNetV3-Large and -Small (Howard et al. 2019): the paper's Tables 1 and 2, one stage row per table row, as
torchvision builds them (``torchvision.models.mobilenetv3``), with its width multiplier."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from effnets import cost as steps
from effnets.blocks._layers import make_act, make_divisible
from effnets.blocks.mbconv_v3 import MBConvV3, MBConvV3Spec
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
from effnets.models.network import Block, Conv, Plan, Stage
from effnets.spec import param

PAPER = "Howard et al. 2019, Searching for MobileNetV3"
URL = "https://arxiv.org/abs/1905.02244"
TF_README = "tensorflow/models research/slim/nets/mobilenet/README.md (the authors' code), ImageNet checkpoints table"
BN_EPS = 1e-3  # torchvision's MobileNetV3 (and the TF checkpoints): BatchNorm2d(eps=0.001)

register_family(
    FamilyInfo(
        name="mobilenet_v3",
        label="MobileNetV3",
        color="#7b4173",
        paper=PAPER,
        url=URL,
        order=22,
        scaling=(
            "Width multiplier: every input, expanded and output width and the last FC x alpha, each rounded to a "
            "multiple of 8 (never losing more than 10 %), the SE width re-derived from the rounded expanded width; "
            "and input resolution."
        ),
    )
)


@dataclass(frozen=True)
class BneckRow:
    """One 'bneck' row of the paper's Table 1 (Large) or 2 (Small): kernel, exp size, #out, SE, NL (HS/RE), s."""

    kernel: int
    expanded: int
    out: int
    se: bool
    hard_swish: bool
    stride: int


STEM = 16
# Paper Tables 1 and 2 (torchvision's _mobilenet_v3_conf: the same rows).
LARGE: tuple[BneckRow, ...] = (
    BneckRow(3, 16, 16, False, False, 1),
    BneckRow(3, 64, 24, False, False, 2),
    BneckRow(3, 72, 24, False, False, 1),
    BneckRow(5, 72, 40, True, False, 2),
    BneckRow(5, 120, 40, True, False, 1),
    BneckRow(5, 120, 40, True, False, 1),
    BneckRow(3, 240, 80, False, True, 2),
    BneckRow(3, 200, 80, False, True, 1),
    BneckRow(3, 184, 80, False, True, 1),
    BneckRow(3, 184, 80, False, True, 1),
    BneckRow(3, 480, 112, True, True, 1),
    BneckRow(3, 672, 112, True, True, 1),
    BneckRow(5, 672, 160, True, True, 2),
    BneckRow(5, 960, 160, True, True, 1),
    BneckRow(5, 960, 160, True, True, 1),
)
SMALL: tuple[BneckRow, ...] = (
    BneckRow(3, 16, 16, True, False, 2),
    BneckRow(3, 72, 24, False, False, 2),
    BneckRow(3, 88, 24, False, False, 1),
    BneckRow(5, 96, 40, True, True, 2),
    BneckRow(5, 240, 40, True, True, 1),
    BneckRow(5, 240, 40, True, True, 1),
    BneckRow(5, 120, 48, True, True, 1),
    BneckRow(5, 144, 48, True, True, 1),
    BneckRow(5, 288, 96, True, True, 2),
    BneckRow(5, 576, 96, True, True, 1),
    BneckRow(5, 576, 96, True, True, 1),
)
ROWS = {"large": LARGE, "small": SMALL}
LAST_FC = {"large": 1280, "small": 1024}  # the paper's 'conv2d 1x1, NBN' after the pool, x alpha
LAST_CONV_FACTOR = 6  # the last 1x1 conv: 6 x the last bneck's width (960 and 576), not rounded again


@dataclass(frozen=True)
class HiddenClassifier:
    """global average pool -> flatten -> FC (hidden) -> act -> dropout -> FC (torchvision's MobileNetV3 head: the
    paper's two 'conv2d 1x1, NBN' rows on the pooled 1x1 map, which are fully connected layers with bias)."""

    in_features: int
    hidden: int
    num_classes: int
    dropout: float = 0.0
    activation: str = "hardswish"

    def build(self) -> nn.Module:
        return nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(1),
            nn.Linear(self.in_features, self.hidden),
            make_act(self.activation),
            nn.Dropout(self.dropout),
            nn.Linear(self.hidden, self.num_classes),
        )

    def cost(self, x: Cost) -> Cost:
        x = steps.global_pool(x)
        x = steps.linear(x, self.hidden, label=f"FC {self.in_features}->{self.hidden} (1x1 conv, NBN)")
        x = steps.act(x, self.activation)
        return steps.linear(x, self.num_classes, label="FC")


@dataclass(frozen=True)
class MobileNetV3Spec(ModelSpec):
    """MobileNetV3: the Large or Small table, width multiplier alpha and resolution."""

    variant: str = param(
        "large",
        choices=("large", "small"),
        help="The paper's Table 1 (Large: 15 bneck rows, for high-resource phones) or Table 2 (Small: 11 rows).",
    )
    width_mult: float = param(
        1.0,
        lo=0.1,
        hi=3.0,
        step=0.05,
        help="alpha: every width x alpha, rounded to a multiple of 8 (the paper's 0.75, 1.0, 1.25); the SE width "
        "follows the rounded expanded width.",
        label="width multiplier alpha",
    )
    resolution: int = resolution_param(224)
    dropout: float = dropout_param(0.2)
    num_classes: int = num_classes_param()


def _width(channels: int, alpha: float) -> int:
    """torchvision's InvertedResidualConfig.adjust_channels: _make_divisible(channels x alpha, 8)."""
    return make_divisible(channels * alpha, 8)


def plan(spec: MobileNetV3Spec) -> Plan:
    """conv3x3 s2 16 (h-swish) -> 15 (Large) or 11 (Small) bneck rows -> conv1x1 6C (h-swish) -> pool -> FC 1280
    (1024) h-swish -> dropout -> FC.

    One stage row per row of the paper's Table 1 or 2; widths x alpha rounded as torchvision does (every bneck's
    input, expanded and output width separately), BN eps 1e-3.
    """
    a = spec.width_mult
    stem = _width(STEM, a)
    stages = [
        Stage(
            "stem",
            "conv2d 3x3, HS",
            (Conv(3, stem, 3, 2, activation="hardswish", bn_eps=BN_EPS, label="3x3 conv s2 (stem)"),),
            3,
            2,
        )
    ]
    c_in = stem
    for i, row in enumerate(ROWS[spec.variant]):
        mid, c_out = _width(row.expanded, a), _width(row.out, a)
        act = "hardswish" if row.hard_swish else "relu"
        block = MBConvV3Spec(
            in_channels=c_in,
            out_channels=c_out,
            kernel_size=row.kernel,
            stride=row.stride,
            expanded_channels=mid,
            se_ratio=0.25 if row.se else 0.0,
            activation=act,
            bn_eps=BN_EPS,
        )
        op = (
            f"bneck {row.kernel}x{row.kernel}, exp {mid}"
            + (", SE" if row.se else "")
            + (", HS" if row.hard_swish else ", RE")
        )
        stages.append(
            Stage(f"stage{i + 2}", op, (Block(MBConvV3, block),), row.kernel, row.stride, round(mid / c_in, 2))
        )
        c_in = c_out
    last_conv = LAST_CONV_FACTOR * c_in
    last_fc = _width(LAST_FC[spec.variant], a)
    n = len(stages) + 1
    stages.append(
        Stage(
            f"stage{n}",
            "conv2d 1x1, HS",
            (Conv(c_in, last_conv, 1, activation="hardswish", bn_eps=BN_EPS, label="1x1 conv (head)"),),
            1,
            1,
        )
    )
    stages.append(
        Stage(
            "head",
            f"pool, conv2d 1x1 NBN {last_fc} HS, conv2d 1x1 NBN",
            (HiddenClassifier(last_conv, last_fc, spec.num_classes, spec.dropout),),
            None,
            1,
            repeats=1,
        )
    )
    return Plan(tuple(stages), (3, spec.resolution, spec.resolution))


_EXPLANATION = (
    "Found by platform-aware search (MnasNet's, for latency on a Pixel phone) and then pruned layer by layer "
    "(NetAdapt), then redesigned by hand where search could not reach: the expensive last stage is moved after the "
    "pool (960 -> 1280 on a 1x1 map instead of 7x7), the stem is cut to 16 filters, and swish becomes hard-swish "
    "x relu6(x + 3) / 6, used only in the later layers. Blocks are MobileNetV2's inverted residuals with an SE of a "
    "quarter of the expanded width and a hard-sigmoid gate."
)
_LARGE_NOTE = (
    "The network of the paper's Table 1 (also the V3_LARGE definition beside this README) has 5,483,032 learnable "
    "parameters (torchvision builds the same layers), so 5.4M is not its rounded count but 5.48M truncated; the "
    "MACs agree (216.59M)."
)
_SMALL_NOTE = (
    "This row does not describe the network of the paper's Table 2: the V3_SMALL definition beside the README has "
    "the same widths, SE placement and head (with 1001 classes) as torchvision's mobilenet_v3_small (2,542,856 "
    "parameters, 56.51M MACs at 224; torchvision's metadata: 0.057 GMACs), 0.36M parameters and 9.5M MACs fewer "
    "than the row. Early arXiv versions of the paper printed the same 2.9M for Small "
    "(kuan-wang/pytorch-mobilenet-v3#1) before its Table 2 was revised; the row seems to keep those figures."
)

register(
    ModelInfo(
        name="mobilenet_v3_large",
        label="MobileNetV3-Large",
        family="mobilenet_v3",
        spec=MobileNetV3Spec,
        paper=PAPER,
        url=URL,
        explanation=_EXPLANATION,
        published=Published.of(
            f"{TF_README}: Large dm=1 (float)",
            params="5.4M",
            macs="217M",
            top1=75.2,
            resolution=224,
            mismatch=("params",),
            note=_LARGE_NOTE,
        ),
        torchvision="mobilenet_v3_large",
        defaults={"variant": "large"},
        plan=plan,
    )
)

register(
    ModelInfo(
        name="mobilenet_v3_small",
        label="MobileNetV3-Small",
        family="mobilenet_v3",
        spec=MobileNetV3Spec,
        paper=PAPER,
        url=URL,
        explanation=_EXPLANATION
        + " Small has 11 bneck rows and puts SE and hard-swish almost everywhere: 57M MACs for low-end phones.",
        published=Published.of(
            f"{TF_README}: Small dm=1 (float)",
            params="2.9M",
            macs="66M",
            top1=67.5,
            resolution=224,
            mismatch=("params", "macs"),
            note=_SMALL_NOTE,
        ),
        torchvision="mobilenet_v3_small",
        defaults={"variant": "small"},
        plan=plan,
    )
)
