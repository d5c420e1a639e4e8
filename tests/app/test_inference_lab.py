"""The Inference Lab in AppTest: a sample photo gives a top-5, uploads good and bad, switching model and layer."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from effnets.runtime.imagenet import CAT_INDICES, categories
from tests.app.conftest import metric, no_exceptions, open_section, page, page_all
from tests.fixtures import images as fx


def _png(color=(200, 30, 30), size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def _top1(at) -> str:
    caps = [c.value for c in at.caption if c.value.startswith("top-1:")]
    assert caps, [c.value for c in at.caption]
    return caps[0]


def test_sample_photo_gives_top5_cat():
    at = page_all("inference_lab.py").run()
    no_exceptions(at)
    cats = {categories()[i] for i in CAT_INDICES}
    assert any(c in _top1(at) for c in cats)
    assert any(m.label == "Median latency" for m in at.metric)
    assert "ImageNet weights (packaged)" in " ".join(m.value for m in at.markdown)


def test_switching_sample_model_and_layer():
    at = page_all("inference_lab.py").run()
    at.selectbox(key="infer.sample").set_value("coffee").run()
    no_exceptions(at)
    assert "espresso" in _top1(at)
    layers = at.selectbox(key="infer.layer").options
    at.selectbox(key="infer.layer").set_value(layers[-1]).run()
    no_exceptions(at)
    at.selectbox(key="infer.model").set_value("mobilenet_v1").run()
    no_exceptions(at)
    assert any("random init" in w.value for w in at.warning)
    assert at.query_params["model"] == "mobilenet_v1"


def test_bad_upload_gives_message_and_good_one_still_works():
    at = page("inference_lab.py").run()
    at.segmented_control(key="infer.source").set_value("upload").run()
    at.file_uploader(key="infer.files").set_value(
        [
            ("broken.jpg", b"this is not a jpeg at all", "image/jpeg"),
            ("empty.png", b"", "image/png"),
            ("truncated.jpg", fx.truncated_jpeg(), "image/jpeg"),
            ("red.png", _png(), "image/png"),
        ]
    ).run()
    no_exceptions(at)
    errors = " | ".join(e.value for e in at.error)
    assert "broken.jpg" in errors and "empty.png" in errors and "truncated.jpg" in errors
    assert _top1(at)  # the good image is still classified
    at.file_uploader(key="infer.files").set_value(("ok.png", _png((20, 120, 20)), "image/png")).run()
    no_exceptions(at)
    assert not at.error


def test_header_bomb_is_refused_before_decoding():
    at = page("inference_lab.py").run()
    at.segmented_control(key="infer.source").set_value("upload").run()
    at.file_uploader(key="infer.files").set_value(("bomb.png", fx.png_header_only(100_000, 100_000), "image/png"))
    at.run()
    no_exceptions(at)
    assert any("bomb.png" in e.value and "pixels" in e.value for e in at.error)


def test_tampered_url_falls_back_with_warning():
    at = page("inference_lab.py", {"model": "nonexistent", "topk": "999", "device": "tpu"}).run()
    no_exceptions(at)
    text = " ".join(w.value for w in at.warning)
    assert "model='nonexistent'" in text and "topk=999" in text and "device='tpu'" in text
    assert at.session_state["infer.topk"] == 10


@pytest.mark.parametrize("engine", ["eager", "onnxruntime", "openvino"])
def test_every_engine_gives_the_fast_paths_top1(engine):
    at = page("inference_lab.py").run()
    at.selectbox(key="infer.engine").set_value("fast").run()
    fast = _top1(at)
    at.selectbox(key="infer.engine").set_value(engine).run()
    no_exceptions(at)
    label = {"eager": "eager", "onnxruntime": "ONNX Runtime", "openvino": "OpenVINO"}[engine]
    assert f"fp32 · {label}" in " ".join(m.value for m in at.markdown)
    assert "chosen by hand" in " ".join(c.value for c in at.caption)
    assert _top1(at) == fast


def test_auto_engine_says_which_engine_it_chose_and_why(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFNETS_CACHE_DIR", str(tmp_path))  # nothing measured in this cache
    at = page("inference_lab.py").run()
    no_exceptions(at)
    captions = " ".join(c.value for c in at.caption)
    assert "Engine: auto: the fast path, because no backend comparison has been measured" in captions


def _latency_texts(at) -> str:
    return " ".join(str(e.value) for e in [*at.caption, *at.info, *at.warning])


def test_a_timing_belongs_to_the_session_that_measured_it():
    """Two sessions on one server: the second sees the first's number labelled as another session's, and its own
    'Measure again' measures for itself (the server's first timing is never shown as anyone else's own)."""
    from effnets.ui.jobs import _store

    _store().clear()
    first = page_all("inference_lab.py").run()
    no_exceptions(first)
    assert "Measured for you at" in _latency_texts(first)
    mine = metric(first, "Median latency")
    second = page_all("inference_lab.py").run()  # a new session, same settings
    no_exceptions(second)
    text = _latency_texts(second)
    assert "An earlier measurement, by another session" in text and "not yours" in text
    assert metric(second, "Median latency") == mine  # the same number, labelled as someone else's
    second.button(key="infer.remeasure").click().run()
    assert "Measured for you at" in _latency_texts(second)
    first.run()  # the first session keeps its own measurement, labelled as its own
    assert "Measured for you at" in _latency_texts(first) and metric(first, "Median latency") == mine


def test_measure_again_always_measures():
    at = page_all("inference_lab.py").run()
    samples = []
    for _ in range(3):
        at.button(key="infer.remeasure").click().run()
        record = next(v for k, v in at.session_state["app.measured"].items() if k.startswith("infer:"))
        samples.append((record.at, tuple(record.value["samples"])))
    assert len({s[0] for s in samples}) == 3 and len({s[1] for s in samples}) == 3


def test_a_busy_measurement_is_flagged():
    from effnets.runtime.timing import BUSY_SPREAD, timing_from_samples

    calm = timing_from_samples([10.0, 10.2, 10.1, 10.3, 9.9, 10.0])
    busy = timing_from_samples([10.0, 11.0, 48.0, 10.5, 70.0, 9.8, 35.0])
    assert not calm.busy and calm.to_dict()["busy"] is False
    assert busy.busy and busy.spread > BUSY_SPREAD and busy.to_dict()["busy"] is True


def test_the_page_does_not_wait_for_another_sessions_measurement():
    """While another measurement holds the server's lock, a first visit shows the page at once and says why there
    is no latency yet, instead of blocking its rerun."""
    from effnets.ui.jobs import _server_lock, _store

    _store().clear()
    lock = _server_lock()
    assert lock.acquire(timeout=5)
    try:
        at = page_all("inference_lab.py").run(timeout=60)
    finally:
        lock.release()
    no_exceptions(at)
    assert any("Another measurement is running on this server" in i.value for i in at.info)
    assert not any(m.label == "Median latency" for m in at.metric)
    assert any(c.value.startswith("top-1:") for c in at.caption)  # the predictions did not wait
    at.button(key="infer.remeasure").click().run()
    assert "Measured for you at" in _latency_texts(at)


class _Upload:
    def __init__(self, name: str, data: bytes):
        self.name, self._data = name, data

    def getvalue(self) -> bytes:
        return self._data


def test_uploads_are_decoded_up_to_the_limit_and_bad_files_named():
    from effnets.ui import infer_cached

    good = [_Upload(f"red{i}.png", _png((200, 30 + i, 30), size=(64 + i, 48))) for i in range(infer_cached.MAX_IMAGES)]
    files = [_Upload("broken.jpg", b"not a jpeg"), *good]  # one more than the limit: the last is left out
    inputs, errors = infer_cached.uploaded_inputs(files)
    assert len(errors) == 1 and "broken.jpg" in errors[0]
    assert [i.label for i in inputs] == [f.name for f in good[: infer_cached.MAX_IMAGES - 1]]
    for item, f in zip(inputs, good, strict=False):
        assert item.key == infer_cached.image_key(f.getvalue())
        assert item.pixels.shape == (item.image.height, item.image.width, 3)
        assert item.caption == f"{f.name} ({item.image.width}x{item.image.height})"
    camera = infer_cached.decoded_input(good[0].getvalue(), "camera.jpg", label="camera")
    assert camera.label == "camera" and camera.key == inputs[0].key


def test_no_timing_or_fingerprint_unless_their_section_is_open():
    at = page("inference_lab.py").run()
    no_exceptions(at)
    assert not any(m.label == "Median latency" for m in at.metric)  # nothing timed on the rerun path
    assert not any("fingerprint" in c.value for c in at.caption)
    open_section(at, "inference_lab.py", "Latency").run()
    assert any(m.label == "Median latency" for m in at.metric)
    at.session_state["infer.about"] = True  # opening the expander
    at.run()
    from effnets.ui import runtime

    want = runtime.fingerprint(runtime.base_model("efficientnet_lite0", True)[0])
    assert any(want in c.value for c in at.caption if "fingerprint" in c.value)


def test_the_layer_picked_in_feature_maps_survives_another_tab():
    at = open_section(page("inference_lab.py"), "inference_lab.py", "Feature maps").run()
    layers = at.selectbox(key="infer.layer").options
    default = at.selectbox(key="infer.layer").value
    at.selectbox(key="infer.layer").set_value(layers[-1]).run()
    picked = at.selectbox(key="infer.layer").value
    assert picked != default
    open_section(at, "inference_lab.py", "Preprocessing").run()
    no_exceptions(at)
    assert not any(s.key == "infer.layer" for s in at.selectbox)  # the tab is closed: its widget is not drawn
    open_section(at, "inference_lab.py", "Feature maps").run()
    no_exceptions(at)
    assert at.selectbox(key="infer.layer").value == picked
