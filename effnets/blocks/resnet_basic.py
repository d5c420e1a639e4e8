"""The ResNet basic block (He et al. 2016): two 3x3 convs around a shortcut, ResNet-18 and -34's unit."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from effnets import cost as steps
from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import ConvBNAct
from effnets.cost import Cost
from effnets.spec import param


@dataclass(frozen=True)
class ResNetBasicSpec(BlockSpec):
    in_channels: int = param(64, lo=1, hi=4096, help="Channels of the input tensor (C_in).", label="C_in")
    out_channels: int = param(128, lo=1, hi=4096, help="Channels of both 3x3 convs and of the output (C_out).")
    stride: int = param(
        2,
        choices=(1, 2),
        help="Stride of the first 3x3 conv (2 in the first block of stages conv3_x to conv5_x); the shortcut then "
        "needs a 1x1 stride-2 projection.",
    )

    @property
    def projection(self) -> bool:
        """Whether the shortcut is a 1x1 conv + BN (the shapes differ) rather than the identity."""
        return self.stride != 1 or self.in_channels != self.out_channels


class ResNetBasicBlock(nn.Module):
    """3x3 conv -> BN -> ReLU -> 3x3 conv -> BN, + shortcut (identity, or 1x1 s2 conv + BN) -> ReLU

    He et al. 2016. Parameter order (conv1/bn1, conv2/bn2, downsample) follows torchvision's BasicBlock.
    """

    def __init__(self, spec: ResNetBasicSpec):
        super().__init__()
        c_in, c_out, s = spec.in_channels, spec.out_channels, spec.stride
        self.conv1 = ConvBNAct(c_in, c_out, 3, s)
        self.conv2 = ConvBNAct(c_out, c_out, 3, activation="none")
        self.downsample = ConvBNAct(c_in, c_out, 1, s, activation="none") if spec.projection else None
        self.relu = nn.ReLU(inplace=True)

    @staticmethod
    def cost(spec: ResNetBasicSpec, x: Cost) -> Cost:
        c_out, s = spec.out_channels, spec.stride
        short = steps.branch(x)
        x = ConvBNAct.cost(x, c_out, 3, s, label="3x3 conv" + (" s2" if s == 2 else ""))
        x = ConvBNAct.cost(x, c_out, 3, activation="none", label="3x3 conv")
        if spec.projection:
            short = ConvBNAct.cost(
                short,
                c_out,
                1,
                s,
                activation="none",
                label="1x1 projection shortcut" + (" s2" if s == 2 else ""),
                branch_name="shortcut",
            )
        return steps.act(steps.add(x, short), "relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        short = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + short)


register(
    BlockInfo(
        name="resnet_basic",
        order=145,
        label="ResNet basic block",
        spec=ResNetBasicSpec,
        module=ResNetBasicBlock,
        paper="He et al. 2016, Deep Residual Learning for Image Recognition",
        url="https://arxiv.org/abs/1512.03385",
        explanation=(
            "The block that made depth trainable: instead of asking two 3x3 convs to learn a mapping H(x), the "
            "block learns the residual F(x) = H(x) - x and adds x back through a shortcut, so an extra block can at "
            "worst learn F = 0 and pass its input on, and gradients reach early layers through the additions. The "
            "ReLU comes after the add. Where a block halves the map and widens it (the first block of each stage), "
            "the shortcut becomes a 1x1 stride-2 conv with BN (the paper's option B), the block's only extra cost. "
            "ResNet-18 and -34 stack these; every conv is a full 3x3, so the block costs 9 C^2 H'W' MACs per conv."
        ),
        formula=(
            r"\text{MACs} = 9 C_{in} C_{out} H' W' + 9 C_{out}^2 H' W' \;(+\; C_{in} C_{out} H' W'"
            r"\text{ projection}), \quad \text{params} = 9 C_{in} C_{out} + 9 C_{out}^2 \;(+\; C_{in} C_{out})"
            r" + \text{BN}"
        ),
        group="unit",
    )
)
