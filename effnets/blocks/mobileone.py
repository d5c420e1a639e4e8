"""MobileOne block (Vasu et al. 2023): a depthwise and a pointwise stage, each k over-parameterized conv-BN branches
(+ a 1x1 'scale' branch, + an identity BN) while training and one conv with a bias once deployed, laid out like two
of timm's ``byobnet.MobileOneBlock``."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from effnets import cost as steps
from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import ConvBNAct, make_act
from effnets.blocks.repvgg import DEPLOY_HELP
from effnets.cost import Cost
from effnets.spec import param


@dataclass(frozen=True)
class MobileOneSpec(BlockSpec):
    in_channels: int = param(64, lo=1, hi=4096, step=1, help="Channels of the input tensor (C_in).", label="C_in")
    out_channels: int = param(64, lo=1, hi=4096, help="Channels of the output (C_out).", label="C_out")
    kernel_size: int = param(
        3,
        choices=(1, 3, 5, 7),
        help="d: kernel of the depthwise stage (3 in MobileOne); 1 leaves out its 1x1 scale branch.",
        label="kernel d",
    )
    stride: int = param(1, choices=(1, 2), help="Stride of the depthwise stage (2 in each stage's first block).")
    num_conv_branches: int = param(
        4,
        lo=1,
        hi=8,
        help="k: over-parameterized conv-BN branches per stage while training (4 in MobileOne-S0, 1 in S1-S4).",
        label="conv branches k",
    )
    deploy: bool = param(False, help=DEPLOY_HELP)


class MobileOneConv(nn.Module):
    """k x (conv -> BN) [+ 1x1 conv -> BN] [+ identity BN], summed -> ReLU (deployed: conv + bias -> ReLU)

    One reparameterizable stage of MobileOne (timm's ``MobileOneBlock``: children identity, conv_kxk, conv_scale,
    act; deployed: reparam_conv, act). The 1x1 scale branch exists for a kernel above 1, the identity when
    C_in == C_out and the stride is 1.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        groups: int = 1,
        num_conv_branches: int = 1,
        deploy: bool = False,
    ):
        super().__init__()
        self.config = (in_channels, out_channels, kernel_size, stride, groups, num_conv_branches, deploy)
        k = kernel_size
        if deploy:
            self.reparam_conv = nn.Conv2d(in_channels, out_channels, k, stride, k // 2, groups=groups, bias=True)
        else:
            self.identity = (
                nn.BatchNorm2d(out_channels) if self.has_identity(in_channels, out_channels, stride) else None
            )
            self.conv_kxk = nn.ModuleList(
                ConvBNAct(in_channels, out_channels, k, stride, k // 2, groups=groups, activation="none")
                for _ in range(num_conv_branches)
            )
            self.conv_scale = (
                ConvBNAct(in_channels, out_channels, 1, stride, 0, groups=groups, activation="none") if k > 1 else None
            )
        self.act = make_act("relu")

    @staticmethod
    def has_identity(in_channels: int, out_channels: int, stride: int) -> bool:
        return in_channels == out_channels and stride == 1

    @staticmethod
    def cost(
        x: Cost,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        groups: int = 1,
        num_conv_branches: int = 1,
        deploy: bool = False,
        label: str = "conv",
    ) -> Cost:
        k, s = kernel_size, stride
        name = f"{k}x{k} {label}" + (f" s{s}" if s > 1 else "")
        if deploy:
            y = steps.conv(x, out_channels, k, s, k // 2, 1, groups, True, f"{name} (reparameterized, bias)")
            return steps.act(y, "relu")
        trunk = x
        y = None
        for i in range(num_conv_branches):
            start = trunk if y is None else steps.branch(trunk)
            b = ConvBNAct.cost(
                start,
                out_channels,
                k,
                s,
                k // 2,
                groups=groups,
                activation="none",
                label=f"{name} (branch {i + 1} of {num_conv_branches})",
                branch_name="" if y is None else f"{label} branch {i + 1}",
            )
            y = b if y is None else steps.add(y, b, label=f"+ {label} branch {i + 1}")
        if k > 1:
            scale = ConvBNAct.cost(
                steps.branch(trunk),
                out_channels,
                1,
                s,
                0,
                groups=groups,
                activation="none",
                label=f"1x1 {label} (scale branch)",
                branch_name=f"{label} scale",
            )
            y = steps.add(y, scale, label=f"+ {label} scale branch")
        if MobileOneConv.has_identity(trunk.c, out_channels, s):
            identity = steps.norm(steps.branch(trunk), label=f"{label} identity BN", branch_name=f"{label} identity")
            y = steps.add(y, identity, label=f"+ {label} identity branch")
        return steps.act(y, "relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.config[-1]:
            return self.act(self.reparam_conv(x))
        y = self.conv_kxk[0](x)
        for branch in self.conv_kxk[1:]:
            y = y + branch(x)
        if self.conv_scale is not None:
            y = y + self.conv_scale(x)
        if self.identity is not None:
            y = y + self.identity(x)
        return self.act(y)

    def fused(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The kernel and bias of the one conv that computes the sum of the branches in eval mode."""
        from effnets.blocks._reparam import fuse_branches

        k, groups = self.config[2], self.config[4]
        return fuse_branches([*self.conv_kxk, self.conv_scale, self.identity], k, groups)

    def deploy_form(self) -> MobileOneConv:
        """A new stage in the deploy form computing this one's eval-mode function (this one is not changed)."""
        from effnets.blocks._reparam import deployed

        weights = None if self.config[-1] else {"reparam_conv": self.fused()}
        return deployed(self, weights, lambda: MobileOneConv(*self.config[:-1], deploy=True))


class MobileOneBlock(nn.Module):
    """kxk depthwise stage (k branches + 1x1 scale + [identity]) -> ReLU -> 1x1 stage (k branches + [identity]) -> ReLU

    Vasu et al. 2023 (MobileOne), Fig. 3: each stage a sum of conv-BN branches while training and one conv with a
    bias once deployed (:class:`MobileOneConv`). Children ``depthwise`` and ``pointwise`` in the order of timm's
    two ``MobileOneBlock`` modules per MobileOne block.
    """

    def __init__(self, spec: MobileOneSpec):
        super().__init__()
        self.spec = spec
        c_in, n, d = spec.in_channels, spec.num_conv_branches, spec.deploy
        self.depthwise = MobileOneConv(c_in, c_in, spec.kernel_size, spec.stride, c_in, n, d)
        self.pointwise = MobileOneConv(c_in, spec.out_channels, 1, 1, 1, n, d)

    @staticmethod
    def cost(spec: MobileOneSpec, x: Cost) -> Cost:
        c_in, n, d = spec.in_channels, spec.num_conv_branches, spec.deploy
        x = MobileOneConv.cost(x, c_in, spec.kernel_size, spec.stride, c_in, n, d, label="depthwise")
        return MobileOneConv.cost(x, spec.out_channels, 1, 1, 1, n, d, label="pointwise")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))

    def deploy_form(self) -> MobileOneBlock:
        """A new block in the deploy form computing this one's eval-mode function (this one is not changed)."""
        from effnets.blocks._reparam import deployed

        weights = None
        if not self.spec.deploy:
            weights = {
                "depthwise.reparam_conv": self.depthwise.fused(),
                "pointwise.reparam_conv": self.pointwise.fused(),
            }
        return deployed(self, weights, lambda: MobileOneBlock(self.spec.replace(deploy=True)))


register(
    BlockInfo(
        name="mobileone",
        order=156,
        label="MobileOne block",
        spec=MobileOneSpec,
        module=MobileOneBlock,
        paper="Vasu et al. 2023, MobileOne: An Improved One millisecond Mobile Backbone",
        url="https://arxiv.org/abs/2206.04040",
        explanation=(
            "MobileNetV1's depthwise-separable pair, reparameterized like RepVGG. While training, each stage is a "
            "sum of k parallel conv-BN branches (k = 4 in MobileOne-S0: over-parameterization that trains better), "
            "plus a 1x1 'scale' conv-BN in the depthwise stage and an identity BN where the shape allows; once "
            "trained, linearity folds each stage into one conv with a bias: BN is an affine map in eval mode, a 1x1 "
            "kernel and the identity are kxk kernels with only a centre tap, and kernels of parallel convs add. The "
            "deployed network is a plain chain of depthwise and 1x1 convs with ReLUs, no branches and no memory "
            "traffic for them: k + 1 times fewer depthwise MACs, k times fewer 1x1 MACs, and the same function as "
            "the training form in eval mode only."
        ),
        formula=(
            r"\text{train MACs} = (k\,d^2 + 1) C_{in} H'W' + k\,C_{in} C_{out} H'W';\ "
            r"\text{deploy MACs} = d^2 C_{in} H'W' + C_{in} C_{out} H'W';\quad"
            r"\text{deploy params} = (d^2 + 1) C_{in} + (C_{in} + 1) C_{out};\quad"
            r"W = \sum_{i=1}^{k} \tfrac{\gamma_i}{\sigma_i} W_i + \tfrac{\gamma_s}{\sigma_s} \mathrm{pad}(W_s) "
            r"+ \tfrac{\gamma_0}{\sigma_0} I"
        ),
        group="unit",
    )
)
