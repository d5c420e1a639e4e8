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


@dataclass(frozen=True)
class Race:
    """Two blocks timed against each other (interleaved) on the same input."""

    labels: tuple[str, str]
    macs: tuple[int, int]
    median_ms: tuple[float, float]
    environment: dict
    p10_ms: tuple[float, float] | None = None
    p90_ms: tuple[float, float] | None = None

    @property
    def decided(self) -> bool:
        """The two latencies differ beyond their spread (one's p10 above the other's p90); True without spreads."""
        if self.p10_ms is None or self.p90_ms is None:
            return True
        from effnets.analysis.verdicts import Timed, separated

        a, b = (Timed(self.labels[i], self.macs[i], self.median_ms[i], self.p10_ms[i], self.p90_ms[i]) for i in (0, 1))
        return separated(a, b)

    @property
    def faster(self) -> int:
        """0 or 1: the index of the faster block."""
        return 0 if self.median_ms[0] <= self.median_ms[1] else 1

    def message(self) -> str:
        f, s = self.faster, 1 - self.faster
        if not self.decided:
            return (
                f"A tie on this server: {self.median_ms[0]:.3f} ms against {self.median_ms[1]:.3f} ms is within the "
                f"spread of the runs, although the MACs are {human(self.macs[0])} vs {human(self.macs[1])}."
            )
        ratio = self.median_ms[s] / self.median_ms[f]
        macs_note = (
            "although it has more MACs"
            if self.macs[f] > self.macs[s]
            else "and it has fewer MACs"
            if self.macs[f] < self.macs[s]
            else "at equal MACs"
        )
        return (
            f"{self.labels[f]} is faster: {self.median_ms[f]:.3f} ms against {self.median_ms[s]:.3f} ms "
            f"({ratio:.2f}x), {macs_note} ({human(self.macs[f])} vs {human(self.macs[s])} MACs)."
        )


def race(
    first: tuple[str, dict],
    second: tuple[str, dict],
    input_shape: tuple[int, int, int],
    batch: int = 8,
    device: str = "cpu",
    warmup: int = 3,
    repeats: int = 15,
    threads: int = 1,
) -> Race:
    """Time two blocks (name, spec fields) interleaved on ``device`` with the same input (eager, inference mode)."""
    from effnets.blocks import get_block
    from effnets.runtime import bench, bench_networks

    variants, macs, labels = [], [], []
    for i, (name, fields) in enumerate((first, second)):
        info = get_block(name)
        spec = info.make_spec(**{**fields, "in_channels": input_shape[0]})
        macs.append(info.cost(spec, input_shape).macs)
        labels.append(info.label)
        variants.append(
            bench_networks.block_variant(
                name, spec.to_dict(), input_shape, batch=batch, device=device, label=f"{i}:{name}"
            )
        )
    with bench.num_threads(threads):
        run = bench.run_interleaved(variants, device=device, warmup=warmup, repeats=repeats, rotate=True)
    ms = tuple(r.median_ms for r in run.results)
    p10 = tuple(r.p10_ms for r in run.results)
    p90 = tuple(r.p90_ms for r in run.results)
    return Race((labels[0], labels[1]), (macs[0], macs[1]), ms, run.environment, p10, p90)  # type: ignore[arg-type]
