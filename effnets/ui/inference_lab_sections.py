"""The Inference Lab's image picker (a sample photo, uploads or the camera) and its note about the shared model."""

from __future__ import annotations

import streamlit as st

from effnets.runtime import images
from effnets.ui import common, forms, infer_cached, runtime
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


def about_model(name: str, pretrained: bool) -> None:
    """Where the shared model's weights come from, and its fingerprint (which no page ever changes)."""
    with st.expander("About this model"):
        base, status = runtime.base_model(name, pretrained)
        st.markdown(f"Weights: **{status.status}**: {status.detail}")
        st.caption(
            f"Shared model fingerprint (SHA-256 of every parameter and buffer): `{runtime.fingerprint(base)}`. "
            "It stays the same for every user: pages never change the shared model."
        )
