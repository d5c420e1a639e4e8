"""Inference Lab: run a real network on your photo, on the GPU when there is one, and see what it sees."""

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

import effnets
from effnets.figures import kernels as kernel_figures
from effnets.models import MODELS
from effnets.report import human, plural
from effnets.runtime import features, images, inference, weights
from effnets.ui import classroom, common, forms, infer_cached, jobs, runtime, schema, state

S = schema.INFERENCE_LAB
P = S.prefix
NAMES = S["model"].choices()
DEFAULT_MODEL = S["model"].default if S["model"].default in NAMES else NAMES[0]

if state.first_run(P):
    state.restore(S)
    state.mark_loaded(P)
st.session_state.setdefault(S.key("model"), DEFAULT_MODEL)
state.defaults(S)

with st.sidebar:
    name = st.selectbox("Model", NAMES, key=f"{P}.model", format_func=lambda n: f"{n}  ·  {runtime.status_label(n)}")
    device, reason, precision = common.device_controls(P)
    channels_last = st.toggle(
        "channels_last (NHWC) memory layout",
        key=f"{P}.nhwc",
        help="Often faster for convolutions on GPUs and recent CPUs.",
    )
    fast = st.toggle(
        "Fast path",
        key=S.key("fast"),
        help="BN folded into the convs, static padding, 1x1 convs as matrix products, inference mode: "
        "the same function (identical top-5), less time. Off: the plain module.",
    )
    topk = forms.control(st, S, "topk", "Top-k classes")
    c1, c2 = st.columns(2)
    warmup = forms.control(c1, S, "warmup", "Warm-up runs")
    repeats = forms.control(c2, S, "repeats", "Timed runs")
classroom.sidebar_controls()

status = runtime.statuses().get(name, "random init")
pretrained = status in ("packaged", "cached")
weights_label = runtime.status_label(name)

classroom.page_header("Inference Lab", P)
st.markdown(
    f"**{name}** · weights: **{weights_label}** · {inference.device_name(device)} · {precision}"
    + (" · channels_last" if channels_last else "")
    + (" · fast path" if fast else " · eager")
)
if not pretrained:
    st.warning(
        f"**random init**: {name} has no ImageNet weights on this machine, so its predictions are "
        f"meaningless (useful only to compare speed). `python -m effnets weights download {name}` on a machine "
        "with internet fetches them."
    )

# ----- the images -------------------------------------------------------------------------------------------------
source = forms.control(
    st,
    S,
    "source",
    "Image",
    required=True,
    format_func={"sample": "Sample photo", "upload": "Upload", "camera": "Camera"}.get,
)
inputs: list[tuple[str, str, Image.Image, list[str]]] = []  # (label, key, image, notes)
if source == "sample":
    sample = forms.control(
        st,
        S,
        "sample",
        "Sample photo (bundled with scikit-image)",
        format_func=lambda n: f"{n} · {images.SAMPLE_IMAGES[n]}",
    )
    inputs.append((sample, f"sample:{sample}", Image.fromarray(infer_cached.sample_array(sample)), []))
elif source == "upload":
    files = st.file_uploader(
        "Images (JPEG, PNG, WebP, BMP, GIF, TIFF)",
        accept_multiple_files=True,
        key=f"{P}.files",
        type=["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"],
        help=f"Up to {infer_cached.MAX_IMAGES} images; decoded in memory, never written to disk.",
    )
    for f in (files or [])[: infer_cached.MAX_IMAGES]:
        data = f.getvalue()
        try:
            loaded = images.load_image(data, f.name)
        except images.ImageError as e:
            common.show_error(str(e), "The other images are still classified; try another file.")
            continue
        inputs.append((f.name, infer_cached.image_key(data), loaded.image, loaded.notes))
    if files and len(files) > infer_cached.MAX_IMAGES:
        st.info(f"Showing the first {infer_cached.MAX_IMAGES} of {len(files)} images.")
else:
    shot = st.camera_input("Take a photo", key=f"{P}.camera")
    if shot is not None:
        data = shot.getvalue()
        try:
            loaded = images.load_image(data, "camera.jpg")
            inputs.append(("camera", infer_cached.image_key(data), loaded.image, loaded.notes))
        except images.ImageError as e:
            common.show_error(str(e))

state.write(state.link(S, always=("model", "source", "sample", "device", "topk")))

if not inputs:
    st.info("Pick a sample photo, upload an image or take one with the camera.")
    st.stop()

tr = weights.eval_transform(name)
args = (name, pretrained, str(device), precision, bool(channels_last), bool(fast))
SECTIONS = ["Predictions", "Preprocessing", "Feature maps", "Layer similarity", "Latency"]
sec = classroom.sections(P, SECTIONS)

if (box := sec["Predictions"]) is not None:
    with box:
        for label, key, img, notes in inputs:
            c1, c2 = st.columns([1, 2])
            c1.image(img, caption=f"{label} ({img.width}x{img.height})", width="stretch")
            for n in notes:
                c1.caption(f":material/info: {n}")
            try:
                preds = infer_cached.predict(*args, key, np.asarray(img), topk)
            except ValueError as e:
                c2.error(str(e))
                continue
            c2.plotly_chart(
                kernel_figures.topk_figure(
                    [p["label"] for p in preds],
                    [p["prob"] for p in preds],
                    title=f"top-{topk}" + ("  (random init: meaningless)" if not pretrained else ""),
                ),
                key=f"{P}.top_{key}",
                config=classroom.chart_config(f"top{topk}_{label}"),
            )
            c2.caption(f"top-1: **{preds[0]['label']}** ({preds[0]['prob']:.1%}), ImageNet class {preds[0]['index']}")
            if source == "sample" and pretrained:
                right, why = images.expectation(label, preds[0]["label"])
                (c2.info if right is None else c2.success if right else c2.warning)(why)

first_label, first_key, first_img, _ = inputs[0]
first_px = np.asarray(first_img)

if (box := sec["Preprocessing"]) is not None:
    with box:
        st.markdown(
            f"What **{name}** is fed, step by step, for *{first_label}* "
            f"(resize {tr.resize}, centre crop {tr.crop}, {tr.interpolation}, normalisation "
            f"'{tr.normalization}'):"
        )
        for step in infer_cached.preprocess_steps(name, first_key, first_px):
            c1, c2 = st.columns([1, 2])
            if step["image"] is not None:
                c1.image(step["image"], caption=step["name"], width="stretch")
            else:
                c1.markdown(f"**{step['name']}**")
            c2.markdown(f"**{step['name']}**: {step['description']}  \ntensor {step['shape']}, {step['dtype']}")
            c2.dataframe(pd.DataFrame(step["stats"]), hide_index=True, width="stretch")

if (box := sec["Feature maps"]) is not None:
    with box:
        layer_rows = infer_cached.layers(name, pretrained, tr.crop)
        names = [r["name"] for r in layer_rows]
        if st.session_state.get(f"{P}.layer") not in names:
            st.session_state[f"{P}.layer"] = names[min(3, len(names) - 1)]
        by = {r["name"]: r for r in layer_rows}
        lc1, lc2 = st.columns([3, 1])
        layer = lc1.selectbox(
            "Layer",
            names,
            key=f"{P}.layer",
            format_func=lambda n: f"{n}  ({by[n]['type']}, {'x'.join(map(str, by[n]['shape']))})",
        )
        channels = forms.control(lc2, S, "channels", "Channels shown")
        grid = infer_cached.feature_grid(name, pretrained, first_key, first_px, layer, int(channels))
        classroom.plot(
            kernel_figures.feature_grid_figure(grid, title=f"{layer} on {first_label}"),
            f"fmaps_{name}_{layer}",
            key=f"{P}.fmap_chart",
        )
        st.caption(
            "Each tile is one channel, scaled to its own range. Computed on a private copy of the model: "
            "the shared model gets no hooks."
        )

if (box := sec["Layer similarity"]) is not None:
    with box:
        layer_rows = infer_cached.layers(name, pretrained, tr.crop)
        blocks = tuple(r["name"] for r in layer_rows if r["depth"] == 2)[:40]
        if len(blocks) < 2:
            st.info("This model has too few blocks to compare.")
        else:
            sims = infer_cached.similarity(name, pretrained, first_key, first_px, blocks)
            classroom.plot(
                kernel_figures.similarity_figure(
                    [f"{s['a']}→{s['b'].split('.')[-1]}" for s in sims],
                    [s["cka"] for s in sims],
                    [s["pooled"] for s in sims],
                ),
                f"similarity_{name}",
                key=f"{P}.sim_chart",
            )
            st.markdown(features.SIMILARITY_EXPLANATION)

if (box := sec["Latency"]) is not None:
    with box:
        settings = (*args, tr.crop, int(warmup), int(repeats))
        tkey = "infer:" + ":".join(map(str, settings))
        again = st.button("Measure again", key=f"{P}.remeasure")
        record = jobs.recall(tkey)
        if record is None and not again and jobs.busy():  # never wait on the page for someone else's timing
            st.info(
                "Another measurement is running on this server (timings run one at a time, so that none disturbs "
                "another): press *Measure again* once it has finished."
            )
        elif again or record is None:  # the first measurement of these settings, or the viewer asked for one
            with st.spinner("Timing the model..."):
                record = jobs.measure_now(tkey, lambda: infer_cached.timing(*settings))
        if record is not None:
            t = record.value
            (st.caption if jobs.mine(record) else st.info)(
                jobs.provenance(record, "the same model, weights, device, precision, layout, path and run counts")
            )
            if t["busy"]:
                st.warning(
                    f"Busy machine: p90 is {t['spread']:.1f} x p10, so something else ran during the measurement and "
                    "the median is not to be trusted. Press *Measure again*."
                )
            macs = None
            if name in MODELS:
                macs = effnets.model_cost(name, resolution=tr.crop, **weights.pretrained_fields(name)).macs
            m = st.columns(4)
            m[0].metric(
                "Median latency",
                f"{t['median_ms']:.1f} ms",
                help="Batch of 1, after warm-up, device synchronised after every run.",
            )
            m[1].metric("p10 / p90", f"{t['p10_ms']:.0f} / {t['p90_ms']:.0f} ms")
            m[2].metric("Throughput", f"{t['images_per_s']:.0f} images/s")
            if macs:
                m[3].metric(
                    "Achieved",
                    f"{macs / (t['median_ms'] / 1e3) / 1e9:.1f} GMAC/s",
                    help=f"{human(macs)} MACs (conv + linear) per image / median latency.",
                )
            env = t["environment"]
            st.caption(
                f"{env['device_name']} · torch {env['torch']} · {plural(env['threads'], 'CPU thread')} · {precision}"
                + (" · fast path" if fast else " · eager")
                + (" · channels_last" if channels_last else "")
                + f" · {int(warmup)} warm-up + {int(repeats)} timed runs "
                f"(warm-up: {', '.join(f'{x:.0f}' for x in t['warmup_ms'])} ms)."
            )
            st.markdown(
                "**FLOPs are not latency.** The MAC count says how much arithmetic there is, not how long it takes: "
                "depthwise convolutions and element-wise ops move much data for little arithmetic, so they run far "
                "below the device's peak. Compare models in the Model Zoo."
            )

with st.expander("About this model"):
    base, wstatus = runtime.base_model(name, pretrained)
    st.markdown(f"Weights: **{wstatus.status}**: {wstatus.detail}")
    st.caption(
        f"Shared model fingerprint (SHA-256 of every parameter and buffer): `{runtime.fingerprint(base)}`. "
        "It stays the same for every user: pages never change the shared model."
    )
