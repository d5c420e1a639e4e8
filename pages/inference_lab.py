"""Inference Lab: run a real network on your photo, on the GPU when there is one, and see what it sees."""

import pandas as pd
import streamlit as st

from effnets.analysis import inference_report
from effnets.figures import kernels as kernel_figures
from effnets.runtime import backends, devices, features, images, weights
from effnets.ui import classroom, common, forms, infer_cached, inference_lab_sections, jobs, runtime, schema, state

S = schema.INFERENCE_LAB
P = S.prefix
runtime.open_page(S)
state.keep(S.key("layer"))  # picked inside the Feature maps tab: kept while another tab is open

with st.sidebar:
    name = runtime.model_select(S)
    device, reason, precision = common.device_controls(P)
    channels_last = forms.control(
        st,
        S,
        "nhwc",
        "channels_last (NHWC) memory layout",
        help="Often faster for convolutions on GPUs and recent CPUs.",
    )
    engine_choice = forms.control(
        st,
        S,
        "engine",
        "Engine",
        format_func=inference_report.engine_choice_label,
        help="auto: the fastest engine measured on this device (Latency tab: Compare backends). The fast path is "
        "PyTorch with BN folded and static padding (the same function, less time); eager is the plain module; "
        "ONNX Runtime and OpenVINO run the model exported to ONNX.",
    )
    topk = forms.control(st, S, "topk", "Top-k classes")
    c1, c2 = st.columns(2)
    warmup = forms.control(c1, S, "warmup", "Warm-up runs")
    repeats = forms.control(c2, S, "repeats", "Timed runs")
classroom.sidebar_controls()

pretrained = runtime.has_weights(name)
engine, engine_why = backends.resolve_engine(engine_choice, device, precision)
classroom.page_header("Inference Lab", P)
st.markdown(
    inference_report.settings_line(
        name, runtime.weights_label(name, pretrained), devices.device_name(device), precision, channels_last, engine
    )
)
st.caption(f"Engine: {engine_why}.")
if not pretrained:
    st.warning(inference_report.random_init_warning(name))

source, inputs = inference_lab_sections.image_inputs(S)
state.write(state.link(S, always=("model", "source", "sample", "device", "topk")))

if not inputs:
    st.info("Pick a sample photo, upload an image or take one with the camera.")
    st.stop()

tr = weights.eval_transform(name)
args = (name, pretrained, str(device), precision, bool(channels_last), engine)
first = inputs[0]
sec = classroom.sections(P, ["Predictions", "Preprocessing", "Feature maps", "Layer similarity", "Latency"])

if (box := sec["Predictions"]) is not None:
    with box:
        for item in inputs:
            c1, c2 = st.columns([1, 2])
            c1.image(item.image, caption=item.caption, width="stretch")
            for n in item.notes:
                c1.caption(f":material/info: {n}")
            try:
                preds = infer_cached.predict(*args, item.key, item.pixels, topk)
            except (ValueError, RuntimeError) as e:  # an engine that fails on this model says so in one line
                c2.error(f"{inference_report.ENGINE_LABELS[engine]} could not run {name}: {str(e).splitlines()[0]}")
                continue
            classroom.vega(
                kernel_figures.topk_chart(
                    [p["label"] for p in preds],
                    [p["prob"] for p in preds],
                    title=inference_report.top_title(topk, pretrained),
                ),
                key=f"{P}.top_{item.key}",
                box=c2,
            )
            c2.caption(inference_report.top1_caption(preds))
            if source == "sample" and pretrained:
                right, why = images.expectation(item.label, preds[0]["label"])
                getattr(c2, inference_report.verdict_kind(right))(why)

if (box := sec["Preprocessing"]) is not None:
    with box:
        st.markdown(inference_report.preprocess_intro(name, first.label, tr))
        for step in infer_cached.preprocess_steps(name, first.key, first.pixels):
            c1, c2 = st.columns([1, 2])
            if step["image"] is not None:
                c1.image(step["image"], caption=step["name"], width="stretch")
            else:
                c1.markdown(f"**{step['name']}**")
            c2.markdown(inference_report.step_text(step))
            c2.dataframe(pd.DataFrame(step["stats"]), hide_index=True, width="stretch")

if (box := sec["Feature maps"]) is not None:
    with box:
        inference_lab_sections.feature_maps(name, pretrained, tr.crop, first)

if (box := sec["Layer similarity"]) is not None:
    with box:
        blocks = features.block_layers(infer_cached.layers(name, pretrained, tr.crop))
        if len(blocks) < 2:
            st.info("This model has too few blocks to compare.")
        else:
            sims = infer_cached.similarity(name, pretrained, first.key, first.pixels, blocks)
            classroom.plot(
                kernel_figures.similarity_figure(
                    [s.label for s in sims], [s.cka for s in sims], [s.pooled for s in sims]
                ),
                f"similarity_{name}",
                key=f"{P}.sim_chart",
            )
            st.markdown(features.SIMILARITY_EXPLANATION)

if (box := sec["Latency"]) is not None:
    with box:
        settings = (*args, tr.crop, int(warmup), int(repeats))
        again = st.button("Measure again", key=f"{P}.remeasure")
        record = jobs.recall_or_measure(
            inference_report.timing_key(settings), lambda: infer_cached.timing(*settings), again, "Timing the model..."
        )
        if record is not None:
            t = record.value
            jobs.show_provenance(record, inference_report.TIMING_SETTINGS)
            if busy := inference_report.busy_warning(t):
                st.warning(busy)
            metrics = inference_report.latency_metrics(t, inference_report.model_macs(name, tr.crop))
            for col, m in zip(st.columns(4), metrics, strict=False):
                col.metric(m.label, m.value, help=m.help)
            runs = (int(warmup), int(repeats))
            st.caption(inference_report.environment_caption(t, precision, engine, channels_last, *runs))
            inference_lab_sections.prediction(name, device, precision, channels_last, engine, tr.crop, t)
            st.markdown(inference_report.NOT_LATENCY)
        inference_lab_sections.backends(P, name, pretrained, device, tr.crop, int(warmup), int(repeats))

inference_lab_sections.about_model(name, pretrained)
