"""The Kernel Gallery's longer sections: one layer's kernels as the model has them, the kernels VGNet fixes, and a
trained model's kernels beside its random initialisation."""

from __future__ import annotations

import streamlit as st

from effnets.analysis import kernels
from effnets.figures import images
from effnets.figures import kernels as kernel_figures
from effnets.ui import classroom, forms, kernels_cached, schema

P = schema.KERNEL_GALLERY.prefix


def _legend(scaled: str) -> None:
    """The colour bar of a kernel image: blue negative, white zero, red positive; ``scaled`` says by what."""
    c1, c2 = st.columns([1, 3], vertical_alignment="center")
    c1.image(images.legend_png(), width="stretch", output_format="PNG")
    c2.caption(f"-1 (blue) · 0 (white) · +1 (red): weight / max|w| {scaled}")


def layer_kernels(view: dict, count: int, fname: str) -> None:
    """One layer's weights (:func:`effnets.ui.kernels_cached.layer_view`): a stem's filters as colour images, a 1x1
    conv's matrix, or the spatial kernels with their families' shares and the best example of each family. Drawn as
    images (on screen at once); the toggle swaps in plotly charts with hover values and zoom."""
    interactive = forms.control(
        st,
        schema.KERNEL_GALLERY,
        "interactive",
        "Interactive charts (hover values, zoom)",
        help="The images are drawn on the server and show at once; the interactive charts load the chart library "
        "in your browser first (a few seconds on a slow laptop).",
    )
    if view["kind"] == "stem":
        st.markdown(
            "The first layer's filters as colour images (each centred at grey): trained stems show "
            "colour blobs and oriented edges."
        )
        if interactive:
            classroom.plot(kernel_figures.rgb_grid(view["tiles"]), f"{fname}_stem", key=f"{P}.stem_chart")
        else:
            st.image(view["png"], width="stretch", output_format="PNG")
    elif view["kind"] == "pointwise":
        st.markdown("A 1x1 conv has no spatial kernel: its weights are a matrix mixing channels.")
        if interactive:
            classroom.plot(kernel_figures.pointwise_matrix(view["weight"]), f"{fname}_matrix", key=f"{P}.pw_chart")
        else:
            st.image(
                view["png"],
                caption="rows: output channels · columns: input channels",
                width="stretch",
                output_format="PNG",
            )
            _legend("of the layer")
    else:
        st.markdown(kernels.families_sentence(len(view["kernels"]), count, view["families"]))
        if interactive:
            classroom.plot(
                kernel_figures.kernel_grid(view["kernels"], columns=kernels_cached.KERNEL_COLUMNS),
                f"{fname}_kernels",
                key=f"{P}.k_chart",
            )
        else:
            st.image(view["png"], width="stretch", output_format="PNG")
            _legend("(per kernel or per layer: the sidebar's colour scale)")
        if view["examples"]:
            st.markdown("**Best example of each family in this layer**")
            cols = st.columns(len(view["examples"]))
            for col, ex in zip(cols, view["examples"], strict=True):
                if interactive:
                    classroom.plot(
                        kernel_figures.kernel_library_figure([(ex["title"], ex["kernel"])], columns=1),
                        ex["title"],
                        key=f"{P}.ex_{ex['family']}",
                        box=col,
                    )
                else:
                    col.markdown(images.kernel_table_html(ex["kernel"], ex["title"]), unsafe_allow_html=True)
    with st.expander("How kernels are sorted into families"):
        st.write(kernels.SIMILARITY_EXPLANATION)


def fixed_kernels() -> None:
    """VGNet's fixed kernels at the chosen Gaussian sigma, and their frequency responses."""
    sigma = forms.control(st, schema.KERNEL_GALLERY, "sigma", "Gaussian sigma (pixels)")
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


def trained_vs_random(name: str, layer: str, per: str, threshold: float) -> None:
    """The families per layer and one layer's kernels of the trained model beside the same model at random init."""
    c1, c2 = st.columns(2)
    for col, pretrained, title in ((c1, True, "trained (ImageNet)"), (c2, False, "random init")):
        with col:
            st.markdown(f"**{title}**")
            rows = kernels_cached.layer_rows(name, pretrained, threshold)
            classroom.plot(kernel_figures.shares_figure(rows), f"{name}_families_{title}", key=f"{P}.cmp_{pretrained}")
            view = kernels_cached.layer_view(name, pretrained, layer, per, threshold)
            if view["kind"] not in ("stem", "pointwise"):
                classroom.plot(
                    kernel_figures.kernel_grid(view["kernels"][:48], columns=8),
                    f"{name}_{layer}_{title}",
                    key=f"{P}.cmpk_{pretrained}",
                )
    st.caption(
        "Random initialisation gives noise kernels: almost all 'other'. Training finds the blurs and "
        "edge detectors on its own."
    )
