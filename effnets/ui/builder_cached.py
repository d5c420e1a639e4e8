"""The Network Builder's cached work: a design's cost (per architecture string), the reports it is compared with,
and its exports (built once per string, on request)."""

from __future__ import annotations

import streamlit as st

from effnets.networks import arch, design
from effnets.networks.design import DesignCost
from effnets.networks.report import NetworkReport
from effnets.spec import SpecError

MAX_EXPORT_PARAMS = 200_000_000
"""A design with more parameters is not built for a download on the shared server."""


@st.cache_data(max_entries=256, show_spinner=False)
def cost_cached(text: str) -> DesignCost:
    return design.evaluate(arch.parse(text))


@st.cache_data(max_entries=128, show_spinner=False)
def report_cached(name: str) -> NetworkReport:
    from effnets.networks.sources import resolve

    return resolve(name)


@st.cache_data(max_entries=16, show_spinner="Building the network and writing the file ...")
def export_cached(text: str, fmt: str) -> bytes:
    from effnets.models.network import Network

    c = design.evaluate(arch.parse(text))
    if c.problem is not None or c.plan is None:
        raise SpecError(str(c.problem or "the design does not build"))
    if c.total.params > MAX_EXPORT_PARAMS:
        raise SpecError(
            f"the design has {c.total.params:,} parameters; downloads are built up to {MAX_EXPORT_PARAMS:,} "
            "(use the CLI: python -m effnets export design.json --format py -o design.py)"
        )
    module = Network(c.plan).eval()
    if fmt == "py":
        from effnets.networks import pyexport

        return pyexport.python_source(module, name="Net", header=f"Architecture: {text}").encode()
    from effnets.networks import onnx_graph

    return onnx_graph.export_onnx(module, c.plan.input_shape)
