"""Design Space: networks generated from a few numbers. The RegNet generator block by block (and its two roundings),
MobileNet's width x resolution grid, ShuffleNet's groups trade, and the cost distribution of a sampled design space."""

import pandas as pd
import streamlit as st

from effnets.analysis import design_space, scaling
from effnets.figures import design_space as design_space_figures
from effnets.figures import scaling as scaling_figures
from effnets.models import MODELS
from effnets.models import scaling as model_scaling
from effnets.report import human
from effnets.ui import classroom, common, forms, models_cached, schema, state

S = schema.DESIGN_SPACE
P = S.prefix
REGNETS = S["preset"].choices()
PRESET_FOR = f"{P}._preset_fields_for"
MB_MODELS = {"mobilenet_v1": "MobileNetV1", "mobilenet_v2": "MobileNetV2"}


def seed_preset(name: str, overrides: dict | None = None) -> None:
    """Put the preset's generator settings (and overrides from a link) into the settings widgets."""
    state.seed_session(P, {**MODELS[name].make_spec().to_dict(), **(overrides or {})})
    st.session_state[PRESET_FOR] = name


# ----- state from the link (first run of the session) ------------------------------------------------------------
if state.first_run(P):
    name = state.restore(S).get("preset", S["preset"].default)
    seed_preset(name, state.read_spec_fields(MODELS[name].spec, P))
    state.mark_loaded(P)
state.defaults(S)

# ----- controls --------------------------------------------------------------------------------------------------
with st.sidebar:
    st.markdown("**RegNet generator**")
    name = forms.control(
        st,
        S,
        "preset",
        "Preset",
        format_func=lambda n: MODELS[n].label,
        help="Loads the preset's (d, w0, wa, wm, g) from pycls; change any of them below.",
    )
    if st.session_state.get(PRESET_FOR) != name:
        seed_preset(name)
    info = MODELS[name]
    values = forms.spec_widgets(info.spec, P)
    counting = common.counting_controls(P, st.sidebar)
    unit, extras = counting.unit, list(counting.extras)
classroom.sidebar_controls()
unit_name = counting.name
what = "conv + linear" + (" + " + ", ".join(extras) if extras else "")

classroom.page_header("Design Space", P)
st.markdown(
    "A design space is a rule that turns a few numbers into whole networks. RegNet's six numbers generate every "
    "block's width; MobileNet's α and ρ scale one network into a grid; ShuffleNet's groups trade dense 1x1 convs for "
    "width. Every count here is computed from the settings (no network is built): "
    f"**{unit_name}** ({what}) per image, and learnable parameters."
)

SECTIONS = ["RegNet generator", "Both roundings", "MobileNet grid", "ShuffleNet groups", "Random samples"]
sec = classroom.sections(P, SECTIONS)
localized = st.column_config.NumberColumn(format="localized")

try:
    spec = info.make_spec(**values)
    cost = info.cost(spec, record_steps=False)
    regnet_error = None
except ValueError as e:
    spec = cost = None
    regnet_error = str(e)


def regnet_failed() -> None:
    common.show_error(
        f"These generator settings make no network: {regnet_error}",
        "Change the setting the message names in the sidebar (or pick a preset); the other tabs keep working.",
    )


if (box := sec["RegNet generator"]) is not None:
    with box:
        if cost is None:
            regnet_failed()
        else:
            rows = design_space.regnet_block_rows(spec)
            widths = [r.channels for r in cost.stages[1:-1]]
            k = st.columns(4)
            k[0].metric("Parameters", human(cost.params), help=f"{cost.params:,} learnable parameters.")
            count = counting.total(cost)
            k[1].metric(f"{unit_name} per image", human(count), help=f"{count:,} {unit_name}: {what}.")
            k[2].metric("Blocks / stages", f"{spec.depth} / {len(widths)}", help="d blocks in runs of equal width.")
            k[3].metric(
                "Stage widths",
                f"{widths[0]} → {widths[-1]}",
                help="Output channels of the first and last stage; all: " + ", ".join(map(str, widths)) + ".",
            )
            classroom.plot(
                design_space_figures.regnet_widths_figure(rows), f"regnet_{name}_widths", key=f"{P}.chart_widths"
            )
            st.caption(
                f"d = {spec.depth}, w0 = {spec.w0}, wa = {spec.wa:g}, wm = {spec.wm:g}, g = {spec.group_width}, "
                f"b = {spec.bottleneck_ratio:g}, SE {spec.se_ratio:g}, {spec.rounding} rounding. Grey: the linear "
                "width function; blue: its quantization to w0·wm^s (multiples of 8); consecutive equal widths form "
                "a stage. Red crosses (when shown): blocks whose built width differs, because the bottleneck width "
                "must be a multiple of the group width."
            )
            st.markdown("**Stage table**")
            classroom.table(
                pd.DataFrame(scaling.stage_rows(cost, unit, extras)),
                f"regnet_{name}_stages",
                key=f"{P}.csv_stages",
                column_config={c: localized for c in ("params", counting.label)},
            )
            with st.expander("Block by block"):
                classroom.table(pd.DataFrame(rows), f"regnet_{name}_blocks", key=f"{P}.csv_blocks")

if (box := sec["Both roundings"]) is not None:
    with box:
        if spec is None:
            regnet_failed()
        else:
            sides = design_space.rounding_sides(spec)
            st.markdown(
                "RegNet rounds each bottleneck width to a multiple of the group width. pycls (the paper's code) uses "
                "Python's round(); torchvision uses make_divisible, which rounds half up and never loses more than "
                "10 %. Same six numbers, sometimes two networks:"
            )
            classroom.table(
                pd.DataFrame(design_space.rounding_table(sides, unit)), f"regnet_{name}_roundings", key=f"{P}.csv_r"
            )
            if len(sides) == 2 and (sides[0].widths, sides[0].groups) != (sides[1].widths, sides[1].groups):
                st.warning(
                    f"The two roundings build different networks here: {sides[0].rounding} "
                    f"{list(sides[0].widths)} vs {sides[1].rounding} {list(sides[1].widths)} channels "
                    f"({human(sides[0].params)} vs {human(sides[1].params)} params)."
                )
            elif len(sides) == 2:
                st.success("Both roundings give the same network for these settings.")
            else:
                other = "torchvision" if spec.rounding == "pycls" else "pycls"
                st.info(
                    f"Only {spec.rounding} rounding can build these settings: {other} cannot (pycls needs b below 1 "
                    "or a whole number; torchvision's rounded widths must still divide by the group width)."
                )
            differ = models_cached.presets_where_roundings_differ()
            st.caption(
                "Presets where the two disagree (computed): "
                + ", ".join(MODELS[n].label for n in differ)
                + ". Pick one of them in the sidebar to see the difference."
            )

if (box := sec["MobileNet grid"]) is not None:
    with box:
        c1, c2, c3 = st.columns([1, 2, 2])
        mb = forms.control(c1, S, "mb_model", "Network", format_func=MB_MODELS.get)
        alphas = forms.control(c2, S, "mb_alphas", "width multipliers α")
        res = forms.control(c3, S, "mb_res", "resolutions (ρ × 224)")
        if not alphas or not res:
            common.show_error("Pick at least one width multiplier and one resolution.")
        else:
            grid = models_cached.mobilenet_grid(mb, tuple(sorted(alphas)), tuple(sorted(res)))
            classroom.plot(
                scaling_figures.mobilenet_heatmaps(grid, unit, MB_MODELS[mb]), f"{mb}_grid", key=f"{P}.chart_mb"
            )
            st.caption(
                "Parameters depend on α only (each row is constant), MACs on α² and ρ². The classifier's "
                "parameters do not shrink with α, so small α keeps relatively more of them."
            )
            pub = models_cached.compare_published(mb)
            if pub:
                st.markdown(f"**{MB_MODELS[mb]}: published figures against our exact count**")
                classroom.table(
                    pd.DataFrame(scaling.published_comparison_rows(pub)),
                    f"{mb}_published",
                    key=f"{P}.csv_mb_pub",
                    column_config={"ours (exact)": localized},
                )

if (box := sec["ShuffleNet groups"]) is not None:
    with box:
        sweep, published = models_cached.shufflenet_sweep(224)
        classroom.plot(scaling_figures.shufflenet_figure(sweep, unit), "shufflenet_v1_groups", key=f"{P}.chart_shuffle")
        st.caption(
            "ShuffleNet V1 1x at 224 px. A 1x1 conv with g groups costs 1/g of a dense one, so more groups buy wider "
            f"stages (stage 2: {sweep[0]['widths'][1]} channels at g = {sweep[0]['groups']}, "
            f"{sweep[-1]['widths'][1]} at g = {sweep[-1]['groups']}) for about the same {unit_name}. The MACs do "
            "not show the price: each group conv is a separate small kernel and the shuffle a memory copy "
            "(ShuffleNet V2's guidelines G2 and G4)."
        )
        classroom.table(
            pd.DataFrame(scaling.shufflenet_rows(sweep, published)),
            "shufflenet_v1_groups",
            key=f"{P}.csv_shuffle",
            column_config={c: localized for c in ("params", "MACs (conv + linear)", "MACs without the FC (ours)")},
        )

if (box := sec["Random samples"]) is not None:
    with box:
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
        d_rng = forms.control(c4, S, "s_depth", "depth d")
        w0_rng = forms.control(c5, S, "s_w0", "initial width w0")
        c6, c7 = st.columns(2)
        wa_rng = forms.control(c6, S, "s_wa", "slope wa")
        wm_rng = forms.control(c7, S, "s_wm", "width multiplier wm")
        groups = forms.control(st, S, "s_groups", "group widths g")
        try:
            samples = models_cached.sample_space(
                int(n),
                int(seed),
                tuple(d_rng),
                tuple(w0_rng),
                tuple(wa_rng),
                tuple(wm_rng),
                tuple(groups),
                (1.0,),
                0.25 if se else 0.0,
                224,
                "pycls",
            )
        except ValueError as e:
            common.show_error(f"Cannot sample this space: {e}", "Widen or fix the ranges above.")
        else:
            summ = design_space.sample_summary(samples)
            m = st.columns(3)
            m[0].metric("Networks", f"{summ.n}")
            m[1].metric(
                f"median {unit_name}",
                human(counting.scale(summ.macs_median)),
                help=f"10-90 % of the samples: {human(summ.macs_p10)}-{human(summ.macs_p90)} MACs (conv + linear).",
            )
            m[2].metric(
                "median params",
                human(summ.params_median),
                help=f"10-90 %: {human(summ.params_p10)}-{human(summ.params_p90)} learnable parameters.",
            )
            presets = models_cached.preset_points(
                tuple(n_ for n_ in REGNETS if n_.startswith("regnety" if se else "regnetx"))
            )
            dist, scat = design_space_figures.sample_figures(samples, presets, unit)
            classroom.plot(dist, "regnet_samples_distribution", key=f"{P}.chart_dist")
            classroom.plot(scat, "regnet_samples_scatter", key=f"{P}.chart_scatter")
            st.caption(
                f"{summ.n} networks at 224 px, seed {seed}. The same seed draws the same networks. Cost spans "
                "orders of magnitude within one space: to compare spaces fairly the RegNet paper compares networks "
                "of similar cost."
            )
            with st.expander("The sampled networks"):
                classroom.table(
                    pd.DataFrame(design_space.sample_table(samples, unit)), "regnet_samples", key=f"{P}.csv_samples"
                )

# ----- the link ------------------------------------------------------------------------------------------------------
state.write(state.link(S, always=("preset",)), model_scaling.preset_changes(info, values) or None)
