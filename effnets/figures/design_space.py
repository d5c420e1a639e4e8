"""Figures of the Design Space page: RegNet's widths block by block and the sampled networks of a design space."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from effnets import units
from effnets.figures.scaling import short_label
from effnets.figures.style import COLORS, GREY, SI, USER_COLOR, figure, vega_layers
from effnets.report import human


def regnet_widths_chart(rows: Sequence[Mapping]) -> dict:
    """Per-block widths (a Vega-Lite spec, see :func:`~effnets.figures.style.vega_layers`): the linear function u_j,
    its quantization w_j (a step, as the stages it makes), and, as crosses, the widths built after the group-width
    adjustment where it changed them; stages shaded and named. Only the datasets depend on ``rows`` (``bands``,
    ``u``, ``w``, ``changed``): the x axis spans the bands' edges, which the data give."""
    stages: dict[int, list[int]] = {}
    for r in rows:
        stages.setdefault(r["stage"], []).append(r["block"])
    series = {
        "u": ("continuous u_j = w0 + wa·j", "continuous u_j", GREY, [4, 3], "linear"),
        "w": ("quantized w_j = w0·wm^s_j (multiple of 8)", "quantized w_j", COLORS[0], [1, 0], "step"),
    }
    datasets: dict[str, list[dict]] = {
        "bands": [
            {"stage": f"stage {s}", "x0": min(b) - 0.5, "x1": max(b) + 0.5, "mid": (min(b) + max(b)) / 2}
            for s, b in sorted(stages.items())
        ],
        **{
            name: [{"block": r["block"], "width": r[column], "series": label} for r in rows]
            for name, (label, column, _, _, _) in series.items()
        },
        "changed": [
            {"block": r["block"], "width": r["final width"], "quantized": r["quantized w_j"], "g": r["group width"]}
            for r in rows
            if r["final width"] != r["quantized w_j"]
        ],
    }
    scale = {"nice": False, "zero": False}
    x = {"field": "block", "type": "quantitative", "title": "block j", "scale": scale, "axis": {"tickMinStep": 1}}
    y = {"field": "width", "type": "quantitative", "title": "output channels of the block"}
    layers: list[dict] = [
        {
            "data": {"name": "bands"},
            "mark": {"type": "rect", "opacity": 0.08},
            "encoding": {
                "x": {"field": "x0", "type": "quantitative", "scale": scale},
                "x2": {"field": "x1"},
                "color": {"field": "stage", "legend": None, "scale": {"range": list(COLORS)}},
            },
        },
        {
            "data": {"name": "bands"},
            "mark": {"type": "text", "baseline": "top", "y": 4, "fontSize": 11},
            "encoding": {"x": {"field": "mid", "type": "quantitative", "scale": scale}, "text": {"field": "stage"}},
        },
    ]
    names, colors = [label for label, *_ in series.values()], [c for _, _, c, _, _ in series.values()]
    lines: list[dict] = [  # one layer of their own: one colour scale and one legend for the series
        {
            "data": {"name": name},
            "mark": {"type": "line", "point": True, "interpolate": interpolate, "strokeDash": dash},
            "encoding": {
                "x": x,
                "y": y,
                "color": {
                    "field": "series",
                    "type": "nominal",
                    "scale": {"domain": names, "range": colors},
                    "legend": {"title": None},
                },
                "tooltip": [{"field": "block", "title": "block j"}, {"field": "width", "title": column}],
            },
        }
        for name, (_, column, _, dash, interpolate) in series.items()
    ]
    lines.append(
        {
            "data": {"name": "changed"},
            "mark": {"type": "point", "shape": "cross", "size": 120, "filled": True, "color": USER_COLOR},
            "encoding": {
                "x": x,
                "y": y,
                "tooltip": [
                    {"field": "block", "title": "block j"},
                    {"field": "quantized", "title": "quantized w_j"},
                    {"field": "width", "title": "built width"},
                    {"field": "g", "title": "a multiple of g ="},
                ],
            },
        }
    )
    spec = vega_layers([*layers, {"layer": lines}], 380, datasets)
    spec["resolve"] = {"scale": {"color": "independent"}}  # the stages' shades are not the series' colours
    return spec


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
                # plotly draws a bar from x - width/2 to x + width/2 in data units, then maps them to the log axis:
                # centred on the arithmetic mean, each bar spans exactly its bin [a, b] (all equally wide on screen)
                "x": [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)],
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
