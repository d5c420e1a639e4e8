"""Per-layer time against MACs: each stage's (or kind's) share of the eager forward's time beside its share of the
MACs, as paired horizontal bars (a stage whose time bar is much longer than its MACs bar is memory- or
overhead-bound); and the network's diagram and layer table coloured by each layer's share of the measured time, on
one colour scale (:func:`time_color`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from effnets.figures import diagram, style


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


# ----- one colour scale for the share of measured time ---------------------------------------------------------------

TIME_SCALE = ((0.0, (255, 247, 236)), (0.25, (253, 212, 158)), (0.5, (252, 141, 89)), (0.75, (215, 48, 31)),
              (1.0, (127, 0, 0)))  # fmt: skip
"""Sequential stops (fraction of the largest share -> RGB), light to dark: ColorBrewer's OrRd."""
LEGEND_TITLE = "share of measured time"
LEGEND_STEPS = 5


def time_color(share: float, top: float) -> tuple[str, str]:
    """(fill, text colour) of a layer with ``share`` of the measured time when the largest share is ``top``: the
    scale runs from 0 to ``top``, and text turns white where the fill is dark."""
    f = min(max(share / top, 0.0), 1.0) if top > 0 else 0.0
    for (a, ca), (b, cb) in zip(TIME_SCALE, TIME_SCALE[1:], strict=False):
        if f <= b:
            t = (f - a) / (b - a)
            rgb = tuple(round(x + (y - x) * t) for x, y in zip(ca, cb, strict=True))
            break
    luminance = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) / 255
    return "#{:02x}{:02x}{:02x}".format(*rgb), "#ffffff" if luminance < 0.5 else "#111111"


def share_css(shares: Sequence[float]) -> list[str]:
    """CSS (fill and text colour) of each share on :func:`time_color`'s scale, the top being the largest of them:
    a table's cells coloured as the diagram's boxes."""
    top = max(shares, default=0.0)
    return ["background-color: {}; color: {}".format(*time_color(s, top)) for s in shares]


def box_shares(result: Any, boxes: Sequence[str] = ()) -> dict[str, tuple[float, float, int]]:
    """Module name -> (ms, share of the measured time, calls) from a per-layer result
    (:class:`effnets.runtime.per_layer.PerLayerResult`): every leaf layer, and each of ``boxes`` (modules a diagram
    draws as one box, such as SE) with the sum of its layers. Shares are of the sum of the layers' times."""
    total = sum(x.ms for x in result.layers)
    times = {x.name: (x.ms, x.calls) for x in result.layers}
    for box in boxes:
        inside = [x.ms for x in result.layers if x.name.startswith(box + ".")]
        if inside and box not in times:
            times[box] = (sum(inside), 1)
    return {n: (ms, ms / total if total else 0.0, calls) for n, (ms, calls) in times.items()}


def time_paint(shares: dict[str, tuple[float, float, int]]) -> dict[str, diagram.Paint]:
    """How each box of :func:`box_shares` is painted: its fill on :func:`time_color`'s scale (top: the largest
    share), and its ms and share as an extra label line."""
    top = max((s for _, s, _ in shares.values()), default=0.0)
    out = {}
    for name, (ms, share, calls) in shares.items():
        fill, font = time_color(share, top)
        note = f"{ms:.3f} ms · {share:.1%}" + (f" ({calls} calls)" if calls > 1 else "")
        out[name] = diagram.Paint(fill, font, note)
    return out


def time_legend(top: float, dark: bool = False) -> list[str]:
    """DOT statements of the key: a row of :data:`LEGEND_STEPS` cells from 0 to ``top`` titled "share of measured
    time", and the fill of boxes that no layer's time covers (ops outside every layer)."""
    cells = []
    for i in range(LEGEND_STEPS):
        share = top * i / (LEGEND_STEPS - 1)
        fill, font = time_color(share, top)
        cells.append(f'<TD BGCOLOR="{fill}"><FONT COLOR="{font}">{share:.1%}</FONT></TD>')
    text = "#dddddd" if dark else "#333333"
    row = "".join(cells) + f'<TD BGCOLOR="{diagram.UNPAINTED}"><FONT COLOR="#111111">not timed</FONT></TD>'
    return [
        "subgraph cluster_time_legend {",
        f'  label="{LEGEND_TITLE}"; fontsize=10; fontcolor="{text}"; style="rounded"; color="#999999";',
        f'  time_legend [shape=plaintext, style="", fontsize=9, label=<<TABLE BORDER="0" CELLBORDER="1" '
        f'CELLSPACING="0" CELLPADDING="4"><TR>{row}</TR></TABLE>>];',
        "}",
    ]


def time_dot(module: Any, input_shape: tuple[int, int, int], result: Any, dark: bool = False) -> str:
    """The traced diagram of ``module`` (:func:`effnets.figures.diagram.block_dot`; build it on the meta device)
    with every box coloured by its layers' share of the time measured in ``result`` (a per-layer result of the same
    network), each timed box labelled with its ms and share, and the key. Boxes of ops outside every layer (residual
    adds, concats) stay grey: their time is in the whole forward but in no layer's row."""
    boxes = [n for n, m in module.named_modules() if n and any(True for _ in m.children()) and diagram.is_box(m)]
    shares = box_shares(result, boxes)
    top = max((s for _, s, _ in shares.values()), default=0.0)
    return diagram.block_dot(module, input_shape, dark=dark, paint=time_paint(shares), legend=time_legend(top, dark))
