"""Design Space: networks generated from a few numbers. The RegNet generator block by block (and its two roundings),
MobileNet's width x resolution grid, ShuffleNet's groups trade, and the cost distribution of a sampled design space."""

import pandas as pd
import streamlit as st

from effnets import scaling_views as sv
from effnets.models import MODELS
from effnets.report import human
from effnets.ui import classroom, common, forms, models_cached, state

P = "design"
REGNETS = sv.family_presets("regnet")
PRESET_FOR = f"{P}._preset_fields_for"
MB_MODELS = {"mobilenet_v1": "MobileNetV1", "mobilenet_v2": "MobileNetV2"}
MB_ALPHAS = (0.25, 0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
MB_RES = (96, 128, 160, 192, 224, 256)
GROUP_CHOICES = (1, 2, 4, 8, 16, 32, 64)
# Random sampling controls: URL name -> (session key, lo, hi, default). Ranges travel as two numbers each.
SAMPLE_N = (10, 1000, 200)
RANGES = {
    "depth": (f"{P}.s_depth", 1, 64, (12, 28)),
    "w0": (f"{P}.s_w0", 8, 512, (8, 256)),
    "wa": (f"{P}.s_wa", 1.0, 512.0, (8.0, 256.0)),
    "wm": (f"{P}.s_wm", 1.0, 4.0, (1.5, 3.0)),
}
DEFAULT_GROUPS = [1, 2, 4, 8, 16, 32]


def seed_preset(name: str, overrides: dict | None = None) -> None:
    """Put the preset's generator settings (and overrides from a link) into the settings widgets."""
    state.seed_session(P, {**MODELS[name].make_spec().to_dict(), **(overrides or {})})
    st.session_state[PRESET_FOR] = name


# ----- state from the link (first run of the session) ------------------------------------------------------------
if state.first_run(P):
    name = state.read_choice("preset", REGNETS, P) or "regnetx_200mf"
    st.session_state[f"{P}.preset"] = name
    seed_preset(name, state.read_spec_fields(MODELS[name].spec, P))
    common.restore_counting(P)
    mb = state.read_choice("mb", list(MB_MODELS), P)
    if mb:
        st.session_state[f"{P}.mb_model"] = mb
    n_ = state.read_int("n", *SAMPLE_N[:2], P)
    if n_ is not None:
        st.session_state[f"{P}.s_n"] = n_
    seed_ = state.read_int("seed", 0, 10**6, P)
    if seed_ is not None:
        st.session_state[f"{P}.s_seed"] = seed_
    if st.query_params.get("se") in ("1", "true"):
        st.session_state[f"{P}.s_se"] = True
    for url_name, (key, lo, hi, default) in RANGES.items():
        read = state.read_int if isinstance(lo, int) else state.read_float
        a = read(f"{url_name}_lo", lo, hi, P)
        b = read(f"{url_name}_hi", lo, hi, P)
        if a is not None or b is not None:
            a = default[0] if a is None else a
            b = default[1] if b is None else b
            if a > b:
                state.add_warnings(P, [f"{url_name} range {a}..{b} from the link is reversed; swapped"])
                a, b = b, a
            st.session_state[key] = (a, b)
    groups_ = state.read_list("g", [str(g) for g in GROUP_CHOICES], P)
    if groups_ is not None:
        st.session_state[f"{P}.s_groups"] = [int(g) for g in groups_]
    state.mark_loaded(P)

st.session_state.setdefault(f"{P}.mb_model", "mobilenet_v1")
st.session_state.setdefault(f"{P}.mb_alphas", [0.25, 0.5, 0.75, 1.0])
st.session_state.setdefault(f"{P}.mb_res", [128, 160, 192, 224])
st.session_state.setdefault(f"{P}.s_n", SAMPLE_N[2])
st.session_state.setdefault(f"{P}.s_seed", 0)
st.session_state.setdefault(f"{P}.s_se", False)
st.session_state.setdefault(f"{P}.s_groups", DEFAULT_GROUPS)
for key, _lo, _hi, default in RANGES.values():
    st.session_state.setdefault(key, default)

# ----- controls --------------------------------------------------------------------------------------------------
with st.sidebar:
    st.markdown("**RegNet generator**")
    name = st.selectbox(
        "Preset",
        REGNETS,
        format_func=lambda n: MODELS[n].label,
        key=f"{P}.preset",
        help="Loads the preset's (d, w0, wa, wm, g) from pycls; change any of them below.",
    )
    if st.session_state.get(PRESET_FOR) != name:
        seed_preset(name)
    info = MODELS[name]
    values = forms.spec_widgets(info.spec, P)
    unit, extras = common.counting_controls(P, st.sidebar)
classroom.sidebar_controls()
unit_name = sv.UNIT_NAMES[unit]
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
            rows = sv.regnet_block_rows(spec)
            widths = [r.channels for r in cost.stages[1:-1]]
            k = st.columns(4)
            k[0].metric("Parameters", human(cost.params), help=f"{cost.params:,} learnable parameters.")
            count = sv.total_count(cost, unit, extras)
            k[1].metric(f"{unit_name} per image", human(count), help=f"{count:,} {unit_name}: {what}.")
            k[2].metric("Blocks / stages", f"{spec.depth} / {len(widths)}", help="d blocks in runs of equal width.")
            k[3].metric(
                "Stage widths",
                f"{widths[0]} → {widths[-1]}",
                help="Output channels of the first and last stage; all: " + ", ".join(map(str, widths)) + ".",
            )
            classroom.plot(sv.regnet_widths_figure(rows), f"regnet_{name}_widths", key=f"{P}.chart_widths")
            st.caption(
                f"d = {spec.depth}, w0 = {spec.w0}, wa = {spec.wa:g}, wm = {spec.wm:g}, g = {spec.group_width}, "
                f"b = {spec.bottleneck_ratio:g}, SE {spec.se_ratio:g}, {spec.rounding} rounding. Grey: the linear "
                "width function; blue: its quantization to w0·wm^s (multiples of 8); consecutive equal widths form "
                "a stage. Red crosses (when shown): blocks whose built width differs, because the bottleneck width "
                "must be a multiple of the group width."
            )
            st.markdown("**Stage table**")
            classroom.table(
                pd.DataFrame(sv.stage_rows(cost, unit, extras)),
                f"regnet_{name}_stages",
                key=f"{P}.csv_stages",
                column_config={c: localized for c in ("params", sv.count_label(unit, extras))},
            )
            with st.expander("Block by block"):
                classroom.table(pd.DataFrame(rows), f"regnet_{name}_blocks", key=f"{P}.csv_blocks")

if (box := sec["Both roundings"]) is not None:
    with box:
        if spec is None:
            regnet_failed()
        else:
            sides = sv.rounding_sides(spec)
            st.markdown(
                "RegNet rounds each bottleneck width to a multiple of the group width. pycls (the paper's code) uses "
                "Python's round(); torchvision uses make_divisible, which rounds half up and never loses more than "
                "10 %. Same six numbers, sometimes two networks:"
            )
            classroom.table(pd.DataFrame(sv.rounding_table(sides, unit)), f"regnet_{name}_roundings", key=f"{P}.csv_r")
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
        mb = c1.radio("Network", list(MB_MODELS), format_func=MB_MODELS.get, key=f"{P}.mb_model")
        alphas = c2.multiselect("width multipliers α", MB_ALPHAS, key=f"{P}.mb_alphas")
        res = c3.multiselect("resolutions (ρ × 224)", MB_RES, key=f"{P}.mb_res")
        if not alphas or not res:
            common.show_error("Pick at least one width multiplier and one resolution.")
        else:
            grid = models_cached.mobilenet_grid(mb, tuple(sorted(alphas)), tuple(sorted(res)))
            classroom.plot(sv.mobilenet_heatmaps(grid, unit, MB_MODELS[mb]), f"{mb}_grid", key=f"{P}.chart_mb")
            st.caption(
                "Parameters depend on α only (each row is constant), MACs on α² and ρ². The classifier's "
                "parameters do not shrink with α, so small α keeps relatively more of them."
            )
            pub = models_cached.compare_published(mb)
            if pub:
                st.markdown(f"**{MB_MODELS[mb]}: published figures against our exact count**")
                classroom.table(
                    pd.DataFrame(sv.published_comparison_rows(pub)),
                    f"{mb}_published",
                    key=f"{P}.csv_mb_pub",
                    column_config={"ours (exact)": localized},
                )

if (box := sec["ShuffleNet groups"]) is not None:
    with box:
        sweep, published = models_cached.shufflenet_sweep(224)
        classroom.plot(sv.shufflenet_figure(sweep, unit), "shufflenet_v1_groups", key=f"{P}.chart_shuffle")
        st.caption(
            "ShuffleNet V1 1x at 224 px. A 1x1 conv with g groups costs 1/g of a dense one, so more groups buy wider "
            f"stages (stage 2: {sweep[0]['widths'][1]} channels at g = {sweep[0]['groups']}, "
            f"{sweep[-1]['widths'][1]} at g = {sweep[-1]['groups']}) for about the same {unit_name}. The MACs do "
            "not show the price: each group conv is a separate small kernel and the shuffle a memory copy "
            "(ShuffleNet V2's guidelines G2 and G4)."
        )
        classroom.table(
            pd.DataFrame(sv.shufflenet_rows(sweep, published)),
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
        n = c1.slider("networks N", *SAMPLE_N[:2], key=f"{P}.s_n", step=10)
        seed = c2.number_input("random seed", 0, 10**6, key=f"{P}.s_seed")
        se = c3.toggle("SE (RegNetY)", key=f"{P}.s_se")
        c4, c5 = st.columns(2)
        d_rng = c4.slider("depth d", 1, 64, key=RANGES["depth"][0])
        w0_rng = c5.slider("initial width w0", 8, 512, key=RANGES["w0"][0], step=8)
        c6, c7 = st.columns(2)
        wa_rng = c6.slider("slope wa", 1.0, 512.0, key=RANGES["wa"][0], step=1.0)
        wm_rng = c7.slider("width multiplier wm", 1.0, 4.0, key=RANGES["wm"][0], step=0.05)
        groups = st.multiselect("group widths g", GROUP_CHOICES, key=f"{P}.s_groups")
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
            summ = sv.sample_summary(samples)
            m = st.columns(3)
            m[0].metric("Networks", f"{summ.n}")
            m[1].metric(
                f"median {unit_name}",
                human(summ.macs_median * (2 if unit == "flops" else 1)),
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
            dist, scat = sv.sample_figures(samples, presets, unit)
            classroom.plot(dist, "regnet_samples_distribution", key=f"{P}.chart_dist")
            classroom.plot(scat, "regnet_samples_scatter", key=f"{P}.chart_scatter")
            st.caption(
                f"{summ.n} networks at 224 px, seed {seed}. The same seed draws the same networks. Cost spans "
                "orders of magnitude within one space: to compare spaces fairly the RegNet paper compares networks "
                "of similar cost."
            )
            with st.expander("The sampled networks"):
                classroom.table(pd.DataFrame(sv.sample_table(samples, unit)), "regnet_samples", key=f"{P}.csv_samples")

# ----- the link ------------------------------------------------------------------------------------------------------
ss = st.session_state
url = {
    "preset": name,
    "unit": unit if unit != "macs" else None,
    "extras": ",".join(extras) or None,
    "mb": ss.get(f"{P}.mb_model") if ss.get(f"{P}.mb_model", "mobilenet_v1") != "mobilenet_v1" else None,
    "n": ss.get(f"{P}.s_n") if ss.get(f"{P}.s_n", SAMPLE_N[2]) != SAMPLE_N[2] else None,
    "seed": ss.get(f"{P}.s_seed") or None,
    "se": "1" if ss.get(f"{P}.s_se") else None,
    "g": ",".join(map(str, ss.get(f"{P}.s_groups", DEFAULT_GROUPS)))
    if list(ss.get(f"{P}.s_groups", DEFAULT_GROUPS)) != DEFAULT_GROUPS
    else None,
}
for url_name, (key, _lo, _hi, default) in RANGES.items():
    rng = tuple(ss.get(key, default))
    if rng != tuple(default):
        url[f"{url_name}_lo"], url[f"{url_name}_hi"] = (f"{v:g}" for v in rng)
state.write(url, sv.preset_changes(info, values) or None)
