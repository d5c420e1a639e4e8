"""Where one output pixel samples the input: the taps of a convolution window, and a deformable conv's shifted taps.

Row ``i`` of a conv's output reads input rows ``i * s - p + m * d`` for ``m = 0 .. k - 1`` (stride s, padding p,
dilation d); rows outside ``0 .. H - 1`` fall in the zero padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from effnets import cost


@dataclass(frozen=True)
class Window:
    """The conv arithmetic the picture shows (the block's first spatial conv)."""

    kernel: tuple[int, int]
    stride: int
    padding: tuple[int, int]
    dilation: int


@dataclass(frozen=True)
class SamplingPicture:
    """Data for the sampling picture.

    Attributes:
        in_hw: input height and width.
        out_hw: output height and width of the window's conv.
        out_pos: the output pixel (row, col) shown.
        window: the conv arithmetic.
        taps: input (row, col) of each kernel tap, row-major over the kernel; may lie in the padding.
        rf: (height, width) of the whole block's receptive field, from the cost model.
        shifted: deformable conv only: the (row, col) each tap actually samples (fractional), else None.
    """

    in_hw: tuple[int, int]
    out_hw: tuple[int, int]
    out_pos: tuple[int, int]
    window: Window
    taps: list[tuple[int, int]]
    rf: tuple[int, int]
    shifted: list[tuple[float, float]] | None = None

    @property
    def taps_in_padding(self) -> int:
        h, w = self.in_hw
        return sum(1 for r, c in self.taps if not (0 <= r < h and 0 <= c < w))

    def caption(self) -> str:
        """One paragraph: the window's arithmetic, how many taps fall in the padding, and the receptive field box."""
        win = self.window
        return (
            f"kernel {win.kernel[0]}×{win.kernel[1]}, stride {win.stride}, padding {win.padding[0]}, dilation "
            f"{win.dilation}: output ({self.out_pos[0]}, {self.out_pos[1]}) of {self.out_hw[0]}×{self.out_hw[1]} "
            f"reads {len(self.taps)} input pixels, {self.taps_in_padding} of them in the zero padding. "
            + (
                f"The dashed box is the whole block's receptive field ({self.rf[0]}×{self.rf[1]})."
                if self.rf[0] and self.rf[1]
                else "A deformable conv has no fixed receptive field: its offsets move the taps (red), so no "
                "box is drawn."
            )
        )


def window_of(spec) -> Window:
    """The first spatial conv of a block, from its spec's fields (kernel_size, stride, padding, dilation)."""
    k = int(getattr(spec, "kernel_size", 3))
    d = int(getattr(spec, "dilation", 1))
    s = int(getattr(spec, "stride", 1))
    p = int(getattr(spec, "padding", -1))
    name = type(spec).__name__
    if name == "AsymmetricSpec":
        return Window((1, k), s, (0, k // 2), 1)
    pad = cost.same_padding(k, d) if p < 0 else p
    return Window((k, k), s, (pad, pad), d)


def conv_taps(out_pos: tuple[int, int], w: Window) -> list[tuple[int, int]]:
    """Input coordinates read by output pixel ``out_pos``."""
    i, j = out_pos
    kh, kw = w.kernel
    return [
        (i * w.stride - w.padding[0] + m * w.dilation, j * w.stride - w.padding[1] + n * w.dilation)
        for m in range(kh)
        for n in range(kw)
    ]


def picture(spec, in_hw: tuple[int, int], out_pos: tuple[int, int] | None, rf: tuple[int, int]) -> SamplingPicture:
    """Sampling picture for ``spec``'s first spatial conv on an ``in_hw`` input; ``out_pos`` defaults to the centre.

    Raises:
        ValueError: the window does not fit (output below 1) or ``out_pos`` is outside the output.
    """
    w = window_of(spec)
    h, wd = in_hw
    ho = cost.out_size(h, w.kernel[0], w.stride, w.padding[0], w.dilation)
    wo = cost.out_size(wd, w.kernel[1], w.stride, w.padding[1], w.dilation)
    if ho < 1 or wo < 1:
        raise ValueError(f"a {h}x{wd} input is too small for this window (output {ho}x{wo})")
    if out_pos is None:
        out_pos = (ho // 2, wo // 2)
    if not (0 <= out_pos[0] < ho and 0 <= out_pos[1] < wo):
        raise ValueError(f"output pixel {out_pos} is outside the {ho}x{wo} output")
    return SamplingPicture((h, wd), (ho, wo), out_pos, w, conv_taps(out_pos, w), rf)


def deformable_taps(spec, in_hw: tuple[int, int], out_pos: tuple[int, int] | None, seed: int = 0) -> SamplingPicture:
    """Sampling picture of a ``deformable`` block, with the taps shifted by offsets that an UNTRAINED offset
    predictor (PyTorch's default init, seeded) computes on a seeded random input: an illustration of the mechanism,
    not of what a trained network learns."""
    from effnets.blocks import get_block

    info = get_block("deformable")
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    module = info.build(spec).eval()
    module.offset.reset_parameters()  # the block zero-initialises offsets (a regular grid); show a non-trivial field
    h, w = in_hw
    x = torch.rand(1, spec.in_channels, h, w, generator=gen)
    with torch.no_grad():
        offsets = module.sampling_points(x)[0]  # (points, 2, H_out, W_out), (dy, dx)
    pic = picture(spec, in_hw, out_pos, (0, 0))
    i, j = pic.out_pos
    k = spec.kernel_size
    shifted = []
    for t, (r, c) in enumerate(pic.taps[: k * k]):
        dy, dx = offsets[t, 0, i, j].item(), offsets[t, 1, i, j].item()
        shifted.append((r + dy, c + dx))
    return SamplingPicture(pic.in_hw, pic.out_hw, pic.out_pos, pic.window, pic.taps, pic.rf, shifted)
