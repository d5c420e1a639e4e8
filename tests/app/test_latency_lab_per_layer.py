"""The Latency Lab's per-layer section in AppTest: a network's layers timed on the eager path beside their MACs, the
sum against the whole, and the prediction's place (none yet on a machine without a device card)."""

from __future__ import annotations

import effnets
from tests.app.conftest import no_exceptions, page


def test_latency_lab_times_every_layer(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFNETS_CACHE_DIR", str(tmp_path))  # no device card: the section says so and offers one
    at = page("latency_lab.py", {"blocks": "standard", "hw": "8", "threads": "1"}).run()
    no_exceptions(at)
    assert any("Time every layer" in c.value for c in at.caption)
    at.number_input(key="latency.repeats").set_value(1).run()
    at.number_input(key="latency.warmup").set_value(0).run()
    at.selectbox(key="latency.layers_model").set_value("mnasnet0_5").run()
    at.button(key="latency.lmeasure").click().run()
    no_exceptions(at)
    head = [m.value for m in at.markdown if m.value.startswith("Whole eager forward")]
    assert head and "No prediction yet" in head[0]
    layers = [d.value for d in at.dataframe if "layer" in d.value.columns]
    assert layers, "the per-layer table is shown"
    table = layers[0]
    assert table["ms"].gt(0).all() and table["MACs"].sum() == effnets.model_cost("mnasnet0_5").macs
    assert any(m.value.startswith("- Sum of the") for m in at.markdown)
    assert at.button(key="latency.cbuild") is not None
