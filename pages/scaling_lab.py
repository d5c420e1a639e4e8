"""Scaling Lab: scale a whole network by width, depth and resolution (or by the compound coefficient phi), see the
exact cost of the rounded network beside the rule's prediction, its stage table, and why the released EfficientNets
are not alpha^phi, beta^phi, gamma^phi."""

import pandas as pd
import streamlit as st

from effnets.analysis import scaling
from effnets.figures import scaling as scaling_figures
from effnets.models import FAMILIES, MODELS, family_models
from effnets.models import scaling as model_scaling
from effnets.report import human, human_bytes
from effnets.ui import classroom, common, forms, models_cached, schema, state

S = schema.SCALING_LAB
P = S.prefix
FAMILY_NAMES = [f for f in FAMILIES if any(i.family == f for i in MODELS.values())]
MODES = {"phi": "compound coefficient φ", "multipliers": "separate multipliers"}
AXIS_CONTROL = schema.AXIS_CONTROL
PRESET_FOR = f"{P}._preset_fields_for"


def seed_preset(name: str, overrides: dict | None = None) -> None:
    """Put the preset's own field values (and overrides from a link) into the settings widgets."""
    info = MODELS[name]
    skip = {model_scaling.AXIS_FIELD[a] for a in model_scaling.scalable_axes(info.spec)}
    values = {**info.make_spec().to_dict(), **(overrides or {})}
    state.seed_session(P, {k: v for k, v in values.items() if k not in skip})
    st.session_state[PRESET_FOR] = name


# ----- state from the link (first run of the session) ------------------------------------------------------------
if state.first_run(P):
    name = state.restore(S).get("preset", S["preset"].default)
    st.session_state[f"{P}.family"] = MODELS[name].family
    for c in ("phi", "alpha", "beta", "gamma", "width_x", "depth_x", "res_x"):  # the widgets step by 0.01 or 0.1
        if S.key(c) in st.session_state:
            st.session_state[S.key(c)] = round(st.session_state[S.key(c)], 2)
    info_ = MODELS[name]
    cfg = state.read_spec_fields(info_.spec, P)
    scaled_fields = {model_scaling.AXIS_FIELD[a] for a in model_scaling.scalable_axes(info_.spec)}
    dropped = sorted(k for k in cfg if k in scaled_fields)
    if dropped:
        state.add_warnings(P, [f"ignored {k} in cfg from the link: the multiplier sliders set it" for k in dropped])
    seed_preset(name, {k: v for k, v in cfg.items() if k not in scaled_fields})
    state.mark_loaded(P)
state.defaults(S)

# ----- controls --------------------------------------------------------------------------------------------------
with st.sidebar:
    st.markdown("**Network**")
    family = st.selectbox("Family", FAMILY_NAMES, format_func=lambda f: FAMILIES[f].label, key=f"{P}.family")
    options = family_models(family)
    if st.session_state.get(f"{P}.preset") not in options:
        st.session_state[f"{P}.preset"] = options[0]
    name = st.selectbox("Preset", options, format_func=lambda n: MODELS[n].label, key=S.key("preset"))
    if st.session_state.get(PRESET_FOR) != name:
        seed_preset(name)
    info = MODELS[name]
    axes = model_scaling.scalable_axes(info.spec)

    st.markdown("**Scaling** (relative to the preset)")
    mode = forms.control(st, S, "mode", "Scale by", format_func=MODES.get, horizontal=True)
    phi = forms.control(
        st,
        S,
        "phi",
        "compound coefficient φ",
        disabled=mode != "phi",
        help="d = α^φ, w = β^φ, r = γ^φ: each step of φ should double the cost (α·β²·γ² ≈ 2). Negative φ shrinks.",
    )
    c1, c2, c3 = st.columns(3)
    alpha = forms.control(c1, S, "alpha", "α (depth)", format="%.2f")
    beta = forms.control(c2, S, "beta", "β (width)", format="%.2f")
    gamma = forms.control(c3, S, "gamma", "γ (res.)", format="%.2f")
    phi_m = model_scaling.phi_multipliers(phi, alpha, beta, gamma, axes)
    if mode == "phi":  # the multiplier sliders show (rounded, clamped) what phi sets; they are read-only
        for axis in axes:
            ctl = S[AXIS_CONTROL[axis]]
            st.session_state[S.key(ctl.name)] = min(max(round(phi_m.of(axis), 2), ctl.lo), ctl.hi)
    slider_help = {
        "width": "w: every layer's channels × w, rounded to a multiple of 8 (MobileNetV1: truncated). Cost ∝ w².",
        "depth": "d: each stage's number of blocks × d, rounded up. Cost ∝ d.",
        "resolution": "r: the input side × r, rounded to whole pixels. Cost ∝ r²; parameters unchanged.",
    }
    chosen = {}
    for axis in axes:
        label = {"width": "width multiplier w", "depth": "depth multiplier d", "resolution": "resolution multiplier r"}
        if info.family.startswith("mobilenet"):
            label = {**label, "width": "width multiplier w (× α)", "resolution": "resolution multiplier r (× ρ)"}
        chosen[axis] = forms.control(
            st, S, AXIS_CONTROL[axis], label[axis], disabled=mode == "phi", help=slider_help[axis]
        )
    m = phi_m if mode == "phi" else model_scaling.Multipliers(**{a: float(chosen[a]) for a in axes})
    missing = [a for a in model_scaling.AXES if a not in axes]
    if missing:
        st.caption(
            f"{FAMILIES[family].label} has no {' or '.join(missing)} multiplier; "
            + ("those factors of φ are not applied." if mode == "phi" else "its other settings are below.")
        )

    st.markdown("**Network settings**")
    skip = tuple(model_scaling.AXIS_FIELD[a] for a in axes)
    values = forms.spec_widgets(info.spec, P, skip=skip)

    st.markdown("**Activation memory**")
    b1, b2 = st.columns(2)
    batch = forms.control(b1, S, "batch", "batch N", help="Images per forward pass.")
    dtype = forms.control(b2, S, "dtype", "values as")
    counting = common.counting_controls(P, st.sidebar)
    unit, extras = counting.unit, list(counting.extras)
classroom.sidebar_controls()

unit_name = counting.name
url = state.link(
    S,
    always=("preset",),
    phi=f"{phi:g}" if mode == "phi" and phi != 0 else None,
    **{S[AXIS_CONTROL[a]].url: None for a in model_scaling.AXES if mode == "phi" or a not in axes},
)

classroom.page_header(f"Scaling Lab: {info.label}", P)
st.markdown(f"[{info.paper}]({info.url}) · {info.explanation}")

try:
    base = info.make_spec(**values)
    spec = model_scaling.scale_spec(info, base, m)
    cost = info.cost(spec, record_steps=False)
    base_cost = info.cost(base, record_steps=False)
except ValueError as e:
    state.write(url, model_scaling.preset_changes(info, values, skip) or None)
    common.show_error(
        f"{info.label} cannot be built with these settings: {e}",
        "Move the multipliers or φ back towards 1 and 0, or change the setting the message names; the numbers come "
        "back as soon as the network is possible.",
    )
    st.stop()

state.write(url, model_scaling.preset_changes(info, base, skip) or None)

# ----- headline numbers ------------------------------------------------------------------------------------------
count = counting.total(cost)
base_count = counting.total(base_cost)
what = "conv + linear" + (" + " + ", ".join(extras) if extras else "")
res = getattr(spec, "resolution", None)
values_bytes = scaling.DTYPE_BYTES[dtype]
act_bytes = (cost.acts + 3 * res * res) * batch * values_bytes
k = st.columns(4)
k[0].metric(
    "Parameters",
    human(cost.params),
    delta=f"{cost.params / base_cost.params:.2f}× the preset",
    delta_color="off",
    delta_arrow="off",
    help=f"{cost.params:,} learnable parameters (BN γ/β included; running statistics are buffers). "
    f"Preset: {base_cost.params:,}.",
)
k[1].metric(
    f"{unit_name} per image",
    human(count),
    delta=f"{count / base_count:.2f}× the preset",
    delta_color="off",
    delta_arrow="off",
    help=f"{count:,} {unit_name}: {what}. Preset: {base_count:,}.",
)
rho = f" (ρ = {res / 224:.3f})" if info.family.startswith("mobilenet") else ""
k[2].metric("Input resolution", f"{res}×{res}", help=f"{res} px per side{rho}; the preset uses {base.resolution}.")
k[3].metric(
    f"Activation memory, batch {batch}",
    human_bytes(act_bytes),
    help=f"(input + every conv/linear output) × batch {batch} × {values_bytes} bytes ({dtype}): what a training "
    "forward pass keeps for the backward pass. Details in the Activation memory tab.",
)

predicted = m.law()
exact = count / base_count
g = st.columns(6)
is_phi = mode == "phi"
bases = {"depth": ("d", "α", alpha), "width": ("w", "β", beta), "resolution": ("r", "γ", gamma)}
for col, (axis, (sym, base_sym, base_val)) in zip(g[:3], bases.items(), strict=True):
    applied = axis in axes
    col.metric(
        f"{sym} = {base_sym}^φ" if is_phi else f"{sym} ({axis})",
        f"{m.of(axis):.3f}" if applied else "—",
        delta=(f"{res} px" if axis == "resolution" and applied else None),
        delta_color="off",
        delta_arrow="off",
        help=(f"{base_sym}^φ = {base_val:g}^{phi:g}" if is_phi else f"the {axis} multiplier you set")
        + ("" if applied else f" (not applied: {FAMILIES[family].label} has no {axis} multiplier)"),
    )
g[3].metric(
    "α·β²·γ²",
    f"{alpha * beta**2 * gamma**2:.3f}",
    help="The cost growth per unit of φ the rule promises; the paper picks α, β, γ so that it is about 2.",
)
g[4].metric(
    "predicted cost ×",
    f"{predicted:.3f}",
    help="d·w²·r² of the multipliers applied"
    + (
        f"; with all three it is (α·β²·γ²)^φ = {model_scaling.compound_law(phi, alpha, beta, gamma):.3f}"
        if is_phi
        else ""
    )
    + ". The rule ignores rounding.",
)
g[5].metric(
    "exact cost ×",
    f"{exact:.3f}",
    delta=f"{exact / predicted - 1:+.1%} off" if predicted else None,
    delta_color="off",
    delta_arrow="off",
    help=f"{unit_name} ({what}) of the rounded network ÷ the preset's: widths rounded to multiples of 8, depths "
    "rounded up, resolution to whole pixels. Below: how far that is from the predicted ratio.",
)
applied_text = ", ".join(
    f"{model_scaling.AXIS_FIELD[a]} = {getattr(spec, model_scaling.AXIS_FIELD[a])}" for a in axes if a != "resolution"
)
st.caption(
    f"Counted in **{unit_name}** ({what}), per image. Scaled network: {applied_text + ', ' if applied_text else ''}"
    f"{res}×{res} input"
    + (f"; α = {spec.width_mult:g}, ρ = {res}/224 = {res / 224:.3f}" if info.family.startswith("mobilenet") else "")
    + "."
)

why_off = scaling.rounding_effects(base_cost, cost, m, unit)
if why_off:
    st.info(
        why_off[0]
        + "\n\n"
        + "\n".join(f"- {line}" for line in why_off[1:5])
        + (f"\n- and {len(why_off) - 5} more stages (see the stage table)" if len(why_off) > 5 else ""),
        icon=":material/straighten:",
    )

SECTIONS = [
    "Stage table",
    "Multipliers",
    "Law vs exact",
    "B0-B7 map",
    "Published accuracy",
    "Activation memory",
    "Why B1-B7 differ",
    "Predict",
]
sec = classroom.sections(P, SECTIONS)
fname = f"{name}_w{m.width:.2f}_d{m.depth:.2f}_r{res}"
key = model_scaling.spec_key(base)
localized = st.column_config.NumberColumn(format="localized")

if (box := sec["Stage table"]) is not None:
    with box:
        rows = scaling.stage_rows(cost, unit, extras)
        classroom.table(
            pd.DataFrame(rows),
            f"{fname}_stages",
            key=f"{P}.csv_stages",
            column_config={c: localized for c in ("params", counting.label)},
        )
        st.caption(
            "As the EfficientNet paper's Table 1: resolution is each row's input, channels its output, stride that "
            "of its first layer. Params are learnable parameters; the count column says what it counts."
        )
        rest = scaling.extras_note(cost, extras, unit)
        if rest:
            st.caption(f"Not in the count (tick them under *Also count*): {rest}.")

if (box := sec["Multipliers"]) is not None:
    with box:
        sweeps = {a: models_cached.axis_sweep(name, key, a) for a in axes}
        classroom.plot(
            scaling_figures.multiplier_figure(sweeps, m, unit), f"{fname}_multipliers", key=f"{P}.chart_multipliers"
        )
        st.caption(
            "Each panel moves one multiplier alone from the preset, as in the EfficientNet paper's Figure 3 (your "
            "combined setting is in the headline and in *Law vs exact*). Dashed: the power law (cost ∝ d, w², r²). "
            "The exact curve steps because depths are rounded up to whole blocks and channels to multiples of 8, and "
            "bends away from the law where parts do not scale (the stem's 3 input channels, MobileNetV2's "
            "1280-channel head, the classifier's 1000 outputs)."
        )

if (box := sec["Law vs exact"]) is not None:
    with box:
        sweep = models_cached.phi_sweep(name, key, alpha, beta, gamma)
        released = None
        if family == "efficientnet":
            released = scaling.released_points(models_cached.released_table(alpha, beta, gamma))
        classroom.plot(
            scaling_figures.law_figure(sweep, {"law": predicted, "exact": exact}, released),
            f"{fname}_law_vs_exact",
            key=f"{P}.chart_law",
        )
        st.caption(
            f"Blue: {info.label} compound-scaled with your α, β, γ for φ from -3 to 7; each point is the exact "
            "cost ratio of the rounded network against d·w²·r². On the dotted diagonal the law is exact; above it "
            "the rounded network costs more than predicted, below it less."
            + (" Orange: the released B0-B7, each against B0 with its own released w, d, r." if released else "")
        )

if (box := sec["B0-B7 map"]) is not None:
    with box:
        groups = {
            "EfficientNet B0-B7": models_cached.preset_points(tuple(scaling.b_series_names())),
            "EfficientNet-Lite0-4": models_cached.preset_points(tuple(family_models("efficientnet_lite"))),
        }
        if family not in ("efficientnet", "efficientnet_lite"):
            groups[FAMILIES[family].label] = models_cached.preset_points(tuple(options))
        classroom.plot(
            scaling_figures.params_macs_figure(groups, {"params": cost.params, "macs": cost.macs}, unit),
            f"{fname}_params_vs_macs",
            key=f"{P}.chart_map",
        )
        st.caption(
            f"Each preset at its own resolution; the red star is your configuration ({unit_name}: conv + linear). "
            "Resolution moves a network right (more compute) without moving it up (same parameters)."
        )

if (box := sec["Published accuracy"]) is not None:
    with box:
        points = models_cached.published_points()
        classroom.plot(
            scaling_figures.published_figure(points, cost.macs, unit),
            f"{fname}_published_top1",
            key=f"{P}.chart_published",
        )
        st.caption(
            "Every published ImageNet top-1 in the registry, at the exact cost of the network it describes (our "
            "count, conv + linear). Hover for the source. Open diamonds: torchvision's own training of the same "
            "network, which often differs from the paper's. No accuracy is predicted for your configuration: "
            "that needs training."
        )
        table_rows = [
            {
                "network": p["label"],
                "top-1 %": p["top1"],
                "resolution": p["resolution"],
                f"{unit_name} (exact)": counting.scale(p["macs"]),
                "published MACs": human(p["published_macs"]) if p["published_macs"] else "",
                "published params": human(p["published_params"]) if p["published_params"] else "",
                "source": p["source"],
            }
            for p in points
        ]
        classroom.table(
            pd.DataFrame(table_rows),
            "published_top1",
            key=f"{P}.csv_published",
            column_config={f"{unit_name} (exact)": localized},
        )

if (box := sec["Activation memory"]) is not None:
    with box:
        act_rows = scaling.activation_rows(cost, batch, values_bytes)
        classroom.plot(
            scaling_figures.activation_figure(act_rows, batch, dtype), f"{fname}_activations", key=f"{P}.chart_acts"
        )
        st.caption(
            f"Values written by the conv and linear layers of each stage row (plus the input image) × batch {batch} × "
            f"{values_bytes} bytes: {human_bytes(act_bytes)} in all. A training forward pass keeps about this much "
            "for the backward pass (batch norm and activation outputs add more); inference needs only the largest "
            "few tensors at a time. Memory grows with r² and linearly with N, which is why large EfficientNets "
            "train with small batches."
        )
        classroom.table(
            pd.DataFrame(act_rows),
            f"{fname}_activations",
            key=f"{P}.csv_acts",
            column_config={c: localized for c in ("values per image", "bytes at batch N")},
        )

if (box := sec["Why B1-B7 differ"]) is not None:
    with box:
        rel_rows = models_cached.released_table(alpha, beta, gamma)
        st.markdown(
            f"The released EfficientNet-B1…B7 are **not** B0 scaled by α^φ, β^φ, γ^φ with φ = 1…7 (here α = "
            f"{alpha:g}, β = {beta:g}, γ = {gamma:g}). Released against compound, with the exact cost of both "
            "networks:"
        )
        classroom.table(
            pd.DataFrame(scaling.released_display_rows(rel_rows, unit)),
            "released_vs_compound",
            key=f"{P}.csv_rel",
            wrap=True,
        )
        known, inferred = scaling.released_explanation(rel_rows)
        c1, c2 = st.columns(2)
        with c1:
            st.markdown("**What is documented**")
            st.markdown(known)
        with c2:
            st.markdown("**What the numbers suggest** (inferred, not stated by the authors)")
            st.markdown(inferred)

if (box := sec["Predict"]) is not None:
    with box:
        try:
            q_m = model_scaling.phi_multipliers(1.0, alpha, beta, gamma, axes)
            q_spec = model_scaling.scale_spec(info, base, q_m)
            q_cost = info.cost(q_spec, record_steps=False)
        except ValueError as e:
            common.show_error(f"The question needs {info.label} at φ = 1, which is not possible here: {e}")
        else:
            q_pred = q_m.law()
            classroom.predict_then_reveal(
                f"{P}.quiz_phi",
                f"{info.label} has {human(base_cost.macs)} MACs (conv + linear). Scale it with φ = 1 (α = {alpha:g}, "
                f"β = {beta:g}, γ = {gamma:g}): how many MACs does the real, rounded network have?",
                q_cost.macs,
                hint=f"The rule predicts d·w²·r² = {q_pred:.2f} × the preset. Rounding can move the real number.",
                explain=lambda: (
                    f"Predicted {q_pred:.2f}× = {human(base_cost.macs * q_pred)}; exact "
                    f"{q_cost.macs / base_cost.macs:.2f}×. Blocks per stage "
                    f"{[r.layers for r in base_cost.stages]} → {[r.layers for r in q_cost.stages]}, channels "
                    f"{[r.channels for r in base_cost.stages]} → {[r.channels for r in q_cost.stages]}, resolution "
                    f"{base.resolution} → {q_spec.resolution}."
                ),
            )
