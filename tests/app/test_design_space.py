"""The Design Space page in Streamlit's AppTest: the RegNet generator reacts to its widgets (by key) with the numbers
of effnets.model_cost, presets load, both roundings are compared, the MobileNet grid, ShuffleNet sweep and sampled
space render, the URL round-trips and a tampered one is clamped, and impossible settings show messages."""

from __future__ import annotations

import json

import pyarrow as pa

import effnets
from effnets.models import MODELS, sample_regnet_space
from effnets.report import human
from tests.app.conftest import metric, no_exceptions, page, page_all

PAGE = "design_space.py"


def params_of(at) -> dict[str, str]:
    q = at.query_params
    return {k: q[k][0] if isinstance(q[k], list) else q[k] for k in q}


def test_default_render_is_regnetx_200mf():
    at = page_all(PAGE).run()
    no_exceptions(at)
    assert not at.error
    c = effnets.model_cost("regnetx_200mf")
    assert metric(at, "Parameters") == human(c.params)
    assert metric(at, "MACs per image") == human(c.macs)
    assert metric(at, "Blocks / stages") == "13 / 4"
    stages = at.dataframe[0].value
    assert stages["params"].sum() == c.params
    assert metric(at, "Networks") == "200"
    assert len(at.get("plotly_chart")) == 4  # MobileNet grid, ShuffleNet, distribution, scatter
    (widths,) = at.get("vega_lite_chart")  # the RegNet widths, block by block
    # the rows travel as named Arrow datasets beside a spec that is the same at every setting (style.vega_layers)
    rows = {d.name: pa.ipc.open_stream(d.data.data).read_all().num_rows for d in widths.proto.datasets}
    assert rows["u"] == rows["w"] == 13 and rows["bands"] == 4
    assert json.loads(widths.proto.spec)["layer"][2]["layer"][0]["data"] == {"name": "u"}


def test_generator_widgets_by_key_change_the_network():
    at = page(PAGE).run()
    at.session_state["design.blocks_open"] = True  # the block-by-block table is sent while its expander is open
    at.number_input(key="design.depth").set_value(16).run()
    at.number_input(key="design.wa").set_value(40.0).run()
    no_exceptions(at)
    c = effnets.model_cost("regnetx_200mf", depth=16, wa=40.0)
    assert metric(at, "MACs per image") == human(c.macs) and metric(at, "Parameters") == human(c.params)
    blocks = [df.value for df in at.dataframe if "quantized w_j" in df.value.columns][0]
    assert len(blocks) == 16
    at.number_input(key="design.se_ratio").set_value(0.25).run()
    assert metric(at, "MACs per image") == human(
        effnets.model_cost("regnetx_200mf", depth=16, wa=40.0, se_ratio=0.25).macs
    )
    assert params_of(at)["cfg"] == "depth:16,wa:40.0,se_ratio:0.25"


def test_presets_load_and_both_roundings_are_compared():
    at = page_all(PAGE).run()
    at.selectbox(key="design.preset").set_value("regnety_800mf").run()
    no_exceptions(at)
    assert (at.session_state["design.depth"], at.session_state["design.w0"], at.session_state["design.wa"]) == (
        14,
        56,
        38.84,
    )
    assert metric(at, "MACs per image") == human(effnets.model_cost("regnety_800mf").macs)
    assert any("different networks" in w.value for w in at.warning)
    at.selectbox(key="design.preset").set_value("regnetx_400mf").run()
    roundings = [df.value for df in at.dataframe if "differs" in df.value.columns][0]
    assert "384 × 12" in roundings.iloc[3, 1] and "400 × 12" in roundings.iloc[3, 2]
    assert any("pycls [32, 64, 160, 384] vs torchvision [32, 64, 160, 400]" in w.value for w in at.warning)
    at.selectbox(key="design.preset").set_value("regnetx_200mf").run()
    assert any("Both roundings give the same network" in s.value for s in at.success)


def test_impossible_generator_settings_show_the_message_and_other_tabs_keep_working():
    at = page_all(PAGE).run()
    at.number_input(key="design.wm").set_value(1.0).run()
    no_exceptions(at)
    assert any("wm=1.0 must be above 1" in e.value for e in at.error)
    assert len(at.get("plotly_chart")) == 4  # MobileNet grid, ShuffleNet, distribution, scatter still there
    at.number_input(key="design.wm").set_value(2.49).run()
    at.number_input(key="design.depth").set_value(1).run()  # d = 1: one block, one stage: a valid network
    assert not at.error
    assert metric(at, "Blocks / stages") == "1 / 1"
    assert metric(at, "MACs per image") == human(effnets.model_cost("regnetx_200mf", depth=1).macs)


def test_mobilenet_grid_and_its_published_figures():
    at = page_all(PAGE).run()
    pub = [df.value for df in at.dataframe if "agrees within rounding" in df.value.columns][0]
    assert "569M" in list(pub["published"]) and 568740352 in list(pub["ours (exact)"])
    at.radio(key="design.mb_model").set_value("mobilenet_v2").run()
    at.multiselect(key="design.mb_alphas").set_value([1.0, 1.4]).run()
    no_exceptions(at)
    at.multiselect(key="design.mb_alphas").set_value([]).run()
    assert any("Pick at least one width multiplier" in e.value for e in at.error)
    assert params_of(at)["mb"] == "mobilenet_v2"


def test_shufflenet_sweep_table():
    at = page_all(PAGE).run()
    table = [df.value for df in at.dataframe if "groups g" in df.value.columns][0]
    assert list(table["groups g"]) == [1, 2, 3, 4, 8]
    assert table["MACs (conv + linear)"].iloc[0] == effnets.model_cost("shufflenet_v1", groups=1).macs


def test_sampling_by_key_matches_the_library():
    at = page_all(PAGE).run()
    at.slider(key="design.s_n").set_value(30).run()
    at.number_input(key="design.s_seed").set_value(7).run()
    at.toggle(key="design.s_se").set_value(True).run()
    no_exceptions(at)
    samples = sample_regnet_space(30, seed=7, se_ratio=0.25)
    macs = sorted(s["macs"] for s in samples)
    assert metric(at, "Networks") == "30"
    assert metric(at, "median MACs") == human(macs[14] + (macs[15] - macs[14]) * 0.5)
    q = params_of(at)
    assert (q["n"], q["seed"], q["se"]) == ("30", "7", "1")


def test_bad_sampling_range_shows_the_message():
    at = page_all(PAGE).run()
    at.slider(key="design.s_wm").set_value((1.0, 1.2)).run()
    no_exceptions(at)
    assert any("w_m must be above 1" in e.value for e in at.error)
    at.slider(key="design.s_wm").set_value((1.5, 3.0)).run()
    assert not at.error
    at.multiselect(key="design.s_groups").set_value([]).run()
    assert any("at least one choice" in e.value for e in at.error)


def test_url_round_trip():
    at = page_all(PAGE).run()
    at.selectbox(key="design.preset").set_value("regnety_400mf").run()
    at.number_input(key="design.group_width").set_value(16).run()
    at.slider(key="design.s_n").set_value(50).run()
    at.slider(key="design.s_depth").set_value((10, 20)).run()
    at.radio(key="design.unit").set_value("flops").run()
    q = params_of(at)
    assert q["preset"] == "regnety_400mf" and q["cfg"] == "group_width:16" and q["n"] == "50"
    assert (q["depth_lo"], q["depth_hi"], q["unit"]) == ("10", "20", "flops")
    shown = (metric(at, "FLOPs per image"), metric(at, "median FLOPs"))
    again = page_all(PAGE, q).run()
    no_exceptions(again)
    assert not any("link" in w.value for w in again.warning)
    assert (metric(again, "FLOPs per image"), metric(again, "median FLOPs")) == shown
    assert again.session_state["design.s_depth"] == (10, 20) and again.session_state["design.group_width"] == 16


def test_tampered_url_is_clamped_or_dropped_with_warnings():
    at = page_all(
        PAGE,
        {
            "preset": "regnetz_1gf",
            "cfg": "depth:0,wm:9,rounding:nope",
            "n": "5",
            "seed": "x",
            "wm_lo": "0.2",
            "depth_lo": "30",
            "depth_hi": "12",
            "g": "3,8,abc",
        },
    ).run()
    no_exceptions(at)
    text = " ".join(w.value for w in at.warning)
    assert "ignored preset='regnetz_1gf'" in text
    assert "depth=0 from the link is below the minimum; set to 1" in text and "wm=9.0 from the link is above" in text
    assert "rounding='nope'" in text
    assert "n=5 from the link is outside 10..1000; set to 10" in text and "seed='x'" in text
    assert "wm_lo=0.2 from the link is outside 1..4; set to 1" in text
    assert "depth range 30..12 from the link is reversed; swapped" in text
    assert "ignored g item(s) 3, abc" in text
    assert at.session_state["design.depth"] == 1 and at.session_state["design.s_groups"] == [8]
    assert at.session_state["design.s_depth"] == (12, 30)
    assert any("w_m must be above 1" in e.value for e in at.error)  # clamped to 1.0, which the sampler refuses
    at.slider(key="design.s_wm").set_value((1.5, 3.0)).run()
    assert metric(at, "Networks") == "10"


def test_the_block_by_block_table_is_sent_only_while_its_expander_is_open():
    at = page(PAGE).run()
    no_exceptions(at)
    closed = len(at.dataframe)
    at.session_state["design.blocks_open"] = True
    at.run()
    no_exceptions(at)
    assert len(at.dataframe) == closed + 1
    depth = MODELS["regnetx_200mf"].make_spec().depth
    assert depth in [len(df.value) for df in at.dataframe]  # one row per block


def test_a_browser_sessions_first_run_defers_its_chart_and_the_next_run_draws_it(monkeypatch):
    from effnets.ui import classroom

    monkeypatch.setattr(classroom, "in_browser", lambda: True)
    at = page(PAGE).run()
    no_exceptions(at)
    assert not at.get("vega_lite_chart") and any("Drawing the chart" in c.value for c in at.caption)
    assert metric(at, "MACs per image") == human(effnets.model_cost("regnetx_200mf").macs)  # numbers at once
    assert at.session_state["app.charts_armed"] and "app.charts_ready" not in at.session_state
    at.session_state["app.charts_trigger"] = False  # what app.py does at the start of every full run
    at.run()  # the run the browser's timer asks for (here a full one): charts on, and drawn
    no_exceptions(at)
    assert at.session_state["app.charts_ready"] and len(at.get("vega_lite_chart")) == 1
    assert not any("Drawing the chart" in c.value for c in at.caption)
