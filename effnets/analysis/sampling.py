"""Where one output pixel samples the input: the taps of a convolution window, a deformable conv's shifted taps, and
how many kernel taps reach each output pixel of a transposed conv.

Row ``i`` of a conv's output reads input rows ``i * s - p + m * d`` for ``m = 0 .. k - 1`` (stride s, padding p,
dilation d); rows outside ``0 .. H - 1`` fall in the zero padding. A transposed conv runs the other way: input row
``i`` writes output rows ``i * s - p + m``, so output row ``o`` receives one tap from each (i, m) with
``i * s + m = o + p``; where s does not divide k, that count changes with ``(o + p) mod s``: a checkerboard.
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
    """The first spatial conv of a block, from its spec's fields (kernel_size, stride, padding, dilation), or from its
    ``sampling_window`` (kernel, stride) where the first spatial conv is not the one those fields describe."""
    k = int(getattr(spec, "kernel_size", 3))
    d = int(getattr(spec, "dilation", 1))
    s = int(getattr(spec, "stride", 1))
    p = int(getattr(spec, "padding", -1))
    name = type(spec).__name__
    if name == "AsymmetricSpec":
        return Window((1, k), s, (0, k // 2), 1)
    if (first := getattr(spec, "sampling_window", None)) is not None:
        k, s = first
        return Window((k, k), s, (k // 2, k // 2), 1)
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


def picture(
    spec, in_hw: tuple[int, int], out_pos: tuple[int, int] | None, rf: tuple[int, int]
) -> SamplingPicture | TapCountPicture:
    """Sampling picture for ``spec``'s first spatial conv on an ``in_hw`` input; ``out_pos`` defaults to the centre.
    A transposed conv's picture is its :class:`TapCountPicture`.

    Raises:
        ValueError: the window does not fit (output below 1) or ``out_pos`` is outside the output.
    """
    if type(spec).__name__ == "TransposedConvSpec":
        return transposed_taps(spec, in_hw, out_pos, rf)
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


# ----- transposed convolution: how many taps reach each output pixel ------------------------------------------------


def tap_counts(size: int, k: int, s: int, p: int, output_padding: int) -> list[int]:
    """Per output row of a transposed conv on ``size`` input rows: how many (input row, kernel row) pairs write it.

    Input row ``i`` writes output rows ``i * s - p + m`` (m = 0 .. k - 1); the output has
    ``(size - 1) * s - 2 p + k + output_padding`` rows. Raises ValueError when that is below 1.
    """
    n = (size - 1) * s - 2 * p + k + output_padding
    if n < 1:
        raise ValueError(f"a {size}-pixel side is too small for this transposed conv (output {n})")
    counts = [0] * n
    for i in range(size):
        for m in range(k):
            if 0 <= (o := i * s - p + m) < n:
                counts[o] += 1
    return counts


def interior_counts(k: int, s: int) -> tuple[int, ...]:
    """The tap counts per axis away from the borders, one per phase (o + p) mod s: how many kernel rows m have
    m = phase (mod s). All equal (k / s) exactly when s divides k; 0 (a hole) where k < s."""
    return tuple(len(range(r, k, s)) for r in range(s))


@dataclass(frozen=True)
class TapCountPicture:
    """A transposed conv's output grid with the number of kernel taps that reach each pixel.

    Attributes:
        in_hw, out_hw: input and output height and width.
        out_pos: the output pixel (row, col) picked.
        kernel, stride, padding, output_padding: the transposed conv's settings.
        row_counts, col_counts: taps per output row and per output column; pixel (o, o') receives their product
            (kept per axis: a 1024-pixel input at stride 4 has a 4093 x 4093 output).
        sources: (input row, input col, kernel row, kernel col) of each tap that reaches ``out_pos``.
        rf: (height, width) of the block's receptive field, from the cost model (the largest over the phases).
    """

    in_hw: tuple[int, int]
    out_hw: tuple[int, int]
    out_pos: tuple[int, int]
    kernel: int
    stride: int
    padding: int
    output_padding: int
    row_counts: list[int]
    col_counts: list[int]
    sources: list[tuple[int, int, int, int]]
    rf: tuple[int, int]

    def count(self, i: int, j: int) -> int:
        """Taps that reach output pixel (i, j)."""
        return self.row_counts[i] * self.col_counts[j]

    def grid(self, rows: range, cols: range) -> list[list[int]]:
        """Taps per output pixel over ``rows`` x ``cols``, row by row."""
        return [[self.row_counts[r] * self.col_counts[c] for c in cols] for r in rows]

    @property
    def counts(self) -> list[list[int]]:
        """Taps per output pixel over the whole output, row by row."""
        return self.grid(range(self.out_hw[0]), range(self.out_hw[1]))

    @property
    def interior(self) -> list[int]:
        """The distinct tap counts of output pixels away from the borders (per axis counts multiplied)."""
        axis = interior_counts(self.kernel, self.stride)
        return sorted({a * b for a in axis for b in axis})

    @property
    def uniform(self) -> bool:
        return len(self.interior) == 1

    def caption(self) -> str:
        """The picked pixel's taps, the interior pattern, and the lesson (k divisible by s, or resize then conv)."""
        k, s = self.kernel, self.stride
        i, j = self.out_pos
        n, inputs = self.count(i, j), len({(r, c) for r, c, _, _ in self.sources})
        head = (
            f"transposed conv, kernel {k}×{k}, stride {s}, padding {self.padding}, output padding "
            f"{self.output_padding}: output ({i}, {j}) of {self.out_hw[0]}×{self.out_hw[1]} receives {n} kernel "
            f"tap{'' if n == 1 else 's'} from {inputs} input pixel{'' if inputs == 1 else 's'}. "
        )
        counts = ", ".join(map(str, self.interior))
        if self.uniform:
            body = (
                f"Away from the borders every output pixel receives {self.interior[0]}: the stride divides the "
                "kernel, so the patches overlap evenly (fewer taps only where a patch hangs over the border)."
            )
        else:
            better = k + (-k % s)
            why = (
                f"the patches ({k}×{k}) are narrower than the stride {s}, so pixels with 0 taps are holes that only a "
                "bias or a BN shift fills"
                if 0 in self.interior
                else f"the stride {s} does not divide the kernel {k}, so the patches overlap unevenly"
            )
            body = (
                f"Away from the borders the counts are {counts} by position (a checkerboard): {why}. A kernel "
                f"divisible by the stride (k = {better}) or a resize followed by a conv avoids it."
            )
        return head + body + f" The block's receptive field: {self.rf[0]}×{self.rf[1]} input pixels at most."


def transposed_taps(
    spec, in_hw: tuple[int, int], out_pos: tuple[int, int] | None, rf: tuple[int, int] = (0, 0)
) -> TapCountPicture:
    """The tap-count picture of a ``transposed_conv`` block on an ``in_hw`` input; ``out_pos`` defaults to the
    centre of the output.

    Raises:
        ValueError: the output is below 1 pixel or ``out_pos`` is outside it.
    """
    k, s, p, op = spec.kernel_size, spec.stride, spec.padding, spec.output_padding
    rows = tap_counts(in_hw[0], k, s, p, op)
    cols = tap_counts(in_hw[1], k, s, p, op)
    ho, wo = len(rows), len(cols)
    if out_pos is None:
        out_pos = (ho // 2, wo // 2)
    if not (0 <= out_pos[0] < ho and 0 <= out_pos[1] < wo):
        raise ValueError(f"output pixel {out_pos} is outside the {ho}x{wo} output")
    oi, oj = out_pos
    src_rows = [(a, m) for a in range(in_hw[0]) for m in range(k) if a * s - p + m == oi]
    src_cols = [(b, n) for b in range(in_hw[1]) for n in range(k) if b * s - p + n == oj]
    sources = [(a, b, m, n) for a, m in src_rows for b, n in src_cols]
    return TapCountPicture(tuple(in_hw), (ho, wo), out_pos, k, s, p, op, rows, cols, sources, tuple(rf))
