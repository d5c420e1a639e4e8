"""Plotly figures and tables for the pages (no streamlit here: pages render what these return)."""

from __future__ import annotations

import math

import plotly.graph_objects as go

from effnets import units
from effnets.analysis.compare import CompareRow
from effnets.analysis.sampling import SamplingPicture, TapCountPicture
from effnets.cost import EXTRA_KINDS, EXTRA_LABELS, Cost
from effnets.figures.style import COLORS, GREY, USER_COLOR, figure
from effnets.report import human


def breakdown_rows(cost: Cost, include: list[str] | tuple[str, ...], unit: str, batch: int = 1) -> list[dict]:
    """The count as lines: conv/linear first, then each extras line the user opted in to, then the total."""
    u = units.NAMES[unit]
    rows = [
        {
            "line": f"conv + linear {u}",
            "what it counts": "multiply-accumulates of every conv and linear layer (the papers' unit)"
            + (" x 2" if units.FACTORS[unit] == 2 else ""),
            "count": units.scale(cost.macs, unit) * batch,
        }
    ]
    for k in EXTRA_KINDS:
        if k in include:
            rows.append(
                {"line": k, "what it counts": EXTRA_LABELS[k], "count": units.scale(cost.extra(k), unit) * batch}
            )
    total = sum(r["count"] for r in rows)
    rows.append({"line": "total", "what it counts": "sum of the lines above", "count": total})
    return rows


def step_rows(cost: Cost, unit: str) -> list[dict]:
    """One row per counted layer, with the formula of conv/linear layers."""
    out = []
    for s in cost.steps:
        out.append(
            {
                "layer": s.label,
                "branch": s.branch or "main",
                "kind": s.kind,
                "output": "x".join(map(str, s.out_shape)),
                "params": s.params,
                units.NAMES[unit]: units.scale(s.macs, unit),
                "extra ops": units.scale(s.extra, unit),
            }
        )
    return out


def formula_lines(cost: Cost) -> list[tuple[str, str]]:
    """(layer label, LaTeX with the numbers substituted) for every conv/linear layer: k_h k_w C_in/g C_out H W."""
    return [(s.label, s.formula) for s in cost.steps if s.formula]


def formula_latex(cost: Cost) -> list[str]:
    """The LaTeX lines of the formula section: each conv/linear layer with its numbers, then the totals."""
    lines = [rf"\text{{{label}}}:\quad {tex}" for label, tex in formula_lines(cost)]
    lines.append(rf"\text{{total conv + linear MACs}} = {cost.macs:,}".replace(",", "{,}"))
    lines.append(rf"\text{{params}} = {cost.params:,}".replace(",", "{,}"))
    return lines


def extras_check_rows(cost: Cost, traced: dict[str, int]) -> list[dict]:
    """Each extras line, analytic against traced (effnets' dispatch counter on the real module)."""
    return [
        {"line": k, "analytic": cost.extra(k), "traced": traced[k], "agrees": cost.extra(k) == traced[k]}
        for k in EXTRA_KINDS
    ]


def _relative(v: float, ref: float) -> str:
    """'8.0x fewer', '2.3x more'; within 1.5x as a percentage ('9% fewer'), which reads better than '1.1x fewer';
    under half a percent, the difference itself ('+4.1K'), never '0% more'."""
    r = ref / v if v < ref else v / ref
    word = "fewer" if v < ref else "more"
    if r >= 1.5:
        return f"{r:.1f}x {word}"
    if abs(v - ref) / ref < 0.005:
        return f"{'+' if v > ref else '-'}{human(abs(v - ref))}"
    return f"{abs(v - ref) / ref:.0%} {word}"


def comparison_figure(rows: list[CompareRow], metric: str, unit: str, current: str | None = None) -> go.Figure:
    """Horizontal bars of every block's params or MACs/FLOPs (log scale), the standard conv as the reference line."""
    ok = [r for r in rows if r.macs is not None][::-1]
    base = next((r for r in ok if r.name == "standard"), None)
    vals = [r.params if metric == "params" else units.scale(r.macs, unit) for r in ok]
    ref = None
    if base is not None:
        ref = base.params if metric == "params" else units.scale(base.macs, unit)
    text = []
    for v in vals:
        ratio = ""
        if ref and v:
            ratio = "  (1x)" if v == ref else f"  ({_relative(v, ref)})"
        text.append(human(v) + ratio)
    colors = [USER_COLOR if r.name == current else (GREY if r.name == "standard" else COLORS[0]) for r in ok]
    data = [
        {
            "type": "bar",
            "y": [r.label for r in ok],
            "x": vals,
            "orientation": "h",
            "text": text,
            "textposition": "outside",
            "cliponaxis": False,
            "marker": {"color": colors},
            "hovertemplate": "%{y}<br>%{x:,}<extra></extra>",
        }
    ]
    xtitle = "parameters (learnable), log scale" if metric == "params" else units.LABELS[unit] + ", log scale"
    layout: dict = {
        "xaxis": {
            "title": {"text": xtitle},
            "type": "log",
            "range": [math.log10(max(1, min(vals)) / 2), math.log10(max(vals) * 8)] if vals else None,
        },
        "showlegend": False,
    }
    if ref:
        layout["shapes"] = [
            {
                "type": "line",
                "xref": "x",
                "yref": "y domain",
                "x0": ref,
                "x1": ref,
                "y0": 0,
                "y1": 1,
                "line": {"color": GREY, "dash": "dot"},
            }
        ]
    return figure(data, layout, 28 * len(ok) + 90, top=10)


INSIDE_CELL, PADDING_CELL = "#fbfbfb", "#cfcfcf"  # the input grid: a cell of the input, a cell of zero padding


def sampling_figure(pic: SamplingPicture | TapCountPicture, max_cells: int = 31) -> go.Figure:
    """The input grid around the chosen output pixel: padding cells, the taps, the block's receptive field and, for
    a deformable conv, where each tap actually samples. A transposed conv's picture is its output grid instead, each
    pixel coloured and labelled with the number of kernel taps that reach it."""
    if isinstance(pic, TapCountPicture):
        return _tap_count_figure(pic, max_cells)
    h, w = pic.in_hw
    rows = [r for r, _ in pic.taps] + ([r for r, _ in pic.shifted] if pic.shifted else [])
    cols = [c for _, c in pic.taps] + ([c for _, c in pic.shifted] if pic.shifted else [])
    cr, cc = (min(rows) + max(rows)) / 2, (min(cols) + max(cols)) / 2
    # deformable sampling points are fractional: the grid spans whole cells around all of them
    span = math.ceil(max(max(rows) - min(rows), max(cols) - min(cols), pic.rf[0], pic.rf[1])) + 5
    span = min(max(span, 9), max_cells)
    r0, c0 = math.floor(cr - span // 2), math.floor(cc - span // 2)
    r_idx = list(range(r0, r0 + span))
    c_idx = list(range(c0, c0 + span))
    z = [[(0 if 0 <= r < h and 0 <= c < w else 1) for c in c_idx] for r in r_idx]
    data: list[dict] = [
        {
            "type": "heatmap",
            "z": z,
            "x": c_idx,
            "y": r_idx,
            "colorscale": [[0, INSIDE_CELL], [1, PADDING_CELL]],
            "showscale": False,
            "zmin": 0,
            "zmax": 1,
            "xgap": 1,
            "ygap": 1,
            "hovertemplate": "input row %{y}, col %{x}<extra></extra>",
        },
        {
            "type": "scatter",
            "x": [c for _, c in pic.taps],
            "y": [r for r, _ in pic.taps],
            "mode": "markers",
            "marker": {"size": max(6, min(28, 380 // span)), "color": COLORS[0], "symbol": "square"},
            "name": "kernel taps (regular grid)",
            "hovertemplate": "tap at row %{y}, col %{x}<extra></extra>",
        },
    ]
    layout: dict = {
        "yaxis": {
            "range": [r0 + span - 0.5, r0 - 0.5],
            "scaleanchor": "x",
            "title": {"text": "input row"},
            "showgrid": False,
            "zeroline": False,
        },
        "xaxis": {
            "title": {"text": "input column"},
            "showgrid": False,
            "zeroline": False,
            "range": [c0 - 0.5, c0 + span - 0.5],
        },
        "width": 620,
        "plot_bgcolor": "rgba(0,0,0,0)",  # no frame that could be mistaken for padding
        "legend": {"orientation": "h", "y": -0.12},
    }
    if pic.shifted:
        data.append(
            {
                "type": "scatter",
                "x": [c for _, c in pic.shifted],
                "y": [r for r, _ in pic.shifted],
                "mode": "markers",
                "marker": {"size": max(5, min(20, 260 // span)), "color": USER_COLOR, "symbol": "circle"},
                "name": "deformable sampling points",
                "hovertemplate": "samples at row %{y:.2f}, col %{x:.2f}<extra></extra>",
            }
        )
        layout["annotations"] = [
            {
                "x": sc,
                "y": sr,
                "ax": c,
                "ay": r,
                "xref": "x",
                "yref": "y",
                "axref": "x",
                "ayref": "y",
                "showarrow": True,
                "arrowhead": 2,
                "arrowsize": 1,
                "arrowwidth": 1,
                "arrowcolor": USER_COLOR,
                "text": "",
            }
            for (r, c), (sr, sc) in zip(pic.taps, pic.shifted, strict=True)
        ]
    if pic.rf[0] and pic.rf[1]:
        rh, rw = pic.rf
        layout["shapes"] = [
            {
                "type": "rect",
                "x0": cc - rw / 2,
                "x1": cc + rw / 2,
                "y0": cr - rh / 2,
                "y1": cr + rh / 2,
                "line": {"color": COLORS[1], "width": 2, "dash": "dash"},
            }
        ]
        data.append(
            {
                "type": "scatter",
                "x": [None],
                "y": [None],
                "mode": "lines",
                "line": {"color": COLORS[1], "dash": "dash"},
                "name": f"whole block's receptive field {rh}x{rw}",
            }
        )
    if any(1 in row for row in z):  # the legend names only what is drawn
        data.append(
            {
                "type": "scatter",
                "x": [None],
                "y": [None],
                "mode": "markers",
                "marker": {"color": PADDING_CELL, "symbol": "square", "size": 12},
                "name": "zero padding (outside the input)",
            }
        )
    return figure(data, layout, 660, top=10)


def _tap_count_figure(pic: TapCountPicture, max_cells: int) -> go.Figure:
    """The output grid of a transposed conv around the chosen pixel (at most ``max_cells`` a side), each cell the
    number of kernel taps it receives: a checkerboard where the stride does not divide the kernel."""
    (ho, wo), (i, j) = pic.out_hw, pic.out_pos
    side_h, side_w = min(ho, max_cells), min(wo, max_cells)
    r0 = min(max(0, i - side_h // 2), ho - side_h)
    c0 = min(max(0, j - side_w // 2), wo - side_w)
    r_idx, c_idx = list(range(r0, r0 + side_h)), list(range(c0, c0 + side_w))
    z = pic.grid(range(r0, r0 + side_h), range(c0, c0 + side_w))
    top = max(1, max(max(row) for row in z))
    data: list[dict] = [
        {
            "type": "heatmap",
            "z": z,
            "x": c_idx,
            "y": r_idx,
            "colorscale": [[0, INSIDE_CELL], [1, COLORS[0]]],
            "zmin": 0,
            "zmax": top,
            "xgap": 1,
            "ygap": 1,
            "text": [[str(v) for v in row] for row in z],
            "texttemplate": "%{text}",
            "colorbar": {"title": {"text": "taps"}, "thickness": 12, "tick0": 0, "dtick": 1 if top <= 10 else None},
            "hovertemplate": "output row %{y}, col %{x}: %{z} taps<extra></extra>",
        },
        {
            "type": "scatter",
            "x": [j],
            "y": [i],
            "mode": "markers",
            "marker": {
                "size": max(10, min(34, 460 // max(side_h, side_w))),
                "color": USER_COLOR,
                "symbol": "square-open",
            },
            "name": f"output ({i}, {j}): {pic.count(i, j)} taps",
            "hovertemplate": "the chosen output pixel<extra></extra>",
        },
    ]
    layout: dict = {
        "yaxis": {
            "range": [r0 + side_h - 0.5, r0 - 0.5],
            "scaleanchor": "x",
            "title": {"text": "output row"},
            "showgrid": False,
            "zeroline": False,
        },
        "xaxis": {
            "title": {"text": "output column"},
            "showgrid": False,
            "zeroline": False,
            "range": [c0 - 0.5, c0 + side_w - 0.5],
        },
        "width": 660,
        "plot_bgcolor": "rgba(0,0,0,0)",
        "legend": {"orientation": "h", "y": -0.12},
    }
    return figure(data, layout, 660, top=10)


def metric_text(n: int) -> str:
    """'1.23M (1,234,567)'."""
    return f"{human(n)}"
