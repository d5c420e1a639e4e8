"""The predictor's figure beside every measured eager latency (effnets.analysis.layer_report): which device card the
app predicts with (this device's own, else a shipped one of this CPU at this thread count, else none), the
prediction of the structure that was timed, and the table columns and sentences the pages show beside a timing."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import pytest

from effnets.analysis import device_card, layer_report, predictor
from effnets.counting import build_on_meta
from effnets.models import MODELS
from effnets.report import plural
from effnets.runtime import weights

SHIPPED = layer_report.shipped_cards()


def _machine() -> str:
    return platform.machine() or "unknown"


def own_card(cache, threads: int, machine: str | None = None, name: str = "own.json"):
    """A card of this machine at ``threads`` in the cache ``cache`` (a shipped card's measurements, renamed)."""
    data = json.loads(SHIPPED[0].read_text())
    data["threads"] = threads
    data["device_name"] = f"CPU ({machine or _machine()}, {plural(threads, 'thread')})"
    folder = cache / "device_cards"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(data))
    return folder / name


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFNETS_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_effnets_ships_cards_of_this_cpu_at_one_and_two_threads():
    cards = [device_card.load(p) for p in SHIPPED]
    assert sorted(c.threads for c in cards) == [1, 2] and all(c.device == "cpu" for c in cards)


def test_a_shipped_card_is_used_for_its_thread_count_on_a_cpu_of_its_kind(cache):
    for path in SHIPPED:
        card = device_card.load(path)
        choice = layer_report.card_for("cpu", card.threads)
        if card.device_name.startswith(f"CPU ({_machine()},"):
            assert choice is not None and choice.shipped and choice.path == str(path)
            assert choice.label.startswith(f"{card.label}, shipped {path.name}")
            if choice.same_processor is False:  # a shipped card measured on another CPU model says which
                assert choice.label.endswith(f"measured on a different CPU: {card.processor}")
        else:
            assert choice is None
    assert layer_report.card_for("cpu", 7) is None  # no card at 7 threads: no prediction rather than a wrong one


def test_this_devices_own_card_comes_first(cache):
    path = own_card(cache, 1)
    choice = layer_report.card_for("cpu", 1)
    assert not choice.shipped and choice.path == str(path) and choice.label.endswith(", built on this device")
    assert layer_report.card_for("cpu", 2) is None or layer_report.card_for("cpu", 2).shipped


def test_cards_of_other_machines_and_broken_files_are_not_used(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(layer_report, "SHIPPED_CARDS", tmp_path / "no_such_folder")
    own_card(cache, 3, machine="riscv-of-elsewhere")
    (cache / "device_cards" / "broken.json").write_text("{not json")
    assert layer_report.card_for("cpu", 3) is None
    path = own_card(cache, 3, name="mine.json")
    assert layer_report.card_for("cpu", 3).path == str(path)


def test_a_card_of_this_cpu_model_comes_before_one_of_another_and_says_so(cache, tmp_path, monkeypatch):
    from effnets.runtime import devices

    shipped = tmp_path / "shipped"
    monkeypatch.setattr(layer_report, "SHIPPED_CARDS", shipped)
    monkeypatch.setattr(devices, "cpu_model", lambda: "Test CPU 9000")
    data = json.loads(SHIPPED[0].read_text())
    data.update(threads=3, device_name=f"CPU ({_machine()}, 3 threads)")
    shipped.mkdir()
    for name, processor in (
        ("a-other.json", "Other CPU 1"),
        ("b-unrecorded.json", None),
        ("c-this.json", "Test CPU 9000"),
    ):
        card = dict(data, processor=processor) if processor else {k: v for k, v in data.items() if k != "processor"}
        (shipped / name).write_text(json.dumps(card))
    choice = layer_report.card_for("cpu", 3)
    assert choice.path.endswith("c-this.json") and choice.same_processor is True
    assert choice.label == f"{choice.card.label}, shipped c-this.json"
    (shipped / "c-this.json").unlink()
    choice = layer_report.card_for("cpu", 3)
    assert choice.same_processor in (False, None)
    other = layer_report.CardChoice(device_card.load(shipped / "a-other.json"), True, str(shipped / "a-other.json"), 0)
    assert other.same_processor is False and other.label.endswith("measured on a different CPU: Other CPU 1")
    unknown = layer_report.CardChoice(device_card.load(shipped / "b-unrecorded.json"), True, "b-unrecorded.json", 0)
    assert unknown.same_processor is None and "CPU model is not recorded" in unknown.label
    assert device_card.from_dict(device_card.load(shipped / "a-other.json").to_dict()).processor == "Other CPU 1"


def test_the_cpu_model_is_named_where_the_os_says():
    from effnets.runtime import devices

    name = devices.cpu_model()
    assert isinstance(name, str) and len(name) <= 120 and "\n" not in name
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    if "model name" in info:
        assert name and name in " ".join(info.split())
        assert devices.environment("cpu")["processor"] == name


def test_a_changed_card_file_is_read_again(cache):
    path = own_card(cache, 5)
    first = layer_report.card_for("cpu", 5)
    data = json.loads(path.read_text())
    data["overheads"]["conv"] = data["overheads"]["conv"] + 1.0
    path.write_text(json.dumps(data))
    os.utime(path, (first.mtime + 10, first.mtime + 10))
    second = layer_report.card_for("cpu", 5)
    assert second.key != first.key and second.card.overheads["conv"] == pytest.approx(first.card.overheads["conv"] + 1)


def test_the_prediction_is_of_the_structure_that_was_timed(cache):
    own_card(cache, 1)
    card = layer_report.card_for("cpu", 1).card
    plain = layer_report.eager_prediction("resnet18", device="cpu", threads=1)
    assert plain["predicted_ms"] == pytest.approx(predictor.predict("resnet18", card).predicted_ms, rel=1e-9)
    assert plain["label"] == f"predicted ({plain['predictor']} predictor, card: {plain['card']})"
    assert plain["backend"] == "eager" and plain["card"].endswith("built on this device")
    # RepVGG: the Zoo times the deploy form (one 3x3 conv per block), not the training form's three branches
    assert layer_report.zoo_fields("repvgg_a0") == MODELS["repvgg_a0"].inference_fields != {}
    deploy = layer_report.eager_prediction("repvgg_a0", threads=1, fields=layer_report.zoo_fields("repvgg_a0"))
    train = layer_report.eager_prediction("repvgg_a0", threads=1)
    assert deploy["units"] < train["units"] and deploy["predicted_ms"] != train["predicted_ms"]
    meta = build_on_meta(
        lambda: weights.load_model("repvgg_a0", pretrained=False, **MODELS["repvgg_a0"].inference_fields)[0]
    )
    units = predictor.network_units(meta, 224)
    assert deploy["predicted_ms"] == pytest.approx(predictor.predict_units(units, card).predicted_ms, rel=1e-9)
    # batch and resolution reach the trace
    small = layer_report.eager_prediction("resnet18", threads=1, resolution=64)
    batch = layer_report.eager_prediction("resnet18", threads=1, resolution=64, batch=4)
    assert small["predicted_ms"] < plain["predicted_ms"] and batch["predicted_ms"] > small["predicted_ms"]


def test_the_zoo_times_what_its_weights_need():
    lite = layer_report.zoo_fields("efficientnet_lite0")
    assert (lite.get("tf_padding") is True) == weights.weight_status("efficientnet_lite0").pretrained
    assert layer_report.zoo_fields("resnet18") == {}


def test_no_card_no_prediction(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(layer_report, "SHIPPED_CARDS", tmp_path / "none")
    assert layer_report.eager_prediction("resnet18", threads=1) is None
    assert layer_report.beside(None, 10.0) == layer_report.NO_CARD


def test_only_eager_fp32_nchw_is_predicted():
    assert layer_report.predictable("eager", "fp32", False)
    for engine, precision, nhwc in (("fast", "fp32", False), ("eager", "bf16", False), ("eager", "fp32", True),
                                    ("onnxruntime", "fp32", False), ("openvino", "fp32", False)):  # fmt: skip
        assert not layer_report.predictable(engine, precision, nhwc)


PRED = {"predicted_ms": 12.0, "label": "predicted (table predictor, card: X, shipped x.json)", "card": "X"}


def test_the_zoo_table_gets_predicted_columns_beside_the_median():
    rows = [{"name": "a", "median_ms": 10.0, "macs": 1}, {"name": "b", "median_ms": 20.0, "macs": 2},
            {"name": "c", "median_ms": None, "macs": 3}]  # fmt: skip
    out, cols = layer_report.with_predictions(rows, ("name", "median_ms", "macs"), {"a": PRED, "b": None, "c": PRED})
    assert cols == ["name", "median_ms", "predicted_ms", "predicted_error", "macs"]
    assert out[0]["predicted_ms"] == 12.0 and out[0]["predicted_error"] == pytest.approx(20.0)
    assert out[1]["predicted_ms"] is None and out[1]["predicted_error"] is None
    assert out[2]["predicted_ms"] == 12.0 and out[2]["predicted_error"] is None  # nothing measured: no error
    for none in (None, {}, {"a": None}):
        assert layer_report.with_predictions(rows, ("name", "median_ms"), none) == (rows, ["name", "median_ms"])


def test_only_the_eager_fp32_backend_row_gets_a_prediction():
    rows = [{"backend": "eager", "precision": "fp32", "median_ms": 15.0},
            {"backend": "eager", "precision": "bf16", "median_ms": 9.0},
            {"backend": "fast", "precision": "fp32", "median_ms": 8.0},
            {"backend": "openvino", "precision": "fp32", "median_ms": None}]  # fmt: skip
    out = layer_report.backend_rows(rows, PRED)
    assert [r["predicted ms"] for r in out] == ["12.000", "—", "—", "—"]
    assert [r["predicted vs measured"] for r in out] == ["-20%", "—", "—", "—"]
    assert layer_report.backend_rows(rows, None) == rows


def test_sentences_beside_a_timing():
    assert layer_report.beside(PRED, 10.0) == (
        "Beside it, predicted (table predictor, card: X, shipped x.json): **12.00 ms**, +20% vs the measured 10.00 ms."
    )
    assert layer_report.predictions_caption({"a": None, "b": PRED}).startswith(f"Predicted ms: {PRED['label']}")
    assert layer_report.predictions_caption({"a": None}) == layer_report.NO_CARD
    text = layer_report.predictions_caption(None, "switch on *Eager*")
    assert text == f"No predictions beside these timings: {layer_report.EAGER_ONLY}; switch on *Eager*."
