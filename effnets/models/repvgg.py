"""RepVGG (Ding et al. 2021): a plain stack of RepVGG blocks, trained with branches and deployed as 3x3 convs only,
laid out like timm's ``byobnet`` RepVGG models (``repvgg_a0``)."""

from __future__ import annotations

from dataclasses import dataclass

from effnets.blocks.repvgg import DEPLOY_HELP, RepVGGBlock, RepVGGSpec
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
from effnets.models.network import Block, Classifier, Plan, Stage
from effnets.spec import param

PAPER = "Ding et al. 2021, RepVGG: Making VGG-style ConvNets Great Again"
URL = "https://arxiv.org/abs/2101.03697"

register_family(
    FamilyInfo(
        name="repvgg",
        label="RepVGG",
        color="#ad494a",
        paper=PAPER,
        url=URL,
        order=84,
        scaling=(
            "Width multipliers a (the first four stages: 64a, 128a, 256a; the stem min(64, 64a)) and b (the last "
            "stage: 512b), and depth by variant: A with (1, 2, 4, 14, 1) layers, B with (1, 4, 6, 16, 1); no "
            "compound rule."
        ),
    )
)

BASE_WIDTHS = (64, 128, 256, 512)
DEPTHS = {"A": (2, 4, 14, 1), "B": (4, 6, 16, 1)}  # paper Sec. 3.4 (without the stem's one layer)


@dataclass(frozen=True)
class RepVGGNetSpec(ModelSpec):
    """RepVGG-A/B: variant (depths), width multipliers a and b, training or deploy form, resolution."""

    variant: str = param(
        "A",
        choices=tuple(DEPTHS),
        help="Layers per stage after the stem: A = (2, 4, 14, 1), B = (4, 6, 16, 1) (paper Sec. 3.4).",
    )
    width_a: float = param(
        0.75,
        lo=0.25,
        hi=4.0,
        step=0.25,
        help="a: the first three stages have 64a, 128a, 256a channels, the stem min(64, 64a) (0.75 in A0).",
        label="width a",
    )
    width_b: float = param(
        2.5, lo=0.25, hi=6.0, step=0.25, help="b: the last stage has 512b channels (2.5 in A0).", label="width b"
    )
    deploy: bool = param(False, help=DEPLOY_HELP)
    resolution: int = resolution_param(224)
    dropout: float = dropout_param(0.0)
    num_classes: int = num_classes_param()

    def widths(self) -> tuple[int, tuple[int, ...]]:
        """(stem width, the four stage widths), as timm rounds them (int of the product)."""
        a, b = self.width_a, self.width_b
        stages = tuple(int(c * m) for c, m in zip(BASE_WIDTHS, (a, a, a, b), strict=True))
        return min(64, int(64 * a)), stages


def plan(spec: RepVGGNetSpec) -> Plan:
    """RepVGG block 3x3 s2 (stem) -> 4 stages of RepVGG blocks (the first of each s2) -> pool -> FC.

    Every layer is a RepVGG block (3x3 conv-BN + 1x1 conv-BN + identity BN where the shape allows, ReLU), or with
    ``deploy`` its single 3x3 conv with a bias. Stage widths 64a, 128a, 256a, 512b; timm's ``repvgg_a0`` layout.
    """
    d = spec.deploy
    stem, widths = spec.widths()
    stages = [
        Stage(
            "stem",
            "RepVGG 3x3 s2" + (" (deployed)" if d else ""),
            (Block(RepVGGBlock, RepVGGSpec(in_channels=3, out_channels=stem, stride=2, deploy=d)),),
            3,
            2,
        )
    ]
    c = stem
    for i, (width, depth) in enumerate(zip(widths, DEPTHS[spec.variant], strict=True), 1):
        blocks = []
        for j in range(depth):
            blocks.append(
                Block(RepVGGBlock, RepVGGSpec(in_channels=c, out_channels=width, stride=2 if j == 0 else 1, deploy=d))
            )
            c = width
        op = f"RepVGG 3x3, {width}" + (" (deployed: 3x3 conv)" if d else "")
        stages.append(Stage(f"stage{i}", op, tuple(blocks), 3, 2))
    stages.append(Stage("head", "Pooling & FC", (Classifier(c, spec.num_classes, spec.dropout),), None, 1))
    return Plan(tuple(stages), (3, spec.resolution, spec.resolution))


register(
    ModelInfo(
        name="repvgg_a0",
        label="RepVGG-A0",
        family="repvgg",
        spec=RepVGGNetSpec,
        paper=PAPER,
        url=URL,
        explanation=(
            "A VGG-style network of 22 3x3 conv layers with ReLU, no branches at inference: fast on GPUs, where one "
            "dense 3x3 kernel per layer uses the hardware well and no residual has to wait in memory. It trains as "
            "a ResNet-like multi-branch network (each layer a 3x3 conv-BN, a 1x1 conv-BN and an identity BN, "
            "summed), which is what makes a plain network trainable; after training each layer is folded into one "
            "3x3 conv with a bias (set deploy). Training form 9.1M parameters and 1.51 GMACs; deployed 8.3M and "
            "1.36 GMACs, the same function in eval mode."
        ),
        published=Published.of(
            f"{PAPER}, the table of RepVGG models trained for 120 epochs (RepVGG-A0, the deployed model)",
            params="8.30M",
            macs="1.36B",
            top1=72.41,
            resolution=224,
            fields={"deploy": True},
            mismatch=("params",),
            note=(
                "The paper's 8.30M reads as 8,309,384 cut after two decimals (rounded it is 8.31M, as MMPretrain's "
                "RepVGG table lists the deployed A0); timm's repvgg_a0, reparameterized, has exactly these "
                "8,309,384 parameters and 1.361 GMACs at 224. Its FLOPs column counts multiply-adds (MACs)."
            ),
        ),
        also_published=(
            Published.of(
                "MMPretrain, configs/repvgg/README.md (RepVGG-A0: params 9.11M train | 8.31M deploy)",
                params="9.11M",
                resolution=224,
                fields={"deploy": False},
                note="The training form (with its 1x1 and identity branches); timm's repvgg_a0 has 9,108,968.",
            ),
            Published.of(
                "MMPretrain, configs/repvgg/README.md (RepVGG-A0: params 8.31M, FLOPs 1.36G deploy)",
                params="8.31M",
                macs="1.36G",
                resolution=224,
                fields={"deploy": True},
                note="The deployed form, converted from the authors' weights.",
            ),
        ),
        torchvision=None,
        defaults={"variant": "A", "width_a": 0.75, "width_b": 2.5},
        plan=plan,
    )
)
