"""The Scaling Lab page in Streamlit's AppTest: renders, reacts to widgets (by key) with the numbers of
effnets.model_cost, loads presets, round-trips its URL, clamps a tampered one, and shows errors as messages."""

from __future__ import annotations

import effnets
from effnets.report import human
from tests.app.conftest import metric, no_exceptions, page, page_all

PAGE = "scaling_lab.py"


def b0_phi1():
    """B0 at phi = 1 with the paper's bases: width 1.1, depth 1.2, resolution round(224 * 1.15) = 258."""
    return effnets.model_cost("efficientnet_b0", width_mult=1.1, depth_mult=1.2, resolution=258)


def params_of(at) -> dict[str, str]:
    return {
        k: at.query_params[k][0] if isinstance(at.query_params[k], list) else at.query_params[k]
        for k in at.query_params
    }


def test_default_render_is_b0_with_the_stage_table():
    at = page_all(PAGE).run()
    no_exceptions(at)
    assert not at.error
    c = effnets.model_cost("efficientnet_b0")
    assert metric(at, "Parameters") == human(c.params)
    assert metric(at, "MACs per image") == human(c.macs)
    assert metric(at, "Input resolution") == "224×224"
    assert metric(at, "α·β²·γ²") == "1.920"
    stages = at.dataframe[0].value
    assert list(stages["operator"])[:2] == ["Conv3x3", "MBConv1, k3x3"]
    assert stages["params"].sum() == c.params and stages["MACs (conv + linear)"].sum() == c.macs
    assert len(at.get("plotly_chart")) >= 5  # multipliers, law, map, published, activations


def test_phi_slider_scales_to_the_exact_rounded_network():
    at = page(PAGE).run()
    at.slider(key="scaling.phi").set_value(1.0).run()
    no_exceptions(at)
    c, b0 = b0_phi1(), effnets.model_cost("efficientnet_b0")
    assert metric(at, "MACs per image") == human(c.macs)
    assert metric(at, "Parameters") == human(c.params)
    assert metric(at, "Input resolution") == "258×258"
    assert metric(at, "d = α^φ") == "1.200" and metric(at, "w = β^φ") == "1.100" and metric(at, "r = γ^φ") == "1.150"
    assert metric(at, "predicted cost") == "1.920"
    assert metric(at, "exact cost") == f"{c.macs / b0.macs:.3f}" == "2.573"
    assert params_of(at)["phi"] == "1"
    # the bases are live: alpha = 1.3 deepens the network
    at.number_input(key="scaling.alpha").set_value(1.3).run()
    c13 = effnets.model_cost("efficientnet_b0", width_mult=1.1, depth_mult=1.3, resolution=258)
    assert metric(at, "MACs per image") == human(c13.macs)
    # negative phi shrinks
    at.slider(key="scaling.phi").set_value(-1.0).run()
    neg = effnets.model_cost(
        "efficientnet_b0", width_mult=round(1.1**-1, 4), depth_mult=round(1.3**-1, 4), resolution=round(224 / 1.15)
    )
    assert metric(at, "MACs per image") == human(neg.macs)


def test_separate_multipliers_by_key():
    at = page(PAGE).run()
    at.radio(key="scaling.mode").set_value("multipliers").run()
    at.slider(key="scaling.width_x").set_value(2.0).run()
    no_exceptions(at)
    assert metric(at, "MACs per image") == human(effnets.model_cost("efficientnet_b0", width_mult=2.0).macs)
    at.slider(key="scaling.depth_x").set_value(1.5).run()
    at.slider(key="scaling.res_x").set_value(0.5).run()
    c = effnets.model_cost("efficientnet_b0", width_mult=2.0, depth_mult=1.5, resolution=112)
    assert metric(at, "MACs per image") == human(c.macs) and metric(at, "Parameters") == human(c.params)
    assert metric(at, "predicted cost") == f"{1.5 * 2.0**2 * 0.5**2:.3f}"
    q = params_of(at)
    assert (q["mode"], q["w"], q["d"], q["r"]) == ("multipliers", "2", "1.5", "0.5")


def test_counting_controls_say_what_is_counted():
    at = page(PAGE).run()
    at.radio(key="scaling.unit").set_value("flops").run()
    at.multiselect(key="scaling.extras").set_value(["bn"]).run()
    no_exceptions(at)
    c = effnets.model_cost("efficientnet_b0")
    assert metric(at, "FLOPs per image") == human(2 * (c.macs + c.total.extra("bn")))
    assert "FLOPs (conv + linear + bn)" in at.dataframe[0].value.columns


def test_presets_load_with_their_own_settings():
    at = page(PAGE).run()
    at.selectbox(key="scaling.preset").set_value("efficientnet_b3").run()
    assert metric(at, "MACs per image") == human(effnets.model_cost("efficientnet_b3").macs)
    assert at.session_state["scaling.dropout"] == 0.3
    at.selectbox(key="scaling.family").set_value("mobilenet_v1").run()
    no_exceptions(at)
    assert at.session_state["scaling.preset"] == "mobilenet_v1"
    assert metric(at, "MACs per image") == human(effnets.model_cost("mobilenet_v1").macs)
    at.radio(key="scaling.mode").set_value("multipliers").run()
    at.slider(key="scaling.width_x").set_value(0.5).run()
    at.slider(key="scaling.res_x").set_value(0.71).run()  # alpha 0.5, rho = 159/224
    assert metric(at, "MACs per image") == human(
        effnets.model_cost("mobilenet_v1", width_mult=0.5, resolution=159).macs
    )
    assert any("ρ = 159/224" in c.value for c in at.caption)
    at.selectbox(key="scaling.family").set_value("regnet").run()
    at.selectbox(key="scaling.preset").set_value("regnety_400mf").run()
    no_exceptions(at)
    assert at.session_state["scaling.depth"] == 16 and at.session_state["scaling.w0"] == 48  # the preset's d, w0
    assert metric(at, "MACs per image") == human(effnets.model_cost("regnety_400mf", resolution=159).macs)
    at.number_input(key="scaling.depth").set_value(20).run()  # RegNet's own design-space parameters
    assert metric(at, "MACs per image") == human(effnets.model_cost("regnety_400mf", depth=20, resolution=159).macs)


def test_url_round_trip():
    at = page(PAGE).run()
    at.selectbox(key="scaling.preset").set_value("efficientnet_b2").run()
    at.slider(key="scaling.phi").set_value(0.5).run()
    at.number_input(key="scaling.gamma").set_value(1.2).run()
    at.number_input(key="scaling.batch").set_value(8).run()
    at.number_input(key="scaling.se_ratio").set_value(0.5).run()
    q = params_of(at)
    assert q["model"] == "efficientnet_b2" and q["phi"] == "0.5" and q["gamma"] == "1.2" and q["batch"] == "8"
    assert q["cfg"] == "se_ratio:0.5"
    shown = (metric(at, "MACs per image"), metric(at, "Parameters"), metric(at, "Activation memory"))
    again = page(PAGE, q).run()
    no_exceptions(again)
    assert (metric(again, "MACs per image"), metric(again, "Parameters"), metric(again, "Activation memory")) == shown
    assert again.session_state["scaling.se_ratio"] == 0.5 and again.session_state["scaling.phi"] == 0.5
    assert not again.warning


def test_tampered_url_is_clamped_or_dropped_with_warnings():
    at = page(
        PAGE,
        {"model": "<b>bogus</b>", "phi": "99", "alpha": "abc", "beta": "nan", "r": "-5", "batch": "0", "mode": "x"},
    ).run()
    no_exceptions(at)
    text = " ".join(w.value for w in at.warning)
    assert "ignored model=" in text and "not one of the available options" in text
    assert "phi=99 from the link is outside -4..8; set to 8" in text
    assert "alpha='abc'" in text and "beta='nan'" in text
    assert "r=-5 from the link is outside 0.1..3; set to 0.1" in text
    assert "batch=0 from the link is outside 1..4096; set to 1" in text
    assert at.session_state["scaling.preset"] == "efficientnet_b0" and at.session_state["scaling.phi"] == 8.0
    phi8 = effnets.model_cost(
        "efficientnet_b0", width_mult=round(1.1**8, 4), depth_mult=round(1.2**8, 4), resolution=round(224 * 1.15**8)
    )
    assert metric(at, "MACs per image") == human(phi8.macs)
    assert metric(at, "Input resolution") == "685×685"


def test_tampered_spec_fields_are_clamped():
    at = page(PAGE, {"model": "regnetx_200mf", "cfg": "depth:999,wm:abc,width_mult:3,bogus:1"}).run()
    no_exceptions(at)
    text = " ".join(w.value for w in at.warning)
    assert "depth=999 from the link is above the maximum; set to 64" in text
    assert "wm" in text and "unknown setting 'bogus'" in text and "width_mult" in text
    assert at.session_state["scaling.depth"] == 64


def test_impossible_settings_show_the_message_and_the_page_recovers():
    at = page(PAGE, {"model": "efficientnet_b7", "mode": "multipliers"}).run()
    at.slider(key="scaling.width_x").set_value(3.0).run()
    no_exceptions(at)
    assert any("width multiplier w (width_mult)=6.0 is above the maximum 4.0" in e.value for e in at.error)
    assert not at.metric and not at.dataframe  # no stale numbers under the message
    assert any("until the network can be built" in c.value for c in at.caption)
    at.slider(key="scaling.width_x").set_value(1.0).run()
    assert not at.error
    assert metric(at, "MACs per image") == human(effnets.model_cost("efficientnet_b7").macs)


def test_too_small_resolution_shows_the_message():
    at = page(PAGE, {"mode": "multipliers"}).run()
    at.slider(key="scaling.res_x").set_value(0.1).run()
    no_exceptions(at)
    assert any("resolution=22 is below the minimum 32" in e.value for e in at.error)
    assert params_of(at)["r"] == "0.1"  # the link still holds what is on screen


def test_impossible_regnet_parameters_show_the_message():
    at = page(PAGE, {"model": "regnetx_200mf"}).run()
    at.number_input(key="scaling.wm").set_value(1.0).run()
    no_exceptions(at)
    assert any("wm=1.0 must be above 1" in e.value for e in at.error)


def test_predict_then_reveal_is_graded_against_the_live_answer():
    at = page_all(PAGE).run()
    answer = b0_phi1().macs
    at.text_input(key="scaling.quiz_phi.guess").set_value(str(int(effnets.model_cost("efficientnet_b0").macs * 1.92)))
    at.button(key="scaling.quiz_phi.reveal").click().run()
    no_exceptions(at)
    assert any("Too low by 1.3x" in w.value for w in at.warning)  # the law underestimates the rounded network
    at.text_input(key="scaling.quiz_phi.guess").set_value(str(answer)).run()
    assert any("Right" in s.value for s in at.success)


def test_why_b1_b7_differ_answers_with_live_numbers():
    at = page_all(PAGE).run()
    released = [t.value for t in at.table if "phi implied by cost" in t.value.columns][0]  # a wrapping table
    assert list(released["model"]) == [f"B{i}" for i in range(8)]
    assert released["MACs released"].iloc[7] == human(effnets.model_cost("efficientnet_b7").macs)
    assert released["MACs compound"].iloc[1] == human(b0_phi1().macs)
    text = " ".join(m.value for m in at.markdown)
    assert "What is documented" in text and "inferred" in text and "tensorflow/tpu issues 390, 738" in text


def test_presenter_mode_shows_one_section_at_a_time():
    at = page(PAGE, {"present": "1"}).run()
    no_exceptions(at)
    assert len(at.tabs) == 0 and len(at.get("plotly_chart")) == 0  # the stage table comes first
    at.segmented_control(key="scaling.section").set_value("Law vs exact").run()
    no_exceptions(at)
    assert len(at.get("plotly_chart")) == 1 and len(at.dataframe) == 0


def test_link_carries_only_the_controls_in_use_rounded_to_the_widgets_step():
    at = page(PAGE, {"mode": "multipliers", "phi": "1.5", "w": "1.23456", "d": "1.5"}).run()
    no_exceptions(at)
    assert at.session_state["scaling.width_x"] == round(1.23456, 2)
    q = params_of(at)
    assert "phi" not in q and (q["w"], q["d"]) == ("1.23", "1.5")  # phi is idle while the sliders scale
    at.radio(key="scaling.mode").set_value("phi").run()
    q = params_of(at)
    assert q["phi"] == "1.5" and not {"w", "d", "r"} & set(q)  # the sliders only show what phi sets
    at.selectbox(key="scaling.family").set_value("mobilenet_v1").run()
    at.radio(key="scaling.mode").set_value("multipliers").run()
    at.slider(key="scaling.width_x").set_value(0.5).run()
    assert "d" not in params_of(at)  # MobileNetV1 has no depth multiplier


def _tab_labels(at) -> list[str]:
    return [t.label for t in at.tabs]


def test_family_lesson_tab_only_where_the_family_has_one():
    at = page_all(PAGE).run()
    assert "Family lesson" not in _tab_labels(at)  # EfficientNet B0: no family lesson
    at.selectbox(key="scaling.family").set_value("efficientnet_v2").run()
    no_exceptions(at)
    assert "Family lesson" in _tab_labels(at)
    text = " ".join(m.value for m in at.markdown)
    assert "progressive learning" in text.lower() and "no single depth multiplier" in text
    assert any(c.proto.id.endswith("scaling.chart_progressive") for c in at.get("plotly_chart"))


def test_densenet_lesson_follows_the_growth_rate_widget():
    from effnets.analysis import family_lessons
    from effnets.models import MODELS

    at = page_all(PAGE).run()
    at.selectbox(key="scaling.family").set_value("densenet").run()
    at.number_input(key="scaling.growth_rate").set_value(12).run()
    no_exceptions(at)
    widths = family_lessons.dense_block_widths(MODELS["densenet121"].make_spec(growth_rate=12))
    tables = [d.value for d in at.dataframe]
    shown = next(t for t in tables if "dense block" in t.columns)
    assert list(shown["channels out"]) == [w["channels out"] for w in widths]


def test_lesson_tables_show_a_dash_not_none_for_what_a_network_lacks():
    at = page_all(PAGE).run()
    at.selectbox(key="scaling.family").set_value("efficientnet_v2").run()
    stages = next(d.value for d in at.dataframe if "L / S blocks" in d.value.columns)
    last = stages.iloc[-1]
    assert last["S channels"] == "—" and last["L / S blocks"] == "—" and last["L channels"] == 640
    assert not any(v is None for v in stages["S channels"])
