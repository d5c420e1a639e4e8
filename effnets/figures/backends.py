"""The inference backends side by side (plotly; no streamlit): one bar per backend and precision, its median latency
with the 10th-90th percentile as the error bar, coloured by precision; the default backend outlined."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from effnets.figures.style import COLORS, GREY, figure

PRECISION_COLORS = {"fp32": COLORS[0], "bf16": COLORS[1], "fp16": COLORS[3], "int8": COLORS[2]}


def backends_figure(rows: Sequence[Mapping[str, Any]], default: str | None = None) -> go.Figure:
    """Median latency of each measured (backend, precision) row of :func:`effnets.runtime.backends.compare`, fastest
    on top; rows whose outputs fail the check are grey, the ``default`` backend's fp32 bar is outlined."""
    timed = sorted((r for r in rows if r.get("median_ms") is not None), key=lambda r: r["median_ms"], reverse=True)
    if not timed:
        note = {"text": "no backend was timed", "showarrow": False}
        return figure([], {"annotations": [note]}, 220, top=10)
    data = []
    for precision in [p for p in PRECISION_COLORS if any(r["precision"] == p for r in timed)]:
        sel = [r for r in timed if r["precision"] == precision]
        data.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": precision,
                "y": [r["label"] for r in sel],
                "x": [r["median_ms"] for r in sel],
                "error_x": {
                    "type": "data",
                    "symmetric": False,
                    "array": [r["p90_ms"] - r["median_ms"] for r in sel],
                    "arrayminus": [r["median_ms"] - r["p10_ms"] for r in sel],
                    "color": GREY,
                },
                "marker": {
                    "color": [PRECISION_COLORS[precision] if r.get("within_tolerance") else GREY for r in sel],
                    "line": {
                        "width": [3 if r["backend"] == default and precision == "fp32" else 0 for r in sel],
                        "color": "#333",
                    },
                },
                "text": [f"{r['median_ms']:.2f} ms" for r in sel],
                "textposition": "outside",
                "customdata": [[r["p10_ms"], r["p90_ms"], r.get("max_abs_diff") or 0.0] for r in sel],
                "hovertemplate": "%{y}: %{x:.3f} ms<br>p10 %{customdata[0]:.3f}, p90 %{customdata[1]:.3f}"
                "<br>max |diff| vs eager fp32 %{customdata[2]:.2e}<extra></extra>",
            }
        )
    layout = {
        "xaxis": {"title": {"text": "median latency per call (ms); bars: p10 to p90"}, "rangemode": "tozero"},
        "yaxis": {"categoryorder": "array", "categoryarray": [r["label"] for r in timed]},
        "barmode": "overlay",
    }
    return figure(data, layout, height=120 + 28 * len(timed), top=40)
