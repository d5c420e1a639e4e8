"""The Block Lab's numbers and sentences (effnets.analysis.block_summary), checked against the traced module and
against the registry, without streamlit."""

from __future__ import annotations

import re

import pytest
import torch

from effnets import counting, units
from effnets.analysis import block_summary
from effnets.analysis.compare import CompareRow, compare_blocks
from effnets.analysis.quiz import Race
from effnets.blocks import BLOCKS
from effnets.cost import EXTRA_KINDS
from effnets.report import human, human_bytes

NAMES = list(BLOCKS)
SHAPE_HW = (20, 20)


def _block(name: str):
    info = BLOCKS[name]
    spec = info.make_spec()
    shape = (spec.in_channels, *SHAPE_HW)
    return info, spec, shape, info.cost(spec, shape)


def _number(text: str) -> int:
    return int(text.replace(",", ""))


@pytest.mark.parametrize("name", NAMES)
def test_headline_numbers_are_the_traced_module_s(name):
    """Parameters, count, output shape and activation memory from the real module, not from the cost record."""
    info, spec, shape, c = _block(name)
    module = info.build(spec).eval()
    traced = counting.dispatch_counts(module, shape)
    with torch.no_grad():
        out = module(torch.zeros(1, *shape))
    batch = 3
    how = units.Counting("flops", ("act", "bn"))
    by_label = {m.label: m for m in block_summary.headline(c, shape, how, batch)}
    params = counting.param_count(module)
    assert by_label["Parameters"].value == human(params) and by_label["Parameters"].help.startswith(f"{params:,} ")
    flops = 2 * (traced.macs + traced.extras["bn"] + traced.extras["act"])
    count = by_label["FLOPs per image"]
    assert count.value == human(flops)
    assert count.help == f"{flops:,} FLOPs: conv + linear + bn, act. Batch of 3: {3 * flops:,}."
    assert by_label["Output shape"].value == "×".join(map(str, out.shape[1:]))
    memory = by_label["Activation memory"].value
    assert memory == human_bytes((traced.acts + spec.in_channels * SHAPE_HW[0] * SHAPE_HW[1]) * batch * 4)
    rf = next(m for label, m in by_label.items() if label.startswith("Receptive field"))
    assert rf.label.endswith("(+ global)") == c.global_context


def test_counted_names_the_extras_in_their_registry_order():
    assert units.Counting().contents == "conv + linear"
    assert units.Counting("macs", ("act", "bn")).contents == "conv + linear + " + ", ".join(
        k for k in EXTRA_KINDS if k in ("act", "bn")
    )


@pytest.mark.parametrize("name", NAMES)
def test_not_counted_names_each_left_out_line_with_its_count(name):
    *_, c = _block(name)
    chosen = ("bn",)
    how = units.Counting("flops", chosen)
    text = block_summary.not_counted(c, how)
    left_out = {k: c.extra(k) for k in EXTRA_KINDS if k not in chosen and c.extra(k)}
    if not left_out:
        assert text is None
        return
    named = dict(re.findall(r"(\w+) ([\d.]+[KMGT]?)(?:,|$)", text.split(": ", 1)[1]))
    assert named == {k: human(2 * v) for k, v in left_out.items()}


def test_switching_blocks_notes_exactly_the_settings_that_changed():
    carried = {**BLOCKS["standard"].make_spec(out_channels=128).to_dict()}
    fitted, note = block_summary.switch_to(BLOCKS["shuffle_v2"], carried)
    BLOCKS["shuffle_v2"].make_spec(**fitted)  # a valid block
    changed = [k for k in fitted if k in carried and fitted[k] != carried[k]]
    assert changed and note is not None
    for k in changed:
        assert f"{carried[k]} → {fitted[k]}" in note
    fitted_back, note_back = block_summary.switch_to(BLOCKS["standard"], fitted)
    assert note_back is None and all(fitted_back[k] == fitted[k] for k in fitted if k in fitted_back)


@pytest.mark.parametrize("name", NAMES)
def test_a_link_without_fields_gives_the_defaults(name):
    assert block_summary.fields_from_link(BLOCKS[name], {}) == BLOCKS[name].make_spec().to_dict()


def test_a_link_s_c_in_carries_the_fields_that_must_follow_it():
    fields = block_summary.fields_from_link(BLOCKS["shuffle_v2"], {"in_channels": 48})
    assert BLOCKS["shuffle_v2"].make_spec(**fields).out_channels == 48
    impossible = {"in_channels": 30, "groups": 4}
    assert block_summary.fields_from_link(BLOCKS["grouped"], impossible) == impossible  # the page explains it


@pytest.mark.parametrize("name", NAMES)
def test_the_comparison_and_the_race_use_the_block_s_own_settings(name):
    info, spec, shape, c = _block(name)
    shared = block_summary.shared_settings(spec)
    assert shared.in_channels == spec.in_channels
    assert shared.out_channels == getattr(spec, "out_channels", spec.in_channels)
    rival = block_summary.standard_rival(spec)
    assert (rival.in_channels, rival.out_channels, rival.stride) == (
        shared.in_channels,
        shared.out_channels,
        shared.stride,
    )
    rows = compare_blocks(shared.in_channels, shared.out_channels, shared.kernel_size, *SHAPE_HW, shared.stride)
    standard = next(r for r in rows if r.name == "standard")
    assert BLOCKS["standard"].cost(rival, shape).macs == standard.macs  # the race's rival is the comparison's bar
    question = block_summary.race_question(info, spec, *SHAPE_HW)
    assert f"C_in={spec.in_channels}" in question and f"C_out={shared.out_channels}?" in question


def test_not_compared_lists_exactly_the_blocks_that_failed():
    rows = [CompareRow("a", "A", 1, 1, (1, 1, 1)), CompareRow("b", "B", None, None, None, error="too small")]
    assert block_summary.not_compared(rows) == "Not shown at these settings: B: too small."
    assert block_summary.not_compared(rows[:1]) is None


@pytest.mark.parametrize("name", NAMES)
def test_params_by_layer_adds_up_to_the_module_s_parameters(name):
    info, spec, _shape, c = _block(name)
    listed = [_number(n) for n in re.findall(r": ([\d,]+)(?:;|$)", block_summary.params_by_layer(c))]
    assert sum(listed) == counting.param_count(info.build(spec))


def _race(ms: tuple[float, float], spread: float) -> Race:
    env = {"device_name": "cpu", "threads": 2, "torch": "2.x"}
    return Race(("A", "B"), (10, 20), ms, env, tuple(m - spread for m in ms), tuple(m + spread for m in ms))


@pytest.mark.parametrize(("guessed_block", "right"), [(True, True), (False, False)])
def test_race_verdict_grades_the_guess_against_the_faster_one(guessed_block, right):
    race = _race((1.0, 2.0), 0.1)  # the block (index 0) is faster beyond the spread
    kind, message = block_summary.race_verdict(race, guessed_block)
    assert (kind == "success") == right and kind in ("success", "warning")
    assert message.endswith(race.message()) and message.startswith("Right." if right else "Not this time.")


def test_a_race_within_the_spread_grades_no_guess():
    race = _race((1.0, 1.05), 0.5)
    assert not race.decided
    assert block_summary.race_verdict(race, True) == block_summary.race_verdict(race, False) == ("info", race.message())
    assert "2 threads" in block_summary.race_conditions(race)


def test_only_the_standard_conv_has_no_race():
    """The race is block against standard conv: for the standard conv itself it would race itself."""
    assert [n for n, info in BLOCKS.items() if not block_summary.has_rival(info)] == ["standard"]


def test_comparison_shows_the_picked_block_at_the_users_settings():
    """The red bar is the user's block as set (MobileOne deploy form, 2 branches), not its defaults."""
    from effnets.analysis.block_summary import with_yours
    from effnets.analysis.compare import compare_blocks

    spec = BLOCKS["mobileone"].make_spec(in_channels=64, out_channels=64, deploy=True, num_conv_branches=2)
    cost = BLOCKS["mobileone"].cost(spec, (64, 28, 28))
    rows = compare_blocks(64, 64, 3, 28, 28)
    mine = [r for r in with_yours(rows, "mobileone", cost) if r.name == "mobileone"]
    default = next(r for r in rows if r.name == "mobileone")
    assert len(mine) == 1 and mine[0].macs == cost.macs != default.macs and "your settings" in mine[0].label
    assert [r.name for r in with_yours(rows, "mobileone", cost)] == [r.name for r in rows]


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("k", [3, 5])
def test_the_transposed_conv_is_compared_at_every_stride_and_scales_the_input_by_it(stride, k):
    from effnets.analysis.compare import compare_blocks

    rows = {r.name: r for r in compare_blocks(16, 32, k, 14, 14, stride)}
    t = rows["transposed_conv"]
    assert not t.error and t.output_shape == (32, 14 * stride, 14 * stride)


def test_the_comparison_legend_names_the_colours_the_chart_draws():
    assert "Grey: the standard conv" in block_summary.comparison_legend("mbconv")
    assert "Grey" not in block_summary.comparison_legend("standard")


def test_the_counting_caption_says_which_numbers_are_per_image_and_which_for_the_batch():
    how = units.Counting("macs", ())
    assert "activation memory is for the whole batch of 64" in block_summary.counting_caption(how, 64)
    assert "batch of" not in block_summary.counting_caption(how, 1)
    *_, c = _block("mbconv")
    assert block_summary.not_counted(c, how).startswith("Not in the headline, per image")
