"""The Latency Lab's per-layer section: a whole network's eager layers timed on this device beside their MACs, the sum
of the parts against the whole, and the latency predicted before running (this device's card, built in the
background on request)."""

from __future__ import annotations

import functools

import pandas as pd
import streamlit as st

from effnets.analysis import layer_report
from effnets.figures import layer_time
from effnets.ui import classroom, forms, measuring

FORMATS = {"MACs": "localized", "ms": "%.3f", "% of time": "%.1f", "% of MACs": "%.1f", "time / MACs": "%.1f"}


def per_layer(schema, ms: measuring.Settings) -> None:
    """Draw the section for the Latency Lab's ``schema`` and measurement settings ``ms``."""
    p = schema.prefix
    model = forms.control(st, schema, "layers_model", "Network")
    st.caption(
        "Each leaf layer (conv, norm, activation, pooling ...) timed on the eager path with hooks around it, the "
        "whole forward timed without them, interleaved; MACs per layer from FlopCounterMode."
    )
    m = measuring.measure(
        ms,
        ms.key(kind="per_layer", model=model),
        functools.partial(layer_report.measure, model, device=ms.device, warmup=ms.warmup, repeats=ms.repeats),
        button="Time every layer",
        label=f"timing {model}'s layers",
        job_key=f"{p}.ljob",
        button_key=f"{p}.lmeasure",
        primary=False,
    )
    measuring.job_notes(m, "Stopped early.", lambda value: False)
    if m.value is None:
        st.caption("Press *Time every layer* to measure this network layer by layer on this device.")
        return
    measuring.whose(m, "this network and measurement settings", [], "Time every layer")
    r = m.value["result"]
    st.markdown(layer_report.headline(m.value))
    for line in r.gap:
        st.markdown(f"- {line}")
    stages = layer_report.group_rows(r.stages, "stage")
    classroom.plot(layer_time.shares_figure(stages), "per_layer_stages", key=f"{p}.lfig")
    columns = measuring.number_columns(FORMATS)
    classroom.table(pd.DataFrame(layer_report.group_rows(r.kinds, "kind")), "per_layer_kinds", key=f"{p}.lkinds",
                    column_config=columns)  # fmt: skip
    classroom.table(pd.DataFrame(layer_report.layer_rows(r)), "per_layer", key=f"{p}.lcsv", column_config=columns)
    measuring.environment(r.environment)
    if m.value["prediction"] is None:
        card = measuring.measure(
            ms,
            ms.key(kind="device_card"),
            functools.partial(layer_report.build_card, device=ms.device),
            button="Build this device's card",
            label="measuring the device card",
            job_key=f"{p}.cjob",
            button_key=f"{p}.cbuild",
            primary=False,
        )
        if card.value is not None:
            st.success("Card built: time the layers again to see the prediction beside the measurement.")
