"""The Network Builder in AppTest: the start network's exact counts, the design in the link, an impossible line's
message, a tampered link, the table and the string kept in step, scaling, and the diff against the start."""

from __future__ import annotations

import pytest

from effnets.analysis import builder
from effnets.models import get_model
from effnets.networks import arch, design
from effnets.report import human
from tests.app.conftest import metric, no_exceptions, page

FILE = "network_builder.py"


def _exact(name: str) -> tuple[str, str]:
    info = get_model(name)
    c = info.cost(info.make_spec())
    return human(c.params), human(c.macs)


@pytest.mark.parametrize("name", ["efficientnet_b0", "densenet121", "mobileone_s0"])
def test_starting_from_a_registered_network_gives_its_exact_counts(name):
    at = page(FILE, {"from": name})
    at.run()
    no_exceptions(at)
    assert (metric(at, "Params"), metric(at, "MACs")) == _exact(name)
    linked = at.query_params["arch"]
    assert (linked[0] if isinstance(linked, list) else linked) == arch.encode(design.from_model(name))


def test_the_design_travels_in_the_link_and_an_impossible_line_gets_its_message():
    text = "r160|conv(c:16,k:3,s:2)|mbconv*2(c:24,s:2)|grouped(c:30,groups:4)|conv(c:64,k:1)/classifier"
    at = page(FILE, {"arch": text})
    at.run()
    no_exceptions(at)
    assert at.text_area(key="builder.arch").value == text
    errors = " ".join(e.value for e in at.error)
    assert "stage3, row 1 (grouped)" in errors and "must divide" in errors
    ok = text.replace("c:30", "c:32")
    at.text_area(key="builder.arch").set_value(ok).run()
    no_exceptions(at)
    c = design.evaluate(arch.decode(ok))
    assert metric(at, "Params") == human(c.total.params)


@pytest.mark.parametrize(
    "bad", ["r224|mbconv(c:16,foo:1)", "r224|" + "x" * 70000, "r224|conv(c:__import__('os'))", "%00%ff", "r0|conv"]
)
def test_a_tampered_link_is_a_message_and_the_page_keeps_running(bad):
    at = page(FILE, {"arch": bad})
    at.run()
    no_exceptions(at)
    shown = " ".join([e.value for e in at.error] + [w.value for w in at.warning])
    assert shown, "a bad architecture string must be explained"
    assert "Traceback" not in shown


def test_editing_the_table_updates_the_string_and_the_counts():
    at = page(FILE, {"from": "efficientnet_b0"})
    at.run()
    d = design.from_model("efficientnet_b0")
    stages = list(d.stages)
    stages[1] = (stages[1][0].with_settings(kernel_size=5),)
    edited = arch.encode(design.Design(tuple(stages), d.resolution))
    at.text_area(key="builder.arch").set_value(edited).run()  # the string and the table are one state
    no_exceptions(at)
    want = design.evaluate(arch.decode(edited)).total
    assert metric(at, "Params") == human(want.params)
    # the table shows the edited design (AppTest cannot type into its cells: tests/test_builder_table.py checks
    # what an edited table gives); a line's unused settings are blank, not the text "None"
    (editor,) = [df for df in at.dataframe if df.proto.editing_mode]
    rows = builder.table_rows(arch.decode(edited))
    assert len(editor.value) == len(rows)
    assert editor.value["kernel_size"].tolist()[1] == rows[1]["kernel_size"] == "5"  # stage 2's one line, edited
    assert all(isinstance(m, str) and m != "None" for m in editor.value["more"])


def test_scaling_a_b0_design_by_b4s_multipliers_gives_b4():
    at = page(FILE, {"from": "efficientnet_b0", "w": "1.4", "d": "1.8", "r": "1.6964"})
    at.run()
    no_exceptions(at)
    # 224 x 1.6964 = 380 px: B4's resolution; widths divisible by 8 as in the paper's code
    assert (metric(at, "Params"), metric(at, "MACs")) == _exact("efficientnet_b4")


def test_the_comparison_with_the_start_shows_the_changed_stage():
    d = design.from_model("efficientnet_b0")
    stages = list(d.stages)
    stages[1] = (stages[1][0].with_settings(kernel_size=5),)
    at = page(
        FILE,
        {"from": "efficientnet_b0", "arch": arch.encode(design.Design(tuple(stages), 224))},
        section="Compared with the start",
    )
    at.run()
    no_exceptions(at)
    text = " ".join(m.value for m in at.markdown)
    assert "+512 params" in text and "1 of 9 stages changed" in text
