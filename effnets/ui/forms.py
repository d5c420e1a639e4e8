"""Widgets generated from spec fields: the field metadata (range, choices, help, label) becomes the widget."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

import streamlit as st

from effnets.spec import field_type


def widget_key(prefix: str, name: str) -> str:
    """Session-state key of a field's widget: '<page>.<field>' (shared vocabulary across blocks of a page)."""
    return f"{prefix}.{name}"


def _valid_for(value: Any, t: type, meta) -> bool:
    if t is bool:
        return isinstance(value, bool)
    if t is str:
        return isinstance(value, str) and (meta.get("choices") is None or value in meta["choices"])
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if t is int and not float(value).is_integer():
        return False
    if meta.get("choices") is not None:
        return value in meta["choices"]
    lo, hi = meta.get("lo"), meta.get("hi")
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def label_of(f) -> str:
    """The widget label of a field."""
    return f.metadata.get("label") or f.name.replace("_", " ")


def spec_widgets(spec_cls: type, prefix: str, skip: tuple[str, ...] = (), container=None) -> dict[str, Any]:
    """Draw one widget per field of ``spec_cls`` and return field name -> value.

    A value left in session state by another block (same field name, different range or choices) is reset to this
    block's default before the widget is drawn, with a notice, so a widget never sees an invalid value.
    """
    box = container or st
    hints = {f.name: field_type(spec_cls, f.name) for f in fields(spec_cls)}
    values: dict[str, Any] = {}
    basic = [f for f in fields(spec_cls) if not f.metadata.get("advanced") and f.name not in skip]
    advanced = [f for f in fields(spec_cls) if f.metadata.get("advanced") and f.name not in skip]
    for f in basic:
        values[f.name] = _draw(box, f, hints[f.name], prefix)
    if advanced:
        more = box.expander("More settings")
        for f in advanced:
            values[f.name] = _draw(more, f, hints[f.name], prefix)
    return values


def _draw(box, f, t: type, prefix: str) -> Any:
    meta = f.metadata
    key = widget_key(prefix, f.name)
    default = f.default if f.default is not MISSING else None
    value = st.session_state.get(key, default)
    if not _valid_for(value, t, meta):
        value = default
    # Always set through the Session State API: a value left by a different widget type under the same key (a
    # selectbox for MBConv's kernel, a number box for the standard conv's) is otherwise dropped by Streamlit.
    st.session_state[key] = value
    if t is int and isinstance(st.session_state[key], float):
        st.session_state[key] = int(st.session_state[key])
    if t is float and isinstance(st.session_state[key], int):
        st.session_state[key] = float(st.session_state[key])
    label, help_ = label_of(f), meta.get("help") or None
    choices = meta.get("choices")
    if t is bool:
        return box.checkbox(label, key=key, help=help_)
    if choices is not None:
        return box.selectbox(label, list(choices), key=key, help=help_)
    if t is int:
        return box.number_input(
            label, min_value=int(meta["lo"]), max_value=int(meta["hi"]), step=1, key=key, help=help_
        )
    if t is float:
        step = float(meta.get("step") or 0.05)
        return box.number_input(
            label, min_value=float(meta["lo"]), max_value=float(meta["hi"]), step=step, key=key, help=help_, format="%g"
        )
    return box.text_input(label, key=key, help=help_)


def held_values(spec_cls: type, prefix: str) -> dict[str, Any]:
    """Field name -> the value the session holds for that field's widget, for the fields of ``spec_cls`` that have
    one (what another block of the page left when the viewer switches block type)."""
    keys = {f.name: widget_key(prefix, f.name) for f in fields(spec_cls)}
    return {name: st.session_state[key] for name, key in keys.items() if key in st.session_state}


def index_input(box, label: str, size: int, default: int, key: str) -> int:
    """A number input for an index 0 .. size - 1; a value a change of settings left outside is reset to ``default``
    before the widget is drawn."""
    if not 0 <= st.session_state.get(key, -1) <= size - 1:
        st.session_state[key] = default
    return box.number_input(label, 0, size - 1, key=key)


def control(box, schema, name: str, label: str, **kwargs: Any) -> Any:
    """Draw the page control ``name`` of ``schema`` (an :class:`effnets.ui.schema.PageSchema`) with its range or
    choices; extra keyword arguments (help, format_func, horizontal, ...) go to the widget."""
    c = schema[name]
    key = schema.key(name)
    box = box or st
    if c.widget == "number":
        if c.is_int:
            return box.number_input(label, int(c.lo), int(c.hi), step=int(c.step or 1), key=key, **kwargs)
        return box.number_input(label, float(c.lo), float(c.hi), step=float(c.step or 0.01), key=key, **kwargs)
    if c.widget in ("slider", "range"):
        if c.is_int:
            return box.slider(label, int(c.lo), int(c.hi), step=int(c.step or 1), key=key, **kwargs)
        return box.slider(label, float(c.lo), float(c.hi), step=float(c.step or 0.01), key=key, **kwargs)
    if c.widget == "select":
        return box.selectbox(label, c.choices(), key=key, **kwargs)
    if c.widget == "radio":
        return box.radio(label, c.choices(), key=key, **kwargs)
    if c.widget == "multiselect":
        return box.multiselect(label, c.choices(), key=key, **kwargs)
    if c.widget == "segmented":
        return box.segmented_control(label, c.choices(), key=key, **kwargs)
    if c.widget == "toggle":
        return box.toggle(label, key=key, **kwargs)
    raise ValueError(f"control '{name}': unknown widget '{c.widget}'")
