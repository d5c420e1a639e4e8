"""DenseNet's dense layer: BN-ReLU-1x1 bottleneck -> BN-ReLU-3x3 to k new channels, concatenated with its input."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from effnets import cost as steps
from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.cost import Cost
from effnets.spec import param


@dataclass(frozen=True)
class DenseLayerSpec(BlockSpec):
    in_channels: int = param(
        128,
        lo=1,
        hi=4096,
        help="Channels of the input: every feature map of the dense block so far, k0 + (l - 1) k at layer l.",
        label="C_in",
    )
    growth_rate: int = param(
        32,
        lo=1,
        hi=512,
        help="k: the new channels the layer adds (its 3x3 conv's width); the output has C_in + k channels.",
        label="growth rate k",
    )
    bn_size: int = param(
        4,
        lo=0,
        hi=8,
        help="The 1x1 bottleneck's width is bn_size x k (4 in DenseNet-B/-BC); 0 = no bottleneck, the paper's plain "
        "DenseNet layer (BN-ReLU-3x3 on all C_in channels).",
        label="bottleneck width (x k)",
    )

    @property
    def bottleneck_channels(self) -> int:
        """Width of the 1x1 bottleneck (0 without one)."""
        return self.bn_size * self.growth_rate

    @property
    def output_channels(self) -> int:
        """C_in + k: the input is passed on unchanged and the k new maps are appended."""
        return self.in_channels + self.growth_rate


class DenseLayer(nn.Module):
    """BN -> ReLU -> 1x1 conv (bn_size k) -> BN -> ReLU -> 3x3 conv (k) -> concat(input, new)

    Huang et al. 2017 (DenseNet-B's composite function H_l, pre-activation order: BN and ReLU come before each conv).

    Parameter order (norm1, conv1, norm2, conv2) follows torchvision's ``_DenseLayer``. torchvision concatenates the
    block's list of feature maps at the start of each layer; here each layer appends its k maps to its input, which is
    the same tensor and the same count. Without a bottleneck (bn_size 0) only norm2 -> relu2 -> conv2 remain.
    """

    def __init__(self, spec: DenseLayerSpec):
        super().__init__()
        c, k, mid = spec.in_channels, spec.growth_rate, spec.bottleneck_channels
        self.norm1 = nn.BatchNorm2d(c) if mid else None
        self.relu1 = nn.ReLU(inplace=True) if mid else None
        self.conv1 = nn.Conv2d(c, mid, kernel_size=1, bias=False) if mid else None
        self.norm2 = nn.BatchNorm2d(mid or c)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(mid or c, k, kernel_size=3, padding=1, bias=False)

    @staticmethod
    def cost(spec: DenseLayerSpec, x: Cost) -> Cost:
        k, mid = spec.growth_rate, spec.bottleneck_channels
        trunk = x
        if mid:
            x = steps.act(steps.norm(x, label="BN (pre-activation)"), "relu")
            x = steps.conv(x, mid, 1, label=f"1x1 bottleneck ({spec.bn_size}k)")
        x = steps.act(steps.norm(x, label="BN (pre-activation)"), "relu")
        x = steps.conv(x, k, 3, label="3x3 conv (k new maps)")
        # The input's totals are already in x: pass it through branch() so concat adds them once.
        return steps.concat(x, steps.branch(trunk), steps.branch(x), label="concat(input, new maps)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.conv1 is not None:
            y = self.conv1(self.relu1(self.norm1(y)))
        y = self.conv2(self.relu2(self.norm2(y)))
        return torch.cat([x, y], 1)


register(
    BlockInfo(
        name="dense_layer",
        order=148,
        label="Dense layer (DenseNet)",
        spec=DenseLayerSpec,
        module=DenseLayer,
        paper="Huang et al. 2017, Densely Connected Convolutional Networks (DenseNet)",
        url="https://arxiv.org/abs/1608.06993",
        explanation=(
            "Where a ResNet adds a layer's output to its input, a dense layer concatenates: it keeps every feature "
            "map it was given and appends only k new ones (the growth rate, 32 in DenseNet-121), so each layer of a "
            "dense block sees the maps of all the layers before it and the block's width grows by k per layer. "
            "Because the input keeps growing, a 1x1 bottleneck of 4k channels first reduces it, and the 3x3 conv "
            "only ever reads 4k channels. BN and ReLU come before each conv (pre-activation), so the concatenated "
            "maps are stored raw. The layer is narrow and cheap in parameters, but its input, and its 1x1 conv's "
            "cost, grow with depth, and the concatenations move a lot of memory."
        ),
        formula=r"\text{params} = 2C_{in} + b k\,C_{in} + 2bk + 9\,b k^2 \qquad "
        r"\text{MACs} = \left(b k\,C_{in} + 9\,b k^2\right) H W \qquad C_{out} = C_{in} + k",
        group="unit",
    )
)
