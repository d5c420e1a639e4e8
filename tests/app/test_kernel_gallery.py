"""The Kernel Gallery in AppTest: trained vs random, layers, families computed from the real weights."""

from __future__ import annotations

from tests.app.conftest import no_exceptions, page


def test_default_shows_trained_strided_layer_with_families():
    at = page("kernel_gallery.py").run()
    no_exceptions(at)
    text = " ".join(m.value for m in at.markdown)
    assert "ImageNet weights (packaged)" in text
    assert "Gaussian / blur" in text
    layer = at.session_state["kernels.layer"]
    assert "s2" in at.selectbox(key="kernels.layer").format_func(layer)  # starts on a strided depthwise layer


def test_switching_layer_weights_and_model():
    at = page("kernel_gallery.py").run()
    opts = at.selectbox(key="kernels.layer").options
    at.selectbox(key="kernels.layer").set_value(opts[0]).run()  # the stem: RGB tiles
    no_exceptions(at)
    at.radio(key="kernels.weights").set_value("random").run()
    no_exceptions(at)
    assert "random init" in " ".join(m.value for m in at.markdown)
    at.selectbox(key="kernels.model").set_value("vgnetf_1_5mp").run()
    no_exceptions(at)
    assert at.query_params["model"] == "vgnetf_1_5mp"


def test_unknown_layer_in_url_is_dropped_with_warning():
    at = page("kernel_gallery.py", {"layer": "no.such.layer", "threshold": "5"}).run()
    no_exceptions(at)
    text = " ".join(w.value for w in at.warning)
    assert "no.such.layer" in text and "threshold=5" in text


def test_a_layer_in_the_link_is_opened():
    at = page("kernel_gallery.py").run()
    wanted = at.selectbox(key="kernels.layer").options[5].split(" · ")[-1]
    assert at.session_state["kernels.layer"] != wanted  # not the layer the page starts on
    linked = page("kernel_gallery.py", {"layer": wanted}).run()
    no_exceptions(linked)
    assert linked.session_state["kernels.layer"] == wanted and not linked.warning
    assert linked.query_params["layer"] == wanted


def test_kernels_are_images_first_and_charts_on_request():
    at = page("kernel_gallery.py").run()
    no_exceptions(at)
    urls = [im.proto.imgs[0].url for im in at.get("image")]
    assert len(urls) == 2 and all(u.endswith(".png") for u in urls)  # the grid and its colour bar, lossless
    assert not at.get("plotly_chart")  # nothing on the first view waits for the chart library
    tables = [m.value for m in at.markdown if "<table" in m.value]
    assert tables and all("</td>" in t for t in tables)  # the family examples, values written in
    at.toggle(key="kernels.interactive").set_value(True).run()
    no_exceptions(at)
    assert not at.get("image") and len(at.get("plotly_chart")) == 1 + len(tables)
