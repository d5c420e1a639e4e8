"""Streamlit AppTest helpers: pages are run from files, widgets are selected by key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest, element_tree

_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def _as_read(alert) -> str:
    """An alert's text as the viewer reads it: its body is Markdown, so a backslash before a punctuation character
    (how pages print user text verbatim: effnets.report.plain) shows only the character (CommonMark's rule)."""
    return _ESCAPED.sub(r"\1", alert.proto.body)


element_tree.AlertBase.value = property(_as_read)  # at.error / at.warning / at.info values, as on the screen

ROOT = Path(__file__).resolve().parents[2]
FIRST_RUN_TIMEOUT = 120  # a cold `import torch` is slower than AppTest's 3 s default


def prefix_of(name: str) -> str:
    """The session-key prefix of a page file (from its ``S = schema.NAME`` line)."""
    from effnets.ui import schema

    m = re.search(r"^S = schema\.(\w+)$", (ROOT / "pages" / name).read_text(), re.M)
    assert m, f"{name} has no 'S = schema.NAME' line"
    return getattr(schema, m.group(1)).prefix


def page(name: str, query: dict | None = None, section: str | None = None, all_sections: bool = False) -> AppTest:
    """The page as an AppTest; ``section`` opens that tab (only the open tab is computed, as in the browser);
    ``all_sections`` draws every tab on every run, for a test that reads several of them."""
    from effnets.ui.classroom import ALL_SECTIONS_KEY

    at = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=FIRST_RUN_TIMEOUT)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    if section is not None:
        open_section(at, name, section)
    if all_sections:
        at.session_state[ALL_SECTIONS_KEY] = True
    return at


def page_all(name: str, query: dict | None = None) -> AppTest:
    """:func:`page` with every section drawn."""
    return page(name, query, all_sections=True)


def open_section(at: AppTest, name: str, section: str) -> AppTest:
    """Open the tab ``section`` of page file ``name`` for the next run (what a click on the tab does)."""
    from effnets.ui.classroom import section_key

    at.session_state[section_key(prefix_of(name))] = section
    return at


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def metric(at: AppTest, label_start: str) -> str:
    for m in at.metric:
        if m.label.startswith(label_start):
            return m.value
    raise AssertionError(f"no metric starting with {label_start!r}: {[m.label for m in at.metric]}")


@pytest.fixture
def app_page():
    return page
