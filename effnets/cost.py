"""The analytic cost model: what a layer costs, computed from its settings and the input shape alone.

Counting conventions (stated here and nowhere else in the code; the README repeats them for users):

* **params**: learnable parameters: conv and linear weights and biases, batch- and layer-norm gamma and beta, layer
  scales. Buffers are not counted: batch-norm running statistics and fixed (non-learnable) kernels such as VGNet's
  Gaussian and edge filters.
* **macs**: multiply-accumulates of convolution and linear layers, one fused multiply-add = 1, bias additions not
  counted. This is the unit of the MobileNet, ShuffleNet and EfficientNet papers ("FLOPs", "MAdds", "Mult-Adds") and
  of torchvision's weight metadata (``_ops``).
* **flops** = 2 x macs (the unit of ``torch.utils.flop_counter``). Nobody in these papers uses it; the app says which
  unit it shows.
* **acts**: elements written by conv and linear layers for one sample (fvcore's ``ActivationCountAnalysis`` rule).
* **extras**: work that is not conv/linear, each counted on its own line so that a number always says what it holds.
  Every extra is counted in the same unit as MACs (one operation per element, a fused multiply-add counting once):

  - ``bn``: inference batch norm is one scale-and-shift per element: 1 per output element.
  - ``act``: one per element for every nonlinearity (ReLU, ReLU6, SiLU, sigmoid, hard-swish, hard-sigmoid ...).
  - ``elementwise``: one per output element for tensor-tensor adds and multiplies (residual adds, SE gating).
  - ``pool``: window pooling costs kernel_h * kernel_w per output element; global average pooling one per input
    element.
  - ``sampling``: deformable convolution's bilinear interpolation: 4 multiply-adds per sampled input value (one per
    neighbour), plus 1 per sampled value for the modulation mask.
  - ``ln``: layer norm cannot fold into a conv at inference as batch norm does: per element 1 add for the mean,
    2 for the variance (subtract, multiply-add), 1 to normalise (a multiply-add) and 1 for the affine gamma, beta:
    5 per element (4 without affine). fvcore's ``layer_norm`` rule counts the same 5 (4) per input element.

  In a FLOPs view every line, extras included, is doubled.

* **receptive field**: the side of the input window that one output element can see along the main path
  (``rf_h`` x ``rf_w``), grown by ``dilation * (k - 1) * jump`` per conv or pool, with ``jump`` the product of the
  strides so far. A transposed conv's outputs see different numbers of inputs by their phase (k = 3, s = 2: 2 or 1):
  its field is the largest, ceil(k / s) inputs per axis at dilation 1, and ``jump`` becomes ceil(jump / s) (exact
  when s divides it). Its MACs are C_in * C_out/g * k_h * k_w per INPUT pixel, scattered over k x k outputs (the rule
  of FlopCounterMode and fvcore; taps cropped by the padding count too). A global pool (as in squeeze-excitation)
  makes every output depend on the whole input; that is recorded in ``global_context`` rather than folded into the size.

A :class:`Cost` is an immutable record of the tensor shape *after* the layers seen so far and the running totals.
Each primitive below returns a new record. Branches (residual shortcuts, inception towers, SE gates) start from
:func:`branch`, which keeps the shape and receptive field but zeroes the totals, and are merged back with
:func:`concat`, :func:`add` or :func:`multiply`, which add the branch totals once.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from dataclasses import dataclass, fields

from effnets.shapes import out_size, same_padding, tf_same_out, tf_same_pad  # noqa: F401 (re-exported)
from effnets.shapes import pair as _pair
from effnets.spec import OutputTooSmall

EXTRA_KINDS: tuple[str, ...] = ("bn", "act", "elementwise", "pool", "sampling", "ln")
EXTRA_LABELS: dict[str, str] = {
    "bn": "batch norm (1 scale-and-shift per element)",
    "act": "activations (1 per element)",
    "elementwise": "element-wise adds and multiplies (residual adds, SE gates)",
    "pool": "pooling (k*k per output element; global: 1 per input element)",
    "sampling": "deformable bilinear sampling (4 per sampled value, +1 with a mask)",
    "ln": "layer norm (5 per element: mean, variance, normalise, affine; as fvcore)",
}

ACTIVATIONS: tuple[str, ...] = ("relu", "relu6", "silu", "hardswish", "sigmoid", "hardsigmoid", "gelu", "none")


@dataclass(frozen=True, slots=True)
class Step:
    """One counted layer, for formulas, tables and diagrams.

    Attributes:
        label: what the layer is ("1x1 expand", "3x3 depthwise s2", ...).
        kind: conv, linear, bn, ln, act, pool, add, mul, concat, split, shuffle, sample, pad.
        out_shape: (C, H, W) after the layer.
        params: learnable parameters of the layer.
        macs: conv/linear multiply-accumulates of the layer.
        extra: the layer's count in its extras line (kind bn/ln/act/add/mul/pool/sample), else 0.
        formula: LaTeX of the count with the numbers substituted (conv/linear), else "".
        branch: name of the branch the layer sits on ("" for the main path).
        in_shape: (C, H, W) read by a conv or linear layer (linear: the map it flattens), else None; with
            ``out_shape`` and ``params`` it gives the layer's memory traffic (:mod:`effnets.analysis.roofline`).
        kernel_size: (k_h, k_w) of a conv layer, else None.
        groups: the conv's groups (1 for a linear layer and for other kinds).
    """

    label: str
    kind: str
    out_shape: tuple[int, int, int]
    params: int = 0
    macs: int = 0
    extra: int = 0
    formula: str = ""
    branch: str = ""
    in_shape: tuple[int, int, int] | None = None
    kernel_size: tuple[int, int] | None = None
    groups: int = 1


@dataclass(frozen=True, slots=True)
class Cost:
    """Shape after the layers seen so far, and their running totals (per sample).

    Attributes:
        c, h, w: channels, height and width of the current tensor.
        params, macs, acts: running totals (see the module docstring for what each counts).
        extras: running totals of the extra work, in the order of ``EXTRA_KINDS``.
        rf_h, rf_w: receptive field of one element of the current tensor, in input pixels.
        jump: distance in input pixels between adjacent elements of the current tensor (product of strides).
        global_context: True once a global pool feeds the path (the output then depends on the whole input).
        steps: the counted layers, in order.
        record_steps: whether primitives append to ``steps`` (False for fast whole-network sweeps, where only the
            totals are needed; branches inherit it).
    """

    c: int
    h: int
    w: int
    params: int = 0
    macs: int = 0
    acts: int = 0
    extras: tuple[int, ...] = (0,) * len(EXTRA_KINDS)
    rf_h: int = 1
    rf_w: int = 1
    jump: int = 1
    global_context: bool = False
    steps: tuple[Step, ...] = ()
    record_steps: bool = True

    # ----- read-only views -------------------------------------------------------------------------------------
    @property
    def output_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the current tensor."""
        return (self.c, self.h, self.w)

    @property
    def flops(self) -> int:
        """2 x macs: the unit of torch.utils.flop_counter."""
        return 2 * self.macs

    @property
    def numel(self) -> int:
        """Elements of the current tensor (one sample)."""
        return self.c * self.h * self.w

    @property
    def receptive_field(self) -> tuple[int, int]:
        """(rf_h, rf_w) in input pixels."""
        return (self.rf_h, self.rf_w)

    def extra(self, kind: str) -> int:
        """Running total of one extras line (``bn``, ``act``, ``elementwise``, ``pool`` or ``sampling``)."""
        return self.extras[EXTRA_KINDS.index(kind)]

    @property
    def extras_dict(self) -> dict[str, int]:
        """The extras lines as a dict."""
        return dict(zip(EXTRA_KINDS, self.extras, strict=True))

    def total_macs(self, include: tuple[str, ...] | list[str] | set[str] = ()) -> int:
        """Conv/linear MACs plus the named extras lines."""
        return self.macs + sum(self.extra(k) for k in include)

    def to_dict(self) -> dict:
        """Plain-data summary (JSON-friendly)."""
        return {
            "params": self.params,
            "macs": self.macs,
            "flops": self.flops,
            "acts": self.acts,
            "output_shape": list(self.output_shape),
            "receptive_field": list(self.receptive_field),
            "global_context": self.global_context,
            "extras": self.extras_dict,
        }


# ----- helpers -------------------------------------------------------------------------------------------------


def _add_extra(extras: tuple[int, ...], kind: str, n: int) -> tuple[int, ...]:
    out = list(extras)
    out[EXTRA_KINDS.index(kind)] += n
    return tuple(out)  # type: ignore[return-value]


def _sum_extras(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(x + y for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def fmt_int(n: int) -> str:
    """1234567 -> '1,234,567' (for formulas)."""
    return f"{n:,}".replace(",", "{,}")


# ----- primitives ----------------------------------------------------------------------------------------------


def start(c: int, h: int, w: int, record_steps: bool = True) -> Cost:
    """An input tensor of shape C x H x W with nothing counted yet (``record_steps=False``: totals only)."""
    for name, v in (("channels", c), ("height", h), ("width", w)):
        if int(v) < 1:
            raise ValueError(f"input {name} must be at least 1, got {v}")
    return Cost(int(c), int(h), int(w), record_steps=record_steps)


def branch(x: Cost) -> Cost:
    """Start a side branch at ``x``: same shape and receptive field, zero totals, no steps."""
    return Cost(
        x.c,
        x.h,
        x.w,
        rf_h=x.rf_h,
        rf_w=x.rf_w,
        jump=x.jump,
        global_context=x.global_context,
        record_steps=x.record_steps,
    )


_COST_FIELDS = tuple(f.name for f in fields(Cost))
_COST_VALUES, _COST_INDEX = operator.attrgetter(*_COST_FIELDS), {n: i for i, n in enumerate(_COST_FIELDS)}


def replace(obj, **changes):
    """dataclasses.replace, several times faster for a Cost (every primitive makes one; a B7 makes thousands)."""
    if type(obj) is Cost:
        values = list(_COST_VALUES(obj))
        for name, v in changes.items():
            values[_COST_INDEX[name]] = v
        return Cost(*values)
    return dataclasses.replace(obj, **changes)


def _step(x: Cost, **kw) -> tuple[Step, ...]:
    if not x.record_steps:
        return x.steps
    return x.steps + (Step(**kw),)


def conv(
    x: Cost,
    out_channels: int,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str | None = None,
    dilation: int = 1,
    groups: int = 1,
    bias: bool = False,
    label: str = "",
    branch_name: str = "",
    transposed: bool = False,
    output_padding: int | tuple[int, int] = 0,
) -> Cost:
    """A 2-D convolution, or its transpose (output side (H - 1)s - 2p + d(k - 1) + output_padding + 1).

    Args:
        x: the input record.
        out_channels: C_out.
        kernel_size: k or (k_h, k_w).
        stride: s or (s_h, s_w).
        padding: p, (p_h, p_w), None for ``dilation * (k - 1) // 2`` per axis, or "tf_same" for TensorFlow 'SAME'.
        dilation: spacing of the kernel taps.
        groups: g; C_in and C_out must both be divisible by it.
        bias: whether the conv adds a learnable bias (counted in params, not in MACs).
        label: name of the layer for tables and diagrams.
        branch_name: the branch the layer sits on.
        transposed: a transposed conv (``nn.ConvTranspose2d``; padding None means 0).
        output_padding: op, rows and columns a transposed conv adds at the bottom and right (below the stride).

    Raises:
        ValueError: groups not dividing the channels, or an output smaller than 1 x 1.
    """
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(stride)
    c_in = x.c
    if out_channels < 1:
        raise ValueError(f"out_channels={out_channels} must be at least 1")
    if groups < 1 or c_in % groups or out_channels % groups:
        raise ValueError(
            f"groups={groups} must divide both in_channels={c_in} and out_channels={out_channels} "
            f"(conv '{label or 'conv'}')"
        )
    if transposed:
        ph, pw = _pair(padding or 0)
        oph, opw = _pair(output_padding)
        ho = (x.h - 1) * sh - 2 * ph + dilation * (kh - 1) + oph + 1
        wo = (x.w - 1) * sw - 2 * pw + dilation * (kw - 1) + opw + 1
    elif padding == "tf_same":
        ho, wo = tf_same_out(x.h, sh), tf_same_out(x.w, sw)
    else:
        ph, pw = (same_padding(kh, dilation), same_padding(kw, dilation)) if padding is None else _pair(padding)
        ho = out_size(x.h, kh, sh, ph, dilation)
        wo = out_size(x.w, kw, sw, pw, dilation)
    if ho < 1 or wo < 1:
        pad_text = "TF 'same'" if padding == "tf_same" else f"{ph}x{pw}"
        need_h = 1 if padding == "tf_same" else max(1, dilation * (kh - 1) + 1 - 2 * ph)
        need_w = 1 if padding == "tf_same" else max(1, dilation * (kw - 1) + 1 - 2 * pw)
        if transposed:  # (H - 1)s must make up for the 2p the padding crops beyond d(k - 1) + op
            need_h = 1 + max(0, -(-(2 * ph - dilation * (kh - 1) - oph) // sh))
            need_w = 1 + max(0, -(-(2 * pw - dilation * (kw - 1) - opw) // sw))
        raise OutputTooSmall(
            f"a {x.h}x{x.w} input is too small for '{label or 'conv'}' ({kh}x{kw} kernel, dilation {dilation}, "
            f"stride {sh}, padding {pad_text}): it needs at least {need_h}x{need_w} pixels",
            "input",
            (x.h, x.w),
        )
    cin_g = c_in // groups
    params = out_channels * cin_g * kh * kw + (out_channels if bias else 0)
    split, whole, fh, fw = (out_channels, c_in, x.h, x.w) if transposed else (c_in, out_channels, ho, wo)
    macs = split // groups * whole * fh * fw * kh * kw
    formula = ""
    if x.record_steps:
        split_tex = rf"\tfrac{{{split}}}{{{groups}}}" if groups > 1 else f"{split}"
        formula = rf"{kh}\cdot{kw}\cdot{split_tex}\cdot{whole}\cdot{fh}\cdot{fw} = {fmt_int(macs)}"
    if transposed:
        span_h, span_w, jump = _scatter_span(kh, sh, dilation), _scatter_span(kw, sw, dilation), -(-x.jump // sh)
    else:
        span_h, span_w, jump = dilation * (kh - 1) + 1, dilation * (kw - 1) + 1, x.jump * sh
    return replace(
        x,
        c=out_channels,
        h=ho,
        w=wo,
        params=x.params + params,
        macs=x.macs + macs,
        acts=x.acts + out_channels * ho * wo,
        rf_h=x.rf_h + (span_h - 1) * x.jump,
        rf_w=x.rf_w + (span_w - 1) * x.jump,
        jump=jump,
        steps=_step(
            x,
            label=label or f"{kh}x{kw} {'transposed ' if transposed else ''}conv",
            kind="conv",
            out_shape=(out_channels, ho, wo),
            params=params,
            macs=macs,
            formula=formula,
            branch=branch_name,
            in_shape=x.output_shape,
            kernel_size=(kh, kw),
            groups=groups,
        ),
    )


def _scatter_span(k: int, s: int, d: int) -> int:
    """Inputs (per axis) that the best-placed output of a transposed conv sees: its taps m with m d = phase (mod s)."""
    phases = ([m for m in range(k) if (m * d - r) % s == 0] for r in range(s))
    return max((m[-1] - m[0]) * d // s + 1 for m in phases if m)


def norm(x: Cost, label: str = "BN", branch_name: str = "") -> Cost:
    """Batch norm: 2 C params (gamma, beta); 1 scale-and-shift per element in the ``bn`` extras line."""
    n = x.numel
    return replace(
        x,
        params=x.params + 2 * x.c,
        extras=_add_extra(x.extras, "bn", n),
        steps=_step(x, label=label, kind="bn", out_shape=x.output_shape, params=2 * x.c, extra=n, branch=branch_name),
    )


def layer_norm(x: Cost, affine: bool = True, label: str = "LN", branch_name: str = "") -> Cost:
    """Layer norm over each position's channels: 2 C params (affine); 5 per element (4 without affine) in ``ln``."""
    y = count_extra(x, "ln", x.numel * (5 if affine else 4), label, "ln", branch_name=branch_name)
    return _with_params(y, 2 * x.c if affine else 0)


def layer_scale(x: Cost, label: str = "layer scale", branch_name: str = "") -> Cost:
    """A learnable per-channel multiply (ConvNeXt's layer scale): C params, 1 per element in ``elementwise``."""
    return _with_params(count_extra(x, "elementwise", x.numel, label, "mul", branch_name=branch_name), x.c)


def _with_params(y: Cost, p: int) -> Cost:
    steps_ = y.steps[:-1] + (replace(y.steps[-1], params=p),) if y.record_steps else y.steps
    return replace(y, params=y.params + p, steps=steps_)


def act(x: Cost, kind: str = "relu", branch_name: str = "") -> Cost:
    """A nonlinearity: 1 per element in the ``act`` extras line; ``none`` records nothing."""
    if kind not in ACTIVATIONS:
        raise ValueError(f"activation '{kind}' is not one of {', '.join(ACTIVATIONS)}")
    if kind == "none":
        return x
    n = x.numel
    return replace(
        x,
        extras=_add_extra(x.extras, "act", n),
        steps=_step(x, label=kind, kind="act", out_shape=x.output_shape, extra=n, branch=branch_name),
    )


def pool(
    x: Cost,
    kernel_size: int,
    stride: int,
    padding: int = 0,
    ceil_mode: bool = False,
    kind: str = "max",
    label: str = "",
    branch_name: str = "",
) -> Cost:
    """Max or average pooling over k x k windows: k*k per output element in the ``pool`` extras line."""
    ho = out_size(x.h, kernel_size, stride, padding, 1, ceil_mode)
    wo = out_size(x.w, kernel_size, stride, padding, 1, ceil_mode)
    if ho < 1 or wo < 1:
        need = max(1, kernel_size - 2 * padding)
        raise OutputTooSmall(
            f"a {x.h}x{x.w} input is too small for '{label or kind + ' pool'}' ({kernel_size}x{kernel_size} window, "
            f"padding {padding}): it needs at least {need}x{need} pixels",
            "input",
            (x.h, x.w),
        )
    n = x.c * ho * wo * kernel_size * kernel_size
    return replace(
        x,
        h=ho,
        w=wo,
        extras=_add_extra(x.extras, "pool", n),
        rf_h=x.rf_h + (kernel_size - 1) * x.jump,
        rf_w=x.rf_w + (kernel_size - 1) * x.jump,
        jump=x.jump * stride,
        steps=_step(
            x,
            label=label or f"{kernel_size}x{kernel_size} {kind} pool s{stride}",
            kind="pool",
            out_shape=(x.c, ho, wo),
            extra=n,
            branch=branch_name,
        ),
    )


def global_pool(x: Cost, label: str = "global avg pool", branch_name: str = "") -> Cost:
    """Global average pooling to C x 1 x 1: 1 per input element in the ``pool`` extras line."""
    n = x.numel
    return replace(
        x,
        h=1,
        w=1,
        extras=_add_extra(x.extras, "pool", n),
        global_context=True,
        steps=_step(x, label=label, kind="pool", out_shape=(x.c, 1, 1), extra=n, branch=branch_name),
    )


def linear(x: Cost, out_features: int, bias: bool = True, label: str = "FC", branch_name: str = "") -> Cost:
    """A fully connected layer on the flattened C x H x W input."""
    fin = x.numel
    params = fin * out_features + (out_features if bias else 0)
    macs = fin * out_features
    return replace(
        x,
        c=out_features,
        h=1,
        w=1,
        params=x.params + params,
        macs=x.macs + macs,
        acts=x.acts + out_features,
        steps=_step(
            x,
            label=label,
            kind="linear",
            out_shape=(out_features, 1, 1),
            params=params,
            macs=macs,
            formula=rf"{fin}\cdot{out_features} = {fmt_int(macs)}",
            branch=branch_name,
            in_shape=x.output_shape,
        ),
    )


def _merge(a: Cost, b: Cost) -> dict:
    return {
        "params": a.params + b.params,
        "macs": a.macs + b.macs,
        "acts": a.acts + b.acts,
        "extras": _sum_extras(a.extras, b.extras),
        "rf_h": max(a.rf_h, b.rf_h),
        "rf_w": max(a.rf_w, b.rf_w),
        "jump": max(a.jump, b.jump),
        "global_context": a.global_context or b.global_context,
        "steps": a.steps + b.steps,
    }


def concat(trunk: Cost, *parts: Cost, label: str = "concat", branch_name: str = "") -> Cost:
    """Concatenate branches along channels.

    ``trunk`` carries the totals up to where the branches split; each part was started with :func:`branch` (or is a
    tensor carried from earlier whose totals are already in ``trunk``: pass it through :func:`branch` first).
    """
    if not parts:
        raise ValueError("concat needs at least one part")
    h, w = parts[0].h, parts[0].w
    for p in parts:
        if (p.h, p.w) != (h, w):
            raise ValueError(f"cannot concatenate a {p.h}x{p.w} map with a {h}x{w} map")
    out = replace(trunk, c=0, h=h, w=w, rf_h=1, rf_w=1, jump=parts[0].jump)
    for p in parts:
        out = replace(out, **_merge(out, p))
    c = sum(p.c for p in parts)
    return replace(out, c=c, steps=_step(out, label=label, kind="concat", out_shape=(c, h, w), branch=branch_name))


def add(main: Cost, shortcut: Cost, label: str = "residual add", branch_name: str = "") -> Cost:
    """Element-wise sum of the main path and a shortcut started with :func:`branch`."""
    if main.output_shape != shortcut.output_shape:
        raise ValueError(f"cannot add a {shortcut.output_shape} shortcut to a {main.output_shape} main path")
    merged = replace(main, **_merge(main, shortcut))
    n = main.numel
    return replace(
        merged,
        extras=_add_extra(merged.extras, "elementwise", n),
        steps=_step(merged, label=label, kind="add", out_shape=main.output_shape, extra=n, branch=branch_name),
    )


def multiply(main: Cost, gate: Cost, label: str = "gate multiply", branch_name: str = "") -> Cost:
    """Broadcast product of ``main`` with a gate branch (C x 1 x 1 or C x H x W) started with :func:`branch`."""
    if gate.c != main.c:
        raise ValueError(f"gate has {gate.c} channels, the tensor it scales has {main.c}")
    merged = replace(main, **_merge(main, gate))
    merged = replace(merged, rf_h=main.rf_h, rf_w=main.rf_w, jump=main.jump)
    n = main.numel
    return replace(
        merged,
        extras=_add_extra(merged.extras, "elementwise", n),
        steps=_step(merged, label=label, kind="mul", out_shape=main.output_shape, extra=n, branch=branch_name),
    )


def squeeze_excite(
    x: Cost, squeeze_channels: int, activation: str = "relu", gate: str = "sigmoid", label: str = "SE"
) -> Cost:
    """Squeeze-excitation on ``x``: global pool, 1x1 conv (bias) to the squeeze width, act, 1x1 conv (bias) back,
    gate, multiply."""
    if squeeze_channels < 1:
        raise ValueError(f"squeeze-excitation width must be at least 1, got {squeeze_channels}")
    g = branch(x)
    g = global_pool(g, label=f"{label} squeeze (global pool)", branch_name=label)
    g = conv(g, squeeze_channels, 1, bias=True, label=f"{label} reduce 1x1", branch_name=label)
    g = act(g, activation, branch_name=label)
    g = conv(g, x.c, 1, bias=True, label=f"{label} expand 1x1", branch_name=label)
    g = act(g, gate, branch_name=label)
    return multiply(x, g, label=f"{label} scale")


def side(main: Cost, side_branch: Cost) -> Cost:
    """Add the totals of a side branch (started with :func:`branch`) whose output is consumed by the next layer as a
    second input (deformable conv offsets), keeping ``main``'s shape."""
    merged = replace(main, **_merge(main, side_branch))
    return replace(merged, rf_h=main.rf_h, rf_w=main.rf_w, jump=main.jump, global_context=main.global_context)


def count_extra(x: Cost, kind: str, n: int, label: str, step_kind: str, out_shape=None, branch_name: str = "") -> Cost:
    """Count ``n`` operations on the extras line ``kind`` without changing the shape."""
    return replace(
        x,
        extras=_add_extra(x.extras, kind, n),
        steps=_step(x, label=label, kind=step_kind, out_shape=out_shape or x.output_shape, extra=n, branch=branch_name),
    )


def marker(x: Cost, label: str, kind: str, branch_name: str = "") -> Cost:
    """A free step (split, shuffle, identity pass-through) recorded for diagrams and tables."""
    return replace(x, steps=_step(x, label=label, kind=kind, out_shape=x.output_shape, branch=branch_name))


def with_channels(x: Cost, c: int, label: str = "split", branch_name: str = "") -> Cost:
    """The same map restricted to ``c`` channels (a channel split); free."""
    if not 0 < c <= x.c:
        raise ValueError(f"cannot take {c} of {x.c} channels")
    return replace(x, c=c, steps=_step(x, label=label, kind="split", out_shape=(c, x.h, x.w), branch=branch_name))


def fixed_depthwise(x: Cost, kernel_size: int, stride: int = 1, label: str = "fixed depthwise") -> Cost:
    """A depthwise conv whose kernels are fixed buffers: its MACs count, its weights are not params."""
    y = conv(x, x.c, kernel_size, stride=stride, groups=x.c, label=label)
    if not x.record_steps:
        return replace(y, params=x.params)
    last = y.steps[-1]
    fixed = replace(last, params=0, label=f"{label} (fixed kernels, not params)")
    return replace(y, params=x.params, steps=x.steps + (fixed,))


def sequence(x: Cost, *fns) -> Cost:
    """Apply cost functions in order: ``sequence(x, f, g)`` == ``g(f(x))``."""
    for f in fns:
        x = f(x)
    return x


def ratio_text(a: float, b: float) -> str:
    """'8.4x fewer' / '1.3x more' / 'the same': how a compares with b."""
    if a <= 0 or b <= 0 or math.isclose(a, b, rel_tol=1e-9):
        return "the same"
    return f"{b / a:.1f}x fewer" if a < b else f"{a / b:.1f}x more"
