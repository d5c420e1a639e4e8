"""The ConvNeXt roadmap (Liu et al. 2022, Fig. 2): ResNet-50 modernised step by step into ConvNeXt-T, each step a
real network with its exact parameters and MACs, as a table a class can walk through.

Every step is a :class:`effnets.models.network.Plan` that builds an ``nn.Module`` and costs it with effnets'
analytic model (the tests check each against FlopCounterMode and ``numel`` on the built module). The first step is
effnets' ResNet-50 (the same network as torchvision's ``resnet50``), the last effnets' ConvNeXt-T (torchvision's
``convnext_tiny``); the steps in between use one private block, :class:`StepBlock`, whose settings are the ones the
paper changes. The paper trains every step with its modern recipe (Sec. 2.1) and reports the top-1 reached; those
figures are quoted beside our counts with their section. The paper gives no code for the intermediate networks, so
where its text leaves a choice open this module says which one it takes:

* a conv carries a bias unless a batch norm follows it (BN's shift makes a bias redundant; ConvNeXt's convs all have
  one);
* until the downsampling is separated, a stage's first block downsamples, with the stride on its depthwise conv and a
  1x1 stride-2 projection shortcut (+ norm) as in ResNet-50 (v1.5);
* the inverted bottleneck's hidden width is 4x the block's output width;
* "fewer activations" also drops the stem's activation (ConvNeXt-T has none there); the paper speaks only of the
  residual block;
* layer scale (a training technique of the paper's recipe, Appendix A) enters with the last step, where torchvision's
  ConvNeXt-T has it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from effnets import cost as steps
from effnets.blocks._layers import make_act
from effnets.blocks.convnext import LayerNorm2d
from effnets.blocks.resnet_bottleneck import EXPANSION, ResNetBottleneck, ResNetBottleneckSpec
from effnets.cost import Cost
from effnets.models import get_model
from effnets.models.convnext import Norm2d
from effnets.models.network import Block, Classifier, Conv, Plan, Pool, Stage, plan_cost

PAPER = "Liu et al. 2022, A ConvNet for the 2020s"
URL = "https://arxiv.org/abs/2201.03545"
RESOLUTION = 224
CLASSES = 1000


@dataclass(frozen=True)
class Design:
    """What the roadmap changes, one setting per step; the defaults are ResNet-50's.

    Attributes:
        depths: blocks per stage.
        stem: "resnet" (7x7 s2 conv + 3x3 s2 max-pool) or "patchify" (one 4x4 stride-4 conv).
        width: the base width: ResNet's planes of stage 1 (64), or the block width of stage 1 once inverted (96).
        layout: "bottleneck" (ResNet's 1x1 reduce -> 3x3 -> 1x1 expand), "resnext" (its 3x3 depthwise),
            "inverted" (1x1 expand x4 -> 3x3 depthwise -> 1x1 project) or "dw_first" (depthwise -> 1x1 -> 1x1).
        kernel: the depthwise kernel.
        activation: "relu" or "gelu".
        fewer_acts: one activation per block, between the two 1x1s.
        fewer_norms: one norm per block, after the depthwise conv.
        norm: "bn" or "ln".
        separate_downsampling: LN + 2x2 stride-2 convs between stages (ConvNeXt-T).
    """

    depths: tuple[int, int, int, int] = (3, 4, 6, 3)
    stem: str = "resnet"
    width: int = 64
    layout: str = "bottleneck"
    kernel: int = 3
    activation: str = "relu"
    fewer_acts: bool = False
    fewer_norms: bool = False
    norm: str = "bn"
    separate_downsampling: bool = False


@dataclass(frozen=True)
class Step:
    """One step of the roadmap: its name, what it changes, the settings after it, and the paper's figures.

    ``paper_gflops`` is the paper's "FLOPs" (multiply-adds, our MACs) where its text states them; ``paper_top1`` is
    the ImageNet-1K top-1 (%) the paper reports for the step (ResNet-50/Swin-T regime); ``source`` says where.
    """

    name: str
    change: str
    design: Design
    paper_top1: float | None = None
    paper_gflops: float | None = None
    source: str = ""


def _steps() -> tuple[Step, ...]:
    out: list[Step] = []

    def add(name: str, change: str, top1: float | None, source: str, gflops: float | None = None, **changes: Any):
        design = replace(out[-1].design, **changes) if out else Design(**changes)
        out.append(Step(name, change, design, top1, gflops, f"{PAPER}, {source}"))

    add(
        "ResNet-50",
        "torchvision's ResNet-50 (v1.5): 7x7 stem + max-pool, (3, 4, 6, 3) bottlenecks, BN and ReLU after every conv",
        78.8,
        "Sec. 2.1 (trained with the modern recipe; 76.1 % with the original one)",
    )
    add(
        "stage ratio",
        "blocks per stage (3, 4, 6, 3) -> (3, 3, 9, 3), Swin-T's 1:1:3:1",
        79.4,
        "Sec. 2.2",
        depths=(3, 3, 9, 3),
    )
    add(
        "patchify stem",
        "7x7 s2 conv + 3x3 s2 max-pool -> one 4x4 stride-4 conv (non-overlapping patches, as Swin-T)",
        79.5,
        "Sec. 2.2",
        stem="patchify",
    )
    add(
        "ResNeXt-ify",
        "the bottleneck's 3x3 becomes depthwise (groups = channels); the width goes 64 -> 96, Swin-T's",
        80.5,
        "Sec. 2.3",
        5.3,
        layout="resnext",
        width=96,
    )
    add(
        "inverted bottleneck",
        "1x1 reduce -> 3x3 dw -> 1x1 expand becomes 1x1 expand x4 -> 3x3 dw -> 1x1 project: blocks 96-768 wide with "
        "a 4x wider middle, as a Transformer's MLP",
        80.6,
        "Sec. 2.4",
        4.6,
        layout="inverted",
    )
    add(
        "move up depthwise conv",
        "the depthwise conv moves before the 1x1s (as attention precedes the MLP): C channels instead of 4C",
        79.9,
        "Sec. 2.5",
        4.1,
        layout="dw_first",
    )
    add("kernel 7x7", "depthwise 3x3 -> 7x7", 80.6, "Sec. 2.5", kernel=7)
    add("ReLU -> GELU", "every ReLU becomes a GELU", 80.6, "Sec. 2.6", activation="gelu")
    add(
        "fewer activations",
        "one GELU per block, between the two 1x1s: none after the depthwise conv, the last 1x1 or the add (nor in "
        "the stem)",
        81.3,
        "Sec. 2.6",
        fewer_acts=True,
    )
    add(
        "fewer norms",
        "one BN per block, after the depthwise conv; the two 1x1s lose theirs and take biases",
        81.4,
        "Sec. 2.6",
        fewer_norms=True,
    )
    add(
        "BN -> LN",
        "every BN becomes a LayerNorm over the channels (blocks, shortcuts, stem); the convs before them take biases",
        81.5,
        "Sec. 2.6",
        norm="ln",
    )
    add(
        "separate downsampling (ConvNeXt-T)",
        "stride-2 first blocks and their 1x1 projection shortcuts give way to LN + 2x2 stride-2 convs between the "
        "stages; an LN after the global pool; layer scale on every block: torchvision's convnext_tiny",
        82.0,
        "Sec. 2.6 (Table 1, the final ConvNeXt-T: 4.5G FLOPs, 82.1 %)",
        4.5,
        separate_downsampling=True,
    )
    return tuple(out)


STEPS: tuple[Step, ...] = _steps()


# ----- the private block of the steps between ResNet-50 and ConvNeXt-T ---------------------------------------------


@dataclass(frozen=True)
class ConvUnit:
    """conv -> [norm] -> [act]: one layer of a :class:`StepBlock` (bias when no batch norm follows)."""

    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int = 1
    groups: int = 1
    norm: str = ""
    activation: str = "none"
    label: str = ""
    branch: str = ""

    @property
    def bias(self) -> bool:
        return self.norm != "bn"

    def build(self) -> nn.Module:
        k = self.kernel_size
        layers: list[nn.Module] = [
            nn.Conv2d(self.in_channels, self.out_channels, k, self.stride, k // 2, groups=self.groups, bias=self.bias)
        ]
        if self.norm:
            layers.append(nn.BatchNorm2d(self.out_channels) if self.norm == "bn" else LayerNorm2d(self.out_channels))
        if self.activation != "none":
            layers.append(make_act(self.activation))
        return nn.Sequential(*layers)

    def cost(self, x: Cost) -> Cost:
        k, b = self.kernel_size, self.branch
        x = steps.conv(x, self.out_channels, k, self.stride, k // 2, 1, self.groups, self.bias, self.label, b)
        if self.norm == "bn":
            x = steps.norm(x, branch_name=b)
        elif self.norm == "ln":
            x = steps.layer_norm(x, branch_name=b)
        return steps.act(x, self.activation, branch_name=b)


@dataclass(frozen=True)
class StepSpec:
    """One block of an intermediate step: widths, stride and the step's :class:`Design`."""

    in_channels: int
    out_channels: int
    hidden: int
    stride: int
    design: Design

    def units(self) -> tuple[ConvUnit, ...]:
        """The block's three convs in order, each with the norm and activation the design leaves it."""
        d, c_in, c_out, mid, s = self.design, self.in_channels, self.out_channels, self.hidden, self.stride
        k, act, norm = d.kernel, d.activation, d.norm
        ss = f" s{s}" if s > 1 else ""
        if d.layout in ("resnext", "inverted"):
            return (
                ConvUnit(c_in, mid, 1, 1, 1, norm, act, "1x1 reduce" if d.layout == "resnext" else "1x1 expand"),
                ConvUnit(mid, mid, k, s, mid, norm, act, f"{k}x{k} depthwise{ss}"),
                ConvUnit(mid, c_out, 1, 1, 1, norm, "none", "1x1 expand" if d.layout == "resnext" else "1x1 project"),
            )
        if d.layout != "dw_first":
            raise ValueError(f"layout '{d.layout}' is not one of resnext, inverted, dw_first")
        return (
            ConvUnit(c_in, c_in, k, s, c_in, norm, "none" if d.fewer_acts else act, f"{k}x{k} depthwise{ss}"),
            ConvUnit(c_in, mid, 1, 1, 1, "" if d.fewer_norms else norm, act, "1x1 expand"),
            ConvUnit(mid, c_out, 1, 1, 1, "" if d.fewer_norms else norm, "none", "1x1 project"),
        )

    def shortcut(self) -> ConvUnit | None:
        """A 1x1 (stride s) projection + norm where the block changes the shape, else None (the identity)."""
        if self.stride == 1 and self.in_channels == self.out_channels:
            return None
        s = self.stride
        label = "1x1 projection shortcut" + (f" s{s}" if s > 1 else "")
        return ConvUnit(self.in_channels, self.out_channels, 1, s, 1, self.design.norm, "none", label, "shortcut")

    @property
    def post_activation(self) -> str:
        """ResNet's activation after the add (gone with "fewer activations")."""
        return "none" if self.design.fewer_acts else self.design.activation


class StepBlock(nn.Module):
    """[1x1 ->] kxk depthwise [-> 1x1] -> 1x1, norms and activations as the step leaves them, + shortcut [-> act]

    The blocks of the roadmap between ResNet-50 and ConvNeXt-T (paper Fig. 3 (a)-(c) with Sec. 2.5-2.6's micro
    changes): ResNeXt's bottleneck with a depthwise 3x3, the inverted bottleneck, and the depthwise conv moved up.
    """

    def __init__(self, spec: StepSpec):
        super().__init__()
        self.body = nn.Sequential(*[u.build() for u in spec.units()])
        sc = spec.shortcut()
        self.shortcut = sc.build() if sc else None
        self.act = make_act(spec.post_activation) if spec.post_activation != "none" else None

    @staticmethod
    def cost(spec: StepSpec, x: Cost) -> Cost:
        short = steps.branch(x)
        for u in spec.units():
            x = u.cost(x)
        sc = spec.shortcut()
        y = steps.add(x, sc.cost(short) if sc else short)
        return steps.act(y, spec.post_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x) + (x if self.shortcut is None else self.shortcut(x))
        return y if self.act is None else self.act(y)


# ----- the networks ---------------------------------------------------------------------------------------------


def _stem(d: Design) -> Stage:
    if d.stem == "resnet":
        layers: tuple = (Conv(3, d.width, 7, 2, label="7x7 conv s2 (stem)"), Pool(3, 2, 1))
        return Stage("stem", "Conv7x7 s2 & MaxPool", layers, 7, 2, repeats=1)
    act = "none" if d.fewer_acts else d.activation
    if d.norm == "bn":
        layers = (Conv(3, d.width, 4, 4, 0, activation=act, label="4x4 conv s4 (patchify)"),)
    else:
        conv = Conv(3, d.width, 4, 4, 0, bias=True, norm=False, activation=act, label="4x4 conv s4 (patchify)")
        layers = (conv, Norm2d(d.width))
    return Stage("stem", "Conv4x4 s4 (patchify)", layers, 4, 4, repeats=1)


def step_plan(step: Step, resolution: int = RESOLUTION, num_classes: int = CLASSES) -> Plan:
    """stem -> 4 stages of the step's blocks (stride 2 in the first block of stages 2-4) -> pool -> FC; the last step
    is effnets' ConvNeXt-T plan itself.

    Raises:
        ValueError: a design this module cannot build (the roadmap's own steps all build).
    """
    d = step.design
    if d.separate_downsampling:
        final = Design(
            depths=(3, 3, 9, 3),
            stem="patchify",
            width=96,
            layout="dw_first",
            kernel=7,
            activation="gelu",
            fewer_acts=True,
            fewer_norms=True,
            norm="ln",
            separate_downsampling=True,
        )
        if d != final:
            raise ValueError("separate downsampling is built as ConvNeXt-T itself: the other settings must be its own")
        info = get_model("convnext_tiny")
        return info.stage_plan(info.make_spec(resolution=resolution, num_classes=num_classes))
    stages = [_stem(d)]
    c_in = d.width
    for i, n in enumerate(d.depths):
        blocks = []
        for j in range(n):
            s = 2 if i and not j else 1
            if d.layout == "bottleneck":
                planes = d.width * 2**i
                spec = ResNetBottleneckSpec(in_channels=c_in, out_channels=planes * EXPANSION, stride=s)
                blocks.append(Block(ResNetBottleneck, spec))
                c_out = spec.out_channels
            elif d.layout == "resnext":
                planes = d.width * 2**i
                c_out = planes * EXPANSION
                blocks.append(Block(StepBlock, StepSpec(c_in, c_out, planes, s, d)))
            else:
                c_out = d.width * 2**i
                blocks.append(Block(StepBlock, StepSpec(c_in, c_out, EXPANSION * c_out, s, d)))
            c_in = c_out
        stages.append(Stage(f"stage{i + 1}", f"{d.layout} blocks, {c_in} wide", tuple(blocks), d.kernel, 2 if i else 1))
    stages.append(Stage("head", "Pooling & FC", (Classifier(c_in, num_classes),), None, 1, repeats=1))
    return Plan(tuple(stages), (3, resolution, resolution))


def roadmap_rows(resolution: int = RESOLUTION) -> list[dict[str, Any]]:
    """The roadmap as rows of plain values, one per step: the step, what changed, effnets' exact params and MACs
    (analytic, per image at ``resolution``), the change from the previous step, the activation and norm work of the
    extras lines (which the micro-design steps change where params and MACs barely move; norm ops are batch norm at
    1 and layer norm at 5 per element, effnets' conventions), and the paper's figures with their source (None where
    the paper's text gives none)."""
    rows: list[dict[str, Any]] = []
    prev = None
    for i, step in enumerate(STEPS):
        c = plan_cost(step_plan(step, resolution), record_steps=False).total
        rows.append(
            {
                "step": i,
                "name": step.name,
                "what changed": step.change,
                "params": c.params,
                "MACs": c.macs,
                "Δ params": None if prev is None else c.params - prev.params,
                "Δ MACs": None if prev is None else c.macs - prev.macs,
                "activation ops": c.extra("act"),
                "norm ops": c.extra("bn") + c.extra("ln"),
                "paper GFLOPs": step.paper_gflops,
                "paper top-1 (%)": step.paper_top1,
                "source": step.source,
            }
        )
        prev = c
    return rows


def summary(rows: list[dict[str, Any]] | None = None) -> list[str]:
    """Sentences a class can read off the table: where the MACs went and which steps moved accuracy most."""
    rows = rows if rows is not None else roadmap_rows()
    first, last = rows[0], rows[-1]
    moved = [r for r in rows[1:] if r["Δ MACs"]]
    up = max(moved, key=lambda r: r["Δ MACs"])
    down = min(moved, key=lambda r: r["Δ MACs"])
    scored = [(b["paper top-1 (%)"] - a["paper top-1 (%)"], b["name"]) for a, b in zip(rows, rows[1:], strict=False)]
    gain, best = max(scored)
    return [
        f"From {first['name']} ({first['params'] / 1e6:.2f}M params, {first['MACs'] / 1e9:.3f} GMACs) to "
        f"ConvNeXt-T ({last['params'] / 1e6:.2f}M, {last['MACs'] / 1e9:.3f} GMACs): "
        f"{(last['MACs'] - first['MACs']) / first['MACs']:+.1%} MACs for "
        f"{last['paper top-1 (%)'] - first['paper top-1 (%)']:+.1f} points of top-1 (paper, same training recipe).",
        f"The step that adds the most MACs is {up['name']} ({up['Δ MACs'] / 1e9:+.3f} GMACs), the one that saves the "
        f"most {down['name']} ({down['Δ MACs'] / 1e9:+.3f} GMACs); {len(rows) - 1 - len(moved)} of the "
        f"{len(rows) - 1} steps leave the MACs as they were.",
        f"The largest single gain in the paper is {best} ({gain:+.1f} points).",
    ]
