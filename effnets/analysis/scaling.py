"""Data and plotly figures of the Scaling Lab and Design Space pages (no streamlit: pages render what these return).

Everything is computed from the model registry (:mod:`effnets.models`) with the analytic cost model: no module is
built, so sweeps over dozens of networks stay interactive. Counts follow :mod:`effnets.cost`: MACs are conv + linear
multiply-accumulates, FLOPs = 2 x MACs, params are learnable parameters; every figure and column says which it shows.

Scaling is always relative to a *preset* (a registry entry, e.g. EfficientNet-B0): the multipliers w, d and r multiply
the preset's own width multiplier, depth multiplier and input resolution, so that for B0 they are exactly the paper's
w = beta^phi, d = alpha^phi and r = gamma^phi (Tan & Le 2019, Eq. 3).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import plotly.graph_objects as go

from effnets import cost as steps
from effnets import units
from effnets.cost import EXTRA_KINDS
from effnets.models import FAMILIES, MODELS, ModelCost, ModelInfo, ModelSpec, get_model, plan_cost
from effnets.models.efficientnet import B_COEFFICIENTS, released_vs_compound
from effnets.models.regnet import QUANTUM, RegNetModelSpec, stage_widths
from effnets.models.regnet import plan as regnet_plan
from effnets.models.scaling import compound_coefficients, regnet_widths
from effnets.report import human

# ----- families and axes ----------------------------------------------------------------------------------------


AXES: tuple[str, ...] = ("width", "depth", "resolution")
AXIS_FIELD = {"width": "width_mult", "depth": "depth_mult", "resolution": "resolution"}
AXIS_EXPONENT = {"width": 2, "depth": 1, "resolution": 2}
AXIS_SYMBOL = {"width": "w", "depth": "d", "resolution": "r"}
# Range of each relative multiplier in sweeps and sliders (the spec's own limits apply on top).
BASE_RANGE = (0.5, 2.0)  # alpha, beta, gamma: the bases of compound scaling the Scaling Lab and the CLI accept
AXIS_RANGE = {"width": (0.25, 3.0), "depth": (0.25, 4.0), "resolution": (0.1, 3.0)}

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
USER_COLOR = "#d62728"  # the user's configuration, in every figure
SI = {"exponentformat": "SI"}  # 1G, not plotly's default 1B, as the metrics write it


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


FAR_FROM_THE_LAW = 0.05  # the exact cost this far (relative) from d*w^2*r^2 gets the rounding explained


def rounding_effects(base_cost: ModelCost, cost: ModelCost, m: Multipliers, unit: str = "macs") -> list[str]:
    """Why the rounded network's cost is not d * w^2 * r^2 of the preset's: stage by stage, the layers and channels
    that rounding added or removed, each with the share of the difference it explains (computed, largest first).

    Depths round up to whole blocks (ceil(n * d)), so a small d > 1 adds a whole block to every stage; widths round
    to multiples of 8; a stage's cost follows its own layers and channels, not the multipliers.
    """
    law = m.law()
    predicted = base_cost.macs * law
    gap = cost.macs - predicted
    if not base_cost.macs or abs(gap) <= FAR_FROM_THE_LAW * predicted or len(base_cost.stages) != len(cost.stages):
        return []
    found = []
    for b, s in zip(base_cost.stages, cost.stages, strict=True):
        changes = []
        if s.layers != b.layers:
            want = b.layers * m.depth
            changes.append(
                f"{b.layers} → {s.layers} layers ({b.layers} × d = {want:.2f}, rounded up to whole blocks)"
                if s.layers > want
                else f"{b.layers} → {s.layers} layers ({b.layers} × d = {want:.2f}, rounded)"
            )
        want_c = b.channels * m.width
        if s.channels != b.channels and abs(s.channels - want_c) >= 4:
            changes.append(
                f"{b.channels} → {s.channels} channels ({b.channels} × w = {want_c:.1f}, to a multiple of 8)"
            )
        excess = s.macs - b.macs * law  # what this stage costs beyond its share of the prediction
        if changes and abs(excess) > 0.01 * abs(gap):
            found.append((abs(excess), s.stage, s.operator, changes, excess))
    found.sort(reverse=True)
    total = sum(x[4] for x in found)
    lines = []
    for _, stage, op, changes, excess in found:
        lines.append(
            f"stage {stage} ({op}): {'; '.join(changes)}: {units.scale(round(excess), unit):+,} "
            f"{units.NAMES[unit]} against its share of the prediction"
        )
    if lines:
        share = total / gap if gap else 0
        lines.insert(
            0,
            f"The exact cost (conv + linear) is {cost.macs / predicted - 1:+.1%} off d·w²·r² = {law:.3f} × the "
            f"preset's because of rounding; the stages below add up to {share:.0%} of that difference:",
        )
    return lines


def spec_key(spec: ModelSpec) -> tuple:
    """Hashable form of a spec (for caches): sorted (field, value) pairs."""
    return tuple(sorted(spec.to_dict().items()))


def spec_from_key(name: str, key: Sequence[tuple[str, Any]]) -> ModelSpec:
    return get_model(name).make_spec(**dict(key))


def preset_changes(info: ModelInfo, values: ModelSpec | Mapping[str, Any], skip: Iterable[str] = ()) -> dict[str, Any]:
    """The fields of a spec (or of raw widget values) that differ from the preset's, for a short link."""
    preset = info.make_spec().to_dict()
    items = values.to_dict() if isinstance(values, ModelSpec) else dict(values)
    skip = set(skip)
    return {k: v for k, v in items.items() if k not in skip and k in preset and preset[k] != v}


# ----- counting ---------------------------------------------------------------------------------------------------


def stage_rows(cost: ModelCost, unit: str, extras: Sequence[str] = ()) -> list[dict]:
    """The stage table as in the EfficientNet paper's Table 1, with each row's exact share of the cost.

    Columns: stage, operator, resolution (the row's input H x W), channels (output), layers, kernel, stride (of the
    row's first layer), expand ratio, params (learnable) and the count (named by :attr:`effnets.units.Counting.label`).
    """
    label = units.Counting(unit, tuple(extras)).label
    rows = []
    for r in cost.stages:
        n = r.macs + sum(r.extras[k] for k in extras)
        rows.append(
            {
                "stage": r.stage,
                "operator": r.operator,
                "resolution": f"{r.resolution[0]}×{r.resolution[1]}",
                "channels": r.channels,
                "layers": r.layers,
                "kernel": f"{r.kernel}×{r.kernel}" if r.kernel else "",
                "stride": r.stride,
                "expand ratio": f"{r.expand_ratio:g}" if r.expand_ratio else "",
                "params": r.params,
                label: units.scale(n, unit),
            }
        )
    return rows


# ----- fast totals for sweeps ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    """A network's totals without the per-stage rows (what sweeps need)."""

    params: int
    macs: int
    acts: int
    extras: tuple[int, ...]
    output_shape: tuple[int, int, int]


@functools.lru_cache(maxsize=1 << 16)
def _layer_totals(layer: Any, c: int, h: int, w: int) -> tuple[int, int, int, tuple[int, ...], tuple[int, int, int]]:
    y = layer.cost(steps.start(c, h, w, record_steps=False))
    return y.params, y.macs, y.acts, y.extras, y.output_shape


def sweep_cost(info: ModelInfo, spec: ModelSpec) -> Totals:
    """The same totals as ``info.cost(spec)``, faster for sweeps: each distinct (layer, input shape) is costed once
    and remembered, so the identical blocks of a deep stage, and the layers that neighbouring points of a sweep
    share, cost nothing the second time. Counts are additive over layers, so the sum equals the running total (a
    test checks it for every registered model).

    Raises:
        ValueError: as :meth:`ModelInfo.cost` (the spec's plan is impossible, or the input too small).
    """
    plan = info.stage_plan(spec)
    c, h, w = plan.input_shape
    params = macs = acts = 0
    extras = [0] * len(EXTRA_KINDS)
    for stage in plan.stages:
        for layer in stage.layers:
            try:
                p, m, a, e, (c, h, w) = _layer_totals(layer, c, h, w)
            except TypeError:  # an unhashable layer: cost it without the memo
                y = layer.cost(steps.start(c, h, w, record_steps=False))
                p, m, a, e, (c, h, w) = y.params, y.macs, y.acts, y.extras, y.output_shape
            params += p
            macs += m
            acts += a
            extras = [x + y for x, y in zip(extras, e, strict=True)]
    return Totals(params, macs, acts, tuple(extras), (c, h, w))


# ----- sweeps -----------------------------------------------------------------------------------------------------


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


def preset_points(names: Iterable[str]) -> list[dict]:
    """Params and MACs of presets at their own settings."""
    out = []
    for n in names:
        info = get_model(n)
        spec = info.make_spec()
        c = sweep_cost(info, spec)
        out.append(
            {
                "name": n,
                "label": info.label,
                "family": info.family,
                "resolution": getattr(spec, "resolution", None),
                "params": c.params,
                "macs": c.macs,
            }
        )
    return out


def published_points() -> list[dict]:
    """Every published top-1 in the registry, with its source, beside the exact count of the network it describes.

    Returns:
        One row per figure with a top-1: model, label, family, source, top1, resolution, the published params and
        MACs figures as given (None where the source gives none), and our exact params and MACs (conv + linear) of
        the preset with the figure's fields at the figure's resolution.
    """
    rows = []
    for name, info in MODELS.items():
        for pub in info.published_figures():
            if pub.top1 is None:
                continue
            spec = info.published_spec(pub)
            c = sweep_cost(info, spec)
            rows.append(
                {
                    "model": name,
                    "label": info.label + "".join(f" {k}={v}" for k, v in pub.fields.items()),
                    "family": info.family,
                    "source": pub.source,
                    "torchvision": pub.source.startswith("torchvision"),
                    "top1": pub.top1,
                    "resolution": getattr(spec, "resolution", None),
                    "published_params": pub.params,
                    "published_macs": pub.macs,
                    "params": c.params,
                    "macs": c.macs,
                }
            )
    return rows


# ----- EfficientNet: released vs compound ----------------------------------------------------------------------


def released_table(alpha: float = 1.2, beta: float = 1.1, gamma: float = 1.15) -> list[dict]:
    """B0-B7 as released beside B0 compound-scaled with phi = the model's number, with exact costs.

    Extends :func:`effnets.models.efficientnet.released_vs_compound` with the exact MACs and params of both networks,
    the paper's predicted ratio (alpha beta^2 gamma^2)^phi, the released model's exact MACs ratio to B0, and the phi
    that this exact ratio implies (log ratio / log(alpha beta^2 gamma^2)).
    """
    b0 = get_model("efficientnet_b0")
    base = b0.make_spec()
    b0_macs = sweep_cost(b0, base).macs
    growth = alpha * beta**2 * gamma**2
    out = []
    for row in released_vs_compound(alpha, beta, gamma):
        info = get_model(row["model"])
        rel = sweep_cost(info, info.make_spec())
        phi = row["phi"]
        comp_m = phi_multipliers(phi, alpha, beta, gamma)
        try:
            comp = sweep_cost(b0, scale_spec(b0, base, comp_m))
            comp_macs, comp_params = comp.macs, comp.params
        except ValueError:
            comp_macs = comp_params = None
        ratio = rel.macs / b0_macs
        out.append(
            {
                **row,
                "resolution_compound_px": max(1, int(round(224 * comp_m.resolution))),
                "macs_released": rel.macs,
                "macs_compound": comp_macs,
                "params_released": rel.params,
                "params_compound": comp_params,
                "predicted_ratio": growth**phi,
                "released_ratio": ratio,
                "cost_implied_phi": math.log(ratio) / math.log(growth) if growth != 1 and ratio > 0 else None,
            }
        )
    return out


def released_points(rows: Sequence[Mapping[str, Any]]) -> list[dict]:
    """The released B0-B7 for :func:`law_figure`: the law d * w^2 * r^2 of their own coefficients (r = resolution /
    224) against their exact MACs ratio to B0."""
    return [
        {
            "label": f"B{r['phi']}",
            "law": r["depth_released"] * r["width_released"] ** 2 * (r["resolution_released"] / 224) ** 2,
            "exact": r["released_ratio"],
        }
        for r in rows
    ]


def released_display_rows(rows: Sequence[Mapping[str, Any]], unit: str) -> list[dict]:
    """:func:`released_table` as a compact table for the page."""
    u = units.NAMES[unit]
    out = []
    for r in rows:
        out.append(
            {
                "model": f"B{r['phi']}",
                "phi": r["phi"],
                "width: released / β^φ": f"{r['width_released']:.1f} / {r['width_compound']:.2f}",
                "depth: released / α^φ": f"{r['depth_released']:.1f} / {r['depth_compound']:.2f}",
                "resolution: released / 224·γ^φ": f"{r['resolution_released']} / {r['resolution_compound']:.1f}",
                "phi implied by w, d, r": (
                    f"{r['width_implied_phi']:.2f}, {r['depth_implied_phi']:.2f}, {r['resolution_implied_phi']:.2f}"
                ),
                f"{u} released": human(units.scale(r["macs_released"], unit)),
                f"{u} compound": human(units.scale(r["macs_compound"], unit)) if r["macs_compound"] else "n/a",
                "params released": human(r["params_released"]),
                "params compound": human(r["params_compound"]) if r["params_compound"] else "n/a",
                "(αβ²γ²)^φ": round(r["predicted_ratio"], 2),
                "released cost ÷ B0": round(r["released_ratio"], 2),
                "phi implied by cost": round(r["cost_implied_phi"], 2) if r["cost_implied_phi"] is not None else None,
            }
        )
    return out


def _against(rows: Sequence[Mapping[str, Any]], axis: str, symbol: str) -> str:
    """'depth is less than α^φ in B1, B5-B7 and more in B2': which released models give an axis less or more than
    the compound rule (equal within half a percent is neither)."""
    less, more, example = [], [], ""
    for r in rows:
        if not r["phi"]:
            continue
        rel, comp = float(r[f"{axis}_released"]), float(r[f"{axis}_compound"])
        if rel < comp * 0.995:
            less.append(f"B{r['phi']}")
            example = f" (B{r['phi']}: {rel:g} against {comp:.2f})"
        elif rel > comp * 1.005:
            more.append(f"B{r['phi']}")
    parts = ([f"less than {symbol} in {', '.join(less)}{example}"] if less else []) + (
        [f"more in {', '.join(more)}"] if more else []
    )
    return f"{axis} is " + (" and ".join(parts) if parts else f"as {symbol} in every model")


def cost_ladder(rows: Sequence[Mapping[str, Any]]) -> str:
    """Where the released models land in cost against their nominal φ, and which axis each gives less or more than
    the compound rule: every word computed from ``rows`` (:func:`released_table`)."""
    near, below, above = [], [], []
    for r in rows:
        p, implied = r["phi"], r["cost_implied_phi"]
        if not p or implied is None:
            continue
        (near if abs(implied - p) < 0.5 else below if implied < p else above).append(f"B{p}")
    land = []
    if near:
        land.append(f"{', '.join(near)} {'land' if len(near) > 1 else 'lands'} within half a step of φ in cost")
    if below:
        many = len(below) > 1
        land.append(
            f"{', '.join(below)} {'cost' if many else 'costs'} less than {'their' if many else 'its'} φ predicts"
        )
    if above:
        land.append(f"{', '.join(above)} {'cost' if len(above) > 1 else 'costs'} more")
    axes = "; ".join(_against(rows, a, s) for a, s in (("depth", "α^φ"), ("width", "β^φ"), ("resolution", "224·γ^φ")))
    return "; ".join(land) + f". Against the compound rule, {axes}."


def released_explanation(rows: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """(what is documented, what is inferred from the numbers) about why the released B1-B7 are not alpha^phi,
    beta^phi, gamma^phi. The inferred part quotes the live numbers of :func:`released_table`."""
    known = (
        "- **The paper** (Tan & Le 2019) fixes φ = 1 and grid-searches α = 1.2, β = 1.1, γ = 1.15 under "
        "α·β²·γ² ≈ 2 (its step 1), then fixes them and scales B0 *with different φ* to obtain B1-B7 (step 2, Eq. 3). "
        "It never states which φ each model uses.\n"
        "- **The released code** (tensorflow/tpu `efficientnet_builder.py`, `efficientnet_params`) lists each "
        "model's (width, depth, resolution, dropout) as plain numbers, with no derivation. Users have asked why they "
        "are not α^φ, β^φ, γ^φ (tensorflow/tpu issues 390, 738 and 1047; the same question in the PyTorch ports); in "
        "the threads we read, no author explains it.\n"
        "- **Rounding is in the code**, so even exact powers would not give exactly (α·β²·γ²)^φ: channels are "
        "rounded to multiples of 8 (never losing more than 10 %), repeats are rounded up (ceil), the input side is a "
        "whole number of pixels. The *Law vs exact* tab shows how far that alone moves the cost."
    )
    by = {r["phi"]: r for r in rows}
    ladder = ", ".join(f"B{p} {by[p]['cost_implied_phi']:.1f}" for p in sorted(by) if p and by[p]["cost_implied_phi"])
    res = [by[p]["resolution_released"] for p in sorted(by)]
    mult4 = all(r % 4 == 0 for r in res)
    mult8 = [f"B{p}" for p in sorted(by) if by[p]["resolution_released"] % 8 == 0]
    b1 = by.get(1)
    inferred = [
        "- **Not one φ per model.** Each released coefficient implies its own φ (log w / log β, ...; the table's "
        "*phi implied* column), and the three disagree within a model"
        + (
            f": B1's width implies φ = {b1['width_implied_phi']:.2f}, its depth {b1['depth_implied_phi']:.2f}, "
            f"its resolution {b1['resolution_implied_phi']:.2f}"
            if b1
            else ""
        )
        + ". The widths and depths have one decimal, as hand-picked round numbers near the curve would.",
        f"- **The cost ladder.** Measured by exact MACs against B0, the released models sit at φ ≈ {ladder}. "
        + cost_ladder(rows),
        "- **Resolutions are round sizes**: "
        + ("all are multiples of 4" if mult4 else "not all are multiples of 4")
        + (f", and {', '.join(mult8)} multiples of 8" if mult8 else "")
        + ", near 224·γ^φ but not equal to it. Why these sizes is not documented; convenient crop sizes for the "
        "TPU input pipeline is a guess, not a fact.",
        "- **Likely reason overall** (an inference): the rule gave the direction and the rough budget of each "
        "step, and the released numbers were then rounded and tuned by hand. Compound scaling from B0 with the "
        "exact powers (the *compound* columns) is a different family of networks, not the released one.",
    ]
    return known, "\n".join(inferred)


# ----- figures: Scaling Lab -----------------------------------------------------------------------------------
#
# Figures are built as one plain dict and validated once (go.Figure(dict)): plotly's incremental API (make_subplots,
# add_trace(row=, col=), update_*) validates at every call and is ten times slower, which a slider would feel.

LEGEND_TOP = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0}


def _figure(data: list[dict], layout: dict, height: int = 420) -> go.Figure:
    base = {"height": height, "margin": {"t": 40, "b": 10, "l": 10, "r": 10}, "legend": LEGEND_TOP}
    return go.Figure({"data": data, "layout": {**base, **layout}})


def _domains(n: int, gap: float = 0.06) -> list[list[float]]:
    width = (1 - gap * (n - 1)) / n
    return [[i * (width + gap), i * (width + gap) + width] for i in range(n)]


def _panel_title(text: str, domain: Sequence[float]) -> dict:
    return {
        "text": text,
        "x": (domain[0] + domain[1]) / 2,
        "y": 1.0,
        "xref": "paper",
        "yref": "paper",
        "xanchor": "center",
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"size": 13},
    }


def multiplier_figure(sweeps: Mapping[str, Sequence[Mapping]], current: Multipliers, unit: str) -> go.Figure:
    """One panel per multiplier, as the EfficientNet paper's Figure 3: that multiplier alone moves (the others stay
    at the preset); the exact MACs (or FLOPs) of the rounded network, the power law from the preset (dashed), and a
    line at your current value of the multiplier."""
    axes = [a for a in AXES if sweeps.get(a)]
    doms = _domains(max(1, len(axes)))
    u = units.NAMES[unit]
    data: list[dict] = []
    layout: dict[str, Any] = {"annotations": [], "shapes": []}
    for i, axis in enumerate(axes):
        sfx = "" if i == 0 else str(i + 1)
        xa, ya = "x" + sfx, "y" + sfx
        rows = sweeps[axis]
        x = [r["multiplier"] for r in rows]
        sym = AXIS_SYMBOL[axis]
        data.append(
            {
                "type": "scatter",
                "x": x,
                "y": [units.scale(r["macs"], unit) for r in rows],
                "mode": "lines+markers",
                "name": f"exact {u} of the rounded network",
                "line": {"color": COLORS[0]},
                "legendgroup": "exact",
                "showlegend": i == 0,
                "xaxis": xa,
                "yaxis": ya,
                "hovertemplate": f"{sym} = %{{x:.2f}}<br>{u}: %{{y:,.0f}}<extra>exact</extra>",
            }
        )
        data.append(
            {
                "type": "scatter",
                "x": x,
                "y": [units.scale(r["law"], unit) if r["law"] else None for r in rows],
                "mode": "lines",
                "name": "law: preset × d, w², r²",
                "line": {"color": "#7f7f7f", "dash": "dash"},
                "legendgroup": "law",
                "showlegend": i == 0,
                "xaxis": xa,
                "yaxis": ya,
                "hovertemplate": f"{sym} = %{{x:.2f}}<br>law: %{{y:,.0f}}<extra></extra>",
            }
        )
        layout["shapes"].append(
            {
                "type": "line",
                "xref": xa,
                "yref": f"{ya} domain",
                "x0": current.of(axis),
                "x1": current.of(axis),
                "y0": 0,
                "y1": 1,
                "line": {"color": USER_COLOR, "dash": "dot", "width": 2},
            }
        )
        layout["annotations"].append(
            {
                "text": f"your {sym} = {current.of(axis):.2f}",
                "x": current.of(axis),
                "xref": xa,
                "y": 0.98,
                "yref": f"{ya} domain",
                "showarrow": False,
                "xanchor": "left",
                "font": {"color": USER_COLOR, "size": 11},
            }
        )
        layout["annotations"].append(
            _panel_title(f"{axis} {sym} alone (cost ∝ {sym}{'²' if AXIS_EXPONENT[axis] == 2 else ''})", doms[i])
        )
        layout["xaxis" + sfx] = {"domain": doms[i], "anchor": ya, "title": {"text": f"{sym} (× preset)"}}
        layout["yaxis" + sfx] = {"anchor": xa, "rangemode": "tozero", **SI}
        if i:
            layout["yaxis" + sfx]["matches"] = "y"
            layout["yaxis" + sfx]["showticklabels"] = False
    layout.setdefault("yaxis", {})["title"] = {"text": f"{u} per image (conv + linear)"}
    layout["legend"] = {"orientation": "h", "yanchor": "top", "y": -0.22, "x": 0}
    layout["margin"] = {"t": 70, "b": 40, "l": 10, "r": 10}
    return _figure(data, layout, 440)


def law_figure(
    sweep: Sequence[Mapping],
    current: Mapping[str, float] | None,
    released: Sequence[Mapping] | None = None,
) -> go.Figure:
    """Predicted cost ratio d * w^2 * r^2 (x) against the exact ratio of the rounded network (y), log-log, with the
    diagonal where they agree: the phi sweep of the current preset, the current setting and, for EfficientNet, the
    released B0-B7 against B0."""
    xs = [r["law"] for r in sweep] + ([current["law"]] if current else [])
    ys = [r["exact"] for r in sweep] + ([current["exact"]] if current else [])
    if released:
        xs += [r["law"] for r in released]
        ys += [r["exact"] for r in released]
    pos = [v for v in xs + ys if v > 0]
    lo, hi = (min(pos) / 1.3, max(pos) * 1.3) if pos else (0.1, 10.0)
    data: list[dict] = [
        {
            "type": "scatter",
            "x": [lo, hi],
            "y": [lo, hi],
            "mode": "lines",
            "line": {"color": "#bbbbbb", "dash": "dot"},
            "name": "exact = law",
            "hoverinfo": "skip",
        }
    ]
    if sweep:
        data.append(
            {
                "type": "scatter",
                "x": [r["law"] for r in sweep],
                "y": [r["exact"] for r in sweep],
                "mode": "lines+markers+text",
                "text": [f"φ={r['phi']:g}" if float(r["phi"]).is_integer() else "" for r in sweep],
                "textposition": "top left",
                "textfont": {"size": 11, "color": COLORS[0]},
                "line": {"color": COLORS[0]},
                "name": f"this preset, compound-scaled (φ = {sweep[0]['phi']:g} … {sweep[-1]['phi']:g})",
                "customdata": [[r["phi"], r["resolution"]] for r in sweep],
                "hovertemplate": "φ = %{customdata[0]}<br>law d·w²·r² = %{x:.3f}<br>exact = %{y:.3f}"
                "<br>resolution %{customdata[1]}<extra></extra>",
            }
        )
    if released:
        data.append(
            {
                "type": "scatter",
                "x": [r["law"] for r in released],
                "y": [r["exact"] for r in released],
                "mode": "markers+text",
                "text": [r["label"] for r in released],
                "textposition": "bottom right",
                "textfont": {"size": 11, "color": COLORS[1]},
                "marker": {"color": COLORS[1], "size": 9, "symbol": "square"},
                "name": "released B0-B7 against B0",
                "hovertemplate": "%{text}<br>law = %{x:.3f}<br>exact = %{y:.3f}<extra></extra>",
            }
        )
    if current:
        data.append(
            {
                "type": "scatter",
                "x": [current["law"]],
                "y": [current["exact"]],
                "mode": "markers",
                "marker": {"color": USER_COLOR, "size": 15, "symbol": "star"},
                "name": "your setting",
                "hovertemplate": "law = %{x:.3f}<br>exact = %{y:.3f}<extra>your setting</extra>",
            }
        )
    layout = {
        "xaxis": {"type": "log", "title": {"text": "predicted cost ratio d·w²·r² (log)"}},
        "yaxis": {"type": "log", "title": {"text": "exact cost ratio (log)"}},
    }
    return _figure(data, layout, 480)


def params_macs_figure(groups: Mapping[str, Sequence[Mapping]], user: Mapping[str, Any] | None, unit: str) -> go.Figure:
    """Params against MACs (log-log) of preset groups (e.g. B0-B7, Lite0-4), with the user's configuration."""
    u = units.NAMES[unit]
    symbols = ("circle", "diamond", "square", "triangle-up", "cross")
    data: list[dict] = []
    for i, (name, rows) in enumerate(groups.items()):
        color = COLORS[i % len(COLORS)]
        data.append(
            {
                "type": "scatter",
                "x": [units.scale(r["macs"], unit) for r in rows],
                "y": [r["params"] for r in rows],
                "mode": "lines+markers+text",
                "text": [_short(r["label"]) for r in rows],
                "textposition": "top left" if i % 2 == 0 else "bottom right",
                "textfont": {"size": 11, "color": color},
                "marker": {"size": 9, "color": color, "symbol": symbols[i % len(symbols)]},
                "line": {"color": color, "width": 1},
                "name": name,
                "customdata": [[r["label"], r["resolution"]] for r in rows],
                "hovertemplate": "%{customdata[0]} at %{customdata[1]} px<br>"
                + u
                + ": %{x:,.0f}<br>params: %{y:,.0f}<extra></extra>",
            }
        )
    if user:
        data.append(
            {
                "type": "scatter",
                "x": [units.scale(user["macs"], unit)],
                "y": [user["params"]],
                "mode": "markers+text",
                "text": ["you"],
                "textposition": "middle right",
                "textfont": {"color": USER_COLOR, "size": 13},
                "marker": {"color": USER_COLOR, "size": 16, "symbol": "star"},
                "name": "your configuration",
                "hovertemplate": f"your configuration<br>{u}: %{{x:,.0f}}<br>params: %{{y:,.0f}}<extra></extra>",
            }
        )
    layout = {
        "xaxis": {"type": "log", "title": {"text": f"{u} per image (conv + linear), log"}, **SI},
        "yaxis": {"type": "log", "title": {"text": "learnable parameters, log"}, **SI},
    }
    return _figure(data, layout, 480)


def _short(label: str) -> str:
    return label.replace("EfficientNet-", "").replace("EfficientNet", "").replace("RegNet", "")


def published_figure(points: Sequence[Mapping], user_macs: int | None, unit: str) -> go.Figure:
    """Published ImageNet top-1 against the exact MACs of the network each figure describes, one colour per family,
    filled circles for papers and official code, open diamonds for torchvision's own training; hover shows the
    source."""
    u = units.NAMES[unit]
    data: list[dict] = []
    families = list(dict.fromkeys(p["family"] for p in points))
    for i, fam in enumerate(families):
        color = FAMILIES[fam].color if fam in FAMILIES else COLORS[i % len(COLORS)]
        for tv in (False, True):
            pts = [p for p in points if p["family"] == fam and p["torchvision"] == tv]
            if not pts:
                continue
            data.append(
                {
                    "type": "scatter",
                    "x": [units.scale(p["macs"], unit) for p in pts],
                    "y": [p["top1"] for p in pts],
                    "mode": "markers",
                    "marker": {
                        "size": 10,
                        "color": color,
                        "symbol": "diamond-open" if tv else "circle",
                        "line": {"width": 2 if tv else 0.5, "color": color},
                    },
                    "name": (FAMILIES[fam].label if fam in FAMILIES else fam) + (" (torchvision)" if tv else ""),
                    "customdata": [
                        [
                            p["label"],
                            p["resolution"],
                            p["source"],
                            human(p["published_macs"]) if p["published_macs"] else "none given",
                            human(p["published_params"]) if p["published_params"] else "none given",
                        ]
                        for p in pts
                    ],
                    "hovertemplate": "<b>%{customdata[0]}</b> at %{customdata[1]} px<br>top-1 %{y:.1f} %<br>"
                    + u
                    + " (exact, conv + linear): %{x:,.0f}<br>published MACs: %{customdata[3]}, params: "
                    "%{customdata[4]}<br>source: %{customdata[2]}<extra></extra>",
                }
            )
    layout: dict[str, Any] = {
        "xaxis": {"type": "log", "title": {"text": f"{u} per image (exact, conv + linear), log"}, **SI},
        "yaxis": {"title": {"text": "published ImageNet top-1 (%)"}},
        "legend": {"orientation": "v", "x": 1.02, "y": 1, "yanchor": "top"},
    }
    if user_macs:
        x = units.scale(user_macs, unit)
        layout["shapes"] = [
            {
                "type": "line",
                "xref": "x",
                "yref": "y domain",
                "x0": x,
                "x1": x,
                "y0": 0,
                "y1": 1,
                "line": {"color": USER_COLOR, "dash": "dash"},
            }
        ]
        layout["annotations"] = [
            {
                "text": "your configuration<br>(accuracy unknown until trained)",
                "x": math.log10(x),
                "xref": "x",
                "y": 0.02,
                "yref": "y domain",
                "xanchor": "left",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"color": USER_COLOR, "size": 11},
            }
        ]
    return _figure(data, layout, 520)


DTYPE_BYTES = {"float32": 4, "float16 / bfloat16": 2, "int8": 1}


def activation_rows(cost: ModelCost, batch: int, bytes_per_value: int) -> list[dict]:
    """Activation memory per stage row at batch N: the elements every conv and linear layer of the row writes (the
    tensors a training forward pass keeps for backward), plus the input image, x N x bytes per value."""
    c, h, w = cost.input_shape
    rows = [{"stage": "input", "operator": "image", "values per image": c * h * w}]
    for r in cost.stages:
        rows.append({"stage": str(r.stage), "operator": r.operator, "values per image": r.acts})
    for r in rows:
        r["bytes at batch N"] = r["values per image"] * batch * bytes_per_value
    return rows


def activation_figure(rows: Sequence[Mapping], batch: int, dtype: str) -> go.Figure:
    """Bars of activation memory per stage row at batch N."""
    data = [
        {
            "type": "bar",
            "x": [f"{r['stage']}: {r['operator']}" for r in rows],
            "y": [r["bytes at batch N"] / 2**20 for r in rows],
            "marker": {"color": COLORS[0]},
            "text": [_bytes(r["bytes at batch N"]) for r in rows],
            "textposition": "outside",
            "cliponaxis": False,
            "hovertemplate": "%{x}<br>%{y:,.1f} MiB<extra></extra>",
        }
    ]
    layout = {
        "yaxis": {"title": {"text": f"MiB at batch {batch} ({dtype})"}},
        "xaxis": {"tickangle": -30},
        "showlegend": False,
        "margin": {"t": 30, "b": 10, "l": 10, "r": 10},
    }
    return _figure(data, layout, 440)


def _bytes(n: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


# ----- Design Space: RegNet -------------------------------------------------------------------------------------


def regnet_block_rows(spec: RegNetModelSpec) -> list[dict]:
    """Block by block: the continuous width u_j = w0 + wa*j, its step s_j on the geometric grid, the quantized width
    w0*wm^s_j (a multiple of 8), and the final width after the group-width adjustment, with the stage row it joins
    (numbered as in the stage table, where the stem is stage 1)."""
    gen = regnet_widths(spec.depth, spec.w0, spec.wa, spec.wm, QUANTUM, spec.rounding)
    widths, depths, groups = stage_widths(spec)
    final: list[tuple[int, int, int]] = []
    for s, (w, d, g) in enumerate(zip(widths, depths, groups, strict=True), 2):
        final += [(s, w, g)] * d
    return [
        {
            "block": j,
            "continuous u_j": round(u, 2),
            "step s_j": s_j,
            "quantized w_j": q,
            "final width": fw,
            "group width": g,
            "stage": st,
        }
        for j, (u, s_j, q, (st, fw, g)) in enumerate(
            zip(gen.continuous, gen.exponents, gen.quantized, final, strict=True)
        )
    ]


def regnet_widths_figure(rows: Sequence[Mapping]) -> go.Figure:
    """Per-block widths: the linear function u_j, its quantization w_j, and the widths built after the group-width
    adjustment; stages shaded."""
    j = [r["block"] for r in rows]
    shapes, annotations = [], []
    for s in sorted({r["stage"] for r in rows}):
        blocks = [r["block"] for r in rows if r["stage"] == s]
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "y domain",
                "x0": min(blocks) - 0.5,
                "x1": max(blocks) + 0.5,
                "y0": 0,
                "y1": 1,
                "fillcolor": COLORS[s % len(COLORS)],
                "opacity": 0.08,
                "line": {"width": 0},
                "layer": "below",
            }
        )
        annotations.append(
            {
                "text": f"stage {s}",
                "x": (min(blocks) + max(blocks)) / 2,
                "xref": "x",
                "y": 1.0,
                "yref": "y domain",
                "yanchor": "top",
                "showarrow": False,
                "font": {"size": 11},
            }
        )
    data = [
        {
            "type": "scatter",
            "x": j,
            "y": [r["continuous u_j"] for r in rows],
            "mode": "lines+markers",
            "name": "continuous u_j = w0 + wa·j",
            "line": {"color": "#7f7f7f", "dash": "dash"},
            "marker": {"size": 5},
        },
        {
            "type": "scatter",
            "x": j,
            "y": [r["quantized w_j"] for r in rows],
            "mode": "lines+markers",
            "line": {"shape": "hvh", "color": COLORS[0], "width": 3},
            "name": "quantized w_j = w0·wm^s_j (multiple of 8)",
        },
    ]
    changed = [r for r in rows if r["final width"] != r["quantized w_j"]]
    if changed:
        data.append(
            {
                "type": "scatter",
                "x": [r["block"] for r in changed],
                "y": [r["final width"] for r in changed],
                "mode": "markers",
                "marker": {"color": USER_COLOR, "size": 10, "symbol": "x"},
                "name": "built width, where the group-width rounding changed it",
                "customdata": [[r["quantized w_j"], r["group width"]] for r in changed],
                "hovertemplate": "block %{x}: %{customdata[0]} → %{y} (a multiple of g = %{customdata[1]})"
                "<extra></extra>",
            }
        )
    layout = {
        "shapes": shapes,
        "annotations": annotations,
        "xaxis": {"title": {"text": "block j"}, "dtick": 1 if len(rows) <= 32 else None},
        "yaxis": {"title": {"text": "output channels of the block"}, "rangemode": "tozero"},
    }
    return _figure(data, layout, 420)


@dataclass(frozen=True)
class RoundingSide:
    """One rounding's network: stage widths, depths, group widths and exact cost."""

    rounding: str
    widths: tuple[int, ...]
    depths: tuple[int, ...]
    groups: tuple[int, ...]
    params: int
    macs: int


def rounding_sides(spec: RegNetModelSpec) -> list[RoundingSide]:
    """The same generator settings under pycls's and torchvision's width rounding. A rounding that cannot build the
    settings (pycls needs b below 1 or a whole number; torchvision's widths may not divide by the group width) is
    left out."""
    out = []
    for rounding in ("pycls", "torchvision"):
        try:
            s = spec.replace(rounding=rounding)
            c = plan_cost(regnet_plan(s), record_steps=False)  # type: ignore[arg-type]
        except ValueError:
            continue
        w, d, g = stage_widths(s)  # type: ignore[arg-type]
        out.append(RoundingSide(rounding, tuple(w), tuple(d), tuple(g), c.params, c.macs))
    return out


def rounding_table(sides: Sequence[RoundingSide], unit: str) -> list[dict]:
    """Stage by stage, each rounding's width (and group width), marking stages where they differ."""
    n = max(len(s.widths) for s in sides)
    rows = []
    for i in range(n):
        row: dict[str, Any] = {"stage": str(i + 2)}
        vals = []
        for s in sides:
            if i < len(s.widths):
                row[f"{s.rounding}: width × blocks (g)"] = f"{s.widths[i]} × {s.depths[i]} (g={s.groups[i]})"
                vals.append((s.widths[i], s.groups[i]))
            else:
                row[f"{s.rounding}: width × blocks (g)"] = ""
        row["differs"] = "yes" if len(set(vals)) > 1 else ""
        rows.append(row)
    u = units.NAMES[unit]
    rows.append(
        {
            "stage": "total",
            **{
                f"{s.rounding}: width × blocks (g)": f"{human(s.params)} params, {human(units.scale(s.macs, unit))} {u}"
                for s in sides
            },
            "differs": "yes" if len({(s.params, s.macs) for s in sides}) > 1 else "",
        }
    )
    return rows


def presets_where_roundings_differ() -> list[str]:
    """RegNet presets whose pycls and torchvision roundings build different networks (computed, not listed)."""
    out = []
    for name, info in MODELS.items():
        if info.family != "regnet":
            continue
        spec = info.make_spec()
        a = stage_widths(spec.replace(rounding="pycls"))  # type: ignore[arg-type,attr-defined]
        b = stage_widths(spec.replace(rounding="torchvision"))  # type: ignore[arg-type,attr-defined]
        if a != b:
            out.append(name)
    return out


# ----- Design Space: MobileNet grid, ShuffleNet groups, sampled spaces -------------------------------------------


def mobilenet_heatmaps(rows: Sequence[Mapping], unit: str, model_label: str) -> go.Figure:
    """Two heatmaps over (width multiplier alpha, resolution): learnable params and MACs (or FLOPs), each cell
    labelled; params do not change along the resolution axis, MACs fall as alpha^2 and rho^2."""
    alphas = sorted({r["width_mult"] for r in rows})
    res = sorted({r["resolution"] for r in rows})
    by = {(r["width_mult"], r["resolution"]): r for r in rows}
    u = units.NAMES[unit]
    doms = _domains(2, 0.16)
    xlab = [f"{r} (ρ={r / 224:.3g})" for r in res]
    ylab = [f"α={a:g}" for a in alphas]
    data, annotations = [], []
    layout: dict[str, Any] = {}
    panels = (("params", 1, "learnable parameters"), ("macs", units.FACTORS[unit], f"{u} (conv + linear)"))
    for i, (key, scale, title) in enumerate(panels):
        sfx = "" if i == 0 else "2"
        z = [[by[(a, r)][key] * scale if (a, r) in by else None for r in res] for a in alphas]
        data.append(
            {
                "type": "heatmap",
                "z": z,
                "x": xlab,
                "y": ylab,
                "text": [[human(v) if v is not None else "" for v in zr] for zr in z],
                "texttemplate": "%{text}",
                "textfont": {"size": 12},
                "colorscale": "Blues",
                "colorbar": {"x": doms[i][1] + 0.01, "len": 0.9, "thickness": 10},
                "xaxis": "x" + sfx,
                "yaxis": "y" + sfx,
                "hovertemplate": "%{y}, resolution %{x}<br>" + title + ": %{z:,.0f}<extra></extra>",
            }
        )
        annotations.append(_panel_title(f"{model_label}: {title}", doms[i]))
        layout["xaxis" + sfx] = {"domain": doms[i], "anchor": "y" + sfx, "title": {"text": "input side (ρ × 224)"}}
        layout["yaxis" + sfx] = {"anchor": "x" + sfx, "title": {"text": "width multiplier α" if i == 0 else ""}}
    layout["annotations"] = annotations
    return _figure(data, layout, 380)


def shufflenet_rows(sweep: Sequence[Mapping], published: Mapping[int, Mapping]) -> list[dict]:
    """The ShuffleNet V1 groups sweep as a table: stage widths, params, exact MACs, and the paper's Table 1 figure
    (which counts the convolutions without the final FC) beside our count under the same rule."""
    rows = []
    for r in sweep:
        g = r["groups"]
        pub = published.get(g)
        rows.append(
            {
                "groups g": g,
                "stage widths (2, 3, 4)": " / ".join(map(str, r["widths"][1:])),
                "params": r["params"],
                "MACs (conv + linear)": r["macs"],
                "MACs without the FC (ours)": pub["ours"] if pub else None,
                "published MACs (no FC)": human(pub["published"]) if pub else "",
                "source": pub["source"] if pub else "",
            }
        )
    return rows


def shufflenet_figure(sweep: Sequence[Mapping], unit: str) -> go.Figure:
    """Three panels per number of groups g: output channels of stages 2-4, MACs (or FLOPs), and params. More groups
    make the 1x1 convs cheaper, so at about equal cost the stages get wider."""
    u = units.NAMES[unit]
    gs = [f"g={r['groups']}" for r in sweep]
    doms = _domains(3, 0.08)
    macs = [units.scale(r["macs"], unit) for r in sweep]
    params = [r["params"] for r in sweep]
    data: list[dict] = [
        {
            "type": "bar",
            "x": gs,
            "y": [r["widths"][i + 1] for r in sweep],
            "name": f"stage {i + 2}",
            "marker": {"color": COLORS[i]},
            "xaxis": "x",
            "yaxis": "y",
            "hovertemplate": f"%{{x}}: stage {i + 2} has %{{y}} channels<extra></extra>",
        }
        for i in range(3)
    ]
    for j, (vals, name, color) in enumerate(
        ((macs, f"{u} (conv + linear)", USER_COLOR), (params, "params (learnable)", "#7f7f7f")), 2
    ):
        data.append(
            {
                "type": "bar",
                "x": gs,
                "y": vals,
                "text": [human(v) for v in vals],
                "textposition": "outside",
                "cliponaxis": False,
                "name": name,
                "marker": {"color": color},
                "xaxis": f"x{j}",
                "yaxis": f"y{j}",
                "showlegend": False,
                "hovertemplate": "%{x}: %{y:,.0f}<extra>" + name + "</extra>",
            }
        )
    layout: dict[str, Any] = {
        "barmode": "group",
        "annotations": [
            _panel_title("output channels of stages 2-4", doms[0]),
            _panel_title(f"{u} per image (conv + linear)", doms[1]),
            _panel_title("learnable parameters", doms[2]),
        ],
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0, "title": {"text": "channels of"}},
        "margin": {"t": 50, "b": 40, "l": 10, "r": 10},
    }
    for j, vals in ((1, None), (2, macs), (3, params)):
        sfx = "" if j == 1 else str(j)
        layout["xaxis" + sfx] = {"domain": doms[j - 1], "anchor": "y" + sfx}
        layout["yaxis" + sfx] = {"anchor": "x" + sfx, **SI}
        if vals:
            layout["yaxis" + sfx]["range"] = [0, max(vals) * 1.2]
    return _figure(data, layout, 420)


@dataclass(frozen=True)
class SampleSummary:
    """Quantiles of a sampled design space's cost."""

    n: int
    macs_p10: float
    macs_median: float
    macs_p90: float
    params_p10: float
    params_median: float
    params_p90: float


def _quantile(sorted_vals: Sequence[float], q: float) -> float:
    if not sorted_vals:
        return float("nan")
    pos = q * (len(sorted_vals) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (pos - lo)


def sample_summary(samples: Sequence[Mapping]) -> SampleSummary:
    """10th percentile, median and 90th percentile of MACs and params over the samples."""
    m = sorted(s["macs"] for s in samples)
    p = sorted(s["params"] for s in samples)
    return SampleSummary(
        len(samples),
        _quantile(m, 0.1),
        _quantile(m, 0.5),
        _quantile(m, 0.9),
        _quantile(p, 0.1),
        _quantile(p, 0.5),
        _quantile(p, 0.9),
    )


def sample_figures(samples: Sequence[Mapping], presets: Sequence[Mapping], unit: str) -> tuple[go.Figure, go.Figure]:
    """(distribution, scatter) of sampled networks: a histogram of MACs on a log axis with the empirical cumulative
    distribution (the RegNet paper summarises design spaces by such EDFs), and params against MACs with the RegNet
    presets for reference."""
    u = units.NAMES[unit]
    vals = [units.scale(s["macs"], unit) for s in samples]
    pos = [v for v in vals if v > 0]
    data: list[dict] = []
    if pos:
        lo, hi = math.log10(min(pos)), math.log10(max(pos))
        nb = 30
        step = (hi - lo) / nb or 0.1
        edges = [10 ** (lo + i * step) for i in range(nb + 1)]
        counts = [0] * nb
        for v in pos:
            counts[min(nb - 1, int((math.log10(v) - lo) / step))] += 1
        data.append(
            {
                "type": "bar",
                "x": [math.sqrt(a * b) for a, b in zip(edges[:-1], edges[1:], strict=True)],
                "y": counts,
                "width": [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)],
                "name": "networks per bin",
                "marker": {"color": COLORS[0], "opacity": 0.75},
                "customdata": [[human(a), human(b)] for a, b in zip(edges[:-1], edges[1:], strict=True)],
                "hovertemplate": f"{u} %{{customdata[0]}}-%{{customdata[1]}}: %{{y}} networks<extra></extra>",
            }
        )
        srt = sorted(pos)
        data.append(
            {
                "type": "scatter",
                "x": srt,
                "y": [(i + 1) / len(srt) for i in range(len(srt))],
                "mode": "lines",
                "line": {"shape": "hv", "color": USER_COLOR, "width": 2},
                "name": "cumulative fraction (EDF, right axis)",
                "yaxis": "y2",
                "hovertemplate": f"{u} ≤ %{{x:,.0f}}: %{{y:.0%}}<extra></extra>",
            }
        )
    dist = _figure(
        data,
        {
            "xaxis": {"type": "log", "title": {"text": f"{u} per image (conv + linear), log"}, **SI},
            "yaxis": {"title": {"text": "networks"}},
            "yaxis2": {
                "overlaying": "y",
                "side": "right",
                "range": [0, 1.02],
                "tickformat": ".0%",
                "dtick": 0.25,
                "title": {"text": "fraction at or below"},
                "showgrid": False,
            },
            "bargap": 0,
        },
        400,
    )
    sdata: list[dict] = [
        {
            "type": "scatter",
            "x": vals,
            "y": [s["params"] for s in samples],
            "mode": "markers",
            "marker": {
                "size": 6,
                "color": [s["depth"] for s in samples],
                "colorscale": "Viridis",
                "opacity": 0.7,
                "colorbar": {"title": {"text": "depth d"}, "thickness": 12},
            },
            "name": "sampled networks",
            "customdata": [
                [s["depth"], s["w0"], s["wa"], s["wm"], s["group_width"], str(s["stage_widths"])] for s in samples
            ],
            "hovertemplate": "d=%{customdata[0]}, w0=%{customdata[1]}, wa=%{customdata[2]}, wm=%{customdata[3]}, "
            "g=%{customdata[4]}<br>stage widths %{customdata[5]}<br>"
            + u
            + " %{x:,.0f}<br>params %{y:,.0f}<extra></extra>",
        }
    ]
    if presets:
        sdata.append(
            {
                "type": "scatter",
                "x": [units.scale(p["macs"], unit) for p in presets],
                "y": [p["params"] for p in presets],
                "mode": "markers+text",
                "text": [_short(p["label"]) for p in presets],
                "textposition": "top left",
                "textfont": {"size": 10, "color": USER_COLOR},
                "marker": {"color": USER_COLOR, "size": 9, "symbol": "star"},
                "name": "RegNet presets",
                "hovertemplate": "%{text}<br>" + u + " %{x:,.0f}<br>params %{y:,.0f}<extra></extra>",
            }
        )
    scat = _figure(
        sdata,
        {
            "xaxis": {"type": "log", "title": {"text": f"{u} per image (conv + linear), log"}, **SI},
            "yaxis": {"type": "log", "title": {"text": "learnable parameters, log"}, **SI},
        },
        460,
    )
    return dist, scat


def sample_table(samples: Sequence[Mapping], unit: str) -> list[dict]:
    """Sampled networks as rows (for the CSV download)."""
    u = units.NAMES[unit]
    return [
        {
            "depth d": s["depth"],
            "w0": s["w0"],
            "wa": s["wa"],
            "wm": s["wm"],
            "group width g": s["group_width"],
            "bottleneck b": s["bottleneck_ratio"],
            "stage widths": " / ".join(map(str, s["stage_widths"])),
            "stage depths": " / ".join(map(str, s["stage_depths"])),
            "params": s["params"],
            f"{u} (conv + linear)": units.scale(s["macs"], unit),
        }
        for s in samples
    ]


def published_comparison_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict]:
    """:meth:`ModelInfo.compare_published` rows as a table: each published figure beside our exact count of the
    network it describes, whether it agrees within the figure's rounding, and the registry's note."""
    return [
        {
            "setting": ", ".join([*(f"{k}={v}" for k, v in r["fields"].items()), f"{r['resolution']} px"]),
            "quantity": "learnable params"
            if r["quantity"] == "params"
            else "MACs" + (" (no FC)" if r["scope"] == "no_fc" else ""),
            "published": human(r["published"]),
            "ours (exact)": r["ours"],
            "agrees within rounding": "yes"
            if r["agrees"]
            else ("no (documented)" if r["documented_mismatch"] else "no"),
            "source": r["source"],
            "note": r["note"],
        }
        for r in rows
    ]


def b_series_names() -> list[str]:
    """EfficientNet-B0 ... B7 registry names."""
    return [f"efficientnet_b{i}" for i in B_COEFFICIENTS]


def extras_note(cost: ModelCost, extras: Sequence[str], unit: str) -> str:
    """'Not in the headline: bn 4.8M, act 4.8M' for extras the user did not tick."""
    rest = [k for k in EXTRA_KINDS if k not in extras and cost.total.extra(k)]
    return ", ".join(f"{k} {human(units.scale(cost.total.extra(k), unit))}" for k in rest)
