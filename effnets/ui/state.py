"""Shareable page state in the URL (st.query_params).

On a session's first run, a page reads its settings from the link: out-of-range numbers are clamped and malformed or
unknown values dropped, each with a visible warning. After the widgets are drawn the page writes its current settings
back, so the address bar is always a link to what is on screen. Spec fields travel in one compact parameter
(``cfg=kernel_size:5,stride:2``) decoded by :func:`effnets.spec.decode_fields`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

from effnets.spec import clamp_fields, decode_fields, encode_fields


def _loaded_flag(prefix: str) -> str:
    return f"{prefix}._url_loaded"


def first_run(prefix: str) -> bool:
    """True once per session and page: the moment to read the link."""
    return _loaded_flag(prefix) not in st.session_state


def mark_loaded(prefix: str) -> None:
    st.session_state[_loaded_flag(prefix)] = True


def warnings_key(prefix: str) -> str:
    return f"{prefix}._url_warnings"


def add_warnings(prefix: str, msgs: list[str]) -> None:
    st.session_state.setdefault(warnings_key(prefix), []).extend(msgs)


def show_warnings(prefix: str) -> None:
    """Show (once) what was clamped or dropped from the link."""
    msgs = st.session_state.pop(warnings_key(prefix), [])
    if msgs:
        st.warning("Some settings in the link were changed or ignored:\n\n" + "\n".join(f"- {m}" for m in msgs))


def read_choice(name: str, options: list[str], prefix: str) -> str | None:
    """A value from the link that must be one of ``options`` (else warned and dropped)."""
    raw = st.query_params.get(name)
    if raw is None:
        return None
    if raw in options:
        return raw
    add_warnings(prefix, [f"ignored {name}='{raw[:40]}' from the link: not one of the available options"])
    return None


def read_int(name: str, lo: int, hi: int, prefix: str) -> int | None:
    """An integer from the link, clamped into [lo, hi] with a warning; malformed values dropped."""
    raw = st.query_params.get(name)
    if raw is None:
        return None
    try:
        v = int(float(raw))
    except (TypeError, ValueError):
        add_warnings(prefix, [f"ignored {name}='{raw[:40]}' from the link: not a number"])
        return None
    if v < lo or v > hi:
        c = min(max(v, lo), hi)
        add_warnings(prefix, [f"{name}={v} from the link is outside {lo}..{hi}; set to {c}"])
        return c
    return v


def read_float(name: str, lo: float, hi: float, prefix: str) -> float | None:
    """A number from the link, clamped into [lo, hi] with a warning; malformed values dropped."""
    raw = st.query_params.get(name)
    if raw is None:
        return None
    try:
        v = float(raw)
    except (TypeError, ValueError):
        add_warnings(prefix, [f"ignored {name}='{raw[:40]}' from the link: not a number"])
        return None
    if not math.isfinite(v):
        add_warnings(prefix, [f"ignored {name}='{raw[:40]}' from the link: not a finite number"])
        return None
    if v < lo or v > hi:
        c = min(max(v, lo), hi)
        add_warnings(prefix, [f"{name}={v:g} from the link is outside {lo:g}..{hi:g}; set to {c:g}"])
        return c
    return v


def read_list(name: str, options: list[str], prefix: str) -> list[str] | None:
    """A comma-separated subset of ``options``; unknown items dropped with a warning."""
    raw = st.query_params.get(name)
    if raw is None:
        return None
    items = [s for s in raw.split(",") if s]
    bad = [s for s in items if s not in options]
    if bad:
        add_warnings(prefix, [f"ignored {name} item(s) {', '.join(b[:20] for b in bad)} from the link"])
    return [s for s in items if s in options]


def read_spec_fields(spec_cls: type, prefix: str, param: str = "cfg") -> dict[str, Any]:
    """Spec fields from the link's compact parameter, clamped or dropped with warnings."""
    raw = st.query_params.get(param)
    if not raw:
        return {}
    pieces, w1 = decode_fields(raw)
    values, w2 = clamp_fields(spec_cls, pieces)
    add_warnings(prefix, w1 + w2)
    return values


def seed_session(prefix: str, values: Mapping[str, Any], key: Callable[[str], str] | None = None) -> None:
    """Put values read from the link into the widgets' session state before the widgets are drawn."""
    for name, v in values.items():
        st.session_state[key(name) if key else f"{prefix}.{name}"] = v


def write(params: Mapping[str, Any], spec_fields: Mapping[str, Any] | None = None, param: str = "cfg") -> None:
    """Make the address bar a link to the current settings (only non-default spec fields are written)."""
    out = {k: str(v) for k, v in params.items() if v is not None}
    if st.session_state.get("app.presenter"):  # a link copied while presenting opens in presenter mode
        out["present"] = "1"
    if spec_fields:
        out[param] = encode_fields(spec_fields)
    if dict(st.query_params) != out:
        st.query_params.from_dict(out)
