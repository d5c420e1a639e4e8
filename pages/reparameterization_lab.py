"""Reparameterization Lab: RepVGG, MobileOne and plain BN folding, training form beside deploy form: the exact cost of
each, how far apart their outputs are (float64, float32), and both timed interleaved on this device."""

import functools

import pandas as pd
import streamlit as st

from effnets.analysis import reparam
from effnets.blocks import BLOCKS
from effnets.models import MODELS
from effnets.ui import classroom, common, forms, measuring, schema, state

S = schema.REPARAM_LAB
P = S.prefix
TRAIN, DEPLOY = reparam.FORMS
LOCALIZED = st.column_config.NumberColumn(format="localized")
RATIO = st.column_config.NumberColumn(format="%.3f")


@st.cache_resource(show_spinner=False)
def forms_cached(case: str, values: tuple, shape: tuple | None) -> reparam.Forms:
    return reparam.forms(case, dict(values), shape)


@st.cache_data(show_spinner="Comparing the outputs of both forms (float64 and float32) ...")
def exactness_cached(case: str, values: tuple, shape: tuple | None) -> reparam.Exactness:
    return reparam.exactness(forms_cached(case, values, shape))


# ----- settings: the link on the session's first run, then the sidebar --------------------------------------------
if state.first_run(P):
    restored = state.restore(S)
    chosen = restored.get("case", S["case"].default)
    state.seed_session(f"{P}.{chosen}", state.read_spec_fields(reparam.spec_class(chosen), P))
    state.mark_loaded(P)
state.defaults(S)

with st.sidebar:
    case = forms.control(st, S, "case", "Fold", format_func=reparam.CASES.get)
    is_model = case in MODELS
    spec_cls = reparam.spec_class(case)
    hw = None if is_model else int(forms.control(st, S, "hw", "H = W", help="Input height and width in pixels."))
    st.markdown("**Settings of the training form**")
    values = forms.spec_widgets(spec_cls, f"{P}.{case}", skip=("deploy",))
    ms = measuring.controls(S)
classroom.sidebar_controls()

classroom.page_header("Reparameterization Lab", P)
state.write(state.link(S, always=("case",), omit=("hw",) if is_model else ()), reparam.link_fields(case, values))
st.markdown(reparam.WHY)

key_values = tuple(sorted(values.items()))
shape = None if is_model else (int(values.get("in_channels", 1)), hw, hw)
try:
    f = forms_cached(case, key_values, shape)
except ValueError as e:
    common.show_error(str(e), "Change one of the settings in the sidebar; both forms come back once it is possible.")
    st.stop()

info = MODELS[case] if is_model else BLOCKS[f.name]
st.markdown(f"**{f.label}**: [{info.paper}]({info.url})" + ("" if is_model else f"  \n`{info.layout}`"))
common.metric_row(reparam.headline(f))
st.markdown(reparam.saving(f))

sec = classroom.sections(P, ["Cost side by side", "Layers", "Same function?", "Latency"])

if (box := sec["Cost side by side"]) is not None:
    with box:
        classroom.table(
            pd.DataFrame(reparam.cost_rows(f)),
            f"reparam_{case}_cost",
            key=f"{P}.csv_cost",
            column_config={TRAIN: LOCALIZED, DEPLOY: LOCALIZED, "deploy / training": RATIO},
        )
        st.caption(
            f"Exact counts for one {'×'.join(map(str, f.input_shape))} input. Extras (batch norm, activations, "
            "element-wise adds) are work outside the conv/linear MACs, one operation per element."
        )
        if not is_model:
            st.latex(info.formula)

if (box := sec["Layers"]) is not None:
    with box:
        left, right = st.columns(2)
        for column, form in ((left, TRAIN), (right, DEPLOY)):
            with column:
                st.markdown(f"**{form.capitalize()}**")
                classroom.grid(
                    pd.DataFrame(reparam.layer_rows(f, form)),
                    column_config={"params": LOCALIZED, "MACs": LOCALIZED},
                )
        if is_model:
            st.caption("One row per stage of the network (stem, stages, head), as in the paper's table.")

if (box := sec["Same function?"]) is not None:
    with box:
        st.markdown(
            "Both forms are built from the same random weights, with batch norms given non-trivial statistics and "
            "affine parameters, and compared in eval mode on random input."
        )
        asked = f"{P}.checked.{case}.{key_values}"
        if is_model and not st.session_state.get(asked):
            st.info("A whole network takes a few seconds on the CPU: press *Compare outputs*.")
            if st.button("Compare outputs", key=f"{P}.check"):
                st.session_state[asked] = True
                st.rerun()
        else:
            try:
                e = exactness_cached(case, key_values, shape)
            except (ValueError, RuntimeError) as err:
                common.show_error(f"The comparison failed: {str(err).splitlines()[0] if str(err) else err}")
            else:
                c1, c2, c3 = st.columns(3)
                c1.metric("Max difference, float64", f"{e.float64:.1e}", help="max |training(x) - deploy(x)|")
                c2.metric("Max difference, float32", f"{e.float32:.1e}", help="The same in float32.")
                c3.metric("Largest output", f"{e.scale:.3g}", help="max |training(x)| (float64)")
                st.markdown(e.sentence())

if (box := sec["Latency"]) is not None:
    with box:
        st.markdown(
            "Both forms timed interleaved (training, deploy, training, ...) after warm-up, eager, in inference mode, "
            "on the input above: the training form runs its branches, BNs and adds as built."
        )
        key = ms.key(kind="reparam_lab", case=case, fields=f.fields, shape=list(f.input_shape))
        m = measuring.measure(
            ms,
            key,
            functools.partial(reparam.measure, f, **ms.timing()),
            button="Measure",
            label=f"timing both forms of {f.label}",
            job_key=f"{P}.job",
            button_key=f"{P}.measure",
        )
        measuring.job_notes(m, "Stopped early: fewer rounds than asked.", lambda result: result.partial)
        if m.value is None:
            st.caption("Press *Measure* to time both forms on this device.")
        else:
            result = m.value
            measuring.whose(m, "these settings", [result.training, result.deploy], "Measure")
            classroom.table(
                pd.DataFrame(result.rows()),
                f"reparam_{case}_latency",
                key=f"{P}.csv_latency",
                column_config=measuring.number_columns(
                    {k: "%.3f" for k in ("median (ms)", "p10 (ms)", "p90 (ms)", "time / training form")}
                    | {"images/s": "%.1f", "GMAC/s": "%.2f"}
                ),
            )
            st.markdown(reparam.speed_sentence(result))
            measuring.environment(result.environment)
