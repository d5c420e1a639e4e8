"""RepVGG block (Ding et al. 2021): a kxk conv-BN, a 1x1 conv-BN and an identity BN summed while training, one kxk
conv with a bias once deployed, laid out like timm's ``byobnet.RepVggBlock``."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from effnets import cost as steps
from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import ConvBNAct, make_act
from effnets.cost import Cost
from effnets.spec import SpecError, param

DEPLOY_HELP = (
    "Off: the training form with its branches. On: the deploy form, the branches folded into one conv with a bias "
    "(the same function in eval mode; effnets.reparameterize turns one into the other)."
)


@dataclass(frozen=True)
class RepVGGSpec(BlockSpec):
    in_channels: int = param(48, lo=1, hi=4096, step=1, help="Channels of the input tensor (C_in).", label="C_in")
    out_channels: int = param(48, lo=1, hi=4096, help="Channels of the output (C_out).", label="C_out")
    kernel_size: int = param(
        3,
        choices=(1, 3, 5, 7),
        help="k of the main conv (3 in RepVGG); odd, so the 1x1 and identity sit at its centre.",
    )
    stride: int = param(1, choices=(1, 2), help="Stride of both convs; the identity branch needs stride 1.")
    groups: int = param(
        1,
        lo=1,
        hi=4096,
        help="g: groups of both convs (RepVGG-B1g4 uses 4 in every other layer); must divide C_in and C_out.",
    )
    deploy: bool = param(False, help=DEPLOY_HELP)

    @property
    def has_identity(self) -> bool:
        """The identity BN branch exists where the block keeps the shape (C_in == C_out, stride 1)."""
        return self.in_channels == self.out_channels and self.stride == 1

    def check(self) -> None:
        for name in ("in_channels", "out_channels"):
            if getattr(self, name) % self.groups:
                raise SpecError(f"groups={self.groups} must divide {name}={getattr(self, name)}", "groups", self.groups)


class RepVGGBlock(nn.Module):
    """[identity BN] + kxk conv -> BN + 1x1 conv -> BN, summed -> ReLU (deployed: kxk conv + bias -> ReLU)

    Ding et al. 2021 (RepVGG), Fig. 4. The identity branch exists when C_in == C_out and the stride is 1. Children and
    parameter order (identity, conv_kxk, conv_1x1, act; deployed: reparam_conv, act) follow timm's ``RepVggBlock``.
    """

    def __init__(self, spec: RepVGGSpec):
        super().__init__()
        self.spec = spec
        c_in, c_out, k, s, g = spec.in_channels, spec.out_channels, spec.kernel_size, spec.stride, spec.groups
        if spec.deploy:
            self.reparam_conv = nn.Conv2d(c_in, c_out, k, s, k // 2, groups=g, bias=True)
        else:
            self.identity = nn.BatchNorm2d(c_out) if spec.has_identity else None
            self.conv_kxk = ConvBNAct(c_in, c_out, k, s, k // 2, groups=g, activation="none")
            self.conv_1x1 = ConvBNAct(c_in, c_out, 1, s, 0, groups=g, activation="none")
        self.act = make_act("relu")

    @staticmethod
    def cost(spec: RepVGGSpec, x: Cost) -> Cost:
        k, s, g, c_out = spec.kernel_size, spec.stride, spec.groups, spec.out_channels
        down = f" s{s}" if s > 1 else ""
        if spec.deploy:
            y = steps.conv(x, c_out, k, s, k // 2, 1, g, True, f"{k}x{k} conv{down} (reparameterized, bias)")
            return steps.act(y, "relu")
        y = ConvBNAct.cost(x, c_out, k, s, k // 2, groups=g, activation="none", label=f"{k}x{k} conv{down}")
        one = ConvBNAct.cost(
            steps.branch(x), c_out, 1, s, 0, groups=g, activation="none", label=f"1x1 conv{down}", branch_name="1x1"
        )
        y = steps.add(y, one, label="sum of the conv branches")
        if spec.has_identity:
            identity = steps.norm(steps.branch(x), label="identity BN", branch_name="identity")
            y = steps.add(y, identity, label="+ identity branch")
        return steps.act(y, "relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spec.deploy:
            return self.act(self.reparam_conv(x))
        y = self.conv_1x1(x) + self.conv_kxk(x)
        if self.identity is not None:
            y = y + self.identity(x)
        return self.act(y)

    def fused(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The kernel and bias of the one conv that computes the sum of the branches in eval mode."""
        from effnets.blocks._reparam import fuse_branches

        spec = self.spec
        return fuse_branches([self.conv_kxk, self.conv_1x1, self.identity], spec.kernel_size, spec.groups)

    def deploy_form(self) -> RepVGGBlock:
        """A new block in the deploy form computing this one's eval-mode function (this one is not changed)."""
        from effnets.blocks._reparam import deployed

        weights = None if self.spec.deploy else {"reparam_conv": self.fused()}
        return deployed(self, weights, lambda: RepVGGBlock(self.spec.replace(deploy=True)))


register(
    BlockInfo(
        name="repvgg",
        order=155,
        label="RepVGG block",
        spec=RepVGGSpec,
        module=RepVGGBlock,
        paper="Ding et al. 2021, RepVGG: Making VGG-style ConvNets Great Again",
        url="https://arxiv.org/abs/2101.03697",
        explanation=(
            "A plain stack of 3x3 convs is fast (one dense kernel per layer, no branch to keep in memory) but hard to "
            "train; ResNet's branches train well but cost memory traffic at inference. RepVGG trains with three "
            "branches, a 3x3 conv-BN, a 1x1 conv-BN and an identity BN, and deploys one 3x3 conv. The trick is "
            "linearity: in eval mode a BN is a per-channel scale and shift, so each conv-BN is one conv with a bias; "
            "a 1x1 kernel is a 3x3 kernel that is zero off the centre, the identity is a 3x3 kernel with a single 1 "
            "at the centre of its own channel, and convs of the same input add by adding their kernels. The deploy "
            "form is cheaper (no 1x1 MACs, no BN, no adds) and faster, and computes the same function only in eval "
            "mode: in training BN normalises with the batch's statistics, which no fixed kernel can."
        ),
        formula=(
            r"\text{train: params} = (k^2 + 1)\tfrac{C_{in}}{g} C_{out} + 4 C_{out} + [2 C_{out}],\ "
            r"\text{MACs} = (k^2 + 1)\tfrac{C_{in}}{g} C_{out} H'W';\quad"
            r"\text{deploy: params} = k^2 \tfrac{C_{in}}{g} C_{out} + C_{out},\ "
            r"\text{MACs} = k^2 \tfrac{C_{in}}{g} C_{out} H'W';\quad"
            r"W = \tfrac{\gamma_3}{\sigma_3} W_3 + \tfrac{\gamma_1}{\sigma_1} \mathrm{pad}(W_1) "
            r"+ \tfrac{\gamma_0}{\sigma_0} I,\ b = \sum_i \beta_i - \tfrac{\gamma_i \mu_i}{\sigma_i}"
        ),
        group="unit",
    )
)
