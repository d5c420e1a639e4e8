"""One style for every figure: the palette, the user's colour, SI tick labels, the legend on top, and one way to build
a figure (a dict of traces and a layout, turned into a ``go.Figure`` once; or, for a chart redrawn at every change of
a counting page's most-changed setting, a Vega-Lite spec: :func:`vega_layers`)."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")


USER_COLOR = "#d62728"  # the user's configuration, in every figure


GREY = "#7f7f7f"  # what the data is compared with: the standard conv, a power law, a model of no registered family


DIVERGING = "RdBu_r"  # kernels and weights: blue < 0 < red, in the charts and in the images alike


SI = {"exponentformat": "SI"}  # 1G, not plotly's default 1B, as the metrics write it


LEGEND_TOP = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0}


def figure(data: list[dict], layout: dict, height: int = 420, top: int = 40) -> go.Figure:
    """The figure of ``data`` (traces as dicts) and ``layout``, on the shared base: ``height`` pixels, 10 px margins
    and ``top`` above (room for a title or the legend), the legend in a row on top. A key of ``layout`` replaces the
    base's whole value (``"legend": {}`` is plotly's own legend, a column at the right)."""
    base = {"height": height, "margin": {"t": top, "b": 10, "l": 10, "r": 10}, "legend": LEGEND_TOP}
    return go.Figure({"data": data, "layout": {**base, **layout}})


def domains(n: int, gap: float = 0.06) -> list[list[float]]:
    width = (1 - gap * (n - 1)) / n
    return [[i * (width + gap), i * (width + gap) + width] for i in range(n)]


def panel_title(text: str, domain: Sequence[float], y: float = 1.0) -> dict:
    """A panel's title above the panel of x ``domain`` whose top is at ``y`` (paper coordinates)."""
    return {
        "text": text,
        "x": (domain[0] + domain[1]) / 2,
        "y": y,
        "xref": "paper",
        "yref": "paper",
        "xanchor": "center",
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"size": 13},
    }


def vega_layers(layers: list[dict], height: int = 380, datasets: dict[str, list[dict]] | None = None) -> dict:
    """A Vega-Lite spec of ``layers`` on the shared base: ``height`` pixels, the legend in a row on top, tooltips.

    Used for a chart on the rerun path of a counting page's most-changed setting (the Design Space's widths, which
    follow every change of d, w0, wa, wm or g). Measured in chromium on the 2-core machine (benchmarks/browser.py):
    plotly's update of that chart took 150-250 ms of the browser's main thread per change (the headline number waits
    for it), Vega-Lite's 30-60 ms. Streamlit draws it in the viewer's theme.

    The rows go in ``datasets`` (name -> rows; a layer reads one with ``{"data": {"name": ...}}``), never inline in
    the layers: then a chart's spec is the same at every setting, and Streamlit's frontend, given the same spec with
    new datasets, replaces the data in the drawn view instead of compiling and embedding the chart again (measured:
    the browser's one long task after a Design Space change 110-200 ms with the data inline)."""
    spec = {"height": height, "layer": layers, "config": {"legend": {"orient": "top", "labelLimit": 400}}}
    if datasets is not None:
        spec["datasets"] = datasets
    return spec
