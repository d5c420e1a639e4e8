"""Figures as PNG images: what a page shows first, drawn on the server in milliseconds and shown by the browser
without a chart library (plotly's 4.7 MB bundle takes a second of the browser's main thread to load on a classroom
laptop). The colours are plotly's own colorscales, interpolated as plotly does, so an image and its interactive
chart agree pixel for pixel. No streamlit here."""

from __future__ import annotations

import html
import io

import numpy as np
from PIL import Image
from plotly.colors import get_colorscale, hex_to_rgb, unlabel_rgb

from effnets.figures.style import DIVERGING

GAP = (255, 255, 255)  # the colour of a NaN (the gaps between tiles): the page's background


def colorscale_stops(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A plotly colorscale as (positions in 0..1, RGB colours as an (n, 3) float array)."""
    scale = get_colorscale(name)
    pos = np.array([float(p) for p, _ in scale])
    rgb = np.array([hex_to_rgb(c) if c.startswith("#") else unlabel_rgb(c) for _, c in scale], dtype=np.float64)
    return pos, rgb


def colorize(values: np.ndarray, scale: str = DIVERGING, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    """Values -> uint8 RGB (shape + (3,)): clipped to lo..hi, linearly interpolated between the colorscale's stops
    (plotly's heatmap colouring); NaN is the gap colour."""
    v = np.asarray(values, dtype=np.float64)
    t = np.clip((v - lo) / (hi - lo), 0.0, 1.0)
    pos, rgb = colorscale_stops(scale)
    out = np.stack([np.interp(np.nan_to_num(t), pos, rgb[:, c]) for c in range(3)], axis=-1)
    out[np.isnan(v)] = GAP
    return np.rint(out).astype(np.uint8)


def upscale(img: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement: each pixel becomes a factor x factor square (kernels stay crisp)."""
    return np.repeat(np.repeat(img, factor, axis=0), factor, axis=1)


def fit_factor(width: int, target: int = 900, most: int = 32) -> int:
    """The whole-number enlargement that brings an image ``width`` pixels wide closest to ``target`` from below."""
    return int(max(1, min(most, target // max(1, width))))


def png(rgb: np.ndarray) -> bytes:
    """uint8 (h, w, 3) -> PNG bytes (lossless: a JPEG would smear one-pixel kernels)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB").save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def heatmap_png(values: np.ndarray, scale: str = DIVERGING, target: int = 900) -> bytes:
    """A 2-D array in -1..1 (NaN: gaps) as a diverging PNG enlarged towards ``target`` pixels wide."""
    img = colorize(values, scale)
    return png(upscale(img, fit_factor(img.shape[1], target)))


def legend_png(scale: str = DIVERGING, width: int = 240, height: int = 12) -> bytes:
    """A horizontal colour bar from -1 (left) to +1 (right)."""
    row = colorize(np.linspace(-1.0, 1.0, width), scale)
    return png(np.repeat(row[None], height, axis=0))


def _text_color(rgb: np.ndarray) -> str:
    """Black or white, whichever reads on ``rgb`` (by its luma)."""
    luma = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return "#000" if luma > 140 else "#fff"


def kernel_table_html(kernel: np.ndarray, title: str, scale: str = DIVERGING) -> str:
    """One small kernel as an HTML table: each cell coloured like the heatmap (scaled by the kernel's max |w|) with
    its value written in. Plain HTML, so it is on screen with the page's text; the title is escaped."""
    k = np.asarray(kernel, dtype=np.float64)
    colors = colorize(k / max(float(np.abs(k).max()), 1e-30), scale)
    rows = []
    for i in range(k.shape[0]):
        cells = []
        for j in range(k.shape[1]):
            c = colors[i, j]
            cells.append(
                f'<td style="background:rgb({c[0]},{c[1]},{c[2]});color:{_text_color(c)};'
                f'padding:2px 6px;text-align:right;border:none">{k[i, j]:.2f}</td>'
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div style="font-size:0.8em"><div>{html.escape(title)}</div>'
        f'<table style="border-collapse:collapse;font-family:monospace">{"".join(rows)}</table></div>'
    )
