"""Cached pieces of the Inference Lab. Prepared models (device, precision, layout) are copies of the shared base
model; predictions and timings are cached per (model, weights, device, precision, layout, image)."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import streamlit as st
import torch
from PIL import Image

from effnets.runtime import devices, features, images, inference, preprocessing, weights
from effnets.runtime.timing import time_inference
from effnets.ui.runtime import base_model

MAX_IMAGES = 8


def image_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


@st.cache_data(max_entries=32, show_spinner=False)
def sample_array(name: str) -> np.ndarray:
    return np.asarray(images.sample_image(name).convert("RGB"))


@dataclass(frozen=True)
class InputImage:
    """One image the page classifies.

    Attributes:
        label: the sample's name, the file's name or "camera".
        key: what its cached results are kept under ("sample:chelsea", or a hash of the file's bytes).
        image: the RGB picture.
        notes: what decoding did to it (see :attr:`effnets.runtime.images.LoadedImage.notes`).
    """

    label: str
    key: str
    image: Image.Image
    notes: tuple[str, ...] = field(default=())

    @functools.cached_property
    def pixels(self) -> np.ndarray:
        """The picture as an H x W x 3 array (what the cached functions take), made once."""
        return np.asarray(self.image)

    @property
    def caption(self) -> str:
        return f"{self.label} ({self.image.width}x{self.image.height})"


def sample_input(name: str) -> InputImage:
    """A bundled sample photo."""
    return InputImage(name, f"sample:{name}", Image.fromarray(sample_array(name)))


def decoded_input(data: bytes, filename: str, label: str | None = None) -> InputImage:
    """An uploaded file or a camera snapshot, decoded in memory.

    Raises:
        effnets.runtime.images.ImageError: a file that cannot be shown honestly (the message names it).
    """
    loaded = images.load_image(data, filename)
    return InputImage(label or filename, image_key(data), loaded.image, tuple(loaded.notes))


def uploaded_inputs(files: Sequence) -> tuple[list[InputImage], list[str]]:
    """The first :data:`MAX_IMAGES` uploaded files (objects with ``name`` and ``getvalue()``), decoded: the images
    that could be, and one message for each file that could not."""
    inputs: list[InputImage] = []
    errors: list[str] = []
    for f in list(files)[:MAX_IMAGES]:
        try:
            inputs.append(decoded_input(f.getvalue(), f.name))
        except images.ImageError as e:
            errors.append(str(e))
    return inputs, errors


@st.cache_resource(max_entries=3, show_spinner="Preparing the model for the device and engine...")
def prepared(name: str, pretrained: bool, device: str, precision: str, channels_last: bool, engine: str = "fast"):
    """``run(x) -> logits`` of a private copy of the shared model (never the shared one) on ``engine``: the fast path
    (BN folded, static padding for the model's input size, inference mode), the plain eager copy, or the model
    exported to ONNX Runtime or OpenVINO (:func:`effnets.runtime.backends.engine_runner`)."""
    from effnets.runtime.backends import engine_runner

    model, _ = base_model(name, pretrained)
    crop = weights.eval_transform(name).crop
    return engine_runner(model, engine, crop, device, precision, channels_last)


def _preprocess(name: str, img: Image.Image) -> preprocessing.PreprocessResult:
    tr = weights.eval_transform(name)
    return preprocessing.preprocess(img, tr.resize, tr.crop, tr.normalization, interpolation=tr.interpolation)


@st.cache_data(max_entries=128, show_spinner=False)
def predict(
    name: str,
    pretrained: bool,
    device: str,
    precision: str,
    channels_last: bool,
    engine: str,
    key: str,
    pixels: np.ndarray,
    topk: int,
) -> list[dict]:
    run = prepared(name, pretrained, device, precision, channels_last, engine)
    pre = _preprocess(name, Image.fromarray(pixels))
    x = pre.tensor if pre.tensor.dim() == 4 else pre.tensor.unsqueeze(0)
    return [p.to_dict() for p in inference.top_k(run(x), topk)[0]]


def timing(
    name: str,
    pretrained: bool,
    device: str,
    precision: str,
    channels_last: bool,
    engine: str,
    crop: int,
    warmup: int,
    repeats: int,
) -> dict:
    """Latency of one image (batch 1) with warm-up and device synchronisation, measured now (never cached: a timing
    belongs to the session that asked for it; see effnets.ui.jobs)."""
    run = prepared(name, pretrained, device, precision, channels_last, engine)
    x = torch.zeros(1, 3, crop, crop)
    t = time_inference(lambda: run(x), warmup, repeats, sync=device, batch_size=1)
    return {**t.to_dict(), "environment": devices.environment(device)}


@st.cache_data(max_entries=32, show_spinner=False)
def preprocess_steps(name: str, key: str, pixels: np.ndarray) -> list[dict]:
    pre = _preprocess(name, Image.fromarray(pixels))
    out = []
    for s in pre.steps:
        out.append(
            {
                "name": s.name,
                "description": s.description,
                "image": np.asarray(s.image) if s.image is not None else None,
                "stats": s.stats.rows(),
                "shape": "x".join(map(str, s.stats.shape)),
                "dtype": s.stats.dtype,
            }
        )
    return out


@st.cache_data(max_entries=16, show_spinner=False)
def layers(name: str, pretrained: bool, crop: int) -> list[features.LayerInfo]:
    """The model's layers that output C x H x W feature maps, with their shapes at ``crop`` x ``crop``."""
    model, _ = base_model(name, pretrained)
    return [
        li
        for li in features.list_layers(model, (3, crop, crop))
        if li.output_shape is not None and len(li.output_shape) == 3
    ]


@st.cache_data(max_entries=64, show_spinner="Computing feature maps...")
def feature_grid(name: str, pretrained: bool, key: str, pixels: np.ndarray, layer: str, channels: int) -> np.ndarray:
    model, _ = base_model(name, pretrained)
    pre = _preprocess(name, Image.fromarray(pixels))
    fmap = features.feature_maps(model, pre.tensor, layer)
    return features.feature_grid(fmap, max_channels=channels)


@st.cache_data(max_entries=32, show_spinner="Comparing adjacent layers...")
def similarity(
    name: str, pretrained: bool, key: str, pixels: np.ndarray, layer_names: tuple[str, ...]
) -> list[features.LayerSimilarity]:
    model, _ = base_model(name, pretrained)
    pre = _preprocess(name, Image.fromarray(pixels))
    return features.adjacent_similarity(model, pre.tensor, list(layer_names))
