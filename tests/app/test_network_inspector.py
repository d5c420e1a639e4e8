"""The Network Inspector in AppTest: a torchvision/timm model by name gives the tracer's exact counts, bad names and
tampered links are messages with the nearest names, and the diff presets give the diff's numbers."""

from __future__ import annotations

import pytest

from effnets.networks import diff, external
from effnets.report import human
from tests.app.conftest import metric, no_exceptions, page

FILE = "network_inspector.py"


@pytest.mark.parametrize("name", ["torchvision:mobilenet_v3_small", "timm:convnext_atto"])
def test_a_model_by_name_shows_the_traced_counts(name):
    at = page(FILE, {"name": name})
    at.run()
    no_exceptions(at)
    r = external.analyse(name)
    assert (metric(at, "Params"), metric(at, "MACs")) == (human(r.params), human(r.macs))


@pytest.mark.parametrize(
    ("name", "needle"),
    [("timm:convnxt_atto", "did you mean timm:convnext_atto"), ("torchvision:resnet5O", "did you mean"),
     ("pickle:evil", "torchvision"), ("timm:../../etc/passwd", "unknown")],
)  # fmt: skip
def test_bad_names_are_messages(name, needle):
    at = page(FILE, {"name": name})
    at.run()
    no_exceptions(at)
    assert any(needle in e.value for e in at.error), [e.value for e in at.error]


def test_diff_preset_shows_the_diff():
    at = page(FILE, {"src": "diff", "preset": "train_vs_deploy"})
    at.run()
    no_exceptions(at)
    d = diff.diff_refs(*diff.PRESETS["train_vs_deploy"][:2])
    assert metric(at, "Δ params") == f"{d.total('params'):+,}"
    assert metric(at, "Δ MACs") == f"{d.total('macs'):+,}"


def test_onnx_without_a_file_asks_for_one():
    at = page(FILE, {"src": "onnx"})
    at.run()
    no_exceptions(at)
    assert any("never run" in i.value for i in at.info)


def test_measure_both_times_the_two_networks_for_this_session():
    import time

    at = page(FILE, {"src": "diff", "preset": "train_vs_deploy"})
    at.run()
    at.button(key="inspector.measure").click().run()
    for _ in range(120):
        if any("B takes" in m.value for m in at.markdown):
            break
        time.sleep(0.5)
        at.run()
    no_exceptions(at)
    assert any("B takes" in m.value and "ms" in m.value for m in at.markdown)
    assert any("Measured for you" in c.value for c in at.caption)


@pytest.mark.parametrize("name", ["__import__('os')", "[open me](http://evil.example)", "$x$ **y**"])
def test_a_hostile_name_is_quoted_verbatim_in_its_message(name):
    at = page("network_inspector.py", {"name": name}).run()
    no_exceptions(at)
    (box,) = at.error
    assert name in box.value  # as the viewer reads it
    body = box.proto.body  # the Markdown sent: nothing in the name is left to format (bold, a link, a formula)
    assert "](http" not in body and "**" not in body and "$x$" not in body and "__import" not in body
