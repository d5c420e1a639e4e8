"""Inception module: parallel 1x1, 3x3, 5x5 and pooling towers with 1x1 reductions, concatenated."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from effnets import cost as steps
from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import ConvBNAct
from effnets.cost import Cost
from effnets.spec import SpecError, param


@dataclass(frozen=True)
class InceptionSpec(BlockSpec):
    in_channels: int = param(192, lo=1, hi=4096, help="Channels of the input tensor (C_in).", label="C_in")
    ch1x1: int = param(64, lo=0, hi=1024, help="Width of the 1x1 tower (0 drops it).", label="1x1")
    ch3x3_reduce: int = param(96, lo=1, hi=1024, help="1x1 reduction before the 3x3 conv.", label="3x3 reduce")
    ch3x3: int = param(128, lo=0, hi=1024, help="Width of the 3x3 tower (0 drops it).", label="3x3")
    ch5x5_reduce: int = param(16, lo=1, hi=1024, help="1x1 reduction before the 5x5 conv.", label="5x5 reduce")
    ch5x5: int = param(32, lo=0, hi=1024, help="Width of the 5x5 tower (0 drops it).", label="5x5")
    pool_proj: int = param(
        32, lo=0, hi=1024, help="1x1 projection after the 3x3 max pool (0 drops the tower).", label="pool proj"
    )
    factorize_5x5: bool = param(
        False,
        help="Inception-v2/v3: replace the 5x5 conv by two 3x3 convs (same view, 28% fewer MACs).",
        label="5x5 as two 3x3",
    )

    def check(self) -> None:
        if self.ch1x1 + self.ch3x3 + self.ch5x5 + self.pool_proj < 1:
            raise SpecError(
                "at least one tower needs a width above 0 (ch1x1, ch3x3, ch5x5 or pool_proj)", "ch1x1", self.ch1x1
            )


class Inception(nn.Module):
    """concat(1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | maxpool -> 1x1)

    Szegedy et al. 2015.

    Defaults are GoogLeNet's inception (3a); BN after every conv as in torchvision's GoogLeNet."""

    def __init__(self, spec: InceptionSpec):
        super().__init__()
        cin = spec.in_channels
        self.branch1 = ConvBNAct(cin, spec.ch1x1, 1) if spec.ch1x1 else None
        self.branch2 = (
            nn.Sequential(ConvBNAct(cin, spec.ch3x3_reduce, 1), ConvBNAct(spec.ch3x3_reduce, spec.ch3x3, 3))
            if spec.ch3x3
            else None
        )
        if spec.ch5x5 and spec.factorize_5x5:
            self.branch3 = nn.Sequential(
                ConvBNAct(cin, spec.ch5x5_reduce, 1),
                ConvBNAct(spec.ch5x5_reduce, spec.ch5x5, 3),
                ConvBNAct(spec.ch5x5, spec.ch5x5, 3),
            )
        elif spec.ch5x5:
            self.branch3 = nn.Sequential(
                ConvBNAct(cin, spec.ch5x5_reduce, 1), ConvBNAct(spec.ch5x5_reduce, spec.ch5x5, 5)
            )
        else:
            self.branch3 = None
        self.pool = nn.MaxPool2d(3, 1, 1, ceil_mode=True)
        self.branch4 = ConvBNAct(cin, spec.pool_proj, 1) if spec.pool_proj else None

    @staticmethod
    def cost(spec: InceptionSpec, x: Cost) -> Cost:
        parts = []
        if spec.ch1x1:
            parts.append(ConvBNAct.cost(steps.branch(x), spec.ch1x1, 1, label="1x1", branch_name="1x1"))
        if spec.ch3x3:
            b = ConvBNAct.cost(steps.branch(x), spec.ch3x3_reduce, 1, label="1x1 reduce", branch_name="3x3")
            parts.append(ConvBNAct.cost(b, spec.ch3x3, 3, label="3x3", branch_name="3x3"))
        if spec.ch5x5:
            b = ConvBNAct.cost(steps.branch(x), spec.ch5x5_reduce, 1, label="1x1 reduce", branch_name="5x5")
            if spec.factorize_5x5:
                b = ConvBNAct.cost(b, spec.ch5x5, 3, label="3x3 (5x5 part 1)", branch_name="5x5")
                b = ConvBNAct.cost(b, spec.ch5x5, 3, label="3x3 (5x5 part 2)", branch_name="5x5")
            else:
                b = ConvBNAct.cost(b, spec.ch5x5, 5, label="5x5", branch_name="5x5")
            parts.append(b)
        if spec.pool_proj:
            b = steps.pool(steps.branch(x), 3, 1, 1, ceil_mode=True, kind="max", branch_name="pool")
            parts.append(ConvBNAct.cost(b, spec.pool_proj, 1, label="1x1 pool proj", branch_name="pool"))
        return steps.concat(x, *parts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = []
        if self.branch1 is not None:
            outs.append(self.branch1(x))
        if self.branch2 is not None:
            outs.append(self.branch2(x))
        if self.branch3 is not None:
            outs.append(self.branch3(x))
        if self.branch4 is not None:
            outs.append(self.branch4(self.pool(x)))
        return torch.cat(outs, 1)


register(
    BlockInfo(
        name="inception",
        order=130,
        label="Inception module",
        spec=InceptionSpec,
        module=Inception,
        paper="Szegedy et al. 2015, Going Deeper with Convolutions (GoogLeNet)",
        url="https://arxiv.org/abs/1409.4842",
        explanation=(
            "Instead of choosing a kernel size, run several in parallel and concatenate: the module sees at several "
            "scales at once. What makes it affordable are the 1x1 reductions before the 3x3 and 5x5 convs (without "
            "them inception 3a costs several times more). The parallel towers are the 'fragmentation' that "
            "ShuffleNetV2's guideline G3 warns makes a network slower than its MACs suggest."
        ),
        formula=r"\text{MACs} = HW\left(C_{in}(c_1 + r_3 + r_5 + p) + 9 r_3 c_3 + 25 r_5 c_5\right)",
        group="unit",
    )
)
