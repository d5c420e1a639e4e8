"""DenseNet-BC (Huang et al. 2017): dense blocks of concatenating layers, compressed by transitions; the layout of
torchvision.models.densenet121 / 169 / 201 / 161."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

from torch import nn

from effnets import cost as steps
from effnets.blocks.dense_layer import DenseLayer, DenseLayerSpec
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
from effnets.models.network import Block, Classifier, Conv, Plan, Pool, Stage
from effnets.spec import param

PAPER = "Huang et al. 2017, Densely Connected Convolutional Networks"
URL = "https://arxiv.org/abs/1608.06993"

register_family(
    FamilyInfo(
        name="densenet",
        label="DenseNet-BC",
        color="#843c39",
        paper=PAPER,
        url=URL,
        order=90,
        scaling=(
            "Growth rate k (width: each layer adds k channels, the stem has 2k) and layers per dense block (depth: "
            "DenseNet-121/169/201/264 with k = 32, 161 with k = 48); compression theta shrinks the transitions "
            "(floor(theta m) of m channels, 0.5 in DenseNet-BC)."
        ),
    )
)

# Layers per dense block, by the network's name (paper Table 1; 161 from the authors' repository, with k = 48). The
# name counts the weighted layers: 2 per dense layer, the stem, the 3 transitions and the FC; Table 1's "264" has
# 265 by that count, and keeps the paper's name.
BLOCK_CONFIGS: dict[int, tuple[int, int, int, int]] = {
    121: (6, 12, 24, 16),
    169: (6, 12, 32, 32),
    201: (6, 12, 48, 32),
    264: (6, 12, 64, 48),
    161: (6, 12, 36, 24),
}


@dataclass(frozen=True)
class DenseNetSpec(ModelSpec):
    """DenseNet-BC: growth rate, layers per dense block, bottleneck width and compression."""

    growth_rate: int = param(
        32,
        lo=1,
        hi=128,
        help="k: channels each dense layer adds (32 in DenseNet-121/169/201/264, 48 in 161); the stem has 2k.",
        label="growth rate k",
    )
    block_config: int = param(
        121,
        choices=tuple(BLOCK_CONFIGS),
        help="Layers per dense block: 121 = (6, 12, 24, 16), 169 = (6, 12, 32, 32), 201 = (6, 12, 48, 32), "
        "264 = (6, 12, 64, 48), 161 = (6, 12, 36, 24) (torchvision's densenet161 also has k = 48).",
        label="layers (DenseNet-L)",
    )
    bn_size: int = param(
        4,
        lo=0,
        hi=8,
        help="Each dense layer's 1x1 bottleneck has bn_size x k channels (4: DenseNet-B); 0 = no bottleneck, "
        "3x3 convs on the whole growing input.",
        label="bottleneck width (x k)",
    )
    compression: float = param(
        0.5,
        lo=0.05,
        hi=1.0,
        step=0.05,
        help="theta: a transition keeps floor(theta m) of its m input channels (0.5: DenseNet-C; 1 = no compression).",
        label="compression theta",
    )
    resolution: int = resolution_param(224)
    num_classes: int = num_classes_param()

    @property
    def init_features(self) -> int:
        """The stem's width: 2k (paper Sec. 3, 'Implementation Details': 64 for k = 32, 96 for k = 48)."""
        return 2 * self.growth_rate


def compressed(channels: int, theta: float) -> int:
    """floor(theta m), at least 1: the width after a transition (m // 2 at theta 0.5, torchvision's rule). The small
    epsilon keeps a product such as 0.57 x 100 = 56.999... at 57."""
    return max(1, math.floor(theta * channels + 1e-9))


@dataclass(frozen=True)
class Transition:
    """BN -> ReLU -> 1x1 conv -> 2x2 average pool s2, laid out like torchvision's ``_Transition``."""

    in_channels: int
    out_channels: int

    def build(self) -> nn.Module:
        return nn.Sequential(
            OrderedDict(
                norm=nn.BatchNorm2d(self.in_channels),
                relu=nn.ReLU(inplace=True),
                conv=nn.Conv2d(self.in_channels, self.out_channels, kernel_size=1, bias=False),
                pool=nn.AvgPool2d(kernel_size=2, stride=2),
            )
        )

    def cost(self, x: Cost) -> Cost:
        x = steps.act(steps.norm(x, label="BN (pre-activation)"), "relu")
        x = steps.conv(x, self.out_channels, 1, label="1x1 conv (compression)")
        return steps.pool(x, 2, 2, kind="avg", label="2x2 avg pool s2")


@dataclass(frozen=True)
class NormReLU:
    """BN -> ReLU after the last dense block (torchvision's ``norm5`` and the ReLU of its forward)."""

    channels: int

    def build(self) -> nn.Module:
        return nn.Sequential(nn.BatchNorm2d(self.channels), nn.ReLU(inplace=True))

    def cost(self, x: Cost) -> Cost:
        return steps.act(steps.norm(x, label="BN (final)"), "relu")


def plan(spec: DenseNetSpec) -> Plan:
    """conv7x7 s2 (2k) -> maxpool3x3 s2 -> 4 dense blocks of dense layers (each adds k maps), with a transition
    (BN-ReLU-1x1 conv to floor(theta m)-2x2 avg pool s2) between them -> BN -> ReLU -> pool -> FC.

    The rows are those of the paper's Table 1. Layout of torchvision.models.densenet121 (no dropout: drop_rate 0).
    """
    k = spec.growth_rate
    c = spec.init_features
    stages = [
        Stage("stem", "Conv7x7", (Conv(3, c, 7, 2, label="7x7 conv s2 (stem)"),), 7, 2),
        Stage("pool", "MaxPool3x3", (Pool(3, 2, 1),), 3, 2),
    ]
    config = BLOCK_CONFIGS[spec.block_config]
    for i, layers in enumerate(config, 1):
        blocks = []
        for _ in range(layers):
            s = DenseLayerSpec(in_channels=c, growth_rate=k, bn_size=spec.bn_size)
            blocks.append(Block(DenseLayer, s))
            c = s.output_channels
        stages.append(Stage(f"dense{i}", f"Dense block ({i}): [1x1, 3x3] k={k}", tuple(blocks), 3, 1))
        if i < len(config):
            out = compressed(c, spec.compression)
            stages.append(
                Stage(f"transition{i}", f"Transition ({i}): 1x1 conv, 2x2 avg pool", (Transition(c, out),), 1, 2)
            )
            c = out
    stages.append(
        Stage(
            "head",
            "BN-ReLU & Pooling & FC",
            (NormReLU(c), Classifier(c, spec.num_classes, 0.0)),
            None,
            1,
            repeats=1,
        )
    )
    return Plan(tuple(stages), (3, spec.resolution, spec.resolution))


# torchvision's metadata for the other depths (DenseNet{169,201,161}_Weights.IMAGENET1K_V1.meta: num_params, _ops in
# GMACs at 224), as written there; tests/test_densenet.py checks each against torchvision's enum. _ops is a float
# rounded to three decimals, so 3.36 is written 3.360 here to keep its precision.
_TORCHVISION_OTHERS = (
    ("DenseNet169_Weights", {"block_config": 169}, "14,149,480", "3.360G", 75.600),
    ("DenseNet201_Weights", {"block_config": 201}, "20,013,928", "4.291G", 76.896),
    ("DenseNet161_Weights", {"block_config": 161, "growth_rate": 48}, "28,681,000", "7.728G", 77.138),
)

register(
    ModelInfo(
        name="densenet121",
        label="DenseNet-121",
        family="densenet",
        spec=DenseNetSpec,
        paper=PAPER,
        url=URL,
        explanation=(
            "Every layer of a dense block receives the feature maps of all the layers before it, concatenated, and "
            "adds only k = 32 new maps (the growth rate): features are reused instead of relearned, so the network "
            "is narrow and has few parameters (8M, a third of ResNet-50's, at similar accuracy). A 1x1 bottleneck "
            "(4k channels) keeps each layer's 3x3 conv cheap, and transitions halve the channels (compression 0.5) "
            "and the resolution between blocks. Its 2.8 GMACs are not low, and the concatenations make it "
            "memory-bound: it is slower than its MACs suggest."
        ),
        published=Published.of(
            f"{PAPER}, Table 3 (single-crop top-1 error 25.02 %)",
            top1=74.98,
            resolution=224,
            note=(
                "The paper gives no parameter or FLOP count for its ImageNet DenseNets in a table (Figure 3 plots "
                "them); the authors' repository (liuzhuang13/DenseNet) lists 25.0 % top-1 error at 224, 1 crop."
            ),
        ),
        also_published=tuple(
            Published.of(
                f"torchvision {enum}.IMAGENET1K_V1.meta (num_params, _ops GFLOPS = GMACs, acc@1)",
                params=params,
                macs=macs,
                top1=top1,
                resolution=224,
                fields=fields,
                note="torchvision's weights (ported from the authors' LuaTorch models); the same layout as here.",
            )
            for enum, fields, params, macs, top1 in _TORCHVISION_OTHERS
        ),
        torchvision="densenet121",
        defaults={},
        plan=plan,
    )
)
