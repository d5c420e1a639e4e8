"""A throwaway block written as ARCHITECTURE.md's recipe says: this file and nothing else.

It is not part of the catalog; tests/test_recipes.py imports it (what discovery does for a file in effnets/blocks/)
to prove that the registry, the CLI, the Block Lab and the parametrised tests pick a new block up on their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import ConvBNAct
from effnets.cost import Cost
from effnets.spec import param


@dataclass(frozen=True)
class ToyBottleneckSpec(BlockSpec):
    out_channels: int = param(32, lo=1, hi=512, help="Channels of the output (C_out).", label="C_out")
    squeeze_channels: int = param(8, lo=1, hi=512, help="Channels inside the bottleneck.", label="squeeze")
    stride: int = param(1, lo=1, hi=2, help="Stride of the 3x3 conv.")


class ToyBottleneck(torch.nn.Module):
    """1x1 squeeze -> 3x3 conv -> 1x1 expand

    A toy: every conv with BN and ReLU, no skip."""

    def __init__(self, spec: ToyBottleneckSpec):
        super().__init__()
        self.squeeze = ConvBNAct(spec.in_channels, spec.squeeze_channels, 1)
        self.conv = ConvBNAct(spec.squeeze_channels, spec.squeeze_channels, 3, spec.stride)
        self.expand = ConvBNAct(spec.squeeze_channels, spec.out_channels, 1)

    @staticmethod
    def cost(spec: ToyBottleneckSpec, x: Cost) -> Cost:
        x = ConvBNAct.cost(x, spec.squeeze_channels, 1, label="1x1 squeeze")
        x = ConvBNAct.cost(x, spec.squeeze_channels, 3, spec.stride, label="3x3 conv")
        return ConvBNAct.cost(x, spec.out_channels, 1, label="1x1 expand")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.expand(self.conv(self.squeeze(x)))


register(
    BlockInfo(
        name="toy_bottleneck",
        order=5,
        label="Toy bottleneck (recipe test)",
        spec=ToyBottleneckSpec,
        module=ToyBottleneck,
        paper="effnets ARCHITECTURE.md, recipe: a new block",
        url="https://example.invalid/toy",
        explanation="A block that exists only to show that adding one takes one file.",
        formula=r"\text{MACs} = (C_{in} s + 9 s^2 + s C_{out}) H W",
    )
)
