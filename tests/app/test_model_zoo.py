"""Model Zoo and Latency Lab in AppTest, with small measurements."""

from __future__ import annotations

import re

import effnets
from tests.app.conftest import no_exceptions, page, page_all


def test_zoo_counts_then_measures_and_explains():
    at = page_all("model_zoo.py", {"models": "mobilenet_v2,squeezenet1_1,shufflenet_v2_x0_5", "threads": "1"}).run()
    no_exceptions(at)
    table = at.dataframe[0].value
    assert table.set_index("name").loc["mobilenet_v2", "macs"] == effnets.model_cost("mobilenet_v2").macs
    assert (table["median_ms"] == "—").all()  # nothing measured yet: a dash, not None
    at.number_input(key="zoo.repeats").set_value(2).run()
    at.number_input(key="zoo.warmup").set_value(0).run()
    at.button(key="zoo.measure").click().run()
    no_exceptions(at)
    table = at.dataframe[0].value
    assert table["median_ms"].notna().all() and (table["median_ms"] > 0).all()
    assert any("Environment:" in c.value and "threads 1" in c.value for c in at.caption)
    assert any(c.value.startswith("Measured for you at") for c in at.caption)
    assert any("front by measured latency" in c.value for c in at.caption)  # computed: same front or which differ


def test_zoo_tampered_models_list():
    at = page("model_zoo.py", {"models": "mobilenet_v2,evil<script>", "batch": "999"}).run()
    no_exceptions(at)
    text = " ".join(w.value for w in at.warning)
    assert "evil" in text and "batch=999" in text
    assert at.session_state["zoo.models"] == ["mobilenet_v2"]


def test_latency_lab_measures_and_checks_guidelines():
    at = page_all("latency_lab.py", {"blocks": "standard,depthwise_separable", "hw": "8"}).run()
    no_exceptions(at)
    at.number_input(key="latency.repeats").set_value(2).run()
    at.button(key="latency.measure").click().run()
    no_exceptions(at)
    table = at.dataframe[0].value
    assert table["median ms"].notna().all()
    assert set(table["bound by"]) <= {"compute", "memory"}
    batch = at.number_input(key="latency.batch").value
    std = effnets.block_cost("standard", (64, 8, 8), out_channels=64, kernel_size=3)
    assert table.loc[table["block"] == "Standard convolution", f"MACs (batch of {batch})"].item() == std.macs * batch
    assert any("G1" in m.value for m in at.markdown) and any("G3" in m.value for m in at.markdown)
    assert any(c.value.startswith("Measured for you at") for c in at.caption)
    verdict = [m.value for m in at.markdown if m.value.startswith("At matched MACs")]
    assert verdict and "several-fold" not in verdict[0]


def test_latency_lab_checks_a_whole_model():
    at = page_all("latency_lab.py", {"blocks": "standard", "hw": "8"}).run()
    at.radio(key="latency.check_what").set_value("model").run()
    at.selectbox(key="latency.check_model").set_value("shufflenet_v2_x1_0").run()
    no_exceptions(at)
    assert sum(1 for m in at.markdown if re.match(r"^(:\w+\[:material/\w+:\]|·) \*\*G[1-4]\*\*", m.value)) == 4


def test_an_empty_list_in_the_link_keeps_the_default_set():
    from effnets.ui import schema

    for file, page_schema, name in (
        ("model_zoo.py", schema.MODEL_ZOO, "models"),
        ("latency_lab.py", schema.LATENCY_LAB, "blocks"),
    ):
        at = page(file, {name: "", "batch": "2"}).run()
        no_exceptions(at)
        assert at.session_state[page_schema.key(name)] == list(page_schema[name].default)
        assert at.session_state[page_schema.key("batch")] == 2  # the rest of the link is still read
        assert not any("Pick some" in i.value for i in at.info)
