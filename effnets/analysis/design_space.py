"""The Design Space page's tables: RegNet's per-block widths, the two roundings of its widths, and summaries of
networks sampled from a design space (Radosavovic et al. 2020). Pure data; the figures are in
:mod:`effnets.figures.design_space`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from effnets import units
from effnets.models import MODELS, plan_cost
from effnets.models.regnet import QUANTUM, RegNetModelSpec, stage_widths
from effnets.models.regnet import plan as regnet_plan
from effnets.models.scaling import regnet_widths
from effnets.report import human


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
