"""Figures of the Scaling Lab: multipliers against exact cost, the compound law, params against MACs, published
networks, activation memory, the MobileNet grid and ShuffleNet's groups (plotly; no streamlit)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from effnets import units
from effnets.figures.style import COLORS, SI, USER_COLOR, domains, figure, panel_title
from effnets.models import FAMILIES
from effnets.models.scaling import AXES, AXIS_EXPONENT, AXIS_SYMBOL, Multipliers
from effnets.report import human, human_bytes


def multiplier_figure(sweeps: Mapping[str, Sequence[Mapping]], current: Multipliers, unit: str) -> go.Figure:
    """One panel per multiplier, as the EfficientNet paper's Figure 3: that multiplier alone moves (the others stay
    at the preset); the exact MACs (or FLOPs) of the rounded network, the power law from the preset (dashed), and a
    line at your current value of the multiplier."""
    axes = [a for a in AXES if sweeps.get(a)]
    doms = domains(max(1, len(axes)))
    u = units.NAMES[unit]
    data: list[dict] = []
    layout: dict[str, Any] = {"annotations": [], "shapes": []}
    for i, axis in enumerate(axes):
        sfx = "" if i == 0 else str(i + 1)
        xa, ya = "x" + sfx, "y" + sfx
        rows = sweeps[axis]
        x = [r["multiplier"] for r in rows]
        sym = AXIS_SYMBOL[axis]
        data.append(
            {
                "type": "scatter",
                "x": x,
                "y": [units.scale(r["macs"], unit) for r in rows],
                "mode": "lines+markers",
                "name": f"exact {u} of the rounded network",
                "line": {"color": COLORS[0]},
                "legendgroup": "exact",
                "showlegend": i == 0,
                "xaxis": xa,
                "yaxis": ya,
                "hovertemplate": f"{sym} = %{{x:.2f}}<br>{u}: %{{y:,.0f}}<extra>exact</extra>",
            }
        )
        data.append(
            {
                "type": "scatter",
                "x": x,
                "y": [units.scale(r["law"], unit) if r["law"] else None for r in rows],
                "mode": "lines",
                "name": "law: preset × d, w², r²",
                "line": {"color": "#7f7f7f", "dash": "dash"},
                "legendgroup": "law",
                "showlegend": i == 0,
                "xaxis": xa,
                "yaxis": ya,
                "hovertemplate": f"{sym} = %{{x:.2f}}<br>law: %{{y:,.0f}}<extra></extra>",
            }
        )
        layout["shapes"].append(
            {
                "type": "line",
                "xref": xa,
                "yref": f"{ya} domain",
                "x0": current.of(axis),
                "x1": current.of(axis),
                "y0": 0,
                "y1": 1,
                "line": {"color": USER_COLOR, "dash": "dot", "width": 2},
            }
        )
        layout["annotations"].append(
            {
                "text": f"your {sym} = {current.of(axis):.2f}",
                "x": current.of(axis),
                "xref": xa,
                "y": 0.98,
                "yref": f"{ya} domain",
                "showarrow": False,
                "xanchor": "left",
                "font": {"color": USER_COLOR, "size": 11},
            }
        )
        layout["annotations"].append(
            panel_title(f"{axis} {sym} alone (cost ∝ {sym}{'²' if AXIS_EXPONENT[axis] == 2 else ''})", doms[i])
        )
        layout["xaxis" + sfx] = {"domain": doms[i], "anchor": ya, "title": {"text": f"{sym} (× preset)"}}
        layout["yaxis" + sfx] = {"anchor": xa, "rangemode": "tozero", **SI}
        if i:
            layout["yaxis" + sfx]["matches"] = "y"
            layout["yaxis" + sfx]["showticklabels"] = False
    layout.setdefault("yaxis", {})["title"] = {"text": f"{u} per image (conv + linear)"}
    layout["legend"] = {"orientation": "h", "yanchor": "top", "y": -0.22, "x": 0}
    layout["margin"] = {"t": 70, "b": 40, "l": 10, "r": 10}
    return figure(data, layout, 440)


def law_figure(
    sweep: Sequence[Mapping],
    current: Mapping[str, float] | None,
    released: Sequence[Mapping] | None = None,
) -> go.Figure:
    """Predicted cost ratio d * w^2 * r^2 (x) against the exact ratio of the rounded network (y), log-log, with the
    diagonal where they agree: the phi sweep of the current preset, the current setting and, for EfficientNet, the
    released B0-B7 against B0."""
    xs = [r["law"] for r in sweep] + ([current["law"]] if current else [])
    ys = [r["exact"] for r in sweep] + ([current["exact"]] if current else [])
    if released:
        xs += [r["law"] for r in released]
        ys += [r["exact"] for r in released]
    pos = [v for v in xs + ys if v > 0]
    lo, hi = (min(pos) / 1.3, max(pos) * 1.3) if pos else (0.1, 10.0)
    data: list[dict] = [
        {
            "type": "scatter",
            "x": [lo, hi],
            "y": [lo, hi],
            "mode": "lines",
            "line": {"color": "#bbbbbb", "dash": "dot"},
            "name": "exact = law",
            "hoverinfo": "skip",
        }
    ]
    if sweep:
        data.append(
            {
                "type": "scatter",
                "x": [r["law"] for r in sweep],
                "y": [r["exact"] for r in sweep],
                "mode": "lines+markers+text",
                "text": [f"φ={r['phi']:g}" if float(r["phi"]).is_integer() else "" for r in sweep],
                "textposition": "top left",
                "textfont": {"size": 11, "color": COLORS[0]},
                "line": {"color": COLORS[0]},
                "name": f"this preset, compound-scaled (φ = {sweep[0]['phi']:g} … {sweep[-1]['phi']:g})",
                "customdata": [[r["phi"], r["resolution"]] for r in sweep],
                "hovertemplate": "φ = %{customdata[0]}<br>law d·w²·r² = %{x:.3f}<br>exact = %{y:.3f}"
                "<br>resolution %{customdata[1]}<extra></extra>",
            }
        )
    if released:
        data.append(
            {
                "type": "scatter",
                "x": [r["law"] for r in released],
                "y": [r["exact"] for r in released],
                "mode": "markers+text",
                "text": [r["label"] for r in released],
                "textposition": "bottom right",
                "textfont": {"size": 11, "color": COLORS[1]},
                "marker": {"color": COLORS[1], "size": 9, "symbol": "square"},
                "name": "released B0-B7 against B0",
                "hovertemplate": "%{text}<br>law = %{x:.3f}<br>exact = %{y:.3f}<extra></extra>",
            }
        )
    if current:
        data.append(
            {
                "type": "scatter",
                "x": [current["law"]],
                "y": [current["exact"]],
                "mode": "markers",
                "marker": {"color": USER_COLOR, "size": 15, "symbol": "star"},
                "name": "your setting",
                "hovertemplate": "law = %{x:.3f}<br>exact = %{y:.3f}<extra>your setting</extra>",
            }
        )
    layout = {
        "xaxis": {"type": "log", "title": {"text": "predicted cost ratio d·w²·r² (log)"}},
        "yaxis": {"type": "log", "title": {"text": "exact cost ratio (log)"}},
    }
    return figure(data, layout, 480)


def params_macs_figure(groups: Mapping[str, Sequence[Mapping]], user: Mapping[str, Any] | None, unit: str) -> go.Figure:
    """Params against MACs (log-log) of preset groups (e.g. B0-B7, Lite0-4), with the user's configuration."""
    u = units.NAMES[unit]
    symbols = ("circle", "diamond", "square", "triangle-up", "cross")
    data: list[dict] = []
    leftmost = min((r["macs"] for rows in groups.values() for r in rows), default=None)
    for i, (name, rows) in enumerate(groups.items()):
        color = COLORS[i % len(COLORS)]
        side = "top left" if i % 2 == 0 else "bottom right"
        data.append(
            {
                "type": "scatter",
                "x": [units.scale(r["macs"], unit) for r in rows],
                "y": [r["params"] for r in rows],
                "mode": "lines+markers+text",
                "text": [short_label(r["label"]) for r in rows],
                # the leftmost point's label goes to its right: on its left it would be cut at the axis
                "textposition": [side.replace("left", "right") if r["macs"] == leftmost else side for r in rows],
                "textfont": {"size": 11, "color": color},
                "marker": {"size": 9, "color": color, "symbol": symbols[i % len(symbols)]},
                "line": {"color": color, "width": 1},
                "name": name,
                "customdata": [[r["label"], r["resolution"]] for r in rows],
                "hovertemplate": "%{customdata[0]} at %{customdata[1]} px<br>"
                + u
                + ": %{x:,.0f}<br>params: %{y:,.0f}<extra></extra>",
            }
        )
    if user:
        data.append(
            {
                "type": "scatter",
                "x": [units.scale(user["macs"], unit)],
                "y": [user["params"]],
                "mode": "markers+text",
                "text": ["you"],
                "textposition": "middle right",
                "textfont": {"color": USER_COLOR, "size": 13},
                "marker": {"color": USER_COLOR, "size": 16, "symbol": "star"},
                "name": "your configuration",
                "hovertemplate": f"your configuration<br>{u}: %{{x:,.0f}}<br>params: %{{y:,.0f}}<extra></extra>",
            }
        )
    layout = {
        "xaxis": {"type": "log", "title": {"text": f"{u} per image (conv + linear), log"}, **SI},
        "yaxis": {"type": "log", "title": {"text": "learnable parameters, log"}, **SI},
    }
    return figure(data, layout, 480)


def short_label(label: str) -> str:
    return label.replace("EfficientNet-", "").replace("EfficientNet", "").replace("RegNet", "")


def published_figure(points: Sequence[Mapping], user_macs: int | None, unit: str) -> go.Figure:
    """Published ImageNet top-1 against the exact MACs of the network each figure describes, one colour per family,
    filled circles for papers and official code, open diamonds for torchvision's own training; hover shows the
    source."""
    u = units.NAMES[unit]
    data: list[dict] = []
    families = list(dict.fromkeys(p["family"] for p in points))
    for i, fam in enumerate(families):
        color = FAMILIES[fam].color if fam in FAMILIES else COLORS[i % len(COLORS)]
        for tv in (False, True):
            pts = [p for p in points if p["family"] == fam and p["torchvision"] == tv]
            if not pts:
                continue
            data.append(
                {
                    "type": "scatter",
                    "x": [units.scale(p["macs"], unit) for p in pts],
                    "y": [p["top1"] for p in pts],
                    "mode": "markers",
                    "marker": {
                        "size": 10,
                        "color": color,
                        "symbol": "diamond-open" if tv else "circle",
                        "line": {"width": 2 if tv else 0.5, "color": color},
                    },
                    "name": (FAMILIES[fam].label if fam in FAMILIES else fam) + (" (torchvision)" if tv else ""),
                    "customdata": [
                        [
                            p["label"],
                            p["resolution"],
                            p["source"],
                            human(p["published_macs"]) if p["published_macs"] else "none given",
                            human(p["published_params"]) if p["published_params"] else "none given",
                        ]
                        for p in pts
                    ],
                    "hovertemplate": "<b>%{customdata[0]}</b> at %{customdata[1]} px<br>top-1 %{y:.1f} %<br>"
                    + u
                    + " (exact, conv + linear): %{x:,.0f}<br>published MACs: %{customdata[3]}, params: "
                    "%{customdata[4]}<br>source: %{customdata[2]}<extra></extra>",
                }
            )
    layout: dict[str, Any] = {
        "xaxis": {"type": "log", "title": {"text": f"{u} per image (exact, conv + linear), log"}, **SI},
        "yaxis": {"title": {"text": "published ImageNet top-1 (%)"}},
        "legend": {"orientation": "v", "x": 1.02, "y": 1, "yanchor": "top"},
    }
    if user_macs:
        x = units.scale(user_macs, unit)
        layout["shapes"] = [
            {
                "type": "line",
                "xref": "x",
                "yref": "y domain",
                "x0": x,
                "x1": x,
                "y0": 0,
                "y1": 1,
                "line": {"color": USER_COLOR, "dash": "dash"},
            }
        ]
        layout["annotations"] = [
            {
                "text": "your configuration<br>(accuracy unknown until trained)",
                "x": math.log10(x),
                "xref": "x",
                "y": 0.02,
                "yref": "y domain",
                "xanchor": "left",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"color": USER_COLOR, "size": 11},
            }
        ]
    return figure(data, layout, 520)


def activation_figure(rows: Sequence[Mapping], batch: int, dtype: str) -> go.Figure:
    """Bars of activation memory per stage row at batch N."""
    data = [
        {
            "type": "bar",
            "x": [f"{r['stage']}: {r['operator']}" for r in rows],
            "y": [r["bytes at batch N"] / 2**20 for r in rows],
            "marker": {"color": COLORS[0]},
            "text": [human_bytes(r["bytes at batch N"]) for r in rows],
            "textposition": "outside",
            "cliponaxis": False,
            "hovertemplate": "%{x}<br>%{y:,.1f} MiB<extra></extra>",
        }
    ]
    layout = {
        "yaxis": {"title": {"text": f"MiB at batch {batch} ({dtype})"}},
        "xaxis": {"tickangle": -30},
        "showlegend": False,
        "margin": {"t": 30, "b": 10, "l": 10, "r": 10},
    }
    return figure(data, layout, 440)


def mobilenet_heatmaps(rows: Sequence[Mapping], unit: str, model_label: str) -> go.Figure:
    """Two heatmaps over (width multiplier alpha, resolution): learnable params and MACs (or FLOPs), each cell
    labelled; params do not change along the resolution axis, MACs fall as alpha^2 and rho^2."""
    alphas = sorted({r["width_mult"] for r in rows})
    res = sorted({r["resolution"] for r in rows})
    by = {(r["width_mult"], r["resolution"]): r for r in rows}
    u = units.NAMES[unit]
    doms = domains(2, 0.16)
    xlab = [f"{r} (ρ={r / 224:.3g})" for r in res]
    ylab = [f"α={a:g}" for a in alphas]
    data, annotations = [], []
    layout: dict[str, Any] = {}
    panels = (("params", 1, "learnable parameters"), ("macs", units.FACTORS[unit], f"{u} (conv + linear)"))
    for i, (key, scale, title) in enumerate(panels):
        sfx = "" if i == 0 else "2"
        z = [[by[(a, r)][key] * scale if (a, r) in by else None for r in res] for a in alphas]
        data.append(
            {
                "type": "heatmap",
                "z": z,
                "x": xlab,
                "y": ylab,
                "text": [[human(v) if v is not None else "" for v in zr] for zr in z],
                "texttemplate": "%{text}",
                "textfont": {"size": 12},
                "colorscale": "Blues",
                "colorbar": {"x": doms[i][1] + 0.01, "len": 0.9, "thickness": 10},
                "xaxis": "x" + sfx,
                "yaxis": "y" + sfx,
                "hovertemplate": "%{y}, resolution %{x}<br>" + title + ": %{z:,.0f}<extra></extra>",
            }
        )
        annotations.append(panel_title(f"{model_label}: {title}", doms[i]))
        layout["xaxis" + sfx] = {"domain": doms[i], "anchor": "y" + sfx, "title": {"text": "input side (ρ × 224)"}}
        layout["yaxis" + sfx] = {"anchor": "x" + sfx, "title": {"text": "width multiplier α" if i == 0 else ""}}
    layout["annotations"] = annotations
    return figure(data, layout, 380)


def shufflenet_figure(sweep: Sequence[Mapping], unit: str) -> go.Figure:
    """Three panels per number of groups g: output channels of stages 2-4, MACs (or FLOPs), and params. More groups
    make the 1x1 convs cheaper, so at about equal cost the stages get wider."""
    u = units.NAMES[unit]
    gs = [f"g={r['groups']}" for r in sweep]
    doms = domains(3, 0.08)
    macs = [units.scale(r["macs"], unit) for r in sweep]
    params = [r["params"] for r in sweep]
    data: list[dict] = [
        {
            "type": "bar",
            "x": gs,
            "y": [r["widths"][i + 1] for r in sweep],
            "name": f"stage {i + 2}",
            "marker": {"color": COLORS[i]},
            "xaxis": "x",
            "yaxis": "y",
            "hovertemplate": f"%{{x}}: stage {i + 2} has %{{y}} channels<extra></extra>",
        }
        for i in range(3)
    ]
    for j, (vals, name, color) in enumerate(
        ((macs, f"{u} (conv + linear)", USER_COLOR), (params, "params (learnable)", "#7f7f7f")), 2
    ):
        data.append(
            {
                "type": "bar",
                "x": gs,
                "y": vals,
                "text": [human(v) for v in vals],
                "textposition": "outside",
                "cliponaxis": False,
                "name": name,
                "marker": {"color": color},
                "xaxis": f"x{j}",
                "yaxis": f"y{j}",
                "showlegend": False,
                "hovertemplate": "%{x}: %{y:,.0f}<extra>" + name + "</extra>",
            }
        )
    layout: dict[str, Any] = {
        "barmode": "group",
        "annotations": [
            panel_title("output channels of stages 2-4", doms[0]),
            panel_title(f"{u} per image (conv + linear)", doms[1]),
            panel_title("learnable parameters", doms[2]),
        ],
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0, "title": {"text": "channels of"}},
        "margin": {"t": 50, "b": 40, "l": 10, "r": 10},
    }
    for j, vals in ((1, None), (2, macs), (3, params)):
        sfx = "" if j == 1 else str(j)
        layout["xaxis" + sfx] = {"domain": doms[j - 1], "anchor": "y" + sfx}
        layout["yaxis" + sfx] = {"anchor": "x" + sfx, **SI}
        if vals:
            layout["yaxis" + sfx]["range"] = [0, max(vals) * 1.2]
    return figure(data, layout, 420)


def progressive_figure(schedule: Sequence[Mapping], variant: str) -> go.Figure:
    """EfficientNetV2's progressive learning over the epochs, one panel per setting: the image size (with the exact
    MACs per image on hover), then each regulariser on its own axis, stepping up stage by stage."""
    edges = [tuple(int(e) for e in r["epochs"].split("-")) for r in schedule]
    names = [k for k in schedule[0] if k not in ("stage", "epochs", "MACs per image")]
    panels = domains(len(names), gap=0.05)
    data, annotations, layout = [], [], {"showlegend": False}
    for i, (name, dom) in enumerate(zip(names, panels, strict=True)):
        xs, ys, macs = [], [], []
        for (a, b), r in zip(edges, schedule, strict=True):
            xs += [a, b]
            ys += [r[name], r[name]]
            macs += [human(r["MACs per image"])] * 2
        axis = "" if i == 0 else str(i + 1)
        hover = f"epoch %{{x}}: {name} %{{y:g}}" + (", %{customdata} MACs per image" if i == 0 else "")
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": xs,
                "y": ys,
                "customdata": macs,
                "name": name,
                "xaxis": f"x{axis}",
                "yaxis": f"y{axis}",
                "line": {"color": USER_COLOR if i == 0 else COLORS[i - 1], "width": 3 if i == 0 else 2},
                "hovertemplate": hover + "<extra></extra>",
            }
        )
        top = max(r[name] for r in schedule)
        layout[f"xaxis{axis}"] = {"domain": dom, "anchor": f"y{axis}", "title": {"text": "epoch"}}
        layout[f"yaxis{axis}"] = {"anchor": f"x{axis}", "rangemode": "tozero", "range": [0, (top or 1) * 1.1]}
        title = f"{name} (0 throughout)" if top == 0 else name  # (Mixup for S)
        annotations.append(panel_title(title if i else f"EfficientNetV2-{variant.upper()}: image size (px)", dom))
    layout["annotations"] = annotations
    return figure(data, layout, 340, top=40)
