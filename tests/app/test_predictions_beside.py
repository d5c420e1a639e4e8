"""The predictor's figure beside every measured eager latency, in AppTest: the Model Zoo's table (eager timings
only), the Inference Lab's timing (the eager engine only) and its backends table (the eager fp32 row only), each
labelled with the predictor and the card, and the error in %. A card of this machine is put in a private cache, so
that the pages predict with it (this device's own card comes before the shipped ones)."""

from __future__ import annotations

import re

import pytest
import torch

from effnets.analysis import layer_report
from effnets.runtime import weights
from tests.app.conftest import no_exceptions, page, page_all
from tests.test_eager_prediction import own_card


@pytest.fixture
def card(tmp_path, monkeypatch):
    """This device's own card at 1 thread and at torch's thread count, in a private cache."""
    monkeypatch.setenv("EFFNETS_CACHE_DIR", str(tmp_path))
    own_card(tmp_path, 1, name="one.json")
    own_card(tmp_path, torch.get_num_threads(), name="here.json")
    return tmp_path


def test_the_zoo_shows_predictions_beside_eager_timings_only(card):
    names = ["mobilenet_v2", "squeezenet1_1"]
    at = page("model_zoo.py", {"models": ",".join(names), "threads": "1"}).run()
    no_exceptions(at)
    assert "predicted_ms" not in at.dataframe[0].value.columns  # nothing measured: nothing beside
    at.number_input(key="zoo.repeats").set_value(2).run()
    at.number_input(key="zoo.warmup").set_value(0).run()
    at.toggle(key="zoo.eager").set_value(True).run()
    at.button(key="zoo.measure").click().run()
    no_exceptions(at)
    assert "predicted_ms" not in at.dataframe[0].value.columns  # eager, but channels_last: not what was predicted
    assert any("*channels_last* off" in c.value for c in at.caption)
    at.toggle(key="zoo.nhwc").set_value(False).run()
    at.button(key="zoo.measure").click().run()
    no_exceptions(at)
    table = at.dataframe[0].value.set_index("name")
    columns = list(table.columns)
    assert columns.index("predicted_ms") == columns.index("median_ms") + 1
    batch = int(at.number_input(key="zoo.batch").value)
    for name in names:
        want = layer_report.eager_prediction(name, threads=1, batch=batch, fields=layer_report.zoo_fields(name))
        assert table.loc[name, "predicted_ms"] == pytest.approx(want["predicted_ms"])
        error = 100 * (want["predicted_ms"] / table.loc[name, "median_ms"] - 1)
        assert table.loc[name, "predicted_error"] == pytest.approx(error)
    label = next(c.value for c in at.caption if c.value.startswith("Predicted ms: "))
    assert label.startswith("Predicted ms: predicted (") and "built on this device" in label
    at.toggle(key="zoo.eager").set_value(False).run()  # the fast path: the predictor does not predict it
    at.button(key="zoo.measure").click().run()
    no_exceptions(at)
    assert "predicted_ms" not in at.dataframe[0].value.columns
    assert any(c.value.startswith("No predictions beside these timings: the predictor predicts the eager path")
               for c in at.caption)  # fmt: skip


def test_the_inference_lab_shows_the_prediction_beside_its_eager_timing(card):
    at = page_all("inference_lab.py", {"model": "mobilenet_v3_small"}).run()
    no_exceptions(at)
    assert any(c.value.startswith("No prediction beside this timing") for c in at.caption)  # the fast path (auto)
    at.selectbox(key="infer.engine").set_value("eager").run()
    at.number_input(key="infer.repeats").set_value(2).run()
    no_exceptions(at)
    beside = [m.value for m in at.markdown if m.value.startswith("Beside it, predicted (")]
    assert beside and "built on this device" in beside[0]
    threads = torch.get_num_threads()
    want = layer_report.eager_prediction("mobilenet_v3_small", threads=threads, resolution=224,
                                         fields=weights.pretrained_fields("mobilenet_v3_small"))  # fmt: skip
    assert f"**{want['predicted_ms']:.2f} ms**" in beside[0]
    m = re.search(r"([+-][0-9]+)% vs the measured ([0-9.]+) ms\.$", beside[0])
    assert m and int(m.group(1)) == round(100 * (want["predicted_ms"] / float(m.group(2)) - 1))


@pytest.mark.slow
def test_the_backends_table_predicts_the_eager_fp32_row_only(card):
    at = page("inference_lab.py", {"model": "mobilenet_v3_small"}, section="Latency").run()
    at.number_input(key="infer.repeats").set_value(2).run()
    at.button(key="infer.backends").click().run()
    no_exceptions(at)
    table = next(df.value for df in at.dataframe if "backend" in df.value.columns)
    eager = (table["backend"] == "eager") & (table["precision"] == "fp32")
    assert eager.sum() == 1 and table.loc[eager, "predicted ms"].item() != "—"
    assert (table.loc[~eager, "predicted ms"] == "—").all() and (
        table.loc[~eager, "predicted vs measured"] == "—"
    ).all()
    assert re.fullmatch(r"[+-][0-9]+%", table.loc[eager, "predicted vs measured"].item())
    assert any(c.value.startswith("Predicted ms: predicted (") for c in at.caption)
