"""The server's warm-up fills exactly the cache entries a page opened at its defaults reads first, and imports what
the pages import."""

from __future__ import annotations

import sys

import pytest

from effnets.ui import infer_cached, kernels_cached, warmup
from tests.app.conftest import no_exceptions, page


def test_page_modules_are_read_from_the_pages_not_run():
    names = warmup.page_modules()
    for expected in ("streamlit", "effnets.ui.classroom", "effnets.analysis.block_summary", "effnets.networks.arch"):
        assert expected in names
    assert len(names) == len(set(names))


def test_import_pages_imports_every_module_a_page_needs(tmp_path):
    (tmp_path / "a.py").write_text("import json\nfrom effnets.report import human\nfrom effnets import layer_table\n")
    (tmp_path / "b.py").write_text("from effnets.no_such_module import x\nraise SystemExit('never run')\n")
    done = warmup.import_pages(tmp_path)
    assert "json" in done and "effnets.layer_table" in done and "effnets.report" in done
    assert "effnets.no_such_module" not in done
    assert "effnets.layer_table" in sys.modules


def _recording(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append((args, kwargs))
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def test_inference_lab_first_prediction_is_the_one_warmed(monkeypatch):
    calls = _recording(monkeypatch, infer_cached, "predict")
    at = page("inference_lab.py").run()
    no_exceptions(at)
    assert calls, "the page made no prediction"
    args, kwargs = calls[0]
    want = warmup.inference_defaults()
    assert not kwargs
    assert args[:7] == want[:7] and args[8] == want[8]
    assert (args[7] == want[7]).all()


def test_kernel_gallery_first_view_is_the_one_warmed(monkeypatch):
    seen = _recording(monkeypatch, kernels_cached, "layer_view")
    rows = _recording(monkeypatch, kernels_cached, "layer_rows")
    at = page("kernel_gallery.py").run()
    no_exceptions(at)
    warmed_rows = _recording(monkeypatch, kernels_cached, "layer_rows")
    warmed_view = _recording(monkeypatch, kernels_cached, "layer_view")
    warmup.warm_kernel_gallery()
    assert rows[0] == warmed_rows[0]
    assert seen[0] == warmed_view[0]


def test_warm_runs_every_step_and_survives_a_failing_one():
    order = []

    def boom():
        order.append("boom")
        raise RuntimeError("no model here")

    took = warmup.warm(
        (("first", lambda: order.append("first")), ("boom", boom), ("last", lambda: order.append("last")))
    )
    assert order == ["first", "boom", "last"]
    assert set(took) == {"first", "last"} and all(v >= 0 for v in took.values())


@pytest.mark.parametrize("step", ["inference lab", "kernel gallery"])
def test_each_warm_step_runs_here(step):
    took = warmup.warm([s for s in warmup.STEPS if s[0] == step])
    assert step in took
