"""Figures of kernels, kernel families, frequency responses and feature maps (plotly; no streamlit here)."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from effnets.analysis.kernels import FAMILIES, FAMILY_LABELS, LayerKernels, StridedSummary

FAMILY_COLORS = {"gaussian": "#2ca02c", "edge": "#1f77b4", "identity": "#9467bd", "other": "#bdbdbd"}
DIVERGING = "RdBu_r"


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
    fig = go.Figure(
        go.Heatmap(
            z=grid,
            colorscale=DIVERGING,
            zmid=0,
            zmin=-1,
            zmax=1,
            hoverongaps=False,
            colorbar=dict(title="weight / max|w|", thickness=12),
            hovertemplate="value %{z:.2f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showticklabels=False, showgrid=False, zeroline=False)
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    rows = grid.shape[0] / max(1, grid.shape[1])
    fig.update_layout(title=title, height=int(140 + 700 * min(rows, 1.6)), margin=dict(t=40, b=10, l=10, r=10))
    return fig


def rgb_grid(tiles: np.ndarray, columns: int = 16, upscale: int = 8) -> go.Figure:
    """Stem filters (N, k, k, 3) in 0..1 as RGB tiles (each centred at grey), nearest-neighbour upscaled."""
    big = np.repeat(np.repeat(tiles, upscale, axis=1), upscale, axis=2)
    grid = tile(big, columns, gap_value=1.0)
    img = (np.clip(grid, 0, 1) * 255).astype(np.uint8)
    fig = go.Figure(go.Image(z=img, hoverinfo="skip"))
    fig.update_xaxes(showticklabels=False, showgrid=False)
    fig.update_yaxes(showticklabels=False, showgrid=False)
    fig.update_layout(height=int(120 + 620 * img.shape[0] / img.shape[1]), margin=dict(t=10, b=10, l=10, r=10))
    return fig


def pointwise_matrix(weight: torch.Tensor, max_side: int = 256) -> go.Figure:
    """A 1x1 conv's weights as a C_out x C_in/groups matrix (diverging, scaled by the layer's max |w|)."""
    w = weight.detach().to("cpu", torch.float64).reshape(weight.shape[0], -1).numpy()
    w = w[:max_side, :max_side]
    scale = max(np.abs(w).max(), 1e-30)
    fig = go.Figure(
        go.Heatmap(
            z=w / scale,
            colorscale=DIVERGING,
            zmid=0,
            zmin=-1,
            zmax=1,
            colorbar=dict(title="w / max|w|", thickness=12),
            hovertemplate="out %{y}, in %{x}: %{z:.2f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", title="output channel")
    fig.update_xaxes(title="input channel")
    fig.update_layout(height=520, margin=dict(t=10, b=10, l=10, r=10))
    return fig


def shares_figure(rows: list[LayerKernels], highlight: str | None = None) -> go.Figure:
    """Stacked share of each kernel family per spatial conv layer; strided layers marked 's2'."""
    rows = [r for r in rows if r.shares is not None]
    labels = [f"{i + 1}. {r.kind}{' s' + str(r.stride) if r.stride > 1 else ''}" for i, r in enumerate(rows)]
    fig = go.Figure()
    for fam in FAMILIES:
        fig.add_trace(
            go.Bar(
                x=labels,
                y=[r.shares[fam] for r in rows],
                name=FAMILY_LABELS[fam],
                marker_color=FAMILY_COLORS[fam],
                customdata=[[r.name, r.count] for r in rows],
                hovertemplate="%{customdata[0]} (%{customdata[1]} kernels)<br>"
                + FAMILY_LABELS[fam]
                + ": %{y:.0%}<extra></extra>",
            )
        )
    for i, r in enumerate(rows):
        if r.stride > 1:
            fig.add_vrect(x0=i - 0.5, x1=i + 0.5, fillcolor="#ff7f0e", opacity=0.12, line_width=0)
        if highlight and r.name == highlight:
            fig.add_vrect(x0=i - 0.5, x1=i + 0.5, line=dict(color="#d62728", width=2))
    fig.update_layout(
        barmode="stack",
        yaxis=dict(tickformat=".0%", title="share of the layer's kernels"),
        xaxis=dict(title="spatial conv layers in order (orange: stride 2)", tickangle=-60),
        height=430,
        margin=dict(t=10, b=10, l=10, r=10),
        legend=dict(orientation="h", y=1.08),
    )
    return fig


def strided_figure(summaries: list[StridedSummary], title: str = "") -> go.Figure:
    """Depthwise kernel families and mean low-pass score, stride 1 vs stride 2."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("kernel families", "mean low-pass score"))
    xs = [f"stride {s.stride} ({s.kernels} kernels)" for s in summaries]
    for fam in FAMILIES:
        fig.add_trace(
            go.Bar(
                x=xs, y=[s.shares[fam] for s in summaries], name=FAMILY_LABELS[fam], marker_color=FAMILY_COLORS[fam]
            ),
            row=1,
            col=1,
        )
    fig.add_trace(
        go.Bar(
            x=xs,
            y=[s.mean_low_pass for s in summaries],
            marker_color="#ff7f0e",
            showlegend=False,
            hovertemplate="%{y:.2f}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.update_layout(barmode="stack", height=380, title=title, margin=dict(t=50, b=10, l=10, r=10))
    fig.update_yaxes(tickformat=".0%", row=1, col=1)
    fig.update_yaxes(range=[0, 1], row=1, col=2)
    return fig


def _titled_grid(titles: list[str], columns: int) -> tuple[go.Figure, int]:
    """An empty grid of small subplots, one per title, ``columns`` wide; returns it with its row count."""
    rows = max(1, math.ceil(len(titles) / columns))
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=titles, horizontal_spacing=0.03, vertical_spacing=0.12)
    return fig, rows


def frequency_grid(items: list[tuple[str, np.ndarray]], columns: int = 4, freq: np.ndarray | None = None) -> go.Figure:
    """Centred |FFT| magnitude of several kernels (e.g. the fixed library), one small heatmap each."""
    fig, rows = _titled_grid([name for name, _ in items], columns)
    for i, (_, mag) in enumerate(items):
        r, c = divmod(i, columns)
        fig.add_trace(
            go.Heatmap(
                z=mag,
                x=freq,
                y=freq,
                colorscale="Viridis",
                showscale=False,
                hovertemplate="f=(%{x:.2f}, %{y:.2f}) |H|=%{z:.2f}<extra></extra>",
            ),
            row=r + 1,
            col=c + 1,
        )
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False, autorange="reversed")
    fig.update_layout(height=230 * rows + 40, margin=dict(t=40, b=10, l=10, r=10))
    return fig


def kernel_library_figure(items: list[tuple[str, np.ndarray]], columns: int = 5) -> go.Figure:
    """Named kernels (k x k arrays) as diverging heatmaps with their values written in."""
    fig, rows = _titled_grid([name for name, _ in items], columns)
    for i, (_, k) in enumerate(items):
        r, c = divmod(i, columns)
        m = max(np.abs(k).max(), 1e-30)
        fig.add_trace(
            go.Heatmap(
                z=k / m,
                colorscale=DIVERGING,
                zmid=0,
                zmin=-1,
                zmax=1,
                showscale=False,
                text=[[f"{v:.2f}" for v in row] for row in k],
                texttemplate="%{text}",
                hovertemplate="%{text}<extra></extra>",
            ),
            row=r + 1,
            col=c + 1,
        )
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False, autorange="reversed")
    fig.update_layout(height=200 * rows + 40, margin=dict(t=40, b=10, l=10, r=10))
    return fig


def low_pass_by_layer(rows: list[LayerKernels]) -> go.Figure:
    """Mean low-pass score of each spatial layer, coloured by stride: strided layers sit higher."""
    rows = [r for r in rows if r.low_pass is not None]
    fig = go.Figure(
        go.Scatter(
            x=list(range(1, len(rows) + 1)),
            y=[r.low_pass for r in rows],
            mode="markers+lines",
            marker=dict(
                size=[14 if r.stride > 1 else 8 for r in rows],
                color=["#ff7f0e" if r.stride > 1 else "#1f77b4" for r in rows],
            ),
            line=dict(color="#cccccc"),
            text=[f"{r.name} ({r.kind}, stride {r.stride}, {r.kernel_size}x{r.kernel_size})" for r in rows],
            hovertemplate="%{text}<br>low-pass %{y:.2f}<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis_title="spatial conv layer (orange, large: stride 2)",
        yaxis=dict(title="mean low-pass score", range=[0, 1]),
        height=360,
        margin=dict(t=10, b=10, l=10, r=10),
    )
    return fig


def feature_grid_figure(grid: np.ndarray, title: str = "") -> go.Figure:
    """Feature maps tiled by :func:`effnets.runtime.features.feature_grid` (0..1, NaN gaps)."""
    fig = go.Figure(
        go.Heatmap(
            z=grid,
            colorscale="Viridis",
            zmin=0,
            zmax=1,
            hoverongaps=False,
            showscale=False,
            hovertemplate="%{z:.2f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showticklabels=False, showgrid=False, zeroline=False)
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_layout(
        title=title,
        height=int(120 + 760 * min(grid.shape[0] / grid.shape[1], 1.5)),
        margin=dict(t=40, b=10, l=10, r=10),
    )
    return fig


def topk_figure(labels: list[str], probs: list[float], title: str = "") -> go.Figure:
    """Top-k classes as horizontal bars with their probabilities."""
    fig = go.Figure(
        go.Bar(
            x=probs[::-1],
            y=labels[::-1],
            orientation="h",
            text=[f"{p:.1%}" for p in probs[::-1]],
            textposition="outside",
            cliponaxis=False,
            marker_color="#1f77b4",
            hovertemplate="%{y}: %{x:.2%}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis=dict(range=[0, 1.15], tickformat=".0%", title="probability (softmax)"),
        height=60 + 42 * len(labels),
        margin=dict(t=40 if title else 10, b=10, l=10, r=10),
    )
    return fig


def similarity_figure(names: list[str], cka: list[float], pooled: list[bool]) -> go.Figure:
    """Linear CKA of consecutive layers' feature maps."""
    fig = go.Figure(
        go.Bar(
            x=names,
            y=cka,
            marker_color=["#ff7f0e" if p else "#1f77b4" for p in pooled],
            hovertemplate="%{x}<br>CKA %{y:.2f}<extra></extra>",
        )
    )
    fig.update_layout(
        yaxis=dict(range=[0, 1], title="linear CKA with the next layer"),
        xaxis=dict(title="layer -> next layer (orange: resolution changes)", tickangle=-45),
        height=380,
        margin=dict(t=10, b=10, l=10, r=10),
    )
    return fig
