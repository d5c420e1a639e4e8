"""Training cost (plotly; no streamlit): the memory alive over one training step, op by op, stacked by what holds it,
with the phases and the peak marked; and forward against backward MACs per kind of layer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from effnets.figures.style import COLORS, GREY, LEGEND_TOP, SI, figure

CATEGORY_COLORS = {
    "parameters": COLORS[0],
    "gradients": COLORS[1],
    "optimizer state": COLORS[3],
    "input batch": COLORS[4],
    "saved for backward": COLORS[2],
    "temporaries": COLORS[6],
}
MIB = 2**20


def memory_timeline_figure(series: Mapping[str, Any]) -> go.Figure:
    """Bytes alive after every op of a training step (:meth:`effnets.analysis.training.TrainingCost.timeline_series`):
    one stacked area per category, so the top edge is the total; dotted lines where backward and the optimizer step
    begin, a marker at the peak, and on a GPU the CUDA allocator's own figure as a dashed line."""
    ops: Sequence[str] = series.get("op", [])
    if not ops:
        note = {"text": "no op was recorded", "showarrow": False}
        return figure([], {"annotations": [note]}, 220, top=10)
    x = list(range(len(ops)))
    hover = [
        [op, phase, module or "-"] for op, phase, module in zip(ops, series["phase"], series["module"], strict=True)
    ]
    data: list[dict] = []
    for cat, values in series["by_category"].items():
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": cat,
                "x": x,
                "y": [v / MIB for v in values],
                "stackgroup": "alive",
                "line": {"width": 0.5, "color": CATEGORY_COLORS.get(cat, GREY)},
                "customdata": hover,
                "hovertemplate": f"{cat}: %{{y:.1f}} MiB<br>op %{{x}}: %{{customdata[0]}} (%{{customdata[1]}})"
                "<br>%{customdata[2]}<extra></extra>",
            }
        )
    if series.get("allocator"):
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "CUDA allocator",
                "x": x,
                "y": [v / MIB for v in series["allocator"]],
                "line": {"dash": "dash", "width": 1.5, "color": GREY},
                "hovertemplate": "torch.cuda.memory_allocated: %{y:.1f} MiB<extra></extra>",
            }
        )
    peak = series["peak"]
    data.append(
        {
            "type": "scatter",
            "mode": "markers+text",
            "name": "peak",
            "x": [peak["index"]],
            "y": [peak["bytes"] / MIB],
            "marker": {"symbol": "star", "size": 14, "color": "#333"},
            "text": [f"peak {peak['bytes'] / MIB:,.1f} MiB"],
            "textposition": "middle right",
            "hovertemplate": f"peak after {peak['op']} ({peak['phase']})<br>{peak['module'] or '-'}<extra></extra>",
            "showlegend": False,
        }
    )
    shapes, notes = [], []
    for phase, start in series["phase_starts"].items():
        if start is None:
            continue
        if start > 0:
            shapes.append(
                {"type": "line", "xref": "x", "yref": "paper", "x0": start, "x1": start, "y0": 0, "y1": 1,
                 "line": {"dash": "dot", "color": GREY, "width": 1}}
            )  # fmt: skip
        notes.append({"text": phase, "x": start, "xanchor": "left", "xref": "x", "y": 1.0, "yref": "paper",
                      "yanchor": "top", "showarrow": False, "font": {"color": GREY}})  # fmt: skip
    top = max([peak["bytes"], *series.get("allocator", [])]) or 1
    layout = {
        "legend": {**LEGEND_TOP, "traceorder": "normal"},
        "xaxis": {"title": {"text": "aten ops of the step, in order"}},
        "yaxis": {"title": {"text": "alive after the op (MiB)"}, "range": [0, 1.15 * top / MIB], **SI},
        "shapes": shapes,
        "annotations": notes,
        "hovermode": "closest",
    }
    return figure(data, layout, height=440, top=60)


PART_COLORS = {"forward": COLORS[0], "grad wrt input": COLORS[1], "grad wrt weight": COLORS[2]}


def flops_figure(rows: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Forward, gradient-wrt-input and gradient-wrt-weight MACs per kind of layer
    (:attr:`effnets.analysis.training.TrainingFlops.rows`), side by side."""
    if not rows:
        note = {"text": "no conv or linear layer", "showarrow": False}
        return figure([], {"annotations": [note]}, 220, top=10)
    kinds = [r["kind"] for r in rows]
    data = [
        {
            "type": "bar",
            "name": part,
            "x": kinds,
            "y": [r[part] for r in rows],
            "marker": {"color": color},
            "hovertemplate": f"%{{x}}, {part}: %{{y:,}} MACs<extra></extra>",
        }
        for part, color in PART_COLORS.items()
    ]
    layout = {
        "barmode": "group",
        "yaxis": {"title": {"text": "MACs of one step, whole batch"}, "rangemode": "tozero", **SI},
    }
    return figure(data, layout, height=360)
