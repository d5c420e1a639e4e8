"""Cached analyses of a model's kernels for the Kernel Gallery (plain data out; the shared model is only read)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from effnets.analysis import kernels as kernel_stats
from effnets.blocks import vgnet
from effnets.figures import images
from effnets.figures import kernels as kernel_figures
from effnets.ui.runtime import base_model

KERNEL_COLUMNS = 16  # kernels per row in the Kernels section's grid


@st.cache_data(max_entries=16, show_spinner="Classifying kernels...")
def layer_rows(name: str, pretrained: bool, threshold: float) -> list[kernel_stats.LayerKernels]:
    model, _ = base_model(name, pretrained)
    return kernel_stats.layer_shares(model, threshold)


@st.cache_data(max_entries=16, show_spinner=False)
def strided(name: str, pretrained: bool, threshold: float) -> list[kernel_stats.StridedSummary]:
    model, _ = base_model(name, pretrained)
    return kernel_stats.compare_strided(model, threshold)


@st.cache_data(max_entries=64, show_spinner=False)
def layer_view(name: str, pretrained: bool, layer: str, per: str, threshold: float, limit: int = 128) -> dict:
    """What the Kernels section draws for one layer, with ``png``: the same drawn as an image (shown first)."""
    model, _ = base_model(name, pretrained)
    kinds = {n: kind for n, _, kind in kernel_stats.conv_layers(model)}
    kind = kinds[layer]
    w = kernel_stats.layer_weight(model, layer)
    if kind == "stem" and w.shape[1] == 3:
        tiles = kernel_stats.rgb_tiles(w[:64])
        return {"kind": "stem", "tiles": tiles, "png": images.png(kernel_figures.rgb_image(tiles))}
    if kind == "pointwise" or w.shape[-1] == 1:
        return {"kind": "pointwise", "weight": w, "png": images.heatmap_png(kernel_figures.pointwise_values(w))}
    flat = w.reshape(-1, w.shape[-2], w.shape[-1])
    matches = kernel_stats.classify_kernels(flat[:4096].unsqueeze(1), threshold)
    families = kernel_stats.shares_of(kernel_stats.family_counts(flat, threshold))  # all kernels, not just the 4096
    examples = []
    for fam in ("gaussian", "edge", "identity"):
        best = max((m for m in matches if m.family == fam), key=lambda m: m.score, default=None)
        if best is not None:
            examples.append(
                {
                    "family": fam,
                    "title": (
                        f"{kernel_stats.FAMILY_LABELS[fam]}: #{best.index}, {best.template}, |cos| {best.score:.2f}"
                    ),
                    "kernel": flat[best.index].numpy(),
                }
            )
    shown = kernel_stats.normalise_for_display(flat[:limit], per)
    if per == "layer":  # scale by the whole layer, not just the shown kernels
        shown = flat[:limit].double().numpy() / max(float(flat.abs().max()), 1e-30)
    png = images.heatmap_png(kernel_figures.tile(shown, KERNEL_COLUMNS))
    return {"kind": kind, "kernels": shown, "families": families, "examples": examples, "png": png}


@st.cache_data(max_entries=32, show_spinner=False)
def frequency_examples(name: str, pretrained: bool, layer: str, n: int = 8) -> dict | None:
    model, _ = base_model(name, pretrained)
    w = kernel_stats.layer_weight(model, layer)
    if w.shape[-1] < 3 or w.shape[-1] != w.shape[-2]:
        return None
    flat = w.reshape(-1, w.shape[-2], w.shape[-1])[:n]
    items = [
        (f"#{i} low-pass {kernel_stats.low_pass_score(k):.2f}", kernel_stats.frequency_response(k))
        for i, k in enumerate(flat)
    ]
    return {"items": items, "freq": kernel_stats.frequencies(32)}


@st.cache_data(max_entries=16, show_spinner=False)
def library(sigma: float) -> dict:
    lib = vgnet.library()
    lib["gaussian"] = vgnet.gaussian(sigma)
    names = [*vgnet.EDGE_BANK, "identity"]
    kernels = [(("gaussian σ=" + f"{sigma:g}") if n == "gaussian" else n, lib[n].numpy()) for n in names]
    spectra = [(t, kernel_stats.frequency_response(lib[n])) for (t, _), n in zip(kernels, names, strict=True)]
    return {"kernels": kernels, "spectra": spectra, "freq": np.asarray(kernel_stats.frequencies(32))}
