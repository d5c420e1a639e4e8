"""The Latency Lab's per-layer section: a whole network's eager layers timed on this device beside their MACs, the sum
of the parts against the whole, and the latency predicted before running (this device's card, built in the
background on request)."""

from __future__ import annotations

import functools
from types import SimpleNamespace

import pandas as pd
import streamlit as st

from effnets.analysis import layer_report
from effnets.figures import layer_time
from effnets.ui import classroom, common, forms, measuring

FORMATS = {"MACs": "localized", "ms": "%.3f", "% of time": "%.1f", "% of MACs": "%.1f", "time / MACs": "%.1f"}
TIMED = ["ms", "% of time"]  # the layer table's columns coloured by the share of time


@st.cache_data(max_entries=32, show_spinner="Tracing the network's diagram...")
def time_dot(name: str, input_shape: tuple[int, int, int], layers: tuple, dark: bool) -> str:
    """The network's traced diagram coloured by the measured ``layers`` ((name, ms, calls) each), built on meta."""
    from effnets.counting import build_on_meta
    from effnets.runtime import weights

    module = build_on_meta(lambda: weights.load_model(name, pretrained=False)[0])  # the structure that was timed
    result = SimpleNamespace(layers=[SimpleNamespace(name=n, ms=ms, calls=c) for n, ms, c in layers])
    return layer_time.time_dot(module, input_shape, result, dark=dark)


def layer_table(df: pd.DataFrame, key: str, columns: dict) -> None:
    """The per-layer table with its time columns coloured on the diagram's scale (plain in presenter mode)."""
    if classroom.presenter_mode():
        classroom.table(df, "per_layer", key=key, column_config=columns)
        return
    css = layer_time.share_css(df["% of time"].tolist())
    styled = df.style.apply(lambda col: css, subset=TIMED)  # numbers keep column_config's formats (they win)
    st.dataframe(styled, hide_index=True, width="stretch", column_config=columns, lazy=False)
    st.download_button("Download CSV", df.to_csv(index=False), file_name="per_layer.csv", mime="text/csv", key=key,
                       icon=":material/download:", type="tertiary")  # fmt: skip


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
    st.markdown(f"**Every layer**, coloured by its {layer_time.LEGEND_TITLE} (the sum of the layers):")
    layer_table(pd.DataFrame(layer_report.layer_rows(r)), f"{p}.lcsv", columns)
    measuring.environment(r.environment)
    st.markdown(f"**The network's diagram**, each layer's box coloured by its {layer_time.LEGEND_TITLE}:")
    layers = tuple((x.name, x.ms, x.calls) for x in r.layers)
    try:
        dot = time_dot(model, tuple(r.environment["input_shape"]), layers, common.dark_theme())
    except (ValueError, TypeError, RuntimeError) as e:  # torch.fx cannot trace every network (its TraceError)
        st.caption(f"No diagram for {model}: torch.fx cannot trace it ({type(e).__name__}); the table has every layer.")
    else:
        st.graphviz_chart(dot, width="content")
        st.caption(
            "Traced from the real module (torch.fx). Grey boxes are ops outside every layer (residual adds, "
            "concats, SE multiplies): their time is in the whole forward but in no layer's row; a box drawn for a "
            "composite (SE) sums its layers."
        )
    if m.value["prediction"] is None or m.value.get("card_shipped"):
        if m.value.get("card_shipped"):
            st.caption("The prediction uses a card shipped with effnets (measured where it was built); build this "
                       "device's own card for predictions of this machine.")  # fmt: skip
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
