"""Figures of the Design Space page: RegNet's widths block by block and the sampled networks of a design space."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from effnets import units
from effnets.figures.scaling import short_label
from effnets.figures.style import COLORS, SI, USER_COLOR, figure
from effnets.report import human


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
    return figure(data, layout, 420)


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
    dist = figure(
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
                "text": [short_label(p["label"]) for p in presets],
                "textposition": "top left",
                "textfont": {"size": 10, "color": USER_COLOR},
                "marker": {"color": USER_COLOR, "size": 9, "symbol": "star"},
                "name": "RegNet presets",
                "hovertemplate": "%{text}<br>" + u + " %{x:,.0f}<br>params %{y:,.0f}<extra></extra>",
            }
        )
    scat = figure(
        sdata,
        {
            "xaxis": {"type": "log", "title": {"text": f"{u} per image (conv + linear), log"}, **SI},
            "yaxis": {"type": "log", "title": {"text": "learnable parameters, log"}, **SI},
        },
        460,
    )
    return dist, scat
