"""The Network Inspector's cached work: a torchvision/timm model traced on the meta device (per name and size), an
uploaded ONNX file parsed in memory (per file), a diff of two references."""

from __future__ import annotations

import hashlib

import streamlit as st

from effnets.networks.report import NetworkReport

UPLOAD_LIMIT = 25 * 1024 * 1024
"""The server's upload limit (.streamlit/config.toml maxUploadSize), also the page's ONNX limit."""


@st.cache_data(max_entries=64, show_spinner="Tracing the network on the meta device (no weights, no download) ...")
def by_name(ref: str, resolution: int) -> NetworkReport:
    from effnets.networks.sources import resolve

    return resolve(ref, resolution or None)


def onnx_report(data: bytes, name: str, shape: tuple[int, int, int] | None) -> NetworkReport:
    return _onnx(hashlib.sha256(data).hexdigest(), data, name, shape)


@st.cache_data(max_entries=8, show_spinner="Reading the ONNX graph (parsed, never run) ...", hash_funcs={bytes: len})
def _onnx(digest: str, data: bytes, name: str, shape: tuple[int, int, int] | None) -> NetworkReport:
    from effnets.networks import onnx_graph

    return onnx_graph.analyse_onnx(data, name=name, input_shape=shape)


@st.cache_data(max_entries=32, show_spinner=False)
def diff(a: str, b: str):
    from effnets.networks import diff as d

    return d.diff_refs(a, b)
