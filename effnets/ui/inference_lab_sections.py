"""The Inference Lab's image picker (a sample photo, uploads or the camera), its backends comparison and its note
about the shared model."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from effnets.analysis import layer_report
from effnets.figures import kernels as kernel_figures
from effnets.runtime import features, images, weights
from effnets.ui import classroom, common, forms, infer_cached, jobs, measuring, runtime, schema
from effnets.ui.infer_cached import MAX_IMAGES, InputImage
from effnets.ui.schema import PageSchema

SOURCES = {"sample": "Sample photo", "upload": "Upload", "camera": "Camera"}
UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"]


def image_inputs(schema: PageSchema) -> tuple[str, list[InputImage]]:
    """The source control and the images it gives: the chosen sample photo, the first :data:`MAX_IMAGES` uploads
    (a box for each file that cannot be decoded; the others are still classified) or the camera's snapshot."""
    source = forms.control(st, schema, "source", "Image", required=True, format_func=SOURCES.get)
    if source == "sample":
        sample = forms.control(
            st,
            schema,
            "sample",
            "Sample photo (bundled with scikit-image)",
            format_func=lambda n: f"{n} · {images.SAMPLE_IMAGES[n]}",
        )
        return source, [infer_cached.sample_input(sample)]
    if source == "upload":
        files = st.file_uploader(
            "Images (JPEG, PNG, WebP, BMP, GIF, TIFF)",
            accept_multiple_files=True,
            key=f"{schema.prefix}.files",
            type=UPLOAD_TYPES,
            help=f"Up to {MAX_IMAGES} images; decoded in memory, never written to disk.",
        )
        inputs, errors = infer_cached.uploaded_inputs(files or [])
        for message in errors:
            common.show_error(message, "The other images are still classified; try another file.")
        if files and len(files) > MAX_IMAGES:
            st.info(f"Showing the first {MAX_IMAGES} of {len(files)} images.")
        return source, inputs
    shot = st.camera_input("Take a photo", key=f"{schema.prefix}.camera")
    if shot is None:
        return source, []
    try:
        return source, [infer_cached.decoded_input(shot.getvalue(), "camera.jpg", label="camera")]
    except images.ImageError as e:
        common.show_error(str(e))
        return source, []


@st.fragment
def feature_maps(name: str, pretrained: bool, crop: int, first: InputImage) -> None:
    """Any layer's feature maps on the first image (a fragment: picking a layer reruns only this section)."""
    s = schema.INFERENCE_LAB
    layer_rows = infer_cached.layers(name, pretrained, crop)
    labels = {li.name: li.label for li in layer_rows}
    key = f"{s.prefix}.layer"
    if st.session_state.get(key) not in labels:
        st.session_state[key] = features.default_layer(layer_rows)
    lc1, lc2 = st.columns([3, 1])
    layer = lc1.selectbox("Layer", list(labels), key=key, format_func=lambda n: labels[n])
    channels = forms.control(lc2, s, "channels", "Channels shown")
    grid = infer_cached.feature_grid(name, pretrained, first.key, first.pixels, layer, int(channels))
    classroom.plot(
        kernel_figures.feature_grid_figure(grid, title=f"{layer} on {first.label}"),
        f"fmaps_{name}_{layer}",
        key=f"{s.prefix}.fmap_chart",
    )
    st.caption(
        "Each tile is one channel, scaled to its own range. Computed on a private copy of the model: "
        "the shared model gets no hooks."
    )


def about_model(name: str, pretrained: bool) -> None:
    """Where the shared model's weights come from, and its fingerprint (which no page ever changes). The fingerprint
    hashes every weight (tens of milliseconds), so it is computed only while the expander is open."""
    if (box := classroom.expander("About this model", "infer.about")) is None:
        return
    with box:
        base, status = runtime.base_model(name, pretrained)
        st.markdown(f"Weights: **{status.status}**: {status.detail}")
        st.caption(
            f"Shared model fingerprint (SHA-256 of every parameter and buffer): `{runtime.fingerprint(base)}`. "
            "It stays the same for every user: pages never change the shared model."
        )


def prediction(name: str, device, precision: str, channels_last: bool, engine: str, crop: int, timing: dict) -> None:
    """The predictor's figure beside the lab's measured eager latency (the model's own structure at ``crop``, batch
    1, on the card the app uses for this device and thread count), or one line on why there is none."""
    if not layer_report.predictable(engine, precision, channels_last):
        st.caption(f"No prediction beside this timing: {layer_report.EAGER_ONLY}; choose the eager engine, fp32, NCHW.")
        return
    threads = timing["environment"].get("threads") or 1
    pred = measuring.eager_prediction(name, device, threads, 1, crop, weights.pretrained_fields(name))
    st.markdown(layer_report.beside(pred, timing["median_ms"]))


BACKENDS_INTRO = (
    "The same photos through every inference engine for this model: PyTorch eager (the module as designed), "
    "effnets' fast path (BN folded, channels_last), torch.compile, ONNX Runtime and OpenVINO, at fp32 and at "
    "bf16 / int8 where this device offers them. Outputs are checked against eager fp32; the engines are timed "
    "interleaved, one at a time on this server, at the same thread count."
)


def backends(prefix: str, name: str, pretrained: bool, device, crop: int, warmup: int, repeats: int) -> None:
    """The **Backends** table and bar chart of the selected model, measured when asked ("Compare backends", or
    with torch.compile, which compiles for a minute first) in the background under the server's measurement lock;
    the result belongs to the session that measured it."""
    import torch

    from effnets.figures.backends import backends_figure
    from effnets.runtime import backends as bk
    from effnets.runtime import bench

    st.markdown("#### Backends")
    st.caption(BACKENDS_INTRO)
    runs = (warmup, repeats)
    key = bench.config_key(device, kind="backends", model=name, pretrained=pretrained, crop=crop, runs=runs)
    job_key = f"{prefix}.backends_job"
    job = jobs.follow(job_key)
    running = job is not None and not job.finished
    c1, c2 = st.columns(2)
    plain = c1.button("Compare backends", key=f"{prefix}.backends", disabled=running)
    compiled = c2.button("Compare, with torch.compile", key=f"{prefix}.backends_compile", disabled=running,
                         help="Adds torch.compile: it compiles for a minute or more before it is timed.")  # fmt: skip
    if plain or compiled:
        model, _ = runtime.base_model(name, pretrained)
        names = bk.BACKEND_NAMES if compiled else tuple(n for n in bk.BACKEND_NAMES if n != "compile")
        threads = torch.get_num_threads()

        def work(progress, stop):
            return bk.compare_model(
                name,
                model=model,
                resolution=crop,
                device=device,
                threads=threads,
                backends=names,
                warmup=warmup,
                repeats=repeats,
                progress=progress,
                stop=stop,
            )

        jobs.start(job_key, key, "Comparing backends", work)
        st.rerun()
    if job is not None and job.finished and job.error:
        common.show_error(f"The comparison failed: {job.error}")
    record = jobs.recall(key)
    if record is None:
        st.info("Press *Compare backends* to measure them on this device.")
        return
    result = record.value
    jobs.show_provenance(record, "the same model, weights, device, resolution and run counts")
    if result["partial"]:
        st.warning("This comparison was stopped early: some backends have fewer timed runs.")
    if busy := [r["label"] for r in result["backends"] if r["busy"]]:
        st.warning(f"Busy machine: the spread of {', '.join(busy)} says something else was running; compare again.")
    st.markdown(bk.summary(result))
    env = result["environment"]
    pred = measuring.eager_prediction(name, device, env["threads"], result["batch"], result["resolution"],
                                      weights.pretrained_fields(name))  # fmt: skip
    table = pd.DataFrame(layer_report.backend_rows(bk.table_rows(result), pred))
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config=measuring.number_columns(
            {
                "median_ms": ("median ms", "%.3f"),
                "p10_ms": ("p10", "%.3f"),
                "p90_ms": ("p90", "%.3f"),
                "speedup": ("x eager fp32", "%.2f"),
                "max_abs_diff": ("max |diff|", "%.2e"),
            },
            {"max_abs_diff": "Largest difference from eager fp32's logits on the same photos."},
        ),  # fmt: skip
    )
    if pred is not None:
        st.caption(f"Predicted ms: {pred['label']}, for the eager fp32 row only ({layer_report.EAGER_ONLY}).")
    classroom.plot(backends_figure(result["backends"], result["default"]), f"backends_{name}", key=f"{prefix}.bk_fig")
    vers = ", ".join(f"{k} {v}" for k, v in env["versions"].items() if v)
    st.caption(
        f"{env['device_name']}, {env['threads']} threads for every engine, batch {result['batch']}, "
        f"{result['resolution']} px; {vers}. Check: {result['check']}. The Inference Lab's own path above does not "
        "change with this comparison."
    )
