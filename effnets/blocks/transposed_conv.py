"""Transposed convolution (a decoder's learnable upsampling): each input pixel scatters a k x k kernel into the
output, the kernels placed s pixels apart."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from effnets import cost as steps
from effnets.blocks import BlockInfo, BlockSpec, register
from effnets.blocks._layers import make_act
from effnets.cost import ACTIVATIONS, Cost
from effnets.spec import SpecError, param


@dataclass(frozen=True)
class TransposedConvSpec(BlockSpec):
    out_channels: int = param(32, lo=1, hi=4096, help="Channels of the output (C_out).", label="C_out")
    kernel_size: int = param(
        3,
        choices=(1, 2, 3, 4, 5, 6, 7),
        help="k: each input pixel writes a k x k patch of the output. A k that the stride divides (4 with stride 2) "
        "gives every output pixel the same number of taps; 3 with stride 2 gives a checkerboard.",
        label="kernel k",
    )
    stride: int = param(
        2, choices=(1, 2, 3, 4), help="s: the output grows by s pixels per input pixel (2 doubles the resolution)."
    )
    padding: int = param(
        1,
        lo=0,
        hi=8,
        step=1,
        help="p: rows and columns cropped from each border of the full output (not zeros added to the input).",
    )
    output_padding: int = param(
        1,
        lo=0,
        hi=3,
        step=1,
        help="op: rows and columns added at the bottom and right, below the stride. Exactly 2H x 2W at stride 2: "
        "k = 3, p = 1, op = 1, or k = 4, p = 1, op = 0.",
    )
    groups: int = param(1, lo=1, hi=4096, help="g: C_in and C_out both divided into g independent groups.")
    bias: bool = param(False, help="A learnable bias per output channel (redundant before BN).")
    norm: bool = param(True, help="Batch norm after the transposed conv, as in a decoder's upsampling layer.")
    activation: str = param("relu", choices=ACTIVATIONS, help="The nonlinearity after it ('none' for a plain layer).")

    def check(self) -> None:
        if self.output_padding >= self.stride:
            raise SpecError(
                f"output_padding={self.output_padding} must be smaller than stride={self.stride} (a larger one "
                "would add rows no input pixel reaches)",
                "output_padding",
                self.output_padding,
            )
        for name, c in (("in_channels", self.in_channels), ("out_channels", self.out_channels)):
            if c % self.groups:
                raise SpecError(f"groups={self.groups} must divide {name}={c}", "groups", self.groups)


def _refuse_an_empty_output(conv: nn.Module, inputs: tuple, out: torch.Tensor) -> None:
    """torch refuses an output below 1 pixel with groups = 1 but returns an empty map with groups > 1; the block
    refuses both, as its cost does (a forward hook: no tensor-dependent Python in fx-traced diagrams)."""
    if 0 in out.shape[-2:]:
        h, w = inputs[0].shape[-2:]
        raise RuntimeError(
            f"Given input size per channel: ({h} x {w}). Calculated output size per channel: "
            f"({out.shape[-2]} x {out.shape[-1]}). Output size is too small"
        )


class TransposedConv(nn.Sequential):
    """kxk transposed conv, stride s (upsamples s x) -> [BN] -> [act]

    Dumoulin & Visin 2016 (the arithmetic); Odena, Dumoulin & Olah 2016 (the checkerboard when s does not divide k).
    Children as torchvision's Conv2dNormActivation: 0 the ``nn.ConvTranspose2d``, then BN and the activation.
    """

    def __init__(self, spec: TransposedConvSpec):
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(
                spec.in_channels,
                spec.out_channels,
                spec.kernel_size,
                stride=spec.stride,
                padding=spec.padding,
                output_padding=spec.output_padding,
                groups=spec.groups,
                bias=spec.bias,
            )
        ]
        if spec.norm:
            layers.append(nn.BatchNorm2d(spec.out_channels))
        if spec.activation != "none":
            layers.append(make_act(spec.activation))
        super().__init__(*layers)
        self[0].register_forward_hook(_refuse_an_empty_output)

    @staticmethod
    def cost(spec: TransposedConvSpec, x: Cost) -> Cost:
        k, s = spec.kernel_size, spec.stride
        x = steps.conv(
            x,
            spec.out_channels,
            k,
            s,
            spec.padding,
            1,
            spec.groups,
            spec.bias,
            label=f"{k}x{k} transposed conv s{s}",
            transposed=True,
            output_padding=spec.output_padding,
        )
        if spec.norm:
            x = steps.norm(x)
        return steps.act(x, spec.activation)


register(
    BlockInfo(
        name="transposed_conv",
        order=165,
        label="Transposed convolution (upsampling)",
        spec=TransposedConvSpec,
        module=TransposedConv,
        paper="Dumoulin & Visin 2016, A guide to convolution arithmetic for deep learning",
        url="https://arxiv.org/abs/1603.07285",
        explanation=(
            "The layer a decoder (U-Net, FCN, a GAN's generator) uses to upsample with learned weights: the "
            "transpose of a stride-s conv, so each input pixel multiplies the k x k kernel and adds it into the "
            "output, the patches placed s pixels apart; the output side is (H - 1)s - 2p + k + op. It costs "
            "k^2 C_in C_out / g MACs per INPUT pixel, the same as a stride-1 conv of that kernel run on the input: "
            "s^2 times fewer than the conv on the upsampled map. Where s does not divide k the patches overlap "
            "unevenly: with k = 3, s = 2 an output pixel receives 1, 2 or 4 taps by its position, a checkerboard "
            "the trained network has to fight (Odena, Dumoulin & Olah 2016, 'Deconvolution and Checkerboard "
            "Artifacts'). Choose k divisible by s (k = 4 with s = 2: 4 taps everywhere) or resize (nearest or "
            "bilinear) and then convolve. The Sampling section shows the tap count of every output pixel."
        ),
        formula=(
            r"H' = (H-1)s - 2p + k + op;\quad \text{params} = k^2 C_{in} C_{out} / g\;[+\,C_{out}];\quad"
            r"\text{MACs} = k^2\, C_{in}\, \tfrac{C_{out}}{g}\, H W \;(\text{input } H W)"
        ),
    )
)
