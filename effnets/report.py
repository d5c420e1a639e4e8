"""Formatting numbers so that they say what they count."""

from __future__ import annotations

from dataclasses import dataclass


def human(n: float, digits: int = 3) -> str:
    """1234567 -> '1.23M'; 5.3e9 -> '5.30G'; small numbers unchanged."""
    n = float(n)
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.{digits}g}{unit}" if n / scale >= 100 else f"{n / scale:.{digits - 1}f}{unit}"
    return f"{n:g}"


MARKDOWN_SPECIALS = frozenset("\\`*_{}[]()<>#+-.!|~$:")


def plain(text: str) -> str:
    """``text`` shown as it is in a Markdown box (Streamlit's errors, warnings, captions): every Markdown and LaTeX
    character backslash-escaped, so a name from a user or a link (``__import__('os')``, ``[x](http://...)``, ``$x$``)
    is printed verbatim, never turned into bold text, a link or a formula."""
    return "".join(f"\\{ch}" if ch in MARKDOWN_SPECIALS else ch for ch in str(text))


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 thread', '2 threads' (``many`` for irregular plurals)."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def human_bytes(n: float) -> str:
    """Bytes in binary units: 1536 -> '1.5 KiB'."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


@dataclass(frozen=True)
class Metric:
    """One headline number of a page: its label, the shown value, the sentence under its help icon and a small
    second line (``delta``, never coloured: "1.21× the preset")."""

    label: str
    value: str
    help: str | None = None
    delta: str | None = None
