"""The Reparameterization Lab in AppTest: both forms' exact counts for every case, settings by widget key and link,
user errors as messages, the outputs compared, and a small interleaved measurement; plus settings drawn from the
page's schema and the blocks' specs (no exception, no repr, the API's numbers or the API's message)."""

from __future__ import annotations

import functools

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import effnets
from effnets.analysis import reparam
from effnets.report import human
from effnets.spec import SpecError
from effnets.ui import schema
from tests.app.conftest import metric, no_exceptions, page, page_all
from tests.app.fuzz import Session, check_page, control_strategy, errors, set_controls, set_fields, spec_strategy

R = schema.REPARAM_LAB
FILE = "reparameterization_lab.py"


def _headline(at) -> tuple[str, str, str, str]:
    return tuple(
        metric(at, label)
        for label in (
            "Parameters, training form",
            "Parameters, deploy form",
            "MACs, training form",
            "MACs, deploy form",
        )
    )


def _expected(train, deploy) -> tuple[str, str, str, str]:
    return human(train.params), human(deploy.params), human(train.macs), human(deploy.macs)


def test_default_render_shows_both_forms_and_their_outputs_agree():
    at = page_all(FILE).run()
    no_exceptions(at)
    shape = (48, 28, 28)
    train, deploy = effnets.block_cost("repvgg", shape), effnets.block_cost("repvgg", shape, deploy=True)
    assert _headline(at) == _expected(train, deploy)
    assert float(metric(at, "Max difference, float64")) <= 1e-10
    assert float(metric(at, "Max difference, float32")) <= 1e-5
    cost_table = at.dataframe[0].value.set_index("quantity")
    assert cost_table.loc["parameters", "deploy form"] == deploy.params
    assert (
        cost_table.loc["batch norm (extras)", "deploy form"]
        == 0
        < cost_table.loc["batch norm (extras)", "training form"]
    )


@pytest.mark.parametrize("case", list(reparam.CASES))
def test_every_case_renders_with_the_apis_numbers(case):
    at = page_all(FILE, {"case": case}).run()
    no_exceptions(at)
    if case in reparam.MODELS:
        train, deploy = effnets.model_cost(case), effnets.model_cost(case, deploy=True)
        assert any("Compare outputs" in i.value for i in at.info)  # a whole network is compared on request
    else:
        f = reparam.forms(case)
        train, deploy = f.training, f.deploy
        assert metric(at, "Max difference, float64")
    assert _headline(at) == _expected(train, deploy)


def test_widgets_by_key_and_the_link_follow_the_settings():
    at = page(FILE).run()
    at.number_input(key="reparam.repvgg.out_channels").set_value(96).run()
    at.selectbox(key="reparam.repvgg.stride").set_value(2).run()
    no_exceptions(at)
    shape = (48, 28, 28)
    train = effnets.block_cost("repvgg", shape, out_channels=96, stride=2)
    deploy = effnets.block_cost("repvgg", shape, out_channels=96, stride=2, deploy=True)
    assert _headline(at) == _expected(train, deploy)
    assert at.query_params["case"] == "repvgg"
    assert set(at.query_params["cfg"].split(",")) == {"out_channels:96", "stride:2"}
    again = page(FILE, {"case": "repvgg", "cfg": "out_channels:96,stride:2"}).run()  # the link opens the same view
    assert _headline(again) == _headline(at)


def test_an_impossible_setting_is_a_message_not_a_traceback():
    at = page(FILE, {"case": "repvgg", "cfg": "groups:5"}).run()
    no_exceptions(at)
    assert any("groups=5 must divide" in e for e in errors(at))
    assert not at.metric


def test_a_whole_network_is_compared_on_request():
    at = page_all(FILE, {"case": "repvgg_a0"}).run()
    at.button(key="reparam.check").click().run(timeout=300)
    no_exceptions(at)
    assert float(metric(at, "Max difference, float64")) <= 1e-10
    assert float(metric(at, "Largest output")) > 0.5


def test_measure_times_both_forms_for_this_session():
    at = page_all(FILE, {"case": "bn_fold", "hw": "8", "threads": "1"}).run()
    at.number_input(key="reparam.repeats").set_value(2).run()
    at.number_input(key="reparam.warmup").set_value(0).run()
    at.button(key="reparam.measure").click().run()
    no_exceptions(at)
    table = next(d.value for d in at.dataframe if "median (ms)" in d.value.columns)
    assert list(table["form"]) == list(reparam.FORMS)
    assert (table["median (ms)"] > 0).all() and table["time / training form"].iloc[0] == 1.0
    assert any(c.value.startswith("Measured for you at") for c in at.caption)
    assert any("Environment:" in c.value and "threads 1" in c.value for c in at.caption)
    assert any(m.value.startswith("On ") and "the deploy form" in m.value for m in at.markdown)


# ----- drawn settings -----------------------------------------------------------------------------------------------


FUZZ = settings(
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    max_examples=6,
)


@functools.cache
def _session() -> Session:
    return Session(FILE)


def ran(session: Session, at) -> None:
    """After a run: the page is sound, or the session is dropped so the next example starts fresh."""
    try:
        check_page(at)
    except AssertionError:
        session.reset()
        raise


def reparam_lab_case(session: Session, case: str, fields: dict, hw: int) -> None:
    at = session.get()
    set_controls(at, R, {"case": case})
    at.run()
    ran(session, at)
    spec_cls = reparam.spec_class(case)
    set_controls(at, R, {"hw": hw})
    set_fields(at, f"{R.prefix}.{case}", spec_cls, fields)
    at.run()
    ran(session, at)
    try:
        f = reparam.forms(case, fields, (fields["in_channels"], hw, hw))
    except ValueError as e:
        assert isinstance(e, SpecError), type(e)
        assert any(str(e) in m for m in errors(at)), (str(e), errors(at))
        return
    assert _headline(at) == _expected(f.training, f.deploy)
    check_page(at)


BLOCK_CASES = ("repvgg", "mobileone", "bn_fold")


@pytest.mark.parametrize("case", BLOCK_CASES)
@FUZZ
@given(data=st.data())
def test_reparam_lab_fuzz(case, data):
    fields = data.draw(spec_strategy(reparam.spec_class(case), skip=("deploy",)))
    hw = data.draw(control_strategy(R["hw"]))
    reparam_lab_case(_session(), case, fields, hw)


def test_a_network_link_and_a_tampered_link():
    at = page(FILE, {"case": "mobileone_s0", "cfg": "num_conv_branches:2,resolution:160"}).run()
    no_exceptions(at)
    train = effnets.model_cost("mobileone_s0", num_conv_branches=2, resolution=160)
    deploy = effnets.model_cost("mobileone_s0", num_conv_branches=2, resolution=160, deploy=True)
    assert _headline(at) == _expected(train, deploy)
    assert deploy.params == effnets.model_cost("mobileone_s0", deploy=True).params  # k changes the training form only
    at = page(FILE, {"case": "evil", "cfg": "groups:abc", "zzz": "1"}).run()
    no_exceptions(at)
    text = " ".join(w.value for w in at.warning)
    assert "case='evil'" in text and "zzz" in text and "groups" in text
    assert at.session_state[R.key("case")] == R["case"].default
