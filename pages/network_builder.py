"""Network Builder: your own network as a stage table of catalog blocks, started blank or from any registered
network, with live exact counts per stage, the scaling controls, the design in the link as an architecture string,
and downloads (Python, ONNX, JSON, the string)."""

import pandas as pd
import streamlit as st

from effnets.analysis import builder
from effnets.models import MODELS
from effnets.networks import arch, design, diff, sources
from effnets.networks.design import ROUNDINGS
from effnets.spec import SpecError
from effnets.ui import classroom, common, forms, schema, state
from effnets.ui.builder_cached import cost_cached, export_cached, report_cached

S = schema.NETWORK_BUILDER
P = S.prefix
KEY = f"{P}.arch"
LOCALIZED = st.column_config.NumberColumn(format="localized")


def start_arch(name: str) -> str:
    return builder.BLANK if name == "blank" else arch.encode(design.from_model(name))


# ----- state: the link on the session's first run ------------------------------------------------------------------
if state.first_run(P):
    state.restore(S)
    linked = state.read_text("arch", arch.MAX_CHARS, P)
    st.session_state[f"{P}.started"] = st.session_state.get(S.key("start"), S["start"].default)
    if linked is not None:
        st.session_state[KEY] = linked
    state.mark_loaded(P)
state.defaults(S)

with st.sidebar:
    start = forms.control(
        st, S, "start", "Start from", format_func=lambda n: MODELS[n].label if n in MODELS else "A blank network"
    )
    if st.session_state.get(f"{P}.started") != start or KEY not in st.session_state:
        st.session_state[KEY] = start_arch(start)
        st.session_state[f"{P}.started"] = start
    st.markdown("**Scaling**")
    mode = forms.control(
        st,
        S,
        "mode",
        "Scale by",
        horizontal=True,
        format_func={"phi": "φ (compound)", "multipliers": "multipliers"}.get,
    )
    if mode == "phi":
        phi = forms.control(st, S, "phi", "φ", help="d = α^φ, w = β^φ, r = γ^φ (EfficientNet's compound rule).")
        a, b, g = (forms.control(st, S, n, n) for n in ("alpha", "beta", "gamma"))
        w = dep = r = 1.0
    else:
        phi, a, b, g = 0.0, 1.2, 1.1, 1.15
        w = forms.control(st, S, "width_x", "Width ×", help="Every row's output channels, rounded as below.")
        dep = forms.control(st, S, "depth_x", "Depth ×", help="Every block row's repeats, rounded up.")
        r = forms.control(st, S, "res_x", "Resolution ×", help="The input side, rounded to whole pixels.")
    rounding = forms.control(st, S, "rounding", "Width rounding", format_func=ROUNDINGS.get)
    counting = common.counting_controls(P)
classroom.sidebar_controls()

classroom.page_header("Network Builder", P)
st.markdown(
    "Your own network as a stage table: each line is a catalog block (or a plain layer: `conv`, `pool`, "
    "`classifier` ...) with its output channels, repeats and stride; the input channels follow from the line above. "
    "Edit the table or the architecture string; the counts below are exact, the same path as every registered network."
)

if (pending := st.session_state.pop(f"{P}.pending", None)) is not None:  # an edit of the table, applied
    st.session_state[KEY] = pending
text = st.text_area("Architecture string", key=KEY, height=90, help="r<resolution>|stage|stage ..., rows of a stage "
                    "joined by '/', a row is type*repeats(key:value,...). It travels in the page link.")  # fmt: skip
try:
    d = arch.parse(text)
except SpecError as e:
    common.show_error(str(e), "Fix the string (or pick a network under *Start from* to begin again).")
    st.stop()

edited = st.data_editor(
    pd.DataFrame(builder.table_rows(d), columns=builder.COLUMNS),
    key=f"{P}.table.{hash(text)}",
    num_rows="dynamic",
    width="stretch",
    column_config={
        "stage": st.column_config.NumberColumn(
            min_value=1, max_value=200, step=1, help="Lines with one number form a stage."
        ),
        "type": st.column_config.SelectboxColumn(options=list(builder.TYPES), required=True),
        "repeats": st.column_config.NumberColumn(min_value=1, max_value=design.MAX_REPEATS, step=1),
        **{
            k: st.column_config.TextColumn(help="A number; blank: the block's default.", alignment="right")
            for k in builder.MAIN
        },
        "more": st.column_config.TextColumn(
            help="Other settings as key:value,key:value (e.g. se:0.25,act:relu).", width="large"
        ),
    },
)
try:
    table_design = builder.from_table(edited.to_dict("records"), d.resolution, d.in_channels)
except SpecError as e:
    common.show_error(str(e), "The string above still holds the last design that could be read.")
else:
    if table_design != d:
        st.session_state[f"{P}.pending"] = arch.encode(table_design)
        st.rerun()

state.write({**state.link(S), "arch": text})
mw, md, mr = builder.multipliers(mode, phi, a, b, g, w, dep, r)
try:
    mine = builder.scaled(d, mw, md, mr, rounding)
    result = cost_cached(arch.encode(mine))
except SpecError as e:
    common.show_error(str(e))
    st.stop()
if result.problem is not None:
    common.show_error(str(result.problem), "The stages before it are counted below; change that line to go on.")
origin = cost_cached(start_arch(start)) if start != "blank" else None
if result.total is not None:
    common.metric_row(builder.headline(result, counting, origin.total if origin and origin.total else None))
if (mw, md, mr) != (1.0, 1.0, 1.0):
    st.caption(f"Scaled: width × {mw:.3g}, depth × {md:.3g}, resolution {d.resolution} → {mine.resolution} px; "
               f"widths {ROUNDINGS[rounding]}.")  # fmt: skip

sec = classroom.sections(P, ["Stages", "Compared with the start", "Download"])
if (box := sec["Stages"]) is not None:
    with box:
        classroom.table(
            pd.DataFrame(builder.stage_rows(result, counting.factor, counting.name)),
            "network_builder_stages",
            key=f"{P}.csv_stages",
            column_config={"params": LOCALIZED, counting.name: LOCALIZED},
        )
        st.caption(f"{counting.name} per stage are conv + linear work; activation memory is each stage's conv/linear "
                   "outputs in float32; the receptive field is in input pixels.")  # fmt: skip

if (box := sec["Compared with the start"]) is not None:
    with box:
        if start == "blank" or result.problem is not None:
            st.info("Pick a registered network under *Start from* (and make every line buildable) to compare.")
        else:
            dd = diff.diff(report_cached(start), sources.plan_report(result.plan, "your design", "builder"))
            classroom.table(
                pd.DataFrame(builder.diff_rows(dd)), "network_builder_diff", key=f"{P}.csv_diff",
                column_config={k: LOCALIZED for k in ("params", "Δ params", "MACs", "Δ MACs")},
            )  # fmt: skip
            st.markdown(builder.diff_sentence(dd))

if (box := sec["Download"]) is not None:
    with box:
        enc = arch.encode(mine)
        c1, c2 = st.columns(2)
        c1.download_button("Architecture string", enc + "\n", "design.arch", key=f"{P}.dl_arch")
        c2.download_button("JSON spec (for the CLI)", arch.to_json(mine) + "\n", "design.json", key=f"{P}.dl_json")
        st.code("python -m effnets cost arch design.json --stages", language="bash")
        if result.problem is None:
            for fmt, label, fname in (("py", "Python file (torch only)", "design.py"), ("onnx", "ONNX", "design.onnx")):
                if st.button(f"Prepare the {label}", key=f"{P}.prep_{fmt}"):
                    st.session_state[f"{P}.ready_{fmt}"] = enc
                if st.session_state.get(f"{P}.ready_{fmt}") == enc:
                    try:
                        data = export_cached(enc, fmt)
                    except SpecError as e:
                        common.show_error(str(e))
                    else:
                        st.download_button(f"Download the {label}", data, fname, key=f"{P}.dl_{fmt}")
            st.caption("The Python file defines build() with torch only and prints its parameter count when run; "
                       "its state_dict keys match effnets' module.")  # fmt: skip
