"""Kernel Gallery: what trained networks learn (Gaussians before downsampling, edge detectors, identities)."""

import pandas as pd
import streamlit as st

from effnets.analysis import kernels
from effnets.figures import kernels as kernel_figures
from effnets.ui import classroom, common, forms, kernels_cached, runtime, schema, state

S = schema.KERNEL_GALLERY
P = S.prefix
NAMES = S["model"].choices()
DEFAULT_MODEL = S["model"].default if S["model"].default in NAMES else NAMES[0]

if state.first_run(P):
    state.restore(S)
    layer = st.query_params.get("layer")
    if layer:
        st.session_state[f"{P}._url_layer"] = layer
    state.mark_loaded(P)
st.session_state.setdefault(S.key("model"), DEFAULT_MODEL)
state.defaults(S)

with st.sidebar:
    name = st.selectbox(
        "Model",
        NAMES,
        key=f"{P}.model",
        format_func=lambda n: f"{n}  ·  {runtime.status_label(n)}",
        help="Models with ImageNet weights come first. The others are random init: their kernels are noise, which "
        "is the point of comparing.",
    )
    weights = forms.control(
        st,
        S,
        "weights",
        "Weights",
        horizontal=True,
        format_func={"pretrained": "trained (ImageNet)", "random": "random init"}.get,
    )
    threshold = forms.control(
        st,
        S,
        "threshold",
        "Similarity threshold",
        help="A kernel joins a family when its |cosine similarity| to one of the family's templates reaches this.",
    )
classroom.sidebar_controls()

pretrained = weights == "pretrained" and runtime.statuses().get(name) in ("packaged", "cached")
shown_as = runtime.status_label(name) if pretrained else "random init"

classroom.page_header("Kernel Gallery", P)
if weights == "pretrained" and not pretrained:
    st.info(
        f"{name} has no offline weights here, so its kernels are **random init**: "
        f"run `python -m effnets weights download {name}` on a machine with internet to see trained ones."
    )
st.markdown(f"**{name}** · weights: **{shown_as}**")

try:
    rows = kernels_cached.layer_rows(name, pretrained, threshold)
except ValueError as e:
    common.show_error(str(e))
    st.stop()

layer_names = [r.name for r in rows]
url_layer = st.session_state.pop(f"{P}._url_layer", None)
if url_layer is not None:
    if url_layer in layer_names:
        st.session_state[f"{P}.layer"] = url_layer
    else:
        st.warning(f"ignored layer '{url_layer[:60]}' from the link: {name} has no such convolution layer")
if st.session_state.get(f"{P}.layer") not in layer_names:
    strided = [r.name for r in rows if r.kind == "depthwise" and r.stride > 1]
    st.session_state[f"{P}.layer"] = strided[0] if strided else layer_names[0]
by_name = {r.name: r for r in rows}
with st.sidebar:
    layer = st.selectbox(
        "Layer",
        layer_names,
        key=f"{P}.layer",
        format_func=lambda n: (
            f"{layer_names.index(n) + 1}. {by_name[n].kind} {by_name[n].kernel_size}"
            f"{'x' + str(by_name[n].kernel_size) if isinstance(by_name[n].kernel_size, int) else ''}"
            f"{' s' + str(by_name[n].stride) if by_name[n].stride > 1 else ''} · {n}"
        ),
    )
    per = forms.control(
        st,
        S,
        "norm",
        "Colour scale",
        horizontal=True,
        format_func={"kernel": "per kernel", "layer": "per layer"}.get,
        help="Per kernel: each kernel scaled by its own max |w| (shape). Per layer: one scale for the "
        "layer (which kernels are strong).",
    )

state.write(state.link(S, always=("model", "weights", "norm", "threshold"), layer=layer))
info = by_name[layer]
fname = f"{name}_{'trained' if pretrained else 'random'}_{layer}"

SECTIONS = [
    "Kernels",
    "Families per layer",
    "Strided vs not",
    "Frequency response",
    "Fixed kernels",
    "Trained vs random",
]
sec = classroom.sections(P, SECTIONS)

if (box := sec["Kernels"]) is not None:
    with box:
        st.caption(
            f"Layer **{layer}**: {info.kind}, {info.in_channels} → {info.out_channels} channels, kernel "
            f"{info.kernel_size}, stride {info.stride}, groups {info.groups}; {info.count:,} spatial kernels. "
            f"Weights: **{shown_as}**."
        )
        view = kernels_cached.layer_view(name, pretrained, layer, per, threshold)
        if view["kind"] == "stem":
            st.markdown(
                "The first layer's filters as colour images (each centred at grey): trained stems show "
                "colour blobs and oriented edges."
            )
            classroom.plot(kernel_figures.rgb_grid(view["tiles"]), f"{fname}_stem", key=f"{P}.stem_chart")
        elif view["kind"] == "pointwise":
            st.markdown("A 1x1 conv has no spatial kernel: its weights are a matrix mixing channels.")
            classroom.plot(kernel_figures.pointwise_matrix(view["weight"]), f"{fname}_matrix", key=f"{P}.pw_chart")
        else:
            fam = view["families"]
            st.markdown(
                f"Showing {len(view['kernels'])} of {info.count:,} kernels (blue < 0 < red). Families in this layer: "
                + ", ".join(f"**{kernels.FAMILY_LABELS[f]}** {fam.get(f, 0):.0%}" for f in kernels.FAMILIES)
                + "."
            )
            classroom.plot(
                kernel_figures.kernel_grid(view["kernels"], columns=16), f"{fname}_kernels", key=f"{P}.k_chart"
            )
            if view["examples"]:
                st.markdown("**Best example of each family in this layer**")
                cols = st.columns(len(view["examples"]))
                for col, ex in zip(cols, view["examples"], strict=True):
                    col.plotly_chart(
                        kernel_figures.kernel_library_figure([(ex["title"], ex["kernel"])], columns=1),
                        key=f"{P}.ex_{ex['family']}",
                        config=classroom.chart_config(ex["title"]),
                    )
        with st.expander("How kernels are sorted into families"):
            st.write(kernels.SIMILARITY_EXPLANATION)

if (box := sec["Families per layer"]) is not None:
    with box:
        st.markdown(
            "Share of Gaussian/blur, edge-detector, identity and other kernels in every spatial layer "
            f"({shown_as}). Orange bands are stride-2 layers."
        )
        classroom.plot(kernel_figures.shares_figure(rows, highlight=layer), f"{name}_families", key=f"{P}.shares_chart")
        classroom.table(
            pd.DataFrame([r.row() for r in rows]),
            f"{name}_layer_families",
            key=f"{P}.csv_layers",
            column_config={
                f"share_{f}": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1)
                for f in kernels.FAMILIES
            },
        )

if (box := sec["Strided vs not"]) is not None:
    with box:
        summaries = kernels_cached.strided(name, pretrained, threshold)
        if not summaries:
            st.info("This model has no depthwise convolutions to compare.")
        else:
            st.markdown(
                "VGNet's first observation: depthwise kernels that **downsample** (stride 2) look like Gaussians, "
                "low-pass filters that remove what subsampling would alias, as the sampling theorem asks. Compare "
                "the stride-2 and stride-1 depthwise kernels of this model:"
            )
            classroom.plot(kernel_figures.strided_figure(summaries), f"{name}_strided", key=f"{P}.strided_chart")
            classroom.table(pd.DataFrame([s.row() for s in summaries]), f"{name}_strided", key=f"{P}.csv_strided")

if (box := sec["Frequency response"]) is not None:
    with box:
        st.markdown(
            "The magnitude of each kernel's 2-D Fourier transform (centre = flat regions, edges = the finest "
            "patterns). A low-pass filter keeps the centre. The **low-pass score** is the share of a kernel's energy "
            "below a quarter of the sampling frequency."
        )
        classroom.plot(kernel_figures.low_pass_by_layer(rows), f"{name}_lowpass", key=f"{P}.lp_chart")
        fr = kernels_cached.frequency_examples(name, pretrained, layer)
        if fr:
            classroom.plot(
                kernel_figures.frequency_grid(fr["items"], freq=fr["freq"]), f"{fname}_fft", key=f"{P}.fft_chart"
            )
            st.caption(f"The first {len(fr['items'])} kernels of {layer}, |FFT| zero-padded to 32x32.")

if (box := sec["Fixed kernels"]) is not None:
    with box:
        sigma = forms.control(st, S, "sigma", "Gaussian sigma (pixels)")
        lib = kernels_cached.library(sigma)
        st.markdown(
            "The kernels VGNet fixes instead of learning: a Gaussian blur before every downsampling (VGNetG), and "
            "for VGNetF a bank of 8 (Sobel, diagonal Sobel, Laplacians, two Gaussians) repeated over the channels. "
            "They are buffers, not parameters: they cost MACs but no training."
        )
        classroom.plot(
            kernel_figures.kernel_library_figure(lib["kernels"]), f"fixed_kernels_sigma{sigma}", key=f"{P}.lib_chart"
        )
        classroom.plot(
            kernel_figures.frequency_grid(lib["spectra"], columns=5, freq=lib["freq"]),
            f"fixed_kernels_fft_sigma{sigma}",
            key=f"{P}.libfft_chart",
        )

if (box := sec["Trained vs random"]) is not None:
    with box:
        if runtime.statuses().get(name) not in ("packaged", "cached"):
            st.info(f"{name} has no offline weights here; pick a model marked 'ImageNet weights' to compare.")
        else:
            c1, c2 = st.columns(2)
            for col, pre, title in ((c1, True, "trained (ImageNet)"), (c2, False, "random init")):
                with col:
                    st.markdown(f"**{title}**")
                    r2 = kernels_cached.layer_rows(name, pre, threshold)
                    classroom.plot(kernel_figures.shares_figure(r2), f"{name}_families_{title}", key=f"{P}.cmp_{pre}")
                    v = kernels_cached.layer_view(name, pre, layer, per, threshold)
                    if v["kind"] not in ("stem", "pointwise"):
                        classroom.plot(
                            kernel_figures.kernel_grid(v["kernels"][:48], columns=8),
                            f"{name}_{layer}_{title}",
                            key=f"{P}.cmpk_{pre}",
                        )
            st.caption(
                "Random initialisation gives noise kernels: almost all 'other'. Training finds the blurs and "
                "edge detectors on its own."
            )
