"""Per-layer time against MACs: each stage's (or kind's) share of the eager forward's time beside its share of the
MACs, as paired horizontal bars (a stage whose time bar is much longer than its MACs bar is memory- or
overhead-bound)."""

from __future__ import annotations

import plotly.graph_objects as go

from effnets.figures import style


def shares_figure(groups: list[dict], label: str = "stage") -> go.Figure:
    """Bars of % of time and % of MACs per group (rows of :func:`effnets.analysis.layer_report.group_rows`)."""
    names = [str(g[label]) for g in groups][::-1]
    data = [
        {"type": "bar", "orientation": "h", "name": "% of time", "y": names,
         "x": [g["% of time"] for g in groups][::-1], "marker": {"color": style.USER_COLOR}},
        {"type": "bar", "orientation": "h", "name": "% of MACs", "y": names,
         "x": [g["% of MACs"] for g in groups][::-1], "marker": {"color": style.GREY}},
    ]  # fmt: skip
    layout = {
        "barmode": "group",
        "xaxis": {"title": {"text": "share (%)"}, "rangemode": "tozero"},
        "yaxis": {"automargin": True},
    }
    return style.figure(data, layout, height=max(260, 28 * len(groups) + 80))
