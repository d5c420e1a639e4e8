"""Universal inverted bottleneck (Qin et al. 2024, MobileNetV4): two optional depthwise convs around MobileNetV2's
inverted bottleneck, laid out like timm's ``_efficientnet_blocks.UniversalInvertedResidual``."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from effnets import cost as steps
from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import ConvBNAct, make_divisible
from effnets.cost import ACTIVATIONS, Cost
from effnets.spec import SpecError, param

# variant -> (start depthwise conv, middle depthwise conv): the paper's Fig. 3 instantiations
VARIANTS: dict[str, tuple[bool, bool]] = {
    "extra_dw": (True, True),
    "ib": (False, True),
    "convnext": (True, False),
    "ffn": (False, False),
}
VARIANT_LABELS = {"extra_dw": "ExtraDW", "ib": "IB", "convnext": "ConvNeXt-like", "ffn": "FFN"}
EXPAND_DIVISOR = 8  # timm: mid width = make_divisible(C_in x ratio, 8)
LAYER_SCALE_INIT = 1e-5  # timm's (and the paper's hybrid models') initial layer scale


@dataclass(frozen=True)
class UIBSpec(BlockSpec):
    in_channels: int = param(64, lo=1, hi=4096, step=1, help="Channels of the input tensor (C_in).", label="C_in")
    out_channels: int = param(64, lo=1, hi=4096, help="Channels of the output (C_out).", label="C_out")
    variant: str = param(
        "extra_dw",
        choices=tuple(VARIANTS),
        help="Which depthwise convs the block has: extra_dw (ExtraDW: both), ib (inverted bottleneck: the middle "
        "one), convnext (ConvNeXt-like: the start one), ffn (FFN: neither, two 1x1 convs).",
    )
    start_kernel_size: int = param(
        3,
        choices=(3, 5, 7),
        help="Kernel of the start depthwise conv, before the 1x1 expansion (extra_dw and convnext only).",
        label="start dw kernel",
    )
    kernel_size: int = param(
        3,
        choices=(3, 5, 7),
        help="Kernel of the middle depthwise conv, on the expanded width (extra_dw and ib only).",
        label="middle dw kernel",
    )
    stride: int = param(
        1,
        choices=(1, 2),
        help="Carried by the middle depthwise conv, or by the start one where there is no middle one (FFN has no "
        "depthwise conv to carry 2). The skip needs stride 1 and C_in = C_out.",
    )
    expand_ratio: float = param(
        4.0,
        lo=1.0,
        hi=8.0,
        step=0.5,
        help="t: the 1x1 expansion widens C_in to t C_in, rounded to a multiple of 8 as timm does (MNv4: 2 to 6).",
        label="expand ratio t",
    )
    layer_scale: bool = param(
        False,
        help="Multiply the output by a learnable per-channel scale (initialised to 1e-5) before the skip, as "
        "MobileNetV4's hybrid models do; the conv models have none.",
    )
    activation: str = param("relu", choices=ACTIVATIONS, help="ReLU in MobileNetV4's conv models.")

    def check(self) -> None:
        if self.stride > 1 and self.variant == "ffn":
            raise SpecError(
                f"stride={self.stride} needs a depthwise conv to carry it, and variant=ffn has none: choose "
                "stride=1 or another variant",
                "stride",
                self.stride,
            )

    @property
    def start_kernel(self) -> int:
        """Kernel of the start depthwise conv; 0 without one (timm's ``dw_kernel_size_start``)."""
        return self.start_kernel_size if VARIANTS[self.variant][0] else 0

    @property
    def mid_kernel(self) -> int:
        """Kernel of the middle depthwise conv; 0 without one (timm's ``dw_kernel_size_mid``)."""
        return self.kernel_size if VARIANTS[self.variant][1] else 0

    @property
    def start_stride(self) -> int:
        """The start depthwise conv takes the stride only where no middle one follows."""
        return 1 if self.mid_kernel else self.stride

    @property
    def expanded_channels(self) -> int:
        return make_divisible(self.in_channels * self.expand_ratio, EXPAND_DIVISOR)

    @property
    def use_residual(self) -> bool:
        return self.stride == 1 and self.in_channels == self.out_channels

    @property
    def sampling_window(self) -> tuple[int, int]:
        """(kernel, stride) of the first spatial conv, for the sampling picture ((1, 1) for FFN)."""
        if self.start_kernel:
            return self.start_kernel, self.start_stride
        return (self.mid_kernel, self.stride) if self.mid_kernel else (1, 1)


class LayerScale(nn.Module):
    """x * gamma per channel (gamma learnable, one per channel), as timm's ``LayerScale2d``."""

    def __init__(self, channels: int, init: float = LAYER_SCALE_INIT):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((channels,), init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma.view(1, -1, 1, 1)


class UniversalInvertedBottleneck(nn.Module):
    """[kxk start depthwise] -> 1x1 expand -> [kxk middle depthwise] -> 1x1 project [-> layer scale] [+ skip]

    Qin et al. 2024 (MobileNetV4), Fig. 3: ExtraDW has both depthwise convs, IB (MobileNetV2's inverted bottleneck)
    the middle one, ConvNeXt-like the start one, FFN neither. The start depthwise conv has BN and no activation;
    the expansion and the middle depthwise conv are followed by BN and the activation; the projection is linear.
    Children (dw_start, pw_exp, dw_mid, pw_proj, layer_scale) in timm's order.
    """

    def __init__(self, spec: UIBSpec):
        super().__init__()
        c_in, mid, a = spec.in_channels, spec.expanded_channels, spec.activation
        ks, km = spec.start_kernel, spec.mid_kernel
        self.use_residual = spec.use_residual
        self.dw_start = (
            ConvBNAct(c_in, c_in, ks, spec.start_stride, groups=c_in, activation="none") if ks else nn.Identity()
        )
        self.pw_exp = ConvBNAct(c_in, mid, 1, activation=a)
        self.dw_mid = ConvBNAct(mid, mid, km, spec.stride, groups=mid, activation=a) if km else nn.Identity()
        self.pw_proj = ConvBNAct(mid, spec.out_channels, 1, activation="none")
        self.layer_scale = LayerScale(spec.out_channels) if spec.layer_scale else nn.Identity()

    @staticmethod
    def cost(spec: UIBSpec, x: Cost) -> Cost:
        c_in, mid, a = spec.in_channels, spec.expanded_channels, spec.activation
        ks, km = spec.start_kernel, spec.mid_kernel
        trunk = x
        if ks:
            s = spec.start_stride
            label = f"{ks}x{ks} start depthwise" + (f" s{s}" if s > 1 else "")
            x = ConvBNAct.cost(x, c_in, ks, s, groups=c_in, activation="none", label=label)
        x = ConvBNAct.cost(x, mid, 1, activation=a, label="1x1 expand")
        if km:
            label = f"{km}x{km} middle depthwise" + (f" s{spec.stride}" if spec.stride > 1 else "")
            x = ConvBNAct.cost(x, mid, km, spec.stride, groups=mid, activation=a, label=label)
        x = ConvBNAct.cost(x, spec.out_channels, 1, activation="none", label="1x1 project (linear)")
        if spec.layer_scale:
            x = steps.layer_scale(x)
        if spec.use_residual:
            x = steps.add(x, steps.branch(trunk))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.layer_scale(self.pw_proj(self.dw_mid(self.pw_exp(self.dw_start(x)))))
        return x + y if self.use_residual else y


register(
    BlockInfo(
        name="uib",
        order=116,
        label="Universal inverted bottleneck (MobileNetV4)",
        spec=UIBSpec,
        module=UniversalInvertedBottleneck,
        paper="Qin et al. 2024, MobileNetV4: Universal Models for the Mobile Ecosystem",
        url="https://arxiv.org/abs/2404.10518",
        explanation=(
            "MobileNetV4's one searchable block: MobileNetV2's inverted bottleneck (1x1 expand, depthwise, linear "
            "1x1 project) with two optional depthwise convs, one before the expansion on the narrow input and one "
            "after it on the wide map. Their four combinations are known blocks: IB (only the middle one, "
            "MobileNetV2's block), ConvNeXt-like (only the start one: spatial mixing before the expansion, cheap "
            "because it runs on C_in channels), ExtraDW (both: a larger receptive field for little extra cost) and "
            "FFN (neither: two 1x1 convs, a transformer's feed-forward layer, the fastest on accelerators). The "
            "architecture search picks one per layer, so a network mixes them: MNv4-Conv-S uses ExtraDW to "
            "downsample, IB in its last stage and a ConvNeXt-like block at 14x14. Depthwise convs add few MACs "
            "but memory traffic, so which variant wins depends on the hardware: the point of the search."
        ),
        formula=(
            r"t' = \mathrm{round}_8(t\,C_{in});\quad \text{MACs} = [k_s^2 C_{in} H_s W_s] + C_{in} t' H_s W_s "
            r"+ [k_m^2 t' H' W'] + t' C_{out} H' W';\quad "
            r"\text{params} = [k_s^2 C_{in}] + C_{in} t' + [k_m^2 t'] + t' C_{out} \;(+\;\text{BN})\;[+\,C_{out}]"
        ),
        group="unit",
    )
)
