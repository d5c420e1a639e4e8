"""Scaling rules as pure functions: how the papers turn multipliers into integer widths, depths and resolutions.

No torch here: these run in sliders and in design-space sweeps, thousands of times a second. The second half holds
the multipliers relative to a preset (:class:`Multipliers`, :func:`phi_multipliers`, :func:`scale_spec`) and the
sweeps over them, which cost every point with the plan's own layers (:func:`effnets.models.network.plan_totals`, the
memoised twin of ``plan_cost``): one costing path.

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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from effnets.models.network import Totals, plan_totals
from effnets.spec import SpecError

if TYPE_CHECKING:
    from effnets.models import ModelInfo, ModelSpec

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
        raise SpecError(f"depth={depth} must be at least 1 block", "depth", depth)
    if q < 1:
        raise SpecError(f"q={q} must be at least 1", "q", q)
    if w0 <= 0 or w0 % q:
        raise SpecError(f"w0={w0} must be a positive multiple of q={q} (pycls asserts w_0 % q == 0)", "w0", w0)
    if wa < 0:
        raise SpecError(f"wa={wa} must be at least 0 (the width slope w_a)", "wa", wa)
    if wm <= 1:
        raise SpecError(f"wm={wm} must be above 1: widths step by powers of w_m (log(w_m) divides)", "wm", wm)


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


# ----- multipliers relative to a preset, and sweeps over them ---------------------------------------------------

AXES: tuple[str, ...] = ("width", "depth", "resolution")


AXIS_FIELD = {"width": "width_mult", "depth": "depth_mult", "resolution": "resolution"}


AXIS_EXPONENT = {"width": 2, "depth": 1, "resolution": 2}


AXIS_SYMBOL = {"width": "w", "depth": "d", "resolution": "r"}


BASE_RANGE = (0.5, 2.0)  # alpha, beta, gamma: the bases of compound scaling the Scaling Lab and the CLI accept


AXIS_RANGE = {"width": (0.25, 3.0), "depth": (0.25, 4.0), "resolution": (0.1, 3.0)}


def scalable_axes(spec_cls: type[ModelSpec]) -> tuple[str, ...]:
    """The multipliers a family's spec has: width (a continuous ``width_mult``), depth (``depth_mult``) and, for
    every network, resolution. ShuffleNet V2's ``width_mult`` is a choice of four fixed tables, not a multiplier."""
    by_name = {f.name: f for f in fields(spec_cls)}
    out = []
    for axis in AXES:
        f = by_name.get(AXIS_FIELD[axis])
        if f is not None and f.metadata.get("choices") is None:
            out.append(axis)
    return tuple(out)


def scaled_fields(spec_cls: type[ModelSpec]) -> tuple[str, ...]:
    """The spec fields the multipliers set (``width_mult``, ``depth_mult``, ``resolution`` where the family has the
    axis): a page that scales a preset draws no widget of its own for them."""
    return tuple(AXIS_FIELD[axis] for axis in scalable_axes(spec_cls))


@dataclass(frozen=True)
class Multipliers:
    """Width, depth and resolution multipliers relative to a preset (1.0 = the preset)."""

    width: float = 1.0
    depth: float = 1.0
    resolution: float = 1.0

    def law(self) -> float:
        """The cost ratio the paper's rule predicts: d * w^2 * r^2 (FLOPs grow linearly in depth, quadratically in
        width and resolution)."""
        return self.depth * self.width**2 * self.resolution**2

    def of(self, axis: str) -> float:
        return getattr(self, axis)

    def with_axis(self, axis: str, value: float) -> Multipliers:
        return Multipliers(**{**self.__dict__, axis: value})


def phi_multipliers(phi: float, alpha: float, beta: float, gamma: float, axes: Iterable[str] = AXES) -> Multipliers:
    """Compound scaling (paper Eq. 3): d = alpha^phi, w = beta^phi, r = gamma^phi, restricted to the family's axes
    (an axis the family does not have stays at 1).

    Raises:
        ValueError: a base that is not positive.
    """
    d, w, r = compound_coefficients(phi, alpha, beta, gamma)
    axes = set(axes)
    return Multipliers(
        width=w if "width" in axes else 1.0,
        depth=d if "depth" in axes else 1.0,
        resolution=r if "resolution" in axes else 1.0,
    )


def compound_law(phi: float, alpha: float, beta: float, gamma: float) -> float:
    """The paper's predicted cost ratio (alpha * beta^2 * gamma^2)^phi (about 2^phi for the published bases)."""
    return (alpha * beta**2 * gamma**2) ** phi


def scale_spec(info: ModelInfo, base: ModelSpec, m: Multipliers) -> ModelSpec:
    """``base`` with its width and depth multipliers times ``m`` and its resolution times ``m.resolution`` (rounded
    to whole pixels). Multipliers are rounded to 4 decimals, as the page shows them.

    Raises:
        ValueError: the scaled value is outside the spec's range (the message names the field and the limit).
    """
    changes: dict[str, Any] = {}
    how: dict[str, str] = {}
    for axis in scalable_axes(info.spec):
        field_name = AXIS_FIELD[axis]
        v = getattr(base, field_name)
        if axis == "resolution":
            changes[field_name] = max(1, int(round(v * m.resolution)))
        else:
            changes[field_name] = round(v * m.of(axis), 4)
        how[field_name] = f"the preset's {v:g} × {AXIS_SYMBOL[axis]} = {m.of(axis):.3g}"
    try:
        return base.replace(**changes)  # type: ignore[return-value]
    except ValueError as e:
        named = [f"{k} is {h}" for k, h in how.items() if getattr(e, "field", None) == k]
        raise ValueError(f"{e} ({named[0]})" if named else str(e)) from None


def spec_key(spec: ModelSpec) -> tuple:
    """Hashable form of a spec (for caches): sorted (field, value) pairs."""
    return tuple(sorted(spec.to_dict().items()))


def spec_from_key(name: str, key: Sequence[tuple[str, Any]]) -> ModelSpec:
    from effnets.models import get_model  # the registry imports this module while it discovers the families

    return get_model(name).make_spec(**dict(key))


def preset_changes(info: ModelInfo, values: ModelSpec | Mapping[str, Any], skip: Iterable[str] = ()) -> dict[str, Any]:
    """The fields of a spec (or of raw widget values) that differ from the preset's, for a short link."""
    preset = info.make_spec().to_dict()
    items = values.to_dict() if hasattr(values, "to_dict") else dict(values)
    skip = set(skip)
    return {k: v for k, v in items.items() if k not in skip and k in preset and preset[k] != v}


def sweep_cost(info: ModelInfo, spec: ModelSpec) -> Totals:
    """The same totals as ``info.cost(spec)``, faster for sweeps (see :func:`effnets.models.network.plan_totals`).

    Raises:
        ValueError: as :meth:`ModelInfo.cost` (the spec's plan is impossible, or the input too small).
    """
    return plan_totals(info.stage_plan(spec))


def axis_grid(info: ModelInfo, base: ModelSpec, axis: str, points: int = 14) -> list[float]:
    """Relative multipliers to sweep along ``axis``: evenly spaced over :data:`AXIS_RANGE`, clipped to what the
    spec allows, always including 1 (the preset)."""
    lo, hi = AXIS_RANGE[axis]
    f = next(f for f in fields(info.spec) if f.name == AXIS_FIELD[axis])
    v = getattr(base, AXIS_FIELD[axis])
    if f.metadata.get("lo") is not None:
        lo = max(lo, f.metadata["lo"] / v)
    if f.metadata.get("hi") is not None:
        hi = min(hi, f.metadata["hi"] / v)
    if hi <= lo:
        return [1.0]
    grid = {round(lo + (hi - lo) * i / (points - 1), 4) for i in range(points)}
    grid.add(1.0)
    return sorted(grid)


def axis_sweep(info: ModelInfo, base: ModelSpec, axis: str, m: Multipliers, points: int = 14) -> list[dict]:
    """Exact params and MACs as one multiplier moves (the others stay at ``m``), beside the power law anchored at the
    preset's value of that multiplier: MACs(1) * x^p with p = 2 for width and resolution, 1 for depth.

    Settings the spec rejects (e.g. a resolution below its minimum) are left out.
    """
    rows = []
    for x in axis_grid(info, base, axis, points):
        try:
            c = sweep_cost(info, scale_spec(info, base, m.with_axis(axis, x)))
        except ValueError:
            continue
        rows.append({"axis": axis, "multiplier": x, "params": c.params, "macs": c.macs})
    anchor = next((r["macs"] for r in rows if r["multiplier"] == 1.0), None)
    for r in rows:
        r["law"] = anchor * r["multiplier"] ** AXIS_EXPONENT[axis] if anchor else None
    return rows


def phi_sweep(
    info: ModelInfo,
    base: ModelSpec,
    alpha: float,
    beta: float,
    gamma: float,
    phis: Iterable[float] = tuple(x / 2 for x in range(-6, 15)),
) -> list[dict]:
    """Compound scaling of a preset over phi: for each phi the multipliers applied, the law d * w^2 * r^2, the
    paper's (alpha beta^2 gamma^2)^phi and the exact MACs ratio to the preset (rounded widths, ceil depths, whole
    pixels). Settings the spec rejects are left out."""
    base_cost = sweep_cost(info, base)
    axes = scalable_axes(info.spec)
    rows = []
    for phi in phis:
        m = phi_multipliers(phi, alpha, beta, gamma, axes)
        try:
            spec = scale_spec(info, base, m)
            c = sweep_cost(info, spec)
        except ValueError:
            continue
        rows.append(
            {
                "phi": phi,
                "width": m.width,
                "depth": m.depth,
                "resolution": getattr(spec, "resolution", None),
                "law": m.law(),
                "compound": compound_law(phi, alpha, beta, gamma),
                "exact": c.macs / base_cost.macs,
                "params_ratio": c.params / base_cost.params,
                "macs": c.macs,
                "params": c.params,
            }
        )
    return rows
