"""Scaling Lab: scale a whole network by width, depth and resolution (or by the compound coefficient phi), see the
exact cost of the rounded network beside the rule's prediction, its stage table, and why the released EfficientNets
are not alpha^phi, beta^phi, gamma^phi."""

import streamlit as st

from effnets.analysis import scaling_summary
from effnets.models import FAMILIES, MODELS, family_models
from effnets.models import scaling as model_scaling
from effnets.ui import classroom, common, forms, scaling_lab_sections, schema, state

S = schema.SCALING_LAB
P = S.prefix
MODES = {"phi": "compound coefficient φ", "multipliers": "separate multipliers"}
AXIS_CONTROL = schema.AXIS_CONTROL

# ----- state from the link (first run of the session) ------------------------------------------------------------
if state.first_run(P):
    name = state.restore(S).get("preset", S["preset"].default)
    st.session_state[f"{P}.family"] = MODELS[name].family
    state.round_floats(S, digits=2)  # the widgets step by 0.01 or 0.1
    fields, dropped = scaling_summary.link_fields(MODELS[name], state.read_spec_fields(MODELS[name].spec, P))
    state.add_warnings(P, dropped)
    state.seed_preset(P, name, scaling_summary.preset_fields(MODELS[name], fields))
    state.mark_loaded(P)
state.defaults(S)

# ----- controls --------------------------------------------------------------------------------------------------
with st.sidebar:
    st.markdown("**Network**")
    family = st.selectbox(
        "Family", scaling_summary.families_with_presets(), format_func=lambda f: FAMILIES[f].label, key=f"{P}.family"
    )
    options = family_models(family)
    if st.session_state.get(S.key("preset")) not in options:
        st.session_state[S.key("preset")] = options[0]
    name = st.selectbox("Preset", options, format_func=lambda n: MODELS[n].label, key=S.key("preset"))
    info = MODELS[name]
    if state.seeded_preset(P) != name:
        state.seed_preset(P, name, scaling_summary.preset_fields(info))
    axes = model_scaling.scalable_axes(info.spec)

    st.markdown("**Scaling** (relative to the preset)")
    mode = forms.control(st, S, "mode", "Scale by", format_func=MODES.get, horizontal=True)
    phi_box = st.container()  # phi and the multiplier sliders: drawn by the fragment below, in these places
    c1, c2, c3 = st.columns(3)
    alpha = forms.control(c1, S, "alpha", "α (depth)", format="%.2f")
    beta = forms.control(c2, S, "beta", "β (width)", format="%.2f")
    gamma = forms.control(c3, S, "gamma", "γ (res.)", format="%.2f")
    sliders_box = st.container()

    st.markdown("**Network settings**")
    skip = model_scaling.scaled_fields(info.spec)
    values = forms.spec_widgets(info.spec, P, skip=skip)

    st.markdown("**Activation memory**")
    b1, b2 = st.columns(2)
    batch = forms.control(b1, S, "batch", "batch N", help="Images per forward pass.")
    dtype = forms.control(b2, S, "dtype", "values as")
    counting = common.counting_controls(P, st.sidebar)
classroom.sidebar_controls()

classroom.page_header(f"Scaling Lab: {info.label}", P)
st.markdown(f"[{info.paper}]({info.url}) · {info.explanation}")


headline_box = st.container()  # the fragment's own output (the headline), above the tabs
sections = classroom.sections(P, scaling_lab_sections.section_names(info.family))  # the fragment fills the open one


@classroom.page_fragment
def scaled_view(rule_args, values, skip, counting, batch, dtype) -> None:
    """phi and the multiplier sliders (in the sidebar's places for them), the headline, the open section and the
    link: a step of phi or of a multiplier reruns this, not the page (the network, its settings, the rule's mode and
    alpha, beta, gamma, the activation memory and the counting convention are the page's, passed in)."""
    mode, alpha, beta, gamma = rule_args
    with phi_box:
        phi = forms.control(
            st,
            S,
            "phi",
            "compound coefficient φ",
            disabled=mode != "phi",
            help="d = α^φ, w = β^φ, r = γ^φ: each step of φ should double the cost (α·β²·γ² ≈ 2). Negative φ shrinks.",
        )
    with sliders_box:
        if mode == "phi":  # the multiplier sliders show (rounded, clamped) what phi sets; they are read-only
            compound = model_scaling.phi_multipliers(phi, alpha, beta, gamma, axes)
            state.seed_session(
                P, scaling_summary.slider_positions(compound, axes), key=lambda a: S.key(AXIS_CONTROL[a])
            )
        sliders = {}
        for axis in axes:
            label, help_ = scaling_summary.axis_slider(info.family, axis)
            sliders[axis] = forms.control(st, S, AXIS_CONTROL[axis], label, disabled=mode == "phi", help=help_)
        rule = scaling_summary.Rule(mode == "phi", phi, alpha, beta, gamma, axes, sliders)
        if note := scaling_summary.missing_axes_note(info.family, axes, rule.by_phi):
            st.caption(note)

    url = state.link(S, always=("preset",), omit=scaling_lab_sections.idle_controls(rule))
    try:
        scaled = scaling_summary.scale(info, values, rule, counting, batch, dtype)
    except ValueError as e:
        state.write(url, model_scaling.preset_changes(info, values, skip) or None)
        common.show_error(
            f"{info.label} cannot be built with these settings: {e}",
            "Move the multipliers or φ back towards 1 and 0, or change the setting the message names; the numbers "
            "come back as soon as the network is possible.",
        )
        classroom.sections_without_numbers(sections, "Nothing to show until the network can be built (see above).")
        return
    state.write(url, model_scaling.preset_changes(info, scaled.base, skip) or None)

    # ----- headline numbers --------------------------------------------------------------------------------------
    common.metric_row(scaling_summary.headline(scaled))
    common.metric_row(scaling_summary.rule_metrics(scaled))
    st.caption(scaling_summary.scaled_caption(scaled))
    if why_off := scaling_summary.rounding_note(scaled):
        st.info(why_off, icon=":material/straighten:")
    for section, box in sections.items():
        if box is not None:
            with box:
                scaling_lab_sections.SECTIONS[section](scaled)


with headline_box:
    scaled_view((mode, alpha, beta, gamma), values, skip, counting, batch, dtype)
