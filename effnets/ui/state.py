"""Shareable page state in the URL (st.query_params).

On a session's first run, a page reads its settings from the link: out-of-range numbers are clamped and malformed or
unknown values dropped, each with a visible warning. After the widgets are drawn the page writes its current settings
back, so the address bar is always a link to what is on screen. Spec fields travel in one compact parameter
(``cfg=kernel_size:5,stride:2``) decoded by :func:`effnets.spec.decode_fields`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import streamlit as st

from effnets.report import plain
from effnets.spec import clamp_fields, decode_fields, encode_fields, parse_bool
from effnets.ui.schema import Control, PageSchema


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


def show_warnings(prefix: str, again: bool = False) -> None:
    """Show what was clamped or dropped from the link, once; ``again``: this run replaces the one that showed them
    without the viewer doing anything (the run that draws a first view's charts), so they are shown again."""
    shown = f"{warnings_key(prefix)}_shown"
    msgs = st.session_state.pop(warnings_key(prefix), [])
    if msgs:
        st.session_state[shown] = msgs
    elif again:
        msgs = st.session_state.pop(shown, [])
    else:
        st.session_state.pop(shown, None)
    if msgs:
        st.warning("Some settings in the link were changed or ignored:\n\n" + "\n".join(f"- {plain(m)}" for m in msgs))


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


def seed_preset(prefix: str, name: str, values: Mapping[str, Any]) -> None:
    """Put a preset's spec field values into the field widgets and remember whose they are (:func:`seeded_preset`)."""
    seed_session(prefix, values)
    st.session_state[f"{prefix}._preset_fields_for"] = name


def seeded_preset(prefix: str) -> str | None:
    """The preset whose field values :func:`seed_preset` last put into the widgets (None before the first)."""
    return st.session_state.get(f"{prefix}._preset_fields_for")


def round_floats(schema: PageSchema, digits: int) -> None:
    """Round the session's values of the page's float numbers and sliders to ``digits`` decimals (after
    :func:`restore`: a link may carry more digits than the widgets step by)."""
    for c in schema.controls:
        if c.widget in ("number", "slider") and not c.is_int and schema.key(c.name) in st.session_state:
            st.session_state[schema.key(c.name)] = round(st.session_state[schema.key(c.name)], digits)


def _held_key(schema: PageSchema, name: str) -> str:
    return f"{schema.prefix}._url_{name}"


def hold(schema: PageSchema, name: str) -> None:
    """On a session's first run: keep the link's value of ``name`` (one of the page's ``other_params``, whose choices
    are known only later on the page, such as a model's layers) for :func:`restore_held`."""
    raw = st.query_params.get(name)
    if raw:
        st.session_state[_held_key(schema, name)] = raw


def restore_held(schema: PageSchema, name: str, choices: Sequence[str], missing: str) -> None:
    """Put the value :func:`hold` kept into the widget ``name`` when it is one of ``choices``; else warn that the
    link's value was ignored because ``missing`` ("efficientnet_lite0 has no such convolution layer")."""
    raw = st.session_state.pop(_held_key(schema, name), None)
    if raw is None:
        return
    if raw in choices:
        st.session_state[schema.key(name)] = raw
    else:
        st.warning(plain(f"ignored {name} '{raw[:60]}' from the link: {missing}"))


def write(params: Mapping[str, Any], spec_fields: Mapping[str, Any] | None = None, param: str = "cfg") -> None:
    """Make the address bar a link to the current settings (only non-default spec fields are written)."""
    out = {k: str(v) for k, v in params.items() if v is not None}
    if st.session_state.get("app.presenter"):  # a link copied while presenting opens in presenter mode
        out["present"] = "1"
    if spec_fields:
        out[param] = encode_fields(spec_fields)
    if dict(st.query_params) != out:
        st.query_params.from_dict(out)


def read_text(name: str, max_chars: int, prefix: str) -> str | None:
    """A free-text value from the link (an architecture string), refused with a warning when over ``max_chars``;
    the caller parses it as data."""
    raw = st.query_params.get(name)
    if raw is None:
        return None
    if len(raw) > max_chars:
        add_warnings(prefix, [f"ignored {name} from the link: {len(raw):,} characters (at most {max_chars:,})"])
        return None
    return raw


def read_bool(name: str, prefix: str) -> bool | None:
    """A yes/no value from the link ('1', 'true', 'yes' or '0', 'false', 'no')."""
    raw = st.query_params.get(name)
    if raw is None:
        return None
    try:
        return parse_bool(raw)
    except ValueError:
        add_warnings(prefix, [f"ignored {name}='{raw[:40]}' from the link: not 1 or 0"])
        return None


def _read_control(c: Control, prefix: str) -> Any:
    """The control's value from the link (clamped or dropped with a warning), or None when the link has none."""
    if c.widget in ("select", "radio", "segmented"):
        options = c.choices()
        by_text = {str(o): o for o in options}
        v = read_choice(c.url, list(by_text), prefix)
        return None if v is None else by_text[v]
    if c.widget == "multiselect":
        by_text = {str(o): o for o in c.choices()}
        items = read_list(c.url, list(by_text), prefix)
        return None if items is None else [by_text[i] for i in items]
    if c.widget == "toggle":
        return read_bool(c.url, prefix)
    if c.widget == "range":
        read = read_int if c.is_int else read_float
        a, b = read(f"{c.url}_lo", c.lo, c.hi, prefix), read(f"{c.url}_hi", c.lo, c.hi, prefix)
        if a is None and b is None:
            return None
        a, b = c.default[0] if a is None else a, c.default[1] if b is None else b
        if a > b:
            add_warnings(prefix, [f"{c.url} range {a}..{b} from the link is reversed; swapped"])
            a, b = b, a
        return (a, b)
    if c.is_int:
        return read_int(c.url, c.lo, c.hi, prefix)
    v = read_float(c.url, c.lo, c.hi, prefix)
    return None if v is None else round(v, 6)


def _link_names(schema: PageSchema) -> set[str]:
    names = schema.link_names()
    names |= {f"{c.url}_{end}" for c in schema.controls if c.widget == "range" and c.url for end in ("lo", "hi")}
    return names


def restore(schema: PageSchema, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """On a session's first run: put the link's values of the page's controls into the session (clamped or dropped
    with warnings) and warn about parameters the page does not know. Returns control name -> value read."""
    read: dict[str, Any] = {}
    for c in schema.controls:
        if c.url and c.name not in skip:
            v = _read_control(c, schema.prefix)
            if v is not None:
                st.session_state[schema.key(c.name)] = v
                read[c.name] = v
    known = _link_names(schema)
    for name in st.query_params:
        if name not in known:
            hint = f" (its settings go in {schema.spec_param}=name:value,...)" if schema.spec_param else ""
            raw = str(st.query_params.get(name))[:40]
            add_warnings(
                schema.prefix, [f"ignored {name[:40]}='{raw}' from the link: this page has no such setting{hint}"]
            )
    return read


def defaults(schema: PageSchema) -> None:
    """Give every control its default in the session, where it has no value yet, and keep the value of every other:
    a control inside a closed tab is not drawn on this run, and Streamlit forgets the value of a widget that was not
    drawn unless the page sets it again (as here) before the widget would appear."""
    for c in schema.controls:
        key = schema.key(c.name)
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
        else:
            st.session_state[key] = list(c.default) if isinstance(c.default, list) else c.default


def keep(*keys: str) -> None:
    """Keep the values of widgets that are not schema controls (a layer picked inside a tab, say) across runs that
    do not draw them: Streamlit forgets a widget's value after a run without it unless the page sets it again."""
    for key in keys:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def load(schema: PageSchema, keep_default_if_empty: tuple[str, ...] = ()) -> None:
    """The page's settings: on a session's first run those of the link (:func:`restore`; an empty list for a control
    named in ``keep_default_if_empty`` keeps its default), then every control's default where it has no value."""
    if first_run(schema.prefix):
        restored = restore(schema)
        for name in keep_default_if_empty:
            if not restored.get(name, True):
                st.session_state.pop(schema.key(name))
        mark_loaded(schema.prefix)
    defaults(schema)


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list | tuple):
        return ",".join(_text(x) for x in v)
    return str(v)


def link(
    schema: PageSchema, always: tuple[str, ...] = (), omit: Sequence[str] = (), **overrides: Any
) -> dict[str, str | None]:
    """The link parameters of the page's current settings: every control whose value differs from its default (and
    those named in ``always``), except the controls named in ``omit`` (idle ones, such as a disabled slider);
    ``overrides`` (by link name) replace or, with None, drop a parameter."""
    out: dict[str, str | None] = {}
    for c in schema.controls:
        if not c.url or c.name in omit:
            continue
        v = st.session_state.get(schema.key(c.name), c.default)
        default = c.default
        if c.widget == "multiselect" and v is not None and default is not None:
            same = list(v) == list(default)
        else:
            same = v == default
        if same and c.name not in always:
            continue
        if c.widget == "range":
            out[f"{c.url}_lo"], out[f"{c.url}_hi"] = _text(v[0]), _text(v[1])
        else:
            out[c.url] = _text(v)
    out.update(overrides)
    return out
