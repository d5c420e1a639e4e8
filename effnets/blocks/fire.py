"""SqueezeNet's Fire module: squeeze to few channels, then expand with cheap 1x1 and some 3x3 filters."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from effnets import cost as steps
from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.cost import Cost
from effnets.spec import SpecError, param


@dataclass(frozen=True)
class FireSpec(BlockSpec):
    in_channels: int = param(96, lo=1, hi=4096, help="Channels of the input tensor (C_in).", label="C_in")
    squeeze_channels: int = param(
        16, lo=1, hi=1024, help="s: width of the 1x1 squeeze layer (keep s < e1 + e3).", label="squeeze s"
    )
    expand1x1_channels: int = param(64, lo=0, hi=2048, help="e1: 1x1 filters of the expand layer.", label="expand e1")
    expand3x3_channels: int = param(64, lo=0, hi=2048, help="e3: 3x3 filters of the expand layer.", label="expand e3")

    def check(self) -> None:
        if self.expand1x1_channels + self.expand3x3_channels < 1:
            raise SpecError(
                "expand1x1_channels + expand3x3_channels must be at least 1: the module needs an output",
                "expand1x1_channels",
                self.expand1x1_channels,
            )


class Fire(nn.Module):
    """1x1 squeeze -> ReLU -> concat(1x1 expand, 3x3 expand) -> ReLU

    Iandola et al. 2016.

    Layout and names follow torchvision's SqueezeNet Fire (convs with bias, no batch norm)."""

    def __init__(self, spec: FireSpec):
        super().__init__()
        s, e1, e3 = spec.squeeze_channels, spec.expand1x1_channels, spec.expand3x3_channels
        self.squeeze = nn.Conv2d(spec.in_channels, s, 1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(s, e1, 1) if e1 else None
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(s, e3, 3, padding=1) if e3 else None
        self.expand3x3_activation = nn.ReLU(inplace=True)

    @staticmethod
    def cost(spec: FireSpec, x: Cost) -> Cost:
        s, e1, e3 = spec.squeeze_channels, spec.expand1x1_channels, spec.expand3x3_channels
        x = steps.act(steps.conv(x, s, 1, bias=True, label="1x1 squeeze"), "relu")
        parts = []
        if e1:
            parts.append(
                steps.act(
                    steps.conv(steps.branch(x), e1, 1, bias=True, label="1x1 expand", branch_name="expand 1x1"),
                    "relu",
                    branch_name="expand 1x1",
                )
            )
        if e3:
            parts.append(
                steps.act(
                    steps.conv(steps.branch(x), e3, 3, bias=True, label="3x3 expand", branch_name="expand 3x3"),
                    "relu",
                    branch_name="expand 3x3",
                )
            )
        return steps.concat(x, *parts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        outs = []
        if self.expand1x1 is not None:
            outs.append(self.expand1x1_activation(self.expand1x1(x)))
        if self.expand3x3 is not None:
            outs.append(self.expand3x3_activation(self.expand3x3(x)))
        return torch.cat(outs, 1)


register(
    BlockInfo(
        name="fire",
        order=120,
        label="Fire module (SqueezeNet)",
        spec=FireSpec,
        module=Fire,
        paper="Iandola et al. 2016, SqueezeNet",
        url="https://arxiv.org/abs/1602.07360",
        explanation=(
            "SqueezeNet's strategies in one module: replace most 3x3 filters by 1x1 (9x fewer weights), and feed the "
            "remaining 3x3 filters few input channels through a 1x1 squeeze layer. It reached AlexNet accuracy with "
            "50x fewer parameters - but not 50x fewer MACs: parameters and compute are different budgets."
        ),
        formula=r"\text{params} = C_{in}s + s + s\,e_1 + e_1 + 9 s\,e_3 + e_3 \qquad "
        r"\text{MACs} = (C_{in}s + s\,e_1 + 9 s\,e_3) H W",
        group="unit",
    )
)
