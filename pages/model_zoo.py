"""Model Zoo: every model's exact cost and published accuracy, and its latency measured here. FLOPs are not latency."""

import pandas as pd
import streamlit as st

from effnets.analysis import verdicts, zoo
from effnets.figures import zoo as zoo_figures
from effnets.report import plural
from effnets.runtime import bench, inference
from effnets.ui import classroom, common, forms, jobs, schema, state, zoo_cached

S = schema.MODEL_ZOO
P = S.prefix

if state.first_run(P):
    restored = state.restore(S)
    if not restored.get("models", True):  # an empty list from the link keeps the default set
        st.session_state.pop(S.key("models"))
    state.mark_loaded(P)
state.defaults(S)

with st.sidebar:
    names = forms.control(
        st,
        S,
        "models",
        "Models",
        help="effnets' builders and torchvision's reference models (marked 'torchvision').",
    )
    st.markdown("**Measurement**")
    device, reason, precision = common.device_controls(P, show_reason=False)
    c1, c2 = st.columns(2)
    batch = forms.control(c1, S, "batch", "Batch")
    threads = forms.control(
        c2,
        S,
        "threads",
        "CPU threads",
        help="torch.set_num_threads during the measurement. On a shared server 1 is the most repeatable.",
    )
    channels_last = st.toggle("channels_last (NHWC)", key=S.key("nhwc"))
    eager = st.toggle(
        "Eager (no fast path)",
        key=f"{P}.eager",
        help="Off: BN folded into convs, static padding, inference mode (the fast path). On: the plain module.",
    )
    c3, c4 = st.columns(2)
    warmup = forms.control(c3, S, "warmup", "Warm-up")
    repeats = forms.control(c4, S, "repeats", "Timed rounds")
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

env = bench.bench_environment(device, precision, channels_last, int(batch), None)
key = bench.config_key(
    device,
    models=sorted(names),
    precision=precision,
    batch=int(batch),
    threads=int(threads),
    channels_last=bool(channels_last),
    eager=bool(eager),
    warmup=int(warmup),
    repeats=int(repeats),
)
st.markdown(
    f"Counts are exact (effnets' analytic model; torchvision's reference models traced on the meta device). Latency "
    f"is measured **on this server**: {inference.device_name(device)} ({reason}), torch {env['torch']}, "
    f"{plural(int(threads), 'CPU thread')}, {precision}, batch {batch}, "
    f"{'channels_last' if channels_last else 'NCHW'}, {'eager' if eager else 'fast path'}; each model at its own "
    "resolution."
)

job = jobs.follow(f"{P}.job")
record = jobs.recall(key)
run = record.value if record else None
if st.button("Measure latency", type="primary", key=f"{P}.measure", disabled=job is not None and not job.finished):

    def work(progress, stop):
        with bench.num_threads(int(threads)):
            return bench.bench_models(
                names,
                batch=int(batch),
                device=device,
                precision=precision,
                channels_last=bool(channels_last),
                eager=bool(eager),
                warmup=int(warmup),
                repeats=int(repeats),
                progress=progress,
                stop=stop,
            )

    jobs.start(f"{P}.job", key, f"timing {len(names)} models interleaved", work)
    st.rerun()
if job is not None and job.finished:
    if job.error:
        common.show_error(f"The measurement failed: {job.error}")
    elif job.result is not None and job.result.partial:
        st.warning("Stopped: the table shows what was measured before the stop (fewer rounds).")
    if job.result is not None and job.key == key:
        record = jobs.recall(key)
        run = record.value
if run is not None:
    (st.caption if jobs.mine(record) else st.info)(jobs.provenance(record, "these models and measurement settings"))
    busy = [r.label for r in run.results if r.timing is not None and r.timing.busy]
    if busy:
        st.warning(
            f"Busy machine: the spread of {', '.join(busy)} (p90 more than {inference.BUSY_SPREAD:g} x p10) "
            "says something "
            "else ran during the measurement. Press *Measure latency* again."
        )
    rows = zoo.attach_latency(rows, run)
    failed = [r for r in run.results if r.error]
    for r in failed:
        st.caption(f"{r.label}: not timed ({r.error})")
else:
    st.caption(
        "Latency not measured yet for these settings: press *Measure latency* (models are timed interleaved, "
        "after warm-up, with device synchronisation)."
    )

outliers = dict(zoo.latency_outliers(rows))
SECTIONS = ["Table", "Accuracy vs MACs", "Accuracy vs latency", "Latency vs MACs"]
sec = classroom.sections(P, SECTIONS)

if (box := sec["Table"]) is not None:
    with box:
        df = pd.DataFrame(zoo.table_rows(rows))
        cols = [  # the measured columns next to the name, so they are on screen without scrolling
            "name",
            "median_ms",
            "p10_ms",
            "p90_ms",
            "images_per_s",
            "gmacs_per_s",
            "top1",
            "params",
            "macs",
            "resolution",
            "acts",
            "intensity",
            "family",
            "source",
            "top1_source",
        ]
        nf = st.column_config.NumberColumn
        classroom.table(
            df[cols],
            "model_zoo",
            key=f"{P}.csv",
            column_config={
                "params": nf("params", format="localized"),
                "macs": nf("MACs", format="localized"),
                "acts": nf("activations", format="localized", help="conv/linear output elements per image"),
                "intensity": nf("MACs/byte", format="%.1f"),
                "top1": st.column_config.TextColumn("top-1 %", help="Published ImageNet top-1; — where none is known"),
                "top1_source": "top-1 source",
                "median_ms": nf("median ms", format="%.2f"),
                "p10_ms": nf("p10 ms", format="%.2f"),
                "p90_ms": nf("p90 ms", format="%.2f"),
                "images_per_s": nf("images/s", format="%.0f"),
                "gmacs_per_s": nf("GMAC/s", format="%.1f"),
            },
        )
        if run is not None:
            st.caption("Environment: " + ", ".join(f"{k} {v}" for k, v in run.environment.items()))

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
            with_top1 = [r for r in rows if r.top1 is not None and r.median_ms is not None]
            st.caption(
                verdicts.fronts(
                    zoo.pareto_front([(r.name, r.macs, r.top1) for r in with_top1]),
                    zoo.pareto_front([(r.name, r.median_ms, r.top1) for r in with_top1]),
                )
            )

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
