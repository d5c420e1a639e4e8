"""Controls and blocks of UI every page shares."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from effnets import units
from effnets.cost import EXTRA_KINDS, EXTRA_LABELS
from effnets.report import Metric, plain
from effnets.ui.schema import DEVICES


def counting_controls(prefix: str, container=None) -> units.Counting:
    """Unit (MACs or FLOPs) and the extra lines to count beside conv/linear work."""
    box = container or st.sidebar
    st.session_state.setdefault(f"{prefix}.unit", "macs")
    st.session_state.setdefault(f"{prefix}.extras", [])
    unit = box.radio(
        "Count in",
        list(units.UNITS),
        format_func=units.LABELS.get,
        key=f"{prefix}.unit",
        horizontal=True,
        help="The papers' 'FLOPs' are multiply-accumulates (MACs). torch.utils.flop_counter reports FLOPs = 2 x MACs.",
    )
    extras = box.multiselect(
        "Also count",
        list(EXTRA_KINDS),
        format_func=lambda k: EXTRA_LABELS[k],
        key=f"{prefix}.extras",
        help="Work that is not conv/linear. Each is shown on its own line; the headline includes only what you tick.",
    )
    return units.Counting(unit, tuple(extras))


def metric_row(metrics: Sequence[Metric]) -> None:
    """Headline numbers side by side, one column each; a delta is a plain grey second line, never an arrow. One
    horizontal container (not a column per number): fewer elements for the browser to redraw at every change."""
    row = st.container(horizontal=True)
    for m in metrics:
        row.metric(m.label, m.value, delta=m.delta, delta_color="off", delta_arrow="off", help=m.help)


def show_error(message: str, hint: str = "") -> None:
    """A user error as a readable box (never a traceback). The message is shown verbatim (it may quote what the user
    typed); the hint is the page's own Markdown."""
    st.error(plain(message) + (f"\n\n{hint}" if hint else ""), icon=":material/error:")


def dark_theme() -> bool:
    """The viewer's page is in a dark theme (for the few figures whose colours are not theme-aware)."""
    try:
        return st.context.theme.get("type") == "dark"
    except Exception:  # outside a browser session (AppTest), no theme information
        return False


def device_controls(prefix: str, show_reason: bool = True):
    """Device (auto, cpu, cuda, mps) and precision widgets; returns (torch.device, reason, precision).

    A device that is not available here falls back to 'auto' with the reason shown; a precision the device does not
    support is reset to fp32. Each precision's support (and why not) is in the widget's help.
    """
    from effnets.runtime import devices

    st.session_state.setdefault(f"{prefix}.device", "auto")
    pref = st.radio(
        "Device",
        DEVICES,
        key=f"{prefix}.device",
        horizontal=True,
        help="auto: a CUDA GPU, then Apple's MPS, then the CPU.",
    )
    try:
        device, reason = devices.pick_device(pref)
    except ValueError as e:
        st.warning(plain(str(e)))
        device, reason = devices.pick_device("auto")
    if show_reason:
        st.caption(f"Running on **{devices.device_name(device)}** ({reason}).")
    support = devices.precision_support(device)
    choices = devices.supported_precisions(device)
    if st.session_state.get(f"{prefix}.precision") not in choices:
        st.session_state[f"{prefix}.precision"] = "fp32"
    precision = st.selectbox(
        "Precision",
        choices,
        key=f"{prefix}.precision",
        help="; ".join(f"{p.precision}: {'yes' if p.supported else 'no'} ({p.reason})" for p in support),
    )
    return device, reason, precision
