"""'Predict, then reveal' questions whose answers are computed from the current settings."""

from __future__ import annotations

import math
from dataclasses import dataclass

from effnets.report import human


@dataclass(frozen=True)
class Grade:
    """How close a guess was."""

    correct: bool
    ratio: float  # guess / answer
    message: str


def grade_count(guess: float, answer: float, tolerance: float = 0.2) -> Grade:
    """A numeric guess is right within ``tolerance`` (relative); the message says how far off and in which direction.

    Raises:
        ValueError: a guess that is not a positive, finite number.
    """
    if not math.isfinite(guess) or guess <= 0:
        raise ValueError("enter a positive number, e.g. 18000 or 1.8e4")
    if answer <= 0:
        return Grade(guess == answer, math.inf, f"The answer is {answer:,}.")
    ratio = guess / answer
    ok = abs(ratio - 1) <= tolerance
    if ok:
        msg = f"Right: {answer:,} ({human(answer)}). Your guess was within {abs(ratio - 1):.0%}."
    elif ratio > 1:
        msg = f"Too high by {ratio:.1f}x: the answer is {answer:,} ({human(answer)})."
    else:
        msg = f"Too low by {1 / ratio:.1f}x: the answer is {answer:,} ({human(answer)})."
    return Grade(ok, ratio, msg)


def parse_guess(text: str) -> float:
    """'18k', '1.8e4', '18,000', '2.5M' -> float; anything else raises ValueError with an example."""
    s = text.strip().replace(",", "").replace("_", "")
    if not s:
        raise ValueError("type a number first, e.g. 18000, 18k or 1.8e4")
    scale = 1.0
    suffixes = {"k": 1e3, "m": 1e6, "g": 1e9, "b": 1e9}
    if s[-1].lower() in suffixes:
        scale, s = suffixes[s[-1].lower()], s[:-1]
    try:
        v = float(s) * scale
    except ValueError:
        raise ValueError(f"'{text[:30]}' is not a number (try 18000, 18k or 1.8e4)") from None
    if not math.isfinite(v) or v <= 0:
        raise ValueError("enter a positive number, e.g. 18000, 18k or 1.8e4")
    return v
