"""A throwaway model family written as ARCHITECTURE.md's recipe says: this file and nothing else.

Not part of the registry; tests/test_recipes.py imports it (what discovery does for a file in effnets/models/).
"""

from __future__ import annotations

from dataclasses import dataclass

from effnets.blocks.mbconv import MBConv, MBConvSpec
from effnets.models import (
    FamilyInfo,
    ModelInfo,
    ModelSpec,
    num_classes_param,
    register,
    register_family,
    resolution_param,
)
from effnets.models.network import Block, Classifier, Conv, Plan, Stage
from effnets.models.scaling import round_filters, round_repeats
from effnets.spec import param

register_family(
    FamilyInfo(
        name="toynet",
        label="ToyNet (recipe test)",
        color="#000000",
        paper="effnets ARCHITECTURE.md, recipe: a new model family",
        url="https://example.invalid/toynet",
        order=5,
        scaling="Width and depth multipliers as EfficientNet's (widths to multiples of 8, repeats rounded up).",
    )
)


@dataclass(frozen=True)
class ToyNetSpec(ModelSpec):
    """A stem, two MBConv stages and a classifier."""

    width_mult: float = param(1.0, lo=0.25, hi=4.0, step=0.05, help="Width multiplier.", label="width w")
    depth_mult: float = param(1.0, lo=0.25, hi=4.0, step=0.05, help="Depth multiplier.", label="depth d")
    resolution: int = resolution_param(96)
    num_classes: int = num_classes_param()


def plan(spec: ToyNetSpec) -> Plan:
    """stem 3x3 s2 -> MBConv4 x1 s2 -> MBConv4 x2 s2 -> pool -> FC."""
    stem = round_filters(16, spec.width_mult)
    stages = [Stage("stem", "Conv3x3", (Conv(3, stem, 3, 2),), 3, 2)]
    c = stem
    for i, (out, n, stride) in enumerate(((24, 1, 2), (40, 2, 2))):
        out = round_filters(out, spec.width_mult)
        layers = []
        for j in range(round_repeats(n, spec.depth_mult)):
            s = MBConvSpec(in_channels=c, out_channels=out, stride=stride if j == 0 else 1, expand_ratio=4)
            layers.append(Block(MBConv, s))
            c = out
        stages.append(Stage(f"stage{i + 2}", "MBConv4, k3x3", tuple(layers), 3, stride, 4))
    stages.append(Stage("head", "Pooling & FC", (Classifier(c, spec.num_classes),), None, 1))
    return Plan(tuple(stages), (3, spec.resolution, spec.resolution))


register(
    ModelInfo(
        name="toynet_a",
        label="ToyNet-A",
        family="toynet",
        spec=ToyNetSpec,
        paper="effnets ARCHITECTURE.md",
        url="https://example.invalid/toynet",
        explanation="A network that exists only to show that adding a family takes one file.",
        published=None,
        torchvision=None,
        defaults={},
        plan=plan,
    )
)
