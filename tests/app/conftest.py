"""Streamlit AppTest helpers: pages are run from files, widgets are selected by key."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
FIRST_RUN_TIMEOUT = 120  # a cold `import torch` is slower than AppTest's 3 s default


def page(name: str, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=FIRST_RUN_TIMEOUT)
    for k, v in (query or {}).items():
        at.query_params[k] = v
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
