"""Page fuzzing: settings drawn from the pages' own control definitions (effnets/ui/schema.py) and the specs' fields,
set on a running page by widget key, and the checks every drawn setting must pass.

A page session (one AppTest) is reused across the examples of a test, as a user changes one setting after another;
a failed run starts a fresh one.
"""

from __future__ import annotations

import math
import re
from dataclasses import fields

from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from effnets.spec import field_type
from effnets.ui.schema import Control, PageSchema
from tests.app.conftest import FIRST_RUN_TIMEOUT, ROOT
from tests.strategies import field_strategy

FRIENDLY_INTS = (1, 2, 3, 4, 5, 7, 8, 14, 16, 28, 32, 56, 64, 112, 224)


def control_strategy(c: Control) -> st.SearchStrategy:
    """Values the control's widget allows: its choices, or its range (friendly numbers, the ends, anything between)."""
    if c.widget in ("select", "radio", "segmented"):
        return st.sampled_from(c.choices())
    if c.widget == "multiselect":
        return st.lists(st.sampled_from(c.choices()), unique=True, max_size=5)
    if c.widget == "toggle":
        return st.booleans()
    if c.is_int:
        lo, hi, step = int(c.lo), int(c.hi), int(c.step or 1)
        on_grid = [v for v in FRIENDLY_INTS if lo <= v <= hi and (v - lo) % step == 0]
        one = st.one_of(
            st.sampled_from(on_grid or [lo]), st.sampled_from([lo, hi]), st.integers(0, (hi - lo) // step)
        ).map(lambda v: v if v in on_grid or v in (lo, hi) else lo + v * step)
    else:
        n = round((c.hi - c.lo) / (c.step or 0.01))
        one = st.integers(0, n).map(lambda i: round(c.lo + i * (c.step or 0.01), 6))
    if c.widget == "range":
        return st.tuples(one, one).map(lambda t: tuple(sorted(t)))
    return one


def spec_strategy(spec_cls, skip: tuple[str, ...] = ()) -> st.SearchStrategy:
    """A dict of field values drawn from the spec's own metadata (tests/strategies.py)."""
    return st.fixed_dictionaries({f.name: field_strategy(spec_cls, f) for f in fields(spec_cls) if f.name not in skip})


def page(schema_or_file: str) -> AppTest:
    """The page with every section drawn on every run (the browser draws only the open tab), so that each drawn
    setting is checked in all of them."""
    from effnets.ui.classroom import ALL_SECTIONS_KEY

    at = AppTest.from_file(str(ROOT / "pages" / schema_or_file), default_timeout=FIRST_RUN_TIMEOUT)
    at.session_state[ALL_SECTIONS_KEY] = True
    return at


def widget(at: AppTest, c: Control, key: str):
    """The AppTest element of a schema control."""
    accessor = {
        "number": at.number_input,
        "slider": at.slider,
        "range": at.slider,
        "select": at.selectbox,
        "radio": at.radio,
        "multiselect": at.multiselect,
        "toggle": at.toggle,
        "segmented": at.segmented_control,
    }[c.widget]
    return accessor(key=key)


def set_controls(at: AppTest, schema: PageSchema, values: dict, optional: tuple[str, ...] = ()) -> None:
    """Set page controls by key (without running). Controls named in ``optional`` are set only when drawn (a tab's
    controls are not there while the page shows an error)."""
    for name, v in values.items():
        c = schema[name]
        try:
            w = widget(at, c, schema.key(name))
        except KeyError:
            if name in optional:
                continue
            raise
        w.set_value(list(v) if c.widget == "range" else v)


def set_fields(at: AppTest, prefix: str, spec_cls, values: dict) -> None:
    """Set spec-field widgets by key (without running): a checkbox, a selectbox or a number box, by the field."""
    by_name = {f.name: f for f in fields(spec_cls)}
    for name, v in values.items():
        f = by_name[name]
        key = f"{prefix}.{name}"
        if field_type(spec_cls, name) is bool:
            at.checkbox(key=key).set_value(v)
        elif f.metadata.get("choices") is not None:
            at.selectbox(key=key).set_value(v)
        else:
            at.number_input(key=key).set_value(v)


# Text a page must never show: a Python repr or a missing value printed as a word.
_BAD_TEXT = [
    (re.compile(r"(?<![\w`'])None(?![\w`'])"), "None"),
    (re.compile(r"(?<![\w`])nan(?![\w`])", re.IGNORECASE), "nan"),
    (re.compile(r"\{'[^']*':"), "a dict repr"),
    (re.compile(r"object at 0x"), "an object repr"),
    (re.compile(r"<effnets\."), "an effnets repr"),
    (re.compile(r"Traceback \(most recent call last\)"), "a traceback"),
    # a count of five or more digits without thousands separators (links, hashes and code are left alone)
    (re.compile(r"(?<![\w.,:/#=%`-])\d{5,}(?![\w.,`%])"), "a count without thousands separators"),
]


def page_texts(at: AppTest) -> list[str]:
    texts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "title", "subheader", "header"):
        texts += [str(e.value) for e in getattr(at, kind)]
    for m in at.metric:
        texts += [str(m.label), str(m.value)]
    return texts


def check_page(at: AppTest) -> None:
    """No exception element anywhere (every tab is drawn: :func:`page`), and no repr, None or nan shown as text."""
    assert not at.exception, "\n\n".join(str(e.value) + "\n" + "\n".join(e.stack_trace) for e in at.exception)
    for text in page_texts(at):
        for pattern, what in _BAD_TEXT:
            assert not pattern.search(text), f"the page shows {what}: {text[:300]!r}"
    for m in at.metric:
        assert m.value and not (isinstance(m.value, float) and math.isnan(m.value)), m


def metric(at: AppTest, label_start: str) -> str:
    for m in at.metric:
        if m.label.startswith(label_start):
            return m.value
    raise AssertionError(f"no metric starting with {label_start!r}: {[m.label for m in at.metric]}")


def errors(at: AppTest) -> list[str]:
    return [str(e.value) for e in at.error]


class Session:
    """One page session reused across examples; a fresh one after a failure."""

    def __init__(self, file: str):
        self.file = file
        self.at: AppTest | None = None

    def get(self) -> AppTest:
        if self.at is None:
            self.at = page(self.file).run()
            check_page(self.at)
        return self.at

    def reset(self) -> None:
        self.at = None
