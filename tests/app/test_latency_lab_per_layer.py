"""The Latency Lab's per-layer section in AppTest: a network's layers timed on the eager path beside their MACs, the
sum against the whole, the layer table and the network's diagram coloured by each layer's share of the measured time,
and the prediction's place: none without a device card, the shipped card of this CPU at this thread count where
effnets has one (and the offer to build this device's own)."""

from __future__ import annotations

import re

import pytest

import effnets
from effnets.analysis import layer_report
from effnets.figures import layer_time
from tests.app.conftest import no_exceptions, page


def _timed(model: str = "mnasnet0_5", threads: str = "1"):
    at = page("latency_lab.py", {"blocks": "standard", "hw": "8", "threads": threads}, section="Per layer").run()
    no_exceptions(at)
    assert any("Time every layer" in c.value for c in at.caption)
    at.number_input(key="latency.repeats").set_value(1).run()
    at.number_input(key="latency.warmup").set_value(0).run()
    at.selectbox(key="latency.layers_model").set_value(model).run()
    at.button(key="latency.lmeasure").click().run()
    no_exceptions(at)
    return at


def _headline(at) -> str:
    head = [m.value for m in at.markdown if m.value.startswith("Whole eager forward")]
    assert head
    return head[0]


def test_latency_lab_times_every_layer_and_colours_table_and_diagram(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFNETS_CACHE_DIR", str(tmp_path))  # no card of this device ...
    monkeypatch.setattr(layer_report, "SHIPPED_CARDS", tmp_path / "none")  # ... and none shipped: the section says so
    at = _timed()
    assert "No prediction yet" in _headline(at)
    layers = [d for d in at.dataframe if "layer" in d.value.columns]
    assert layers, "the per-layer table is shown"
    table = layers[0].value
    assert table["ms"].gt(0).all() and table["MACs"].sum() == effnets.model_cost("mnasnet0_5").macs
    # the table's time cells carry the diagram's colour scale: the slowest layer's cells the darkest colour
    styles = layers[0].proto.arrow_data.styler.styles
    slowest = int(table["ms"].idxmax())
    darkest = layer_time.time_color(1.0, 1.0)[0]
    rule = next(r for r in styles.split("}") if f"_row{slowest}_col5" in r)
    assert f"background-color: {darkest}" in rule and f"_row{slowest}_col4" in rule  # ms and % of time
    charts = at.get("graphviz_chart")
    assert len(charts) == 1
    dot = charts[0].proto.spec
    assert f'label="{layer_time.LEGEND_TITLE}"' in dot
    times = [float(x) for x in re.findall(r"\\n([0-9.]+) ms · ", dot)]
    assert sum(times) == pytest.approx(table["ms"].sum(), abs=0.0005 * len(times) + 1e-9)  # every layer in one box
    assert any(m.value.startswith("- Sum of the") for m in at.markdown)
    assert at.button(key="latency.cbuild") is not None


def test_the_shipped_card_of_this_cpu_predicts_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFNETS_CACHE_DIR", str(tmp_path))  # no card of this device: the shipped one, if it fits
    choice = layer_report.card_for("cpu", 1)
    if choice is None:
        pytest.skip("effnets ships no card of a CPU like this one at 1 thread")
    at = _timed("squeezenet1_1")
    head = _headline(at)
    assert f"predicted ({choice.card.calibration.get('chosen', 'table')} predictor, card: {choice.label})" in head
    assert re.search(r"\*\*[0-9.]+ ms\*\*, [+-][0-9]+% vs the measured whole", head)
    assert any("card shipped with effnets" in c.value for c in at.caption)
    assert at.button(key="latency.cbuild") is not None  # and the offer to build this device's own
