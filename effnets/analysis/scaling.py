"""What scaling does to a network, as tables and sentences a class can read (no streamlit, no figures).

The released EfficientNets against the compound rule and why they differ, the stage table with each row's share,
where rounding moves the exact cost away from d * w^2 * r^2, published networks beside their exact counts, and
activation memory. The multipliers and sweeps themselves are in :mod:`effnets.models.scaling`, the figures in
:mod:`effnets.figures.scaling`. Counts follow :mod:`effnets.units`.

Scaling is always relative to a *preset* (a registry entry, e.g. EfficientNet-B0): the multipliers w, d and r multiply
the preset's own width multiplier, depth multiplier and input resolution, so that for B0 they are exactly the paper's
w = beta^phi, d = alpha^phi and r = gamma^phi (Tan & Le 2019, Eq. 3).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from effnets import units
from effnets.cost import EXTRA_KINDS
from effnets.models import MODELS, ModelCost, get_model
from effnets.models.efficientnet import B_COEFFICIENTS, released_vs_compound
from effnets.models.scaling import (
    Multipliers,
    phi_multipliers,
    scale_spec,
    sweep_cost,
)
from effnets.report import human

FAR_FROM_THE_LAW = 0.05  # the exact cost this far (relative) from d*w^2*r^2 gets the rounding explained


def rounding_effects(base_cost: ModelCost, cost: ModelCost, m: Multipliers, unit: str = "macs") -> list[str]:
    """Why the rounded network's cost is not d * w^2 * r^2 of the preset's: stage by stage, the layers and channels
    that rounding added or removed, each with the share of the difference it explains (computed, largest first).

    Depths round up to whole blocks (ceil(n * d)), so a small d > 1 adds a whole block to every stage; widths round
    to multiples of 8; a stage's cost follows its own layers and channels and the channels it is fed, not the
    multipliers: the stage after a rounded one pays for it too, and the first stage reads the image's channels,
    which no width multiplier scales.
    """
    law = m.law()
    predicted = base_cost.macs * law
    gap = cost.macs - predicted
    if not base_cost.macs or abs(gap) <= FAR_FROM_THE_LAW * predicted or len(base_cost.stages) != len(cost.stages):
        return []
    found = []
    fed: tuple[int, int] | None = None  # the previous stage's channels (preset, scaled) when rounding moved them
    for i, (b, s) in enumerate(zip(base_cost.stages, cost.stages, strict=True)):
        changes = []
        if s.repeats != b.repeats:
            want = b.repeats * m.depth
            changes.append(
                f"{b.repeats} → {s.repeats} layers ({b.repeats} × d = {want:.2f}, rounded up to whole blocks)"
                if s.repeats > want
                else f"{b.repeats} → {s.repeats} layers ({b.repeats} × d = {want:.2f}, rounded)"
            )
        want_c = b.channels * m.width
        if s.channels != b.channels and abs(s.channels - want_c) >= 0.5:
            changes.append(
                f"{b.channels} → {s.channels} channels ({b.channels} × w = {want_c:.1f}, to a multiple of 8)"
            )
        if fed is not None:
            changes.append(f"fed {fed[1]} channels by the stage before, not {fed[0]} × w = {fed[0] * m.width:.1f}")
        elif i == 0 and m.width != 1:
            changes.append("its input is the image's channels, which w does not scale")
        fed = (b.channels, s.channels) if abs(s.channels - want_c) >= 0.5 else None
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
        rest = _sides_note(base_cost, cost) if abs(share) < 0.9 else ""
        lines.insert(
            0,
            f"The exact cost (conv + linear) is {cost.macs / predicted - 1:+.1%} off d·w²·r² = {law:.3f} × the "
            f"preset's because of rounding; the stages below add up to {share:.0%} of that difference{rest}:",
        )
    return lines


def _sides_note(base_cost: ModelCost, cost: ModelCost) -> str:
    """Where the rest of a gap comes from when the stages' channels and layers do not explain it: the feature maps'
    sides, which a stride rounds (up, with padding) at every downsampling, so they are not the preset's times r."""
    pairs = [(cost.input_shape[1], base_cost.input_shape[1])]
    pairs += [(s.output_shape[1], b.output_shape[1]) for s, b in zip(cost.stages, base_cost.stages, strict=True)]
    pairs = [p for p in pairs if p[1] > 1]  # a global pool's 1 x 1 is no side to scale
    sides, base = [p[0] for p in pairs], [p[1] for p in pairs]
    r = sides[0] / base[0]
    if all(abs(a - b * r) < 0.5 for a, b in zip(sides, base, strict=True)):
        return ""
    path = [sides[0]] + [x for prev, x in zip(sides, sides[1:], strict=False) if x != prev]
    ideal = [base[0] * r] + [b * r for prev, b in zip(base, base[1:], strict=False) if b != prev]
    return (
        "; the rest: the feature maps' sides, which every stride rounds ("
        + " → ".join(map(str, path))
        + " against "
        + " → ".join(f"{x:.1f}" for x in ideal)
        + " for the preset's times r)"
    )


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
                "layers": r.repeats,
                "kernel": f"{r.kernel}×{r.kernel}" if r.kernel else "",
                "stride": r.stride,
                "expand ratio": f"{r.expand_ratio:g}" if r.expand_ratio else "",
                "params": r.params,
                label: units.scale(n, unit),
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


def activation_bytes(cost: ModelCost, batch: int, bytes_per_value: int) -> int:
    """The whole of :func:`activation_rows`: (input + every conv/linear output) x batch N x bytes per value."""
    return (cost.acts + math.prod(cost.input_shape)) * batch * bytes_per_value


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
