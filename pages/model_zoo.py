"""Model Zoo: every model's exact cost and published accuracy, and its latency measured here. FLOPs are not latency."""

import functools

import pandas as pd
import streamlit as st

from effnets.analysis import layer_report, zoo
from effnets.figures import zoo as zoo_figures
from effnets.runtime import bench, bench_networks
from effnets.ui import classroom, common, forms, measuring, schema, state, zoo_cached

S = schema.MODEL_ZOO
P = S.prefix

state.load(S, keep_default_if_empty=("models",))

with st.sidebar:
    names = forms.control(
        st,
        S,
        "models",
        "Models",
        help="effnets' builders and torchvision's reference models (marked 'torchvision').",
    )
    ms = measuring.controls(
        S,
        threads_help="torch.set_num_threads during the measurement. On a shared server 1 is the most repeatable.",
        toggles=(
            ("nhwc", "channels_last (NHWC)", None),
            (
                "eager",
                "Eager (no fast path)",
                "Off: BN folded into convs, static padding, inference mode (the fast path). On: the plain module.",
            ),
        ),
    )
classroom.sidebar_controls()

classroom.page_header("Model Zoo", P)
state.write(state.link(S, always=("models", "device", "batch", "threads")))
if not names:
    st.info("Pick some models in the sidebar.")
    st.stop()

try:
    rows = [zoo.ZooRow(**r) for r in zoo_cached.rows(tuple(names))]
except ValueError as e:
    common.show_error(str(e))
    st.stop()

channels_last, eager = ms.toggles["nhwc"], ms.toggles["eager"]
env = bench.bench_environment(ms.device, ms.precision, channels_last, ms.batch, None)
st.markdown(zoo.describe_measurement(env, ms.reason, ms.threads, channels_last, eager))

m = measuring.measure(
    ms,
    ms.key(models=sorted(names), channels_last=channels_last, eager=eager),
    functools.partial(bench_networks.bench_models, names, channels_last=channels_last, eager=eager, **ms.timing()),
    button="Measure latency",
    label=f"timing {len(names)} models interleaved",
    job_key=f"{P}.job",
    button_key=f"{P}.measure",
)
measuring.job_notes(
    m,
    "Stopped: the table shows what was measured before the stop (fewer rounds).",
    lambda run: run.partial,
)
run = m.value
if run is not None:
    measuring.whose(m, "these models and measurement settings", run.results, "Measure latency")
    rows = zoo.attach_latency(rows, run)
    for r in run.results:
        if r.error:
            st.caption(f"{r.label}: not timed ({r.error})")
else:
    st.caption(
        "Latency not measured yet for these settings: press *Measure latency* (models are timed interleaved, "
        "after warm-up, with device synchronisation)."
    )

outliers = dict(zoo.latency_outliers(rows))
sec = classroom.sections(P, ["Table", "Accuracy vs MACs", "Accuracy vs latency", "Latency vs MACs"])

if (box := sec["Table"]) is not None:
    with box:
        predicted = None  # name -> the predictor's figure beside each measured eager latency (eager, fp32, NCHW only)
        if run is not None and layer_report.predictable("eager" if eager else "fast", ms.precision, channels_last):
            predicted = {
                r.name: measuring.eager_prediction(
                    r.name, ms.device, ms.threads, ms.batch, fields=layer_report.zoo_fields(r.name)
                )
                for r in rows
                if r.median_ms is not None
            }
        table, columns = layer_report.with_predictions(zoo.table_rows(rows), zoo.TABLE_COLUMNS, predicted)
        classroom.table(
            pd.DataFrame(table)[columns],
            "model_zoo",
            key=f"{P}.csv",
            column_config={
                **measuring.number_columns(zoo.COLUMN_FORMATS, helps={"acts": "conv/linear output elements per image"}),
                **measuring.number_columns(layer_report.PREDICTED_COLUMNS),
                "top1": st.column_config.TextColumn("top-1 %", help="Published ImageNet top-1; — where none is known"),
                "top1_source": "top-1 source",
            },
        )
        if run is not None:
            st.caption(layer_report.predictions_caption(predicted, "time with *Eager* on, *channels_last* off, fp32"))
            measuring.environment(run.environment)

if (box := sec["Accuracy vs MACs"]) is not None:
    with box:
        classroom.plot(
            zoo_figures.accuracy_figure(rows, "macs", 1e-6, "MACs per image (millions, conv + linear, log scale)"),
            "top1_vs_macs",
            key=f"{P}.acc_macs",
        )
        st.caption(
            "Published top-1 (hover for the source) against exact MACs. Ringed points are on the Pareto front: "
            "nothing is both cheaper and more accurate. Accuracies come from different training recipes."
        )

if (box := sec["Accuracy vs latency"]) is not None:
    with box:
        if run is None:
            st.info("Measure latency first.")
        else:
            classroom.plot(
                zoo_figures.accuracy_figure(rows, "median_ms", 1.0, "measured latency (ms, median, log scale)"),
                "top1_vs_latency",
                key=f"{P}.acc_lat",
            )
            st.caption(zoo.front_verdict(rows))

if (box := sec["Latency vs MACs"]) is not None:
    with box:
        if run is None:
            st.info("Measure latency first.")
        else:
            classroom.plot(
                zoo_figures.latency_vs_macs_figure(rows, outliers, rounds=run.repeats),
                "latency_vs_macs",
                key=f"{P}.lat_macs",
            )
            st.markdown("If latency followed MACs, every point would sit on the dotted line. The outliers:")
            for name, why in outliers.items():
                st.markdown(f"- **{name}**: {why}")
            if not outliers:
                st.caption("No model is more than 1.6x off the median throughput at these settings.")
