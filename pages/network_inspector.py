"""Network Inspector: any torchvision or timm model by name (traced on the meta device with effnets' own counters),
an uploaded ONNX file (parsed in memory, never run unless you ask for a timing), or the stage-by-stage diff of any
two networks: exact params, MACs, every extras line and activation memory, per stage and per layer."""

import functools

import pandas as pd
import streamlit as st

from effnets.analysis import diffing, inspector
from effnets.figures.stages import stage_dot
from effnets.networks.diff import PRESETS
from effnets.spec import SpecError
from effnets.ui import classroom, common, forms, inspector_cached, measuring, schema, state

S = schema.NETWORK_INSPECTOR
P = S.prefix
LOCALIZED = st.column_config.NumberColumn(format="localized")
PCT = st.column_config.ProgressColumn(format="percent", min_value=0.0, max_value=1.0)
LAYERS = st.column_config.NumberColumn(
    help="Leaf layers in the stage (conv, norm, activation, linear, pool ...: the modules with no children), "
    "each a row of the Layers tab."
)
SOURCES = {"name": "torchvision / timm name", "onnx": "ONNX file", "diff": "Diff two networks"}

if state.first_run(P):
    state.restore(S)
    for param, default in (("name", "torchvision:resnet50"), ("a", "efficientnet_b0"), ("b", "efficientnet_b1")):
        st.session_state[f"{P}.{param}"] = state.read_text(param, 200, P) or default
    state.mark_loaded(P)
state.defaults(S)
state.keep(f"{P}.stage_pick")  # picked inside the Layers tab

with st.sidebar:
    source = forms.control(st, S, "source", "Inspect", format_func=SOURCES.get)
    res = forms.control(st, S, "resolution", "Resolution (0: the model's own)", help="Input side in pixels.")
    counting = common.counting_controls(P)
    ms = measuring.controls(S) if source == "diff" else None
classroom.sidebar_controls()
classroom.page_header("Network Inspector", P)


def show(r) -> None:
    """A report: headline, stage diagram and table, layers per stage, notes."""
    common.metric_row(inspector.headline(r, counting))
    for note in r.notes:
        st.caption(note)
    if r.scaling:
        st.caption(f"Scaling: {r.scaling}")
    sec = classroom.sections(P, ["Stages", "Layers", "Diagram"])
    if (box := sec["Stages"]) is not None:
        with box:
            config = {"params": LOCALIZED, counting.name: LOCALIZED, "share of MACs": PCT, "layers": LAYERS}
            df = pd.DataFrame(inspector.stage_rows(r, counting))
            classroom.table(df, "inspector_stages", key=f"{P}.csv_st", column_config=config)
            st.caption(inspector.STAGES_CAPTION)
    if (box := sec["Layers"]) is not None:
        with box:
            names = [s.name for s in r.stages]
            pick = st.selectbox("Stage", ["all", *names], key=f"{P}.stage_pick")
            rows = inspector.layer_rows(r, None if pick == "all" else pick)
            classroom.table(pd.DataFrame(rows[:5000]), "inspector_layers", key=f"{P}.csv_layers",
                            column_config={"params": LOCALIZED, "MACs": LOCALIZED})  # fmt: skip
            if len(rows) > 5000:
                st.caption(f"The first 5,000 of {len(rows):,} layers (pick a stage to see the rest).")
    if (box := sec["Diagram"]) is not None:
        with box:
            st.graphviz_chart(stage_dot(r, dark=common.dark_theme()), width="content")
            st.caption("One box per stage; the darker the box, the larger its share of the network's MACs.")


if source == "name":
    ref = st.text_input("Network", key=f"{P}.name", max_chars=200,
                        help="torchvision:NAME or timm:NAME (no weights are loaded), or a registry name.")  # fmt: skip
    st.caption("Try: " + ", ".join(f"`{e}`" for e in inspector.EXAMPLES))
    state.write({**state.link(S), "name": ref})
    try:
        report = inspector_cached.by_name(ref.strip(), int(res))
    except SpecError as e:
        common.show_error(str(e), "Names are as the libraries spell them: torchvision.models.list_models(), "
                                  "timm.list_models().")  # fmt: skip
        st.stop()
    if (twin := inspector.registered_twin(ref.strip())) is not None:
        st.markdown(f":material/construction: [Open `{twin}` in the Network Builder](/network-builder?from={twin}) "
                    "to change its stages or scale it.")  # fmt: skip
    elif ":" in ref:
        st.caption("No width or depth rule for this family in effnets: only the resolution can be changed here.")
    show(report)

elif source == "onnx":
    state.write(state.link(S))
    up = st.file_uploader("An ONNX file (weights inside, up to 25 MB)", type=["onnx"], key=f"{P}.upload")
    size = st.text_input("Input size C,H,W (only for a file whose size is dynamic)", key=f"{P}.shape", max_chars=40)
    if up is None:
        st.info("Upload a .onnx file: it is read in memory with onnx's parser and shape inference, never run.")
        st.stop()
    try:
        shape = tuple(int(v) for v in size.replace("x", ",").split(",") if v.strip()) if size.strip() else None
        if shape is not None and (len(shape) != 3 or min(shape) < 1 or max(shape) > 8192):
            raise ValueError
    except ValueError:
        common.show_error(f"'{size[:40]}' is not an input size: write C,H,W, like 3,224,224")
        st.stop()
    data = up.getvalue()
    try:
        report = inspector_cached.onnx_report(data, up.name[:80], shape)
    except SpecError as e:
        common.show_error(str(e))
        st.stop()
    show(report)
    if st.button("Time it with ONNX Runtime (runs the file on this server's CPU)", key=f"{P}.time"):
        from effnets.networks import onnx_graph

        try:
            t = onnx_graph.time_onnx(data, report.input_shape, repeats=10, name=up.name[:80])
        except (SpecError, RuntimeError) as e:
            common.show_error(str(e).splitlines()[0] if str(e) else "the file did not run")
        else:
            st.markdown(inspector.timing_sentence(t))

else:
    preset = forms.control(st, S, "preset", "Lesson", format_func=lambda k: PRESETS[k][2] if k else "your own pair")
    if preset and st.session_state.get(f"{P}.applied") != preset:  # a lesson's pair, once; then yours to edit
        st.session_state[f"{P}.a"], st.session_state[f"{P}.b"] = PRESETS[preset][:2]
    st.session_state[f"{P}.applied"] = preset
    left, right = st.columns(2)
    a = left.text_input("Network A", key=f"{P}.a", max_chars=4000, help="A registry name (name@key=value), "
                        "torchvision:NAME, timm:NAME or an architecture string from the Network Builder.")  # fmt: skip
    b = right.text_input("Network B", key=f"{P}.b", max_chars=4000)
    state.write({**state.link(S), "a": a[:200], "b": b[:200]})
    try:
        d = inspector_cached.diff(a.strip(), b.strip())
    except SpecError as e:
        common.show_error(str(e))
        st.stop()
    common.metric_row(inspector.diff_headline(d))
    for note in d.notes:
        st.caption(note)
    classroom.table(pd.DataFrame(inspector.diff_rows(d)), "network_diff", key=f"{P}.csv_diff",
                    column_config={k: LOCALIZED for k in ("params A", "params B", "Δ params", "MACs A", "MACs B",
                                                          "Δ MACs", "Δ activations")})  # fmt: skip
    st.caption(inspector.DIFF_CAPTION)
    st.markdown("**Latency**: both networks built with random weights and timed interleaved (A B A B ...), eager, "
                "on this server, at their own input size.")  # fmt: skip
    key = ms.key(kind="diff", a=a.strip()[:4000], b=b.strip()[:4000])
    m = measuring.measure(ms, key, functools.partial(diffing.measure_pair, a.strip(), b.strip(), **ms.timing()),
                          button="Measure both", label="timing both networks", job_key=f"{P}.job",
                          button_key=f"{P}.measure")  # fmt: skip
    measuring.job_notes(m, "Stopped early: fewer rounds than asked.", lambda result: result.partial)
    if m.value is not None:
        t = m.value
        measuring.whose(m, "these two networks", [t.a, t.b], "Measure both")
        classroom.table(pd.DataFrame(t.rows()), "network_diff_latency", key=f"{P}.csv_lat",
                        column_config=measuring.number_columns({k: "%.3f" for k in ("median (ms)", "p10 (ms)",
                                                                "p90 (ms)")} | {"images/s": "%.1f"}))  # fmt: skip
        st.markdown(diffing.latency_sentence(d, t))
        measuring.environment(t.environment)
