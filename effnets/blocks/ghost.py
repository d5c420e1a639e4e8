"""Ghost bottleneck (Han et al. 2020, GhostNet): Ghost modules make half their maps with a cheap depthwise conv,
laid out like timm's ``ghostnet.GhostBottleneck`` and ``GhostModule``."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from effnets import cost as steps
from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import ConvBNAct, SqueezeExcite, make_divisible
from effnets.cost import ACTIVATIONS, Cost
from effnets.spec import param

SE_ACTIVATION = "relu"  # timm's GhostNet SE: ReLU inside, hard-sigmoid gate, width rounded to a multiple of 4
SE_GATE = "hardsigmoid"
SE_DIVISOR = 4


@dataclass(frozen=True)
class GhostSpec(BlockSpec):
    in_channels: int = param(40, lo=1, hi=4096, step=1, help="Channels of the input tensor (C_in).", label="C_in")
    out_channels: int = param(40, lo=1, hi=4096, help="Channels of the output (C_out).", label="C_out")
    kernel_size: int = param(
        5,
        choices=(3, 5, 7),
        help="Kernel of the stride-2 depthwise conv and of the shortcut's depthwise conv (3 or 5 in GhostNet).",
        label="kernel k",
    )
    stride: int = param(1, choices=(1, 2), help="2 adds a depthwise conv with stride 2 between the two Ghost modules.")
    expanded_channels: int = param(
        120,
        lo=1,
        hi=8192,
        help="Output width of the first Ghost module ('#exp' in the paper's Table 1, a width, not a ratio of C_in: "
        "184 from 80).",
        label="expanded width",
    )
    se_ratio: float = param(
        0.25,
        lo=0.0,
        hi=1.0,
        step=0.05,
        help="SE width = the EXPANDED width x ratio, rounded to a multiple of 4 (at least 4); 0 = no SE.",
        label="SE ratio",
    )
    ratio: int = param(
        2,
        choices=(2, 3, 4, 5),
        help="s: a Ghost module computes ceil(C/s) maps with its 1x1 conv and the other (s-1)/s with cheap "
        "depthwise convs (GhostNet: 2).",
        label="ghost ratio s",
    )
    dw_size: int = param(
        3,
        choices=(1, 3, 5, 7),
        help="d: kernel of the cheap depthwise 'ghost' conv inside each Ghost module (GhostNet: 3).",
        label="cheap kernel d",
        advanced=True,
    )
    activation: str = param("relu", choices=ACTIVATIONS, help="ReLU in GhostNet (the second module has none).")

    @property
    def squeeze_channels(self) -> int:
        """timm's ``make_divisible(expanded x ratio, 4)``; 0 without SE."""
        if self.se_ratio <= 0:
            return 0
        return make_divisible(self.expanded_channels * self.se_ratio, SE_DIVISOR)

    @property
    def expand_ratio(self) -> float:
        """t = expanded width / C_in (for tables; the block is defined by the width itself)."""
        return self.expanded_channels / self.in_channels

    @property
    def has_projection(self) -> bool:
        """The shortcut is a conv path (depthwise + 1x1) unless the block keeps the shape."""
        return self.stride != 1 or self.in_channels != self.out_channels


class GhostModule(nn.Module):
    """1x1 conv to ceil(C/s) -> BN -> act, then kxk depthwise 'cheap' conv of those -> BN -> act, concat, first C.

    Han et al. 2020, Fig. 2(b). Children ``primary_conv`` and ``cheap_operation`` as in timm's ``GhostModule``.
    """

    def __init__(self, in_channels: int, out_channels: int, ratio: int = 2, dw_size: int = 3, activation="relu"):
        super().__init__()
        self.out_channels = out_channels
        init, new = self.widths(out_channels, ratio)
        self.primary_conv = ConvBNAct(in_channels, init, 1, activation=activation)
        self.cheap_operation = ConvBNAct(init, new, dw_size, groups=init, activation=activation)

    @staticmethod
    def widths(out_channels: int, ratio: int) -> tuple[int, int]:
        """(intrinsic maps ceil(C/s), ghost maps (s-1) ceil(C/s)); together at least C, sliced back to C."""
        init = math.ceil(out_channels / ratio)
        return init, init * (ratio - 1)

    @staticmethod
    def cost(
        x: Cost, out_channels: int, ratio: int, dw_size: int, activation: str, label: str, branch_name: str = ""
    ) -> Cost:
        init, new = GhostModule.widths(out_channels, ratio)
        x1 = ConvBNAct.cost(x, init, 1, activation=activation, label=f"{label}: 1x1 primary", branch_name=branch_name)
        x2 = ConvBNAct.cost(
            steps.branch(x1),
            new,
            dw_size,
            groups=init,
            activation=activation,
            label=f"{label}: {dw_size}x{dw_size} cheap depthwise",
            branch_name=branch_name,
        )
        y = steps.concat(x1, steps.branch(x1), x2, label=f"{label}: concat", branch_name=branch_name)
        if y.c > out_channels:
            y = steps.with_channels(y, out_channels, label=f"{label}: first {out_channels}", branch_name=branch_name)
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.primary_conv(x)
        out = torch.cat([x1, self.cheap_operation(x1)], dim=1)
        return out[:, : self.out_channels]


class GhostBottleneck(nn.Module):
    """Ghost module (expand) -> [kxk depthwise s2 -> BN] -> [SE] -> Ghost module (project, linear) + shortcut

    Han et al. 2020 (GhostNet), Fig. 3. The shortcut is the identity when the block keeps the shape, else kxk
    depthwise -> BN -> 1x1 conv -> BN. Parameter order (ghost1, conv_dw/bn_dw, SE, ghost2, shortcut) follows
    timm's ``ghostnet.GhostBottleneck``.
    """

    def __init__(self, spec: GhostSpec):
        super().__init__()
        mid, k, s = spec.expanded_channels, spec.kernel_size, spec.stride
        self.ghost1 = GhostModule(spec.in_channels, mid, spec.ratio, spec.dw_size, spec.activation)
        self.depthwise = ConvBNAct(mid, mid, k, s, groups=mid, activation="none") if s > 1 else nn.Identity()
        self.se = (
            SqueezeExcite(mid, spec.squeeze_channels, SE_ACTIVATION, SE_GATE)
            if spec.squeeze_channels
            else nn.Identity()
        )
        self.ghost2 = GhostModule(mid, spec.out_channels, spec.ratio, spec.dw_size, "none")
        c_in = spec.in_channels
        self.shortcut = (
            nn.Sequential(
                ConvBNAct(c_in, c_in, k, s, groups=c_in, activation="none"),
                ConvBNAct(c_in, spec.out_channels, 1, activation="none"),
            )
            if spec.has_projection
            else nn.Identity()
        )

    @staticmethod
    def cost(spec: GhostSpec, x: Cost) -> Cost:
        mid, k, s = spec.expanded_channels, spec.kernel_size, spec.stride
        trunk = x
        x = GhostModule.cost(x, mid, spec.ratio, spec.dw_size, spec.activation, "ghost 1 (expand)")
        if s > 1:
            x = ConvBNAct.cost(x, mid, k, s, groups=mid, activation="none", label=f"{k}x{k} depthwise s{s}")
        if spec.squeeze_channels:
            x = SqueezeExcite.cost(x, spec.squeeze_channels, SE_ACTIVATION, SE_GATE)
        x = GhostModule.cost(x, spec.out_channels, spec.ratio, spec.dw_size, "none", "ghost 2 (project, linear)")
        short = steps.branch(trunk)
        if spec.has_projection:
            c_in = spec.in_channels
            short = ConvBNAct.cost(
                short,
                c_in,
                k,
                s,
                groups=c_in,
                activation="none",
                label=f"shortcut {k}x{k} depthwise" + (f" s{s}" if s > 1 else ""),
                branch_name="shortcut",
            )
            short = ConvBNAct.cost(
                short, spec.out_channels, 1, activation="none", label="shortcut 1x1", branch_name="shortcut"
            )
        return steps.add(x, short)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.ghost2(self.se(self.depthwise(self.ghost1(x))))
        return y + self.shortcut(x)


register(
    BlockInfo(
        name="ghost",
        order=114,
        label="Ghost bottleneck",
        spec=GhostSpec,
        module=GhostBottleneck,
        paper="Han et al. 2020, GhostNet: More Features from Cheap Operations",
        url="https://arxiv.org/abs/1911.11907",
        explanation=(
            "The feature maps of a trained CNN come in near-duplicate pairs, so GhostNet computes only some of them "
            "with a real conv. A Ghost module runs a 1x1 conv to ceil(C/s) 'intrinsic' maps, then makes the other "
            "(s-1)/s of the maps ('ghosts') from those with a cheap d x d depthwise conv, and concatenates both "
            "(cut to C): about s times fewer MACs than a 1x1 conv to C. The bottleneck stacks an expanding and a "
            "linear projecting Ghost module like MobileNetV2's inverted residual, with a stride-2 depthwise conv "
            "between them to downsample, an optional SE, and a shortcut that is a depthwise + 1x1 conv path when "
            "the shape changes."
        ),
        formula=(
            r"\text{Ghost}(C_{in}\!\to\!C):\ \text{MACs} = \lceil C/s\rceil (C_{in} + (s-1) d^2) H W,\quad"
            r"\text{params} = \lceil C/s\rceil (C_{in} + (s-1) d^2) + 2 s \lceil C/s\rceil;\quad"
            r"\text{bottleneck} = \text{Ghost}(C_{in}\!\to\!t) + [k^2 t H'W'] + [\text{SE}] "
            r"+ \text{Ghost}(t\!\to\!C_{out}) + [k^2 C_{in} H'W' + C_{in} C_{out} H'W']"
        ),
        group="unit",
    )
)
