"""What every verb of the CLI shares: the one error type, the parser that reports in one line, argument parsers."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE: what a Unix tool reports when the reader of its output went away (``... | head``)."""


class UsageError(Exception):
    """A user error: printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of argparse's usage block
        raise UsageError(f"{message} (see: python -m effnets {self._sub_hint()}--help)")

    def _sub_hint(self) -> str:
        rest = self.prog.removeprefix("python -m effnets").strip()
        return rest + " " if rest else ""


def parse_shape(text: str) -> tuple[int, int, int]:
    """'32,56,56' -> (32, 56, 56)."""
    parts = [p.strip() for p in text.replace("x", ",").split(",") if p.strip()]
    if len(parts) != 3:
        raise UsageError(f"--input '{text}' must be C,H,W (three positive integers, e.g. 32,56,56)")
    try:
        vals = tuple(int(p) for p in parts)
    except ValueError:
        raise UsageError(f"--input '{text}' must be C,H,W (three positive integers, e.g. 32,56,56)") from None
    if min(vals) < 1:
        raise UsageError(f"--input '{text}': every dimension must be at least 1")
    return vals  # type: ignore[return-value]


def parse_sets(items: Sequence[str] | None) -> dict[str, str]:
    """['k=3', 'stride=2'] -> {'k': '3', 'stride': '2'}."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set '{item}' must look like key=value")
        out[key.strip()] = value.strip()
    return out


def fmt(n: float) -> str:
    from effnets.report import human

    return human(n)
