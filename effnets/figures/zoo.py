"""Figures of the Model Zoo and the latency lab (plotly; no streamlit)."""

from __future__ import annotations

import math
import statistics

import plotly.graph_objects as go

from effnets.analysis.zoo import ZooRow, pareto_front
from effnets.figures.style import GREY, USER_COLOR, figure
from effnets.models import FAMILIES


def _color(r: ZooRow) -> str:
    return FAMILIES[r.family].color if r.family in FAMILIES else GREY  # torchvision-only rows: grey


GUIDE = "#888"  # the dotted guide lines: the Pareto front, the median throughput


def spread_labels(xy: list[tuple[float, float]]) -> list[str]:
    """Text positions for point labels on a log-log plot: points close to a neighbour (within a factor 1.6 on both
    axes) alternate above, below, right and left of their marker, so that the labels do not sit on each other."""
    positions = ["top center"] * len(xy)
    cycle = ["bottom center", "middle right", "middle left", "top center"]
    order = sorted(range(len(xy)), key=lambda i: xy[i])
    for n, i in enumerate(order):
        for j in order[:n]:
            close = all(
                a > 0 and b > 0 and abs(math.log(a / b)) < math.log(1.6) for a, b in zip(xy[i], xy[j], strict=True)
            )
            if close and positions[j] == positions[i]:
                positions[i] = cycle[(cycle.index(positions[i]) + 1) % len(cycle)]
    return positions


def accuracy_figure(rows: list[ZooRow], x: str, unit_scale: float = 1.0, x_title: str = "") -> go.Figure:
    """Published top-1 against MACs (x='macs') or measured latency (x='median_ms'), with the Pareto front."""
    pts = [r for r in rows if r.top1 is not None and getattr(r, x) is not None]
    if not pts:
        note = {"text": "no model with both a published top-1 and this quantity", "showarrow": False}
        return figure([], {"annotations": [note]}, 460, top=10)
    front = set(pareto_front([(r.name, getattr(r, x), r.top1) for r in pts]))
    fr = sorted((getattr(r, x) * unit_scale, r.top1) for r in pts if r.name in front)
    data = [
        {
            "type": "scatter",
            "x": [getattr(r, x) * unit_scale for r in pts],
            "y": [r.top1 for r in pts],
            "mode": "markers+text",
            "text": [r.name for r in pts],
            "textposition": "top center",
            "marker": {
                "size": [13 if r.name in front else 9 for r in pts],
                "color": [_color(r) for r in pts],
                "line": {"width": [2 if r.name in front else 0 for r in pts], "color": "#333"},  # dark grey
            },
            "customdata": [[r.top1_source, r.resolution] for r in pts],
            "hovertemplate": "%{text}<br>%{x:.3g}, top-1 %{y:.1f}%<br>at %{customdata[1]} px<br>"
            "source: %{customdata[0]}<extra></extra>",
            "showlegend": False,
        },
        {
            "type": "scatter",
            "x": [p[0] for p in fr],
            "y": [p[1] for p in fr],
            "mode": "lines",
            "line": {"dash": "dot", "color": GUIDE},
            "name": "Pareto front",
            "hoverinfo": "skip",
        },
    ]
    layout = {
        "xaxis": {"title": {"text": x_title}, "type": "log"},
        "yaxis": {"title": {"text": "published ImageNet top-1 (%)"}},
        "legend": {"orientation": "h", "y": 1.06},
    }
    return figure(data, layout, 460, top=10)


LABEL_ALL_BELOW = 9  # with more points than this, only the outliers carry a label (the rest on hover)


def latency_vs_macs_figure(rows: list[ZooRow], outliers: dict[str, str], rounds: int | None = None) -> go.Figure:
    """Measured latency against MACs (log-log) with the median-throughput line: points far off it are outliers.

    The bars run from p10 to p90 of the ``rounds`` timed rounds; with fewer than 5 rounds there are no bars (a p10
    of three numbers says nothing). With many models only the outliers are labelled; every point has its name on
    hover.
    """
    pts = [r for r in rows if r.median_ms is not None]
    if not pts:
        return figure([], {}, 480, top=10)
    bars = rounds is None or rounds >= 5
    labelled = [r.name if len(pts) < LABEL_ALL_BELOW or r.name in outliers else "" for r in pts]
    med = statistics.median(r.gmacs_per_s for r in pts if r.gmacs_per_s)
    xs = [min(r.macs for r in pts) / 1e6 / 1.5, max(r.macs for r in pts) / 1e6 * 1.5]
    data = [
        {
            "type": "scatter",
            "x": [r.macs / 1e6 for r in pts],
            "y": [r.median_ms for r in pts],
            "error_y": {
                "type": "data",
                "symmetric": False,
                "array": [r.p90_ms - r.median_ms for r in pts],
                "arrayminus": [r.median_ms - r.p10_ms for r in pts],
                "thickness": 1,
                "visible": bars,
            },
            "mode": "markers+text",
            "text": labelled,
            "hovertext": [r.name for r in pts],
            "textposition": spread_labels([(r.macs, r.median_ms) for r in pts]),
            "textfont": {"size": 11},
            "cliponaxis": False,
            "marker": {
                "size": [14 if r.name in outliers else 9 for r in pts],
                "color": [_color(r) for r in pts],
                "symbol": ["diamond" if r.name in outliers else "circle" for r in pts],
            },
            "customdata": [[r.gmacs_per_s or 0, outliers.get(r.name, ""), r.p10_ms, r.p90_ms] for r in pts],
            "hovertemplate": "%{hovertext}<br>%{x:.0f} M MACs, median %{y:.2f} ms (p10 %{customdata[2]:.2f}, p90 "
            "%{customdata[3]:.2f})<br>%{customdata[0]:.1f} GMAC/s<br>%{customdata[1]}<extra></extra>",
            "showlegend": False,
        },
        {
            "type": "scatter",
            "x": xs,
            "y": [x * 1e6 / (med * 1e9) * 1e3 for x in xs],
            "mode": "lines",
            "line": {"dash": "dot", "color": GUIDE},
            "name": f"median throughput {med:.1f} GMAC/s",
        },
    ]
    bars_text = f"; bars: p10-p90 of {rounds} rounds)" if bars and rounds else "; bars: p10-p90)" if bars else ")"
    layout = {
        "xaxis": {"title": {"text": "MACs per image (millions, conv + linear)"}, "type": "log"},
        "yaxis": {"title": {"text": "measured latency (ms, median" + bars_text}, "type": "log"},
        "legend": {"orientation": "h", "y": 1.06},
    }
    return figure(data, layout, 480, top=10)


def roofline_figure(plot) -> go.Figure:
    """A roofline: measured compute and bandwidth ceilings, and the measured points (log-log)."""
    # the ceilings keep plotly's own colours (the template's colorway), one per precision
    data = [
        {"type": "scatter", "x": plot.x, "y": ys, "mode": "lines", "name": f"ceiling ({prec})", "line": {"width": 3}}
        for prec, ys in plot.roof.items()
    ]
    pts = plot.points
    if pts:
        data.append(
            {
                "type": "scatter",
                "x": [p.intensity for p in pts],
                "y": [p.achieved_gmacs for p in pts],
                "mode": "markers+text",
                "text": [p.label for p in pts],
                "textposition": spread_labels([(p.intensity, p.achieved_gmacs) for p in pts]),
                "textfont": {"size": 11},
                "cliponaxis": False,
                "marker": {"size": 11, "color": USER_COLOR},
                "customdata": [[p.latency_ms, p.efficiency * 100, p.bound] for p in pts],
                "hovertemplate": "%{text}<br>%{x:.2f} MACs/byte, %{y:.2f} GMAC/s<br>%{customdata[0]:.2f} ms, "
                "%{customdata[1]:.0f}% of the roof (%{customdata[2]}-bound)<extra></extra>",
                "name": "measured",
            }
        )
    # The ridges as traces, not vline annotations: on a log axis an annotation's x is read as a power of ten, which
    # stretched the axis to 1e8 MACs/byte.
    top = max(max(ys) for ys in plot.roof.values()) * 1.5
    bottom = min([min(ys) for ys in plot.roof.values()] + [p.achieved_gmacs for p in pts if p.achieved_gmacs > 0])
    for prec, ridge in plot.ridge.items():
        data.append(
            {
                "type": "scatter",
                "x": [ridge, ridge],
                "y": [bottom / 1.5, top],
                "mode": "lines+text",
                "line": {"dash": "dot", "color": "#999", "width": 1},  # greys: a guide, not a measurement
                "text": ["", f"ridge {ridge:.1f} MACs/byte ({prec})"],
                "textposition": "bottom right",
                "textfont": {"size": 11, "color": "#777"},
                "hoverinfo": "skip",
                "showlegend": False,
            }
        )
    layout = {
        "xaxis": {
            "title": {"text": plot.x_label},
            "type": "log",
            "range": [math.log10(plot.x[0]), math.log10(plot.x[-1])],
        },
        "yaxis": {"title": {"text": plot.y_label}, "type": "log", "range": [math.log10(bottom / 1.5), math.log10(top)]},
        "legend": {"orientation": "h", "y": 1.08},
    }
    return figure(data, layout, 480, top=10)
