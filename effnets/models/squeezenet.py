"""SqueezeNet 1.0 and 1.1 (Iandola et al. 2016), laid out like torchvision.models.squeezenet1_0 / 1_1."""

from __future__ import annotations

from dataclasses import dataclass

from effnets.blocks.fire import Fire, FireSpec
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
from effnets.models.network import Block, Conv, ConvClassifier, Plan, Pool, Stage
from effnets.spec import param

PAPER = "Iandola et al. 2016, SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and <0.5MB model size"
URL = "https://arxiv.org/abs/1602.07360"

register_family(
    FamilyInfo(
        name="squeezenet",
        label="SqueezeNet",
        color="#17becf",
        paper=PAPER,
        url=URL,
        order=40,
        scaling=(
            "No width or depth multiplier: the squeeze ratio and the share of 3x3 filters are the paper's design knobs."
        ),
    )
)


@dataclass(frozen=True)
class FireRow:
    """One Fire module: squeeze s, expand e1 (1x1) and e3 (3x3)."""

    squeeze: int
    expand1x1: int
    expand3x3: int


FIRES: tuple[FireRow, ...] = (
    FireRow(16, 64, 64),  # fire2
    FireRow(16, 64, 64),  # fire3
    FireRow(32, 128, 128),  # fire4
    FireRow(32, 128, 128),  # fire5
    FireRow(48, 192, 192),  # fire6
    FireRow(48, 192, 192),  # fire7
    FireRow(64, 256, 256),  # fire8
    FireRow(64, 256, 256),  # fire9
)
# (conv1 channels, kernel) and the fire indices (0 = fire2) before which a 3x3 s2 max pool comes.
VERSIONS = {"1_0": ((96, 7), (3, 7)), "1_1": ((64, 3), (2, 4))}


@dataclass(frozen=True)
class SqueezeNetSpec(ModelSpec):
    """SqueezeNet 1.0 or 1.1."""

    version: str = param(
        "1_0",
        choices=("1_0", "1_1"),
        help="1_0: conv1 96 7x7, pools after fire4 and fire8. 1_1: conv1 64 3x3, pools after fire3 and fire5 "
        "(2.4x less computation, same accuracy).",
    )
    resolution: int = resolution_param(224, lo=48)
    dropout: float = dropout_param(0.5)
    num_classes: int = num_classes_param()


def plan(spec: SqueezeNetSpec) -> Plan:
    """conv1 (bias, ReLU) -> maxpool -> fire2.. with max pools between -> dropout -> conv1x1 to classes -> ReLU -> GAP.

    Max pools are 3x3 s2 with ceil mode; convs have biases and no batch norm.
    """
    (c1, k1), pools_before = VERSIONS[spec.version]
    stem = (
        Conv(3, c1, k1, 2, 0, bias=True, norm=False, label=f"{k1}x{k1} conv s2 (conv1)"),
        Pool(3, 2, ceil_mode=True),
    )
    stages = [Stage("stem", f"Conv{k1}x{k1} & MaxPool", stem, k1, 2, repeats=1)]
    c_in = c1
    starts = (0, *pools_before)
    for a, b in zip(starts, (*pools_before, len(FIRES)), strict=True):
        layers: list = [Pool(3, 2, ceil_mode=True)] if a else []
        for f in FIRES[a:b]:
            fs = FireSpec(
                in_channels=c_in,
                squeeze_channels=f.squeeze,
                expand1x1_channels=f.expand1x1,
                expand3x3_channels=f.expand3x3,
            )
            layers.append(Block(Fire, fs))
            c_in = f.expand1x1 + f.expand3x3
        names = f"fire{a + 2}" + (f"-{b + 1}" if b - a > 1 else "")
        op = ("MaxPool & " if a else "") + f"Fire ({names})"
        stages.append(Stage(f"fire{a + 2}", op, tuple(layers), 3, 2 if a else 1, repeats=b - a))
    stages.append(
        Stage("head", "Conv1x1 & Pooling", (ConvClassifier(c_in, spec.num_classes, spec.dropout),), 1, 1, repeats=1)
    )
    return Plan(tuple(stages), (3, spec.resolution, spec.resolution))


_EXPLANATION = (
    "SqueezeNet's three strategies: use 1x1 filters instead of 3x3 (9x fewer weights), feed the remaining 3x3 filters "
    "few channels through 1x1 squeeze layers, and downsample late so convs work on large maps. It matched AlexNet "
    "with 50x fewer parameters - but its MACs are not small: parameters and compute are different budgets."
)
register(
    ModelInfo(
        name="squeezenet1_0",
        label="SqueezeNet 1.0",
        family="squeezenet",
        spec=SqueezeNetSpec,
        paper=PAPER,
        url=URL,
        explanation=_EXPLANATION,
        published=Published.of(
            f"{PAPER}, Table 2 (uncompressed SqueezeNet; Caffe, 227x227 crops)",
            top1=57.5,
            resolution=227,
            note="The paper gives the model size (4.8 MB of 32-bit weights, about 1.2M) rather than a count.",
        ),
        torchvision="squeezenet1_0",
        defaults={"version": "1_0"},
        plan=plan,
    )
)
register(
    ModelInfo(
        name="squeezenet1_1",
        label="SqueezeNet 1.1",
        family="squeezenet",
        spec=SqueezeNetSpec,
        paper=f"{PAPER}; v1.1 from forresti/SqueezeNet (2016)",
        url="https://github.com/forresti/SqueezeNet/tree/master/SqueezeNet_v1.1",
        explanation=_EXPLANATION + " Version 1.1 downsamples earlier with a smaller first conv: 2.4x less computation.",
        published=None,
        torchvision="squeezenet1_1",
        defaults={"version": "1_1"},
        plan=plan,
    )
)
