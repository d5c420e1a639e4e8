"""The Design Space page's sections (the RegNet generator, both roundings, MobileNet's grid, ShuffleNet's groups,
random samples), drawn for the generator settings the page has read."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from effnets import units
from effnets.analysis import design_space, scaling
from effnets.analysis.design_space import Generated
from effnets.figures import design_space as design_space_figures
from effnets.figures import scaling as scaling_figures
from effnets.ui import classroom, common, forms, models_cached, schema

S = schema.DESIGN_SPACE
P = S.prefix
LOCALIZED = st.column_config.NumberColumn(format="localized")
MB_MODELS = {"mobilenet_v1": "MobileNetV1", "mobilenet_v2": "MobileNetV2"}
VERDICT_BOX = {"info": st.info, "success": st.success, "warning": st.warning}
# The generator's numbers a class moves most: their widgets rerun only the page's fragment (the other fields of the
# spec, b, SE, resolution and the advanced ones, rerun the page)
GENERATOR_FIELDS = ("depth", "w0", "wa", "wm", "group_width")


def regnet_failed(g: Generated) -> None:
    common.show_error(
        f"These generator settings make no network: {g.error}",
        "Change the setting the message names in the sidebar (or pick a preset); the other tabs keep working.",
    )


def generator(g: Generated, counting: units.Counting) -> None:
    if g.spec is None or g.cost is None:
        regnet_failed(g)
        return
    name, spec = g.info.name, g.spec
    rows = design_space.regnet_block_rows(spec)
    common.metric_row(design_space.regnet_metrics(spec, g.cost, counting))
    classroom.vega(design_space_figures.regnet_widths_chart(rows), key=f"{P}.chart_widths")
    st.caption(design_space.regnet_caption(spec))
    st.markdown("**Stage table**")
    classroom.table(
        pd.DataFrame(scaling.stage_rows(g.cost, counting.unit, counting.extras)),
        f"regnet_{name}_stages",
        key=f"{P}.csv_stages",
        column_config={c: LOCALIZED for c in ("params", counting.label)},
    )
    if (box := classroom.expander("Block by block", f"{P}.blocks_open")) is not None:
        with box:
            classroom.table(pd.DataFrame(rows), f"regnet_{name}_blocks", key=f"{P}.csv_blocks")


def roundings(g: Generated, counting: units.Counting) -> None:
    if g.spec is None:
        regnet_failed(g)
        return
    sides = design_space.rounding_sides(g.spec)
    st.markdown(
        "RegNet rounds each bottleneck width to a multiple of the group width. pycls (the paper's code) uses "
        "Python's round(); torchvision uses make_divisible, which rounds half up and never loses more than "
        "10 %. Same six numbers, sometimes two networks:"
    )
    classroom.table(
        pd.DataFrame(design_space.rounding_table(sides, counting.unit)),
        f"regnet_{g.info.name}_roundings",
        key=f"{P}.csv_r",
    )
    kind, verdict = design_space.rounding_verdict(sides, g.spec.rounding)
    VERDICT_BOX[kind](verdict)
    st.caption(design_space.differ_caption(models_cached.presets_where_roundings_differ()))


def mobilenet_grid(g: Generated, counting: units.Counting) -> None:
    c1, c2, c3 = st.columns([1, 2, 2])
    mb = forms.control(c1, S, "mb_model", "Network", format_func=MB_MODELS.get)
    alphas = forms.control(c2, S, "mb_alphas", "width multipliers α")
    res = forms.control(c3, S, "mb_res", "resolutions (ρ × 224)")
    if not alphas or not res:
        common.show_error("Pick at least one width multiplier and one resolution.")
        return
    grid = models_cached.mobilenet_grid(mb, tuple(sorted(alphas)), tuple(sorted(res)))
    classroom.plot(
        scaling_figures.mobilenet_heatmaps(grid, counting.unit, MB_MODELS[mb]), f"{mb}_grid", key=f"{P}.chart_mb"
    )
    st.caption(
        "Parameters depend on α only (each row is constant), MACs on α² and ρ². The classifier's "
        "parameters do not shrink with α, so small α keeps relatively more of them."
    )
    if pub := models_cached.compare_published(mb):
        st.markdown(f"**{MB_MODELS[mb]}: published figures against our exact count**")
        classroom.table(
            pd.DataFrame(scaling.published_comparison_rows(pub)),
            f"{mb}_published",
            key=f"{P}.csv_mb_pub",
            column_config={"ours (exact)": LOCALIZED},
        )


def shufflenet_groups(g: Generated, counting: units.Counting) -> None:
    sweep, published = models_cached.shufflenet_sweep(224)
    classroom.plot(
        scaling_figures.shufflenet_figure(sweep, counting.unit), "shufflenet_v1_groups", key=f"{P}.chart_shuffle"
    )
    st.caption(design_space.shufflenet_caption(sweep, counting))
    classroom.table(
        pd.DataFrame(scaling.shufflenet_rows(sweep, published)),
        "shufflenet_v1_groups",
        key=f"{P}.csv_shuffle",
        column_config={c: LOCALIZED for c in ("params", "MACs (conv + linear)", "MACs without the FC (ours)")},
    )


def random_samples(g: Generated, counting: units.Counting) -> None:
    st.markdown(
        "Draw networks at random from a RegNet design space (depth uniform; w0, wa and wm log-uniform; group "
        "width from your choices) and look at the distribution of their cost, as the RegNet paper does before "
        "it compares spaces by the error of their samples."
    )
    c1, c2, c3 = st.columns(3)
    n = forms.control(c1, S, "s_n", "networks N")
    seed = forms.control(c2, S, "s_seed", "random seed")
    se = forms.control(c3, S, "s_se", "SE (RegNetY)")
    c4, c5 = st.columns(2)
    depth = forms.control(c4, S, "s_depth", "depth d")
    w0 = forms.control(c5, S, "s_w0", "initial width w0")
    c6, c7 = st.columns(2)
    wa = forms.control(c6, S, "s_wa", "slope wa")
    wm = forms.control(c7, S, "s_wm", "width multiplier wm")
    groups = forms.control(st, S, "s_groups", "group widths g")
    try:
        samples = models_cached.sample_space(
            int(n),
            int(seed),
            tuple(depth),
            tuple(w0),
            tuple(wa),
            tuple(wm),
            tuple(groups),
            (1.0,),
            design_space.sampled_se_ratio(se),
            224,
            "pycls",
        )
    except ValueError as e:
        common.show_error(f"Cannot sample this space: {e}", "Widen or fix the ranges above.")
        return
    summary = design_space.sample_summary(samples)
    common.metric_row(design_space.sample_metrics(summary, counting))
    presets = models_cached.preset_points(design_space.sample_presets(se))
    dist, scatter = design_space_figures.sample_figures(samples, presets, counting.unit)
    classroom.plot(dist, "regnet_samples_distribution", key=f"{P}.chart_dist")
    classroom.plot(scatter, "regnet_samples_scatter", key=f"{P}.chart_scatter")
    st.caption(design_space.sample_caption(summary.n, seed))
    if (box := classroom.expander("The sampled networks", f"{P}.samples_open")) is not None:
        with box:
            table = pd.DataFrame(design_space.sample_table(samples, counting.unit))
            classroom.table(table, "regnet_samples", key=f"{P}.csv_samples")


SECTIONS = {
    "RegNet generator": generator,
    "Both roundings": roundings,
    "MobileNet grid": mobilenet_grid,
    "ShuffleNet groups": shufflenet_groups,
    "Random samples": random_samples,
}
