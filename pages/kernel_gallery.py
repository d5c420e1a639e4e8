"""Kernel Gallery: what trained networks learn (Gaussians before downsampling, edge detectors, identities)."""

import pandas as pd
import streamlit as st

from effnets.analysis import kernels
from effnets.figures import kernels as kernel_figures
from effnets.ui import classroom, common, forms, kernel_gallery_sections, kernels_cached, runtime, schema, state

S = schema.KERNEL_GALLERY
P = S.prefix
runtime.open_page(S, hold=("layer",))

with st.sidebar:
    name = runtime.model_select(
        S,
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

pretrained = weights == "pretrained" and runtime.has_weights(name)
shown_as = runtime.weights_label(name, pretrained)

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

labels = kernels.layer_labels(rows)
state.restore_held(S, "layer", list(labels), f"{name} has no such convolution layer")
if st.session_state.get(S.key("layer")) not in labels:
    st.session_state[S.key("layer")] = kernels.default_layer(rows)
by_name = {r.name: r for r in rows}
with st.sidebar:
    layer = st.selectbox("Layer", list(labels), key=S.key("layer"), format_func=lambda n: labels[n])
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
        st.caption(kernels.layer_sentence(info, shown_as))
        kernel_gallery_sections.layer_kernels(
            kernels_cached.layer_view(name, pretrained, layer, per, threshold), info.count, fname
        )

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
        kernel_gallery_sections.fixed_kernels()

if (box := sec["Trained vs random"]) is not None:
    with box:
        if not runtime.has_weights(name):
            st.info(f"{name} has no offline weights here; pick a model marked 'ImageNet weights' to compare.")
        else:
            kernel_gallery_sections.trained_vs_random(name, layer, per, threshold)
