"""Scaling rules as pure functions: how the papers turn multipliers into integer widths, depths and resolutions.

No torch here: these run in sliders and in design-space sweeps, thousands of times a second.

Paper symbols, and the names used outside this module:

* EfficientNet (Tan & Le 2019): compound coefficient ``phi``; depth ``d = alpha^phi``, width ``w = beta^phi``,
  resolution ``r = gamma^phi`` with ``alpha * beta^2 * gamma^2 ~ 2`` (so the cost grows by about ``2^phi``).
  Outside this module: ``depth_mult``, ``width_mult``, ``resolution``.
* MobileNet (Howard et al. 2017): width multiplier ``alpha`` (``width_mult``) and resolution multiplier ``rho``
  (``resolution = rho * 224``).
* RegNet (Radosavovic et al. 2020): depth ``d`` (``depth``), initial width ``w_0`` (``w0``), slope ``w_a`` (``wa``),
  width multiplier ``w_m`` (``wm``), quantum ``q`` (8), group width ``g`` (``group_width``), bottleneck ratio ``b``
  (``bottleneck_ratio``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from effnets.blocks._layers import make_divisible

__all__ = [
    "round_filters",
    "round_repeats",
    "compound_coefficients",
    "compound_scaling",
    "mobilenet_v1_channels",
    "mobilenet_v2_channels",
    "resolution_for_rho",
    "RegNetWidths",
    "regnet_widths",
    "adjust_widths_groups",
    "make_divisible",
]


# ----- EfficientNet -------------------------------------------------------------------------------------------


def round_filters(channels: float, width_mult: float = 1.0, divisor: int = 8, min_value: int | None = None) -> int:
    """EfficientNet's width rounding (tensorflow/tpu ``round_filters``; torchvision ``_make_divisible``).

    ``channels * width_mult`` is rounded to the nearest multiple of ``divisor`` (at least ``min_value``, which
    defaults to the divisor), and one more divisor is added if rounding down lost more than 10 %.

    Args:
        channels: the baseline (B0) channel count.
        width_mult: the width coefficient w = beta^phi.
        divisor: the multiple to round to (8 in every released EfficientNet and MobileNetV2).
        min_value: the smallest allowed result (default: the divisor).

    Returns:
        The integer channel count of the scaled network.
    """
    return make_divisible(channels * width_mult, divisor, min_value)


def round_repeats(repeats: int, depth_mult: float) -> int:
    """EfficientNet's depth rounding: ``ceil(depth_mult * repeats)`` (tensorflow/tpu ``round_repeats``).

    Args:
        repeats: the baseline number of blocks in a stage.
        depth_mult: the depth coefficient d = alpha^phi.
    """
    return int(math.ceil(depth_mult * repeats))


def compound_coefficients(
    phi: float, alpha: float = 1.2, beta: float = 1.1, gamma: float = 1.15
) -> tuple[float, float, float]:
    """The compound-scaling multipliers of EfficientNet, Eq. 3 of the paper.

    Args:
        phi: the compound coefficient (negative values shrink the network).
        alpha: depth base (grid-searched 1.2 on B0).
        beta: width base (1.1).
        gamma: resolution base (1.15).

    Returns:
        (depth multiplier alpha^phi, width multiplier beta^phi, resolution multiplier gamma^phi).

    Raises:
        ValueError: a base that is not positive.
    """
    for name, v in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        if not v > 0:
            raise ValueError(f"{name}={v} must be positive (it is raised to the power phi)")
    return alpha**phi, beta**phi, gamma**phi


def compound_scaling(
    phi: float, alpha: float = 1.2, beta: float = 1.1, gamma: float = 1.15, base_resolution: int = 224
) -> dict[str, float | int]:
    """Spec fields for a compound-scaled EfficientNet: ``depth_mult``, ``width_mult`` and ``resolution``.

    The resolution is ``base_resolution * gamma^phi`` rounded to the nearest integer; ``cost_ratio`` is the cost the
    paper predicts, ``(alpha * beta^2 * gamma^2)^phi``, which the exact (rounded) network only approximates.
    """
    d, w, r = compound_coefficients(phi, alpha, beta, gamma)
    return {
        "depth_mult": d,
        "width_mult": w,
        "resolution": max(1, int(round(base_resolution * r))),
        "cost_ratio": (alpha * beta**2 * gamma**2) ** phi,
    }


# ----- MobileNet ----------------------------------------------------------------------------------------------


def mobilenet_v1_channels(channels: int, width_mult: float, min_depth: int = 8) -> int:
    """MobileNetV1's width multiplier alpha: ``max(int(channels * alpha), min_depth)`` (TF-slim ``mobilenet_v1``)."""
    return max(int(channels * width_mult), min_depth)


def mobilenet_v2_channels(channels: int, width_mult: float, divisor: int = 8) -> int:
    """MobileNetV2's width multiplier alpha: the nearest multiple of 8, never losing more than 10 % (torchvision)."""
    return make_divisible(channels * width_mult, divisor)


def resolution_for_rho(rho: float, base: int = 224) -> int:
    """MobileNet's resolution multiplier rho: input side ``round(rho * 224)`` (rho = 6/7, 5/7, 4/7 give 192, 160,
    128)."""
    if not rho > 0:
        raise ValueError(f"rho={rho} must be positive")
    return max(1, int(round(rho * base)))


# ----- RegNet -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegNetWidths:
    """The RegNet generator's output, block by block and stage by stage.

    Attributes:
        continuous: u_j = w_0 + w_a * j for each block j (the linear width function).
        exponents: s_j = round(log(u_j / w_0) / log(w_m)): each block's step on the geometric grid.
        quantized: w_0 * w_m^{s_j} rounded to a multiple of q: each block's width.
        stage_widths: the widths of runs of equal quantized widths.
        stage_depths: the number of blocks in each run.
    """

    continuous: tuple[float, ...]
    exponents: tuple[int, ...]
    quantized: tuple[int, ...]
    stage_widths: tuple[int, ...]
    stage_depths: tuple[int, ...]


def _check_regnet(depth: int, w0: float, wa: float, wm: float, q: int) -> None:
    if depth < 1:
        raise ValueError(f"depth={depth} must be at least 1 block")
    if q < 1:
        raise ValueError(f"q={q} must be at least 1")
    if w0 <= 0 or w0 % q:
        raise ValueError(f"w0={w0} must be a positive multiple of q={q} (pycls asserts w_0 % q == 0)")
    if wa < 0:
        raise ValueError(f"wa={wa} must be at least 0 (the width slope w_a)")
    if wm <= 1:
        raise ValueError(f"wm={wm} must be above 1: widths step by powers of w_m (log(w_m) divides)")


def regnet_widths(depth: int, w0: float, wa: float, wm: float, q: int = 8, rounding: str = "pycls") -> RegNetWidths:
    """RegNet's quantized linear width generator (pycls ``generate_regnet``; Eq. 2-4 of the paper).

    u_j = w_0 + w_a * j, s_j = round(log(u_j / w_0) / log(w_m)), w_j = q * round(w_0 * w_m^{s_j} / q); runs of equal
    w_j form the stages. Both roundings are half to even.

    Args:
        depth: d, the number of blocks.
        w0: w_0, the initial width (a multiple of q).
        wa: w_a, the slope (widths grow by w_a per block before quantization).
        wm: w_m > 1, the ratio between consecutive stage widths.
        q: the width quantum.
        rounding: "pycls" computes in double precision like pycls's numpy code (pure Python, fast); "torchvision"
            computes in float32 tensors exactly as ``torchvision.models.regnet.BlockParams.from_init_params`` does,
            which rounds a few configurations differently when w_0 w_m^s / q falls within float32 error of a half.

    Raises:
        ValueError: parameters outside the generator's domain, named with the rule.
    """
    _check_regnet(depth, w0, wa, wm, q)
    if rounding == "torchvision":
        cont, exps, quant = _regnet_widths_float32(depth, w0, wa, wm, q)
    elif rounding == "pycls":
        log_wm = math.log(wm)
        cont = tuple(w0 + wa * j for j in range(depth))
        exps = tuple(int(round(math.log(u / w0) / log_wm)) for u in cont)
        quant = tuple(int(round(w0 * wm**s / q)) * q for s in exps)
    else:
        raise ValueError(f"rounding='{rounding}' is not allowed: choose one of pycls, torchvision")
    widths: list[int] = []
    depths: list[int] = []
    for w in quant:
        if widths and widths[-1] == w:
            depths[-1] += 1
        else:
            widths.append(w)
            depths.append(1)
    return RegNetWidths(cont, exps, quant, tuple(widths), tuple(depths))


def _regnet_widths_float32(depth: int, w0: float, wa: float, wm: float, q: int):
    import torch  # only this path needs it: torchvision's generator works on float32 tensors

    # device="cpu": builders may run inside `with torch.device("meta")`, and these numbers must be real.
    cont_t = torch.arange(depth, device="cpu") * wa + w0
    exps_t = torch.round(torch.log(cont_t / w0) / math.log(wm))
    quant_t = torch.round(torch.divide(w0 * torch.pow(wm, exps_t), q)) * q
    return (
        tuple(float(u) for u in cont_t.tolist()),
        tuple(int(s) for s in exps_t.tolist()),
        tuple(int(w) for w in quant_t.int().tolist()),
    )


def adjust_widths_groups(
    widths: list[int] | tuple[int, ...],
    bottleneck_ratio: float,
    group_width: int,
    rounding: str = "pycls",
) -> tuple[list[int], list[int]]:
    """Make each stage's bottleneck width a multiple of its group width.

    The bottleneck width is v = w * b; the group width becomes g' = min(g, v); then v is rounded to a multiple of g'
    and the stage width recomputed as v / b. The two implementations round differently:

    * ``pycls`` (the paper's code, ``adjust_block_compatibility``): v = max(g', round(v / g') * g') with Python's
      round() (half to even); with b > 1 the multiple is lcm(g', b).
    * ``torchvision`` (``BlockParams._adjust_widths_groups_compatibilty``): v = make_divisible(v, g'), i.e. round half
      up and add g' if that lost more than 10 %.

    Of the presets they disagree for RegNetX-400MF, RegNetY-800MF and RegNetY-8.0GF (e.g. X-400MF's last stage: 384
    vs 400), and for X-4.0GF and Y-4.0GF, which torchvision does not build.

    Args:
        widths: stage widths from :func:`regnet_widths`.
        bottleneck_ratio: b.
        group_width: g, channels per group of the 3x3 group conv.
        rounding: "pycls" or "torchvision".

    Returns:
        (adjusted stage widths, group width of each stage).
    """
    if rounding not in ("pycls", "torchvision"):
        raise ValueError(f"rounding='{rounding}' is not allowed: choose one of pycls, torchvision")
    if not bottleneck_ratio > 0:
        raise ValueError(f"bottleneck_ratio={bottleneck_ratio} must be positive")
    if group_width < 1:
        raise ValueError(f"group_width={group_width} must be at least 1")
    b = bottleneck_ratio
    out_w: list[int] = []
    out_g: list[int] = []
    for w in widths:
        if rounding == "pycls":
            if not (b < 1 or b % 1 == 0):
                raise ValueError(
                    f"bottleneck_ratio={b}: pycls allows ratios below 1 or whole numbers (it needs lcm(g, b))"
                )
            v = int(max(1, w * b))
            g = int(min(group_width, v))
            m = math.lcm(g, int(b)) if b > 1 else g
            v = max(m, int(round(v / m) * m))
            out_w.append(int(v / b))
        else:
            v = int(w * b)
            g = min(group_width, v)
            v = make_divisible(v, g)
            out_w.append(int(v / b))
        out_g.append(g)
    return out_w, out_g
