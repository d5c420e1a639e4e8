import math

import pytest

from effnets.analysis.quiz import grade_count, parse_guess


@pytest.mark.parametrize(
    ("text", "value"),
    [("18000", 18000), ("18k", 18000), ("1.8e4", 18000), ("18,000", 18000), ("2.5M", 2.5e6), (" 7 ", 7)],
)
def test_parse_guess(text, value):
    assert math.isclose(parse_guess(text), value)


@pytest.mark.parametrize("text", ["", "abc", "-5", "0", "inf", "1e999"])
def test_parse_guess_rejects(text):
    with pytest.raises(ValueError):
        parse_guess(text)


def test_grade_count():
    assert grade_count(19000, 18560).correct
    g = grade_count(185600, 18560)
    assert not g.correct and "Too high by 10.0x" in g.message
    g = grade_count(1856, 18560)
    assert not g.correct and "Too low by 10.0x" in g.message


def test_a_race_inside_the_spread_is_a_tie_not_a_winner():
    from effnets.analysis.quiz import Race

    tie = Race(("a", "b"), (100, 200), (1.00, 1.01), {}, (0.95, 0.96), (1.08, 1.09))
    assert not tie.decided and tie.message().startswith("A tie on this server")
    won = Race(("a", "b"), (100, 200), (1.00, 2.00), {}, (0.95, 1.90), (1.05, 2.10))
    assert won.decided and won.message().startswith("a is faster")
