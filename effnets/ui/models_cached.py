"""Cached wrappers around the model registry's sweeps for the Scaling Lab and Design Space pages.

Plain, hashable data in (registry names, spec keys from :func:`effnets.models.scaling.spec_key`, numbers, tuples),
plain data out (lists of dicts), so that Streamlit can hash the arguments and pickle the results. Specs are rebuilt
inside; nothing cached is ever a model or mutated by a page.
"""

from __future__ import annotations

import streamlit as st

from effnets.analysis import design_space, scaling
from effnets.models import get_model
from effnets.models import scaling as model_scaling


@st.cache_data(max_entries=256, show_spinner=False)
def axis_sweep(name: str, key: tuple, axis: str) -> list[dict]:
    """:func:`effnets.models.scaling.axis_sweep` of preset ``name`` with base spec ``key``, one multiplier moving and
    the others at the preset (as the EfficientNet paper's Figure 3): the same for every slider position."""
    return model_scaling.axis_sweep(
        get_model(name), model_scaling.spec_from_key(name, key), axis, model_scaling.Multipliers()
    )


@st.cache_data(max_entries=128, show_spinner=False)
def phi_sweep(name: str, key: tuple, alpha: float, beta: float, gamma: float) -> list[dict]:
    """:func:`effnets.models.scaling.phi_sweep` (phi = -3 ... 7 in steps of 0.5)."""
    return model_scaling.phi_sweep(get_model(name), model_scaling.spec_from_key(name, key), alpha, beta, gamma)


@st.cache_data(max_entries=64, show_spinner=False)
def released_table(alpha: float, beta: float, gamma: float) -> list[dict]:
    """:func:`effnets.analysis.scaling.released_table`."""
    return scaling.released_table(alpha, beta, gamma)


@st.cache_data(max_entries=16, show_spinner=False)
def preset_points(names: tuple[str, ...]) -> list[dict]:
    """:func:`effnets.analysis.scaling.preset_points`."""
    return scaling.preset_points(names)


@st.cache_data(max_entries=1, show_spinner="Reading the published figures (papers, official code, torchvision)...")
def published_points() -> list[dict]:
    """:func:`effnets.analysis.scaling.published_points` (reads torchvision's weight metadata once)."""
    return scaling.published_points()


@st.cache_data(max_entries=1, show_spinner=False)
def presets_where_roundings_differ() -> list[str]:
    """:func:`effnets.analysis.design_space.presets_where_roundings_differ`."""
    return design_space.presets_where_roundings_differ()


@st.cache_data(max_entries=32, show_spinner=False)
def mobilenet_grid(model: str, alphas: tuple[float, ...], resolutions: tuple[int, ...]) -> list[dict]:
    """:func:`effnets.models.mobilenet_grid`."""
    from effnets.models import mobilenet_grid as grid

    return grid(alphas, resolutions, model)


@st.cache_data(max_entries=16, show_spinner=False)
def shufflenet_sweep(resolution: int) -> tuple[list[dict], dict[int, dict]]:
    """The ShuffleNet V1 groups sweep and, per g, the registry's Table 1 figure beside our count under its rule."""
    from effnets.models import shufflenet_v1_groups_sweep

    rows = shufflenet_v1_groups_sweep(resolution)
    published: dict[int, dict] = {}
    for r in get_model("shufflenet_v1").compare_published():
        if r["quantity"] == "macs" and "Table 1" in r["source"]:
            published[int(r["fields"].get("groups", 3))] = r
    return rows, published


@st.cache_data(max_entries=32, show_spinner="Sampling and costing networks...")
def sample_space(
    n: int,
    seed: int,
    depth: tuple[int, int],
    w0: tuple[int, int],
    wa: tuple[float, float],
    wm: tuple[float, float],
    group_width: tuple[int, ...],
    bottleneck_ratio: tuple[float, ...],
    se_ratio: float,
    resolution: int,
    rounding: str,
) -> list[dict]:
    """:func:`effnets.models.sample_regnet_space`."""
    from effnets.models import sample_regnet_space

    return sample_regnet_space(
        n,
        seed=seed,
        depth=depth,
        w0=w0,
        wa=wa,
        wm=wm,
        group_width=group_width,
        bottleneck_ratio=bottleneck_ratio,
        se_ratio=se_ratio,
        resolution=resolution,
        rounding=rounding,
    )


@st.cache_data(max_entries=64, show_spinner=False)
def compare_published(name: str) -> list[dict]:
    """:meth:`effnets.models.ModelInfo.compare_published` of preset ``name``."""
    return get_model(name).compare_published()


@st.cache_data(max_entries=64, show_spinner=False)
def family_lesson(name: str, key: tuple):
    """:func:`effnets.analysis.family_lessons.lesson_for` of preset ``name`` as set (spec key ``key``)."""
    from effnets.analysis import family_lessons

    return family_lessons.lesson_for(name, model_scaling.spec_from_key(name, key))
