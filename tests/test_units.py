"""The one counting convention: unit names, the FLOPs factor, and which extras a count contains."""

from __future__ import annotations

import itertools
import re

import pytest

import effnets
from effnets import units
from effnets.cost import EXTRA_KINDS, EXTRA_LABELS


def test_flops_are_twice_macs_and_macs_are_macs():
    assert units.scale(7, "macs") == 7
    assert units.scale(7, "flops") == 14
    with pytest.raises(ValueError, match="must be 'macs' or 'flops'"):
        units.scale(7, "gflops")


@pytest.mark.parametrize("unit", units.UNITS)
@pytest.mark.parametrize("n", range(len(EXTRA_KINDS) + 1))
def test_every_choice_of_extras_is_counted_and_named(unit, n):
    cost = effnets.block_cost("deformable", (16, 28, 28))  # a block with every extras line non-zero but pool
    for chosen in itertools.combinations(EXTRA_KINDS, n):
        counting = units.Counting(unit, tuple(reversed(chosen)))
        assert counting.extras == chosen  # canonical order, whatever order they came in
        by_hand = cost.macs + sum(cost.extras_dict[k] for k in chosen)
        assert counting.total(cost) == by_hand * (2 if unit == "flops" else 1)
        assert counting.label.startswith(("MACs (conv + linear", "FLOPs (conv + linear"))
        for k in chosen:
            assert k in counting.label
        for k in EXTRA_KINDS:
            assert (EXTRA_LABELS[k] in counting.what) == (k in chosen)
        assert ("doubled for FLOPs" in counting.what) == (unit == "flops")


def test_a_model_cost_counts_its_total():
    cost = effnets.model_cost("mobilenet_v2")
    assert units.Counting("flops", ("bn",)).total(cost) == 2 * (cost.macs + cost.total.extra("bn"))


def test_unknown_extras_are_named():
    with pytest.raises(ValueError, match="unknown extras line.*softmax"):
        units.Counting("macs", ("softmax",))


# ----- user text in a Markdown box ----------------------------------------------------------------------------------

HOSTILE_TEXT = [
    "__import__('os')",
    "[click me](http://evil.example)",
    "$\\frac{1}{0}$ and `code` and **bold** and <b>html</b>",
    ":red[alarm] :material/error: # heading\n- item\n1. item",
    "a\\b_c*d~e|f",
    "plain words stay as they are",
]


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_plain_prints_user_text_verbatim_in_markdown(text):
    from effnets.report import MARKDOWN_SPECIALS, plain

    out = plain(text)
    assert re.sub(r"\\(.)", r"\1", out) == text  # what CommonMark shows: the text itself
    i = 0
    while i < len(out):  # every Markdown, HTML or LaTeX character comes escaped
        if out[i] == "\\":
            assert out[i + 1] in MARKDOWN_SPECIALS
            i += 2
            continue
        assert out[i] not in MARKDOWN_SPECIALS, (out, i)
        i += 1
