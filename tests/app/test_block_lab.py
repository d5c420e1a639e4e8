"""The Block Lab page in Streamlit's AppTest: renders, reacts to widgets (by key), round-trips its URL."""

from __future__ import annotations

import pytest

import effnets
from effnets.blocks import BLOCKS
from effnets.report import human
from tests.app.conftest import metric, no_exceptions, open_section, page, page_all


def test_home_page_renders_through_navigation():
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import FIRST_RUN_TIMEOUT, ROOT

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=FIRST_RUN_TIMEOUT).run()
    no_exceptions(at)
    assert any("How effnets counts" in s.value for s in at.subheader)
    assert len(at.table) == 1 and len(at.table[0].value) == len(BLOCKS)  # the catalog table (wrapping)


def test_default_render_shows_analytic_numbers():
    at = page("block_lab.py").run()
    no_exceptions(at)
    c = effnets.block_cost("depthwise_separable", (32, 56, 56))
    assert metric(at, "Parameters") == human(c.params)
    assert metric(at, "MACs") == human(c.macs)
    assert metric(at, "Output shape") == "64×56×56"


def test_changing_widgets_by_key_changes_the_count():
    at = page("block_lab.py").run()
    before = metric(at, "MACs")
    at.number_input(key="blocks.out_channels").set_value(128).run()
    no_exceptions(at)
    after = metric(at, "MACs")
    assert after != before
    assert after == human(effnets.block_cost("depthwise_separable", (32, 56, 56), out_channels=128).macs)
    at.radio(key="blocks.unit").set_value("flops").run()
    assert metric(at, "FLOPs") == human(
        2 * effnets.block_cost("depthwise_separable", (32, 56, 56), out_channels=128).macs
    )


def test_extras_are_opt_in_lines():
    at = page("block_lab.py").run()
    at.multiselect(key="blocks.extras").set_value(["bn", "act"]).run()
    no_exceptions(at)
    c = effnets.block_cost("depthwise_separable", (32, 56, 56))
    assert metric(at, "MACs") == human(c.macs + c.extra("bn") + c.extra("act"))
    lines = at.dataframe[0].value["line"].tolist()
    assert lines[:3] == ["conv + linear MACs", "bn", "act"] and lines[-1] == "total"


@pytest.mark.parametrize("name", list(BLOCKS))
def test_every_block_renders(name):
    at = page("block_lab.py", {"block": name, "h": "20", "w": "20"}).run()
    no_exceptions(at)
    assert not at.error, [e.value for e in at.error]
    info = BLOCKS[name]
    spec = info.make_spec()
    assert metric(at, "Parameters") == human(info.cost(spec, (spec.in_channels, 20, 20)).params)


def test_impossible_setting_shows_message_not_traceback():
    at = page("block_lab.py", {"block": "grouped"}).run()
    at.number_input(key="blocks.in_channels").set_value(30).run()
    no_exceptions(at)
    assert any("groups g=4 must divide C_in (in_channels)=30" in e.value for e in at.error)
    assert not at.metric and not at.dataframe  # no stale numbers: the open tab waits for a valid block
    assert any("until the block can be built" in c.value for c in at.caption)
    at.number_input(key="blocks.in_channels").set_value(32).run()  # and it recovers
    assert not at.error
    assert metric(at, "Parameters") == human(effnets.block_cost("grouped", (32, 56, 56)).params)


def test_url_round_trip():
    at = page("block_lab.py").run()
    at.selectbox(key="blocks.name").set_value("mbconv").run()
    at.number_input(key="blocks.h").set_value(28).run()
    at.selectbox(key="blocks.kernel_size").set_value(5).run()
    params = {k: at.query_params[k] for k in at.query_params}
    assert params["block"] == "mbconv" and params["h"] == "28" and "kernel_size:5" in params["cfg"]
    shown = metric(at, "MACs")
    again = page("block_lab.py", {k: v[0] if isinstance(v, list) else v for k, v in params.items()}).run()
    no_exceptions(again)
    assert again.session_state["blocks.name"] == "mbconv"
    assert again.session_state["blocks.kernel_size"] == 5
    assert metric(again, "MACs") == shown


def test_tampered_url_is_clamped_with_warning():
    at = page(
        "block_lab.py",
        {"block": "standard", "h": "99999", "batch": "abc", "cfg": "kernel_size:99,stride:x,bogus:1,garbage"},
    ).run()
    no_exceptions(at)
    text = " ".join(w.value for w in at.warning)
    assert "h=99999 from the link is outside 1..1024; set to 1024" in text
    assert "batch='abc'" in text
    assert "kernel_size=99 from the link is above the maximum; set to 15" in text
    assert "unknown setting 'bogus'" in text and "garbage" in text
    assert at.session_state["blocks.kernel_size"] == 15
    assert at.session_state["blocks.h"] == 1024


def test_unknown_block_in_url_falls_back_with_warning():
    at = page("block_lab.py", {"block": "<script>alert(1)</script>"}).run()
    no_exceptions(at)
    assert at.session_state["blocks.name"] == "depthwise_separable"
    assert any("not one of the available options" in w.value for w in at.warning)


def test_cross_check_tab_agrees_with_tracers():
    at = page_all("block_lab.py", {"block": "mbconv", "h": "16", "w": "16"}).run()
    no_exceptions(at)
    checks = [df.value for df in at.dataframe if "source" in df.value.columns][0]
    assert checks["agrees"].iloc[:2].all()  # analytic and FlopCounterMode
    at.toggle(key="blocks.fvcore").set_value(True).run()
    no_exceptions(at)
    checks = [df.value for df in at.dataframe if "source" in df.value.columns][0]
    assert "fvcore total (defaults)" in checks["source"].tolist()
    assert any("batch norm" in m.value for m in at.markdown)


def test_presenter_mode_shows_one_section_at_a_time():
    at = page("block_lab.py", {"present": "1", "block": "standard"}).run()
    no_exceptions(at)
    assert at.session_state["app.presenter"] is True
    assert len(at.tabs) == 0
    at.segmented_control(key="blocks.section").set_value("Formula").run()
    no_exceptions(at)
    assert len(at.latex) >= 3  # the formula section, and no dataframe from the other sections
    assert len(at.dataframe) == 0


def test_predict_then_reveal_grades_against_live_count():
    at = page_all("block_lab.py", {"block": "standard"}).run()
    answer = effnets.block_cost("standard", (32, 56, 56)).params
    at.text_input(key="blocks.quiz_params.guess").set_value(str(answer * 10)).run()
    at.button(key="blocks.quiz_params.reveal").click().run()
    no_exceptions(at)
    assert any("Too high by 10.0x" in w.value for w in at.warning)
    at.text_input(key="blocks.quiz_params.guess").set_value(str(answer)).run()
    assert any("Right" in s.value for s in at.success)
    at.number_input(key="blocks.out_channels").set_value(65).run()  # new settings: the answer is hidden again
    assert not any("Right" in s.value for s in at.success)


def test_which_is_faster_is_measured_live():
    at = page_all("block_lab.py", {"block": "depthwise_separable", "h": "14", "w": "14"}).run()
    at.radio(key="blocks.race_guess").set_value("this block").run()
    at.button(key="blocks.race").click().run()
    no_exceptions(at)
    verdict = [m.value for m in [*at.success, *at.warning, *at.info] if "faster:" in m.value or "A tie" in m.value]
    assert verdict and "ms against" in verdict[0]


@pytest.mark.parametrize(
    ("file", "prefix"), [("block_lab.py", "blocks"), ("scaling_lab.py", "scaling"), ("design_space.py", "design")]
)
def test_counting_settings_from_link_on_every_counting_page(file, prefix):
    at = page(file, {"unit": "flops", "extras": "bn,act"}).run()
    no_exceptions(at)
    assert at.session_state[f"{prefix}.unit"] == "flops"
    assert at.session_state[f"{prefix}.extras"] == ["bn", "act"]
    at = page(file, {"unit": "joules", "extras": "bn,nonsense"}).run()
    no_exceptions(at)
    assert at.session_state[f"{prefix}.unit"] == "macs"
    assert at.session_state[f"{prefix}.extras"] == ["bn"]
    text = " ".join(w.value for w in at.warning)
    assert "unit='joules'" in text and "nonsense" in text


def test_a_word_as_the_guess_does_not_reveal_the_answer():
    at = page_all("block_lab.py", {"block": "standard"}).run()
    answer = effnets.block_cost("standard", (32, 56, 56)).params
    at.text_input(key="blocks.quiz_params.guess").set_value("lots").run()
    at.button(key="blocks.quiz_params.reveal").click().run()
    no_exceptions(at)
    graded = " ".join(e.value for e in [*at.info, *at.success, *at.warning])
    assert f"{answer:,}" not in graded
    assert any("'lots' is not a number" in w.value and "stays hidden" in w.value for w in at.warning)
    at.text_input(key="blocks.quiz_params.guess").set_value(str(answer)).run()
    at.button(key="blocks.quiz_params.reveal").click().run()
    assert any("Right" in s.value for s in at.success)


def test_a_setting_the_page_does_not_have_in_the_link_is_reported():
    at = page("block_lab.py", {"block": "standard", "kernel_size": "-5"}).run()
    no_exceptions(at)
    text = " ".join(w.value for w in at.warning)
    assert "ignored kernel_size='-5' from the link: this page has no such setting" in text
    assert "cfg=" in text  # where a block's settings go


def test_switching_block_keeps_only_settings_that_fit():
    at = page("block_lab.py", {"block": "standard"}).run()
    at.number_input(key="blocks.out_channels").set_value(128).run()
    at.selectbox(key="blocks.name").set_value("shuffle_v2").run()
    no_exceptions(at)
    assert not at.error
    assert at.session_state["blocks.out_channels"] == 32  # C_out follows C_in = 32 for a stride-1 unit
    assert any("C_out 128 → 32" in i.value for i in at.info)
    assert metric(at, "Parameters") == human(effnets.block_cost("shuffle_v2", (32, 56, 56), out_channels=32).params)
    at.selectbox(key="blocks.name").set_value("standard").run()  # settings that fit are kept
    assert at.session_state["blocks.out_channels"] == 32
    assert not [i.value for i in at.info if "→" in i.value]  # no switch notice: nothing was reset


def test_presenter_mode_tables_are_plain_text_tables_with_separators():
    at = page("block_lab.py", {"present": "1", "block": "standard"}).run()
    no_exceptions(at)
    assert len(at.dataframe) == 0 and len(at.table) >= 1  # the grid (canvas) would not grow with the type
    breakdown = at.table[0].value
    c = effnets.block_cost("standard", (32, 56, 56))
    assert f"{c.macs:,}" in breakdown.astype(str).to_numpy().ravel().tolist()
    css = " ".join(m.value for m in at.markdown if "<style>" in m.value)
    assert "stTable" in css and "stCode" in css and "katex" in css


def test_every_count_column_gets_thousands_separators():
    import pandas as pd

    from effnets.ui.classroom import with_separators

    df = pd.DataFrame({"params": [18560, 3], "ratio": [0.5, 1.5], "name": ["a", "b"], "ok": [True, False]})
    config = with_separators(df, {"name": "block"})
    assert config["params"]["type_config"]["format"] == "localized"
    assert set(config) == {"params", "name"}  # floats, text and booleans keep their own display


def test_sampling_pixel_left_outside_a_smaller_output_moves_to_its_centre():
    from effnets.analysis.sampling import picture

    at = page_all("block_lab.py", {"block": "standard"}).run()
    at.number_input(key="blocks.out_row").set_value(50).run()
    at.number_input(key="blocks.h").set_value(20).run()  # the output has 20 rows now: row 50 is gone
    no_exceptions(at)
    spec = BLOCKS["standard"].make_spec()
    centre = picture(spec, (20, 56), None, (3, 3)).out_pos
    assert at.session_state["blocks.out_row"] == centre[0] and at.session_state["blocks.out_col"] == centre[1]
    assert any(f"output ({centre[0]}, {centre[1]}) of 20×56 reads 9 input pixels" in c.value for c in at.caption)


def test_only_the_open_section_is_computed_and_a_closed_tabs_setting_is_kept():
    at = page("block_lab.py", {"block": "mbconv", "h": "16", "w": "16"}).run()
    no_exceptions(at)
    assert not [df for df in at.dataframe if "source" in df.value.columns]  # the tracers ran for no one
    open_section(at, "block_lab.py", "Cross-check").run()
    no_exceptions(at)
    assert [df for df in at.dataframe if "source" in df.value.columns]
    assert not [df for df in at.dataframe if "count" in df.value.columns]  # the breakdown tab is closed now
    open_section(at, "block_lab.py", "Compare blocks").run()
    at.radio(key="blocks.cmp_metric").set_value("params").run()
    open_section(at, "block_lab.py", "Formula").run()
    open_section(at, "block_lab.py", "Compare blocks").run()
    no_exceptions(at)
    assert at.radio(key="blocks.cmp_metric").value == "params"


def test_the_sampled_output_pixel_survives_another_tab_and_a_setting_change_there():
    at = page("block_lab.py", {"block": "mbconv"}, section="Sampling").run()
    at.number_input(key="blocks.out_row").set_value(3).run()
    at.number_input(key="blocks.out_col").set_value(5).run()
    open_section(at, "block_lab.py", "Formula").run()
    at.number_input(key="blocks.h").set_value(40).run()  # a page-level change while the tab is closed
    open_section(at, "block_lab.py", "Sampling").run()
    no_exceptions(at)
    assert (at.number_input(key="blocks.out_row").value, at.number_input(key="blocks.out_col").value) == (3, 5)
    assert any("output (3, 5) of" in c.value for c in at.caption)
