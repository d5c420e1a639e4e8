"""The Design Space page's tables: RegNet's per-block widths, the two roundings of its widths, and summaries of
networks sampled from a design space (Radosavovic et al. 2020). Pure data; the figures are in
:mod:`effnets.figures.design_space`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from effnets import units
from effnets.models import MODELS, ModelCost, ModelInfo, family_models, plan_cost
from effnets.models.regnet import QUANTUM, RegNetModelSpec, stage_widths
from effnets.models.regnet import plan as regnet_plan
from effnets.models.scaling import regnet_widths
from effnets.report import Metric, human

SAMPLED_SE_RATIO = 0.25  # the squeeze-and-excitation ratio of RegNetY, for "SE" samples


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


# ----- what the Design Space page says ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Generated:
    """The RegNet that the generator settings make (its spec and cost), or why they make none (``error``)."""

    info: ModelInfo
    spec: RegNetModelSpec | None
    cost: ModelCost | None
    error: str | None = None


def generate(info: ModelInfo, values: Mapping[str, Any]) -> Generated:
    """The preset with the generator settings ``values``; an impossible setting comes back as the error's message."""
    try:
        spec = info.make_spec(**values)
        cost = info.cost(spec, record_steps=False)
    except ValueError as e:
        return Generated(info, None, None, str(e))
    return Generated(info, spec, cost)  # type: ignore[arg-type]


def regnet_metrics(spec: RegNetModelSpec, cost: ModelCost, counting: units.Counting) -> list[Metric]:
    """Parameters, the count, blocks and stages, and the first and last stage widths of a generated RegNet."""
    widths = [r.channels for r in cost.stages[1:-1]]  # the stem and the head are not stages of the generator
    count, name = counting.total(cost), counting.name
    return [
        Metric("Parameters", human(cost.params), f"{cost.params:,} learnable parameters."),
        Metric(f"{name} per image", human(count), f"{count:,} {name}: {counting.contents}."),
        Metric("Blocks / stages", f"{spec.depth} / {len(widths)}", "d blocks in runs of equal width."),
        Metric(
            "Stage widths",
            f"{widths[0]} → {widths[-1]}",
            "Output channels of the first and last stage; all: " + ", ".join(map(str, widths)) + ".",
        ),
    ]


def regnet_caption(spec: RegNetModelSpec) -> str:
    """The generator's numbers and how to read the widths figure."""
    return (
        f"d = {spec.depth}, w0 = {spec.w0}, wa = {spec.wa:g}, wm = {spec.wm:g}, g = {spec.group_width}, "
        f"b = {spec.bottleneck_ratio:g}, SE {spec.se_ratio:g}, {spec.rounding} rounding. Grey: the linear "
        "width function; blue: its quantization to w0·wm^s (multiples of 8); consecutive equal widths form "
        "a stage. Red crosses (when shown): blocks whose built width differs, because the bottleneck width "
        "must be a multiple of the group width."
    )


def rounding_verdict(sides: Sequence[RoundingSide], rounding: str) -> tuple[str, str]:
    """(kind, sentence) about :func:`rounding_sides` of settings that use ``rounding``: "warning" when the two
    roundings build different networks, "success" when the same, "info" when only one of them can build them."""
    if len(sides) == 2 and (sides[0].widths, sides[0].groups) != (sides[1].widths, sides[1].groups):
        p0, p1 = sides[0].params, sides[1].params
        if p0 == p1:
            params = f"both {p0:,} params"
        elif human(p0) == human(p1):  # too close for three digits: the exact counts
            params = f"{p0:,} vs {p1:,} params"
        else:
            params = f"{human(p0)} vs {human(p1)} params"
        return "warning", (
            f"The two roundings build different networks here: {sides[0].rounding} {list(sides[0].widths)} vs "
            f"{sides[1].rounding} {list(sides[1].widths)} channels ({params})."
        )
    if len(sides) == 2:
        return "success", "Both roundings give the same network for these settings."
    other = "torchvision" if rounding == "pycls" else "pycls"
    return "info", (
        f"Only {rounding} rounding can build these settings: {other} cannot (pycls needs b below 1 or a whole number; "
        "torchvision's rounded widths must still divide by the group width)."
    )


def differ_caption(names: Sequence[str]) -> str:
    """'Presets where the two disagree (computed): ...' for :func:`presets_where_roundings_differ`."""
    return (
        "Presets where the two disagree (computed): "
        + ", ".join(MODELS[n].label for n in names)
        + ". Pick one of them in the sidebar to see the difference."
    )


def shufflenet_caption(sweep: Sequence[Mapping[str, Any]], counting: units.Counting) -> str:
    """How ShuffleNet V1's groups buy width, quoting the sweep's first and last stage-2 widths."""
    first, last = sweep[0], sweep[-1]
    return (
        "ShuffleNet V1 1x at 224 px. A 1x1 conv with g groups costs 1/g of a dense one, so more groups buy wider "
        f"stages (stage 2: {first['widths'][1]} channels at g = {first['groups']}, {last['widths'][1]} at g = "
        f"{last['groups']}) for about the same {counting.name}. The MACs do not show the price: each group conv is a "
        "separate small kernel and the shuffle a memory copy (ShuffleNet V2's guidelines G2 and G4)."
    )


def sampled_se_ratio(se: bool) -> float:
    """The SE ratio of sampled networks: RegNetY's 0.25 with SE, else none (RegNetX)."""
    return SAMPLED_SE_RATIO if se else 0.0


def sample_presets(se: bool) -> tuple[str, ...]:
    """The presets of the sampled space: RegNetY with SE, RegNetX without."""
    return tuple(n for n in family_models("regnet") if n.startswith("regnety" if se else "regnetx"))


def sample_metrics(summary: SampleSummary, counting: units.Counting) -> list[Metric]:
    """How many networks were drawn, and the median count and parameters with their 10-90 % spread."""
    return [
        Metric("Networks", f"{summary.n}"),
        Metric(
            f"median {counting.name}",
            human(counting.scale(summary.macs_median)),
            f"10-90 % of the samples: {human(summary.macs_p10)}-{human(summary.macs_p90)} MACs (conv + linear).",
        ),
        Metric(
            "median params",
            human(summary.params_median),
            f"10-90 %: {human(summary.params_p10)}-{human(summary.params_p90)} learnable parameters.",
        ),
    ]


def sample_caption(n: int, seed: int) -> str:
    """What the sampled figures show and why the RegNet paper compares networks of similar cost."""
    return (
        f"{n} networks at 224 px, seed {seed}. The same seed draws the same networks. Cost spans orders of magnitude "
        "within one space: to compare spaces fairly the RegNet paper compares networks of similar cost."
    )
