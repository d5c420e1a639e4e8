"""Figures of kernels, kernel families, frequency responses and feature maps (plotly; no streamlit here)."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import torch

from effnets.analysis.kernels import FAMILIES, FAMILY_LABELS, LayerKernels, StridedSummary
from effnets.figures.style import COLORS, DIVERGING, USER_COLOR, domains, figure, panel_title, vega_layers

FAMILY_COLORS = {"gaussian": COLORS[2], "edge": COLORS[0], "identity": COLORS[3], "other": "#bdbdbd"}  # other: grey
STRIDED = COLORS[1]  # a strided layer (stride 2), in every figure of this module
BARE_AXIS = {"showticklabels": False, "showgrid": False, "zeroline": False}  # an image: no ticks, grid or zero line


def tile(arrays: np.ndarray, columns: int, gap_value: float = np.nan) -> np.ndarray:
    """(N, h, w[, 3]) -> one array of ceil(N / columns) x columns tiles separated by one-pixel gaps."""
    n, h, w = arrays.shape[:3]
    rows = max(1, math.ceil(n / columns))
    cols = min(columns, n)
    shape = (rows * (h + 1) - 1, cols * (w + 1) - 1) + tuple(arrays.shape[3:])
    out = np.full(shape, gap_value, dtype=np.float64)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = arrays[i]
    return out


def kernel_grid(kernels: np.ndarray, columns: int = 16, title: str = "") -> go.Figure:
    """Depthwise (or any single-channel) kernels, values in -1..1, as diverging heatmaps (blue < 0 < red)."""
    grid = tile(kernels, columns)
    data = [
        {
            "type": "heatmap",
            "z": grid,
            "colorscale": DIVERGING,
            "zmid": 0,
            "zmin": -1,
            "zmax": 1,
            "hoverongaps": False,
            "colorbar": {"title": {"text": "weight / max|w|"}, "thickness": 12},
            "hovertemplate": "value %{z:.2f}<extra></extra>",
        }
    ]
    layout = {
        "yaxis": {"autorange": "reversed", "scaleanchor": "x", **BARE_AXIS},
        "xaxis": BARE_AXIS,
        "title": {"text": title},
    }
    rows = grid.shape[0] / max(1, grid.shape[1])
    return figure(data, layout, int(140 + 700 * min(rows, 1.6)))


def rgb_image(tiles: np.ndarray, columns: int = 16, upscale: int = 8) -> np.ndarray:
    """Stem filters (N, k, k, 3) in 0..1 tiled as one uint8 RGB image (white gaps), nearest-neighbour upscaled."""
    big = np.repeat(np.repeat(tiles, upscale, axis=1), upscale, axis=2)
    grid = tile(big, columns, gap_value=1.0)
    return (np.clip(grid, 0, 1) * 255).astype(np.uint8)


def rgb_grid(tiles: np.ndarray, columns: int = 16, upscale: int = 8) -> go.Figure:
    """Stem filters (N, k, k, 3) in 0..1 as RGB tiles (each centred at grey), nearest-neighbour upscaled."""
    img = rgb_image(tiles, columns, upscale)
    data = [{"type": "image", "z": img, "hoverinfo": "skip"}]
    axis = {"showticklabels": False, "showgrid": False}
    return figure(data, {"xaxis": axis, "yaxis": axis}, int(120 + 620 * img.shape[0] / img.shape[1]), top=10)


def pointwise_values(weight: torch.Tensor, max_side: int = 256) -> np.ndarray:
    """A 1x1 conv's weights as a C_out x C_in/groups matrix (at most max_side square) scaled by its max |w|."""
    w = weight.detach().to("cpu", torch.float64).reshape(weight.shape[0], -1).numpy()
    w = w[:max_side, :max_side]
    return w / max(np.abs(w).max(), 1e-30)


def pointwise_matrix(weight: torch.Tensor, max_side: int = 256) -> go.Figure:
    """A 1x1 conv's weights as a C_out x C_in/groups matrix (diverging, scaled by the layer's max |w|)."""
    data = [
        {
            "type": "heatmap",
            "z": pointwise_values(weight, max_side),
            "colorscale": DIVERGING,
            "zmid": 0,
            "zmin": -1,
            "zmax": 1,
            "colorbar": {"title": {"text": "w / max|w|"}, "thickness": 12},
            "hovertemplate": "out %{y}, in %{x}: %{z:.2f}<extra></extra>",
        }
    ]
    layout = {
        "yaxis": {"autorange": "reversed", "title": {"text": "output channel"}},
        "xaxis": {"title": {"text": "input channel"}},
    }
    return figure(data, layout, 520, top=10)


def _column(i: int, **style) -> dict:
    """A shape over the whole height of category ``i`` of the x axis."""
    return {"type": "rect", "xref": "x", "yref": "y domain", "x0": i - 0.5, "x1": i + 0.5, "y0": 0, "y1": 1, **style}


def _family_bar(family: str, x: list[str], shares: list[dict[str, float]], **extra) -> dict:
    """The bar of one kernel family's share at each x (stacked with the other families')."""
    y = [share[family] for share in shares]
    return {
        "type": "bar",
        "x": x,
        "y": y,
        "name": FAMILY_LABELS[family],
        "marker": {"color": FAMILY_COLORS[family]},
        **extra,
    }


def shares_figure(rows: list[LayerKernels], highlight: str | None = None) -> go.Figure:
    """Stacked share of each kernel family per spatial conv layer; strided layers marked 's2'."""
    rows = [r for r in rows if r.shares is not None]
    labels = [f"{i + 1}. {r.kind}{' s' + str(r.stride) if r.stride > 1 else ''}" for i, r in enumerate(rows)]
    data = [
        _family_bar(
            fam,
            labels,
            [r.shares for r in rows],
            customdata=[[r.name, r.count] for r in rows],
            hovertemplate="%{customdata[0]} (%{customdata[1]} kernels)<br>"
            + FAMILY_LABELS[fam]
            + ": %{y:.0%}<extra></extra>",
        )
        for fam in FAMILIES
    ]
    shapes = []
    for i, r in enumerate(rows):
        if r.stride > 1:
            shapes.append(_column(i, fillcolor=STRIDED, opacity=0.12, line={"width": 0}))
        if highlight and r.name == highlight:
            shapes.append(_column(i, line={"color": USER_COLOR, "width": 2}))
    layout = {
        "barmode": "stack",
        "yaxis": {"tickformat": ".0%", "title": {"text": "share of the layer's kernels"}},
        "xaxis": {"title": {"text": "spatial conv layers in order (orange: stride 2)"}, "tickangle": -60},
        "legend": {"orientation": "h", "y": 1.08},
        "shapes": shapes,
    }
    return figure(data, layout, 430, top=10)


def strided_figure(summaries: list[StridedSummary], title: str = "") -> go.Figure:
    """Depthwise kernel families and mean low-pass score, stride 1 vs stride 2."""
    xs = [f"stride {s.stride} ({s.kernels} kernels)" for s in summaries]
    doms = domains(2, 0.1)
    data = [_family_bar(fam, xs, [s.shares for s in summaries], xaxis="x", yaxis="y") for fam in FAMILIES]
    data.append(
        {
            "type": "bar",
            "x": xs,
            "y": [s.mean_low_pass for s in summaries],
            "marker": {"color": STRIDED},
            "showlegend": False,
            "hovertemplate": "%{y:.2f}<extra></extra>",
            "xaxis": "x2",
            "yaxis": "y2",
        }
    )
    layout = {
        "barmode": "stack",
        "title": {"text": title},
        "xaxis": {"domain": doms[0], "anchor": "y"},
        "yaxis": {"anchor": "x", "tickformat": ".0%"},
        "xaxis2": {"domain": doms[1], "anchor": "y2"},
        "yaxis2": {"anchor": "x2", "range": [0, 1]},
        "annotations": [panel_title("kernel families", doms[0]), panel_title("mean low-pass score", doms[1])],
        "legend": {},  # plotly's: a column at the right, clear of the panel titles
    }
    return figure(data, layout, 380, top=50)


def _small_multiples(items: list[tuple[str, np.ndarray]], columns: int, trace) -> tuple[list[dict], dict, int]:
    """One small panel per (title, array), ``columns`` wide, row by row from the top; ``trace(array)`` is the panel's
    trace. Every cell of the last row gets its (empty) axes. Returns the traces, the layout and the row count."""
    rows = max(1, math.ceil(len(items) / columns))
    xdoms, ydoms = domains(columns, 0.03), domains(rows, 0.12)[::-1]
    data, layout, titles = [], {}, []
    for i in range(rows * columns):
        r, c = divmod(i, columns)
        sfx = "" if i == 0 else str(i + 1)
        layout["xaxis" + sfx] = {"anchor": "y" + sfx, "domain": xdoms[c], "showticklabels": False}
        layout["yaxis" + sfx] = {
            "anchor": "x" + sfx,
            "domain": ydoms[r],
            "showticklabels": False,
            "autorange": "reversed",
        }
        if i < len(items):
            title, array = items[i]
            data.append({**trace(array), "xaxis": "x" + sfx, "yaxis": "y" + sfx})
            titles.append(panel_title(title, xdoms[c], ydoms[r][1]))
    layout["annotations"] = titles
    return data, layout, rows


def frequency_grid(items: list[tuple[str, np.ndarray]], columns: int = 4, freq: np.ndarray | None = None) -> go.Figure:
    """Centred |FFT| magnitude of several kernels (e.g. the fixed library), one small heatmap each."""

    def panel(mag: np.ndarray) -> dict:
        return {
            "type": "heatmap",
            "z": mag,
            "x": freq,
            "y": freq,
            "colorscale": "Viridis",
            "showscale": False,
            "hovertemplate": "f=(%{x:.2f}, %{y:.2f}) |H|=%{z:.2f}<extra></extra>",
        }

    data, layout, rows = _small_multiples(items, columns, panel)
    return figure(data, layout, 230 * rows + 40)


def kernel_library_figure(items: list[tuple[str, np.ndarray]], columns: int = 5) -> go.Figure:
    """Named kernels (k x k arrays) as diverging heatmaps with their values written in."""

    def panel(k: np.ndarray) -> dict:
        return {
            "type": "heatmap",
            "z": k / max(np.abs(k).max(), 1e-30),
            "colorscale": DIVERGING,
            "zmid": 0,
            "zmin": -1,
            "zmax": 1,
            "showscale": False,
            "text": [[f"{v:.2f}" for v in row] for row in k],
            "texttemplate": "%{text}",
            "hovertemplate": "%{text}<extra></extra>",
        }

    data, layout, rows = _small_multiples(items, columns, panel)
    return figure(data, layout, 200 * rows + 40)


def low_pass_by_layer(rows: list[LayerKernels]) -> go.Figure:
    """Mean low-pass score of each spatial layer, coloured by stride: strided layers sit higher."""
    rows = [r for r in rows if r.low_pass is not None]
    data = [
        {
            "type": "scatter",
            "x": list(range(1, len(rows) + 1)),
            "y": [r.low_pass for r in rows],
            "mode": "markers+lines",
            "marker": {
                "size": [14 if r.stride > 1 else 8 for r in rows],
                "color": [STRIDED if r.stride > 1 else COLORS[0] for r in rows],
            },
            "line": {"color": "#cccccc"},  # a light grey: the order, not a quantity
            "text": [f"{r.name} ({r.kind}, stride {r.stride}, {r.kernel_size}x{r.kernel_size})" for r in rows],
            "hovertemplate": "%{text}<br>low-pass %{y:.2f}<extra></extra>",
        }
    ]
    layout = {
        "xaxis": {"title": {"text": "spatial conv layer (orange, large: stride 2)"}},
        "yaxis": {"title": {"text": "mean low-pass score"}, "range": [0, 1]},
    }
    return figure(data, layout, 360, top=10)


def feature_grid_figure(grid: np.ndarray, title: str = "") -> go.Figure:
    """Feature maps tiled by :func:`effnets.runtime.features.feature_grid` (0..1, NaN gaps)."""
    data = [
        {
            "type": "heatmap",
            "z": grid,
            "colorscale": "Viridis",
            "zmin": 0,
            "zmax": 1,
            "hoverongaps": False,
            "showscale": False,
            "hovertemplate": "%{z:.2f}<extra></extra>",
        }
    ]
    layout = {
        "yaxis": {"autorange": "reversed", "scaleanchor": "x", **BARE_AXIS},
        "xaxis": BARE_AXIS,
        "title": {"text": title},
    }
    return figure(data, layout, int(120 + 760 * min(grid.shape[0] / grid.shape[1], 1.5)))


TOPK_CHROME_PX, TOPK_BAR_PX = 100, 32  # the top-k chart's height: title and axis, and one bar with its gap


def topk_chart(labels: list[str], probs: list[float], title: str = "") -> dict:
    """Top-k classes as horizontal bars with their probabilities, most likely on top (a Vega-Lite spec, see
    :func:`~effnets.figures.style.vega_layers`: it is redrawn at every sample or upload, and it is the Inference
    Lab's first chart, which waits for its chart library's code to load in a new browser)."""
    rows = [
        {"class": c, "probability": p, "text": f"{p:.1%}", "rank": i}
        for i, (c, p) in enumerate(zip(labels, probs, strict=True))
    ]
    y = {
        "field": "class",
        "type": "nominal",
        "title": None,
        "sort": {"field": "rank"},
        "axis": {"labelLimit": 260, "labelOverlap": False},
    }
    x = {
        "field": "probability",
        "type": "quantitative",
        "title": "probability (softmax)",
        "scale": {"domain": [0, 1.15], "nice": False},
        "axis": {"format": ".0%", "values": [0, 0.2, 0.4, 0.6, 0.8, 1.0]},
    }
    layers = [
        {
            "mark": {"type": "bar", "color": COLORS[0]},
            "encoding": {
                "x": x,
                "y": y,
                "tooltip": [{"field": "class"}, {"field": "probability", "format": ".2%"}],
            },
        },
        {"mark": {"type": "text", "align": "left", "dx": 4}, "encoding": {"x": x, "y": y, "text": {"field": "text"}}},
    ]
    # Streamlit fits the whole chart (title, axis, labels) into the height: ~100 px of it are not bars
    spec = vega_layers(layers, TOPK_CHROME_PX + TOPK_BAR_PX * max(len(labels), 1), {"top": rows})
    spec["data"] = {"name": "top"}
    if title:
        spec["title"] = {"text": title, "anchor": "start"}
    return spec


def similarity_figure(names: list[str], cka: list[float], pooled: list[bool]) -> go.Figure:
    """Linear CKA of consecutive layers' feature maps."""
    data = [
        {
            "type": "bar",
            "x": names,
            "y": cka,
            "marker": {"color": [STRIDED if p else COLORS[0] for p in pooled]},
            "hovertemplate": "%{x}<br>CKA %{y:.2f}<extra></extra>",
        }
    ]
    layout = {
        "yaxis": {"range": [0, 1], "title": {"text": "linear CKA with the next layer"}},
        "xaxis": {"title": {"text": "layer -> next layer (orange: resolution changes)"}, "tickangle": -45},
    }
    return figure(data, layout, 380, top=10)
