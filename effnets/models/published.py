"""Published figures of a network (paper, official code, torchvision's weight metadata), kept as written there.

"5.3M" or "0.39B" keep their precision: the tolerance of a comparison is half a unit of the figure's last digit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_UNITS = {"": 1, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9}
_FIGURE = re.compile(r"^\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*([KMBG]?)\s*$")


def parse_figure(text: str) -> tuple[float, float]:
    """A figure as a paper writes it -> (value, tolerance): '5.3M' -> (5.3e6, 0.05e6); '22,855,952' -> (22855952, 0).

    The tolerance is half a unit of the last written digit: the most the true value can differ from the figure if
    the source rounded correctly.
    """
    m = _FIGURE.match(text)
    if not m:
        raise ValueError(f"published figure '{text}' is not a number with an optional K/M/B/G unit")
    digits, unit = m.group(1).replace(",", ""), m.group(2)
    scale = _UNITS[unit]
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    value = float(digits) * scale
    tol = 0.0 if (not unit and decimals == 0) else 0.5 * 10.0**-decimals * scale
    return value, tol


@dataclass(frozen=True)
class Published:
    """Figures a paper, an official repository or torchvision's weight metadata gives for a network.

    Attributes:
        params: learnable parameters (None if the source gives none).
        macs: multiply-accumulates at ``resolution`` (the papers' "FLOPs"/"MAdds").
        top1: ImageNet top-1 accuracy in percent.
        resolution: the input side the figures are for.
        source: where they come from (paper table, file, enum).
        params_tol, macs_tol: half a unit of the figure's last written digit.
        fields: spec fields (beyond the preset's) the figures describe, e.g. {"se": True} or {"groups": 8}.
        mismatch: "params" and/or "macs" where the exact count of the network the source describes knowingly
            differs from its figure by more than the rounding; ``note`` says why.
        note: the explanation of a mismatch, or what the figure covers.
        macs_scope: what the MACs figure counts: "all" (every conv and linear layer) or "no_fc" (all but the final
            fully connected layer, as some papers count).
    """

    params: float | None
    macs: float | None
    top1: float | None
    resolution: int | None
    source: str
    params_tol: float = 0.0
    macs_tol: float = 0.0
    fields: Mapping[str, Any] = field(default_factory=dict)
    mismatch: tuple[str, ...] = ()
    note: str = ""
    macs_scope: str = "all"

    @classmethod
    def of(
        cls,
        source: str,
        *,
        params: str | None = None,
        macs: str | None = None,
        top1: float | None = None,
        resolution: int | None = None,
        fields: Mapping[str, Any] | None = None,
        mismatch: tuple[str, ...] = (),
        note: str = "",
        macs_scope: str = "all",
    ) -> Published:
        """Figures as the source writes them: ``Published.of("paper", params="5.3M", macs="0.39B", top1=77.1)``."""
        if macs_scope not in ("all", "no_fc"):
            raise ValueError(f"macs_scope='{macs_scope}' is not one of all, no_fc")
        p, pt = parse_figure(params) if params else (None, 0.0)
        m, mt = parse_figure(macs) if macs else (None, 0.0)
        return cls(p, m, top1, resolution, source, pt, mt, dict(fields or {}), tuple(mismatch), note, macs_scope)

    def agrees(self, what: str, exact: int) -> bool | None:
        """Whether an exact count lies within the figure's rounding (None when the source gives no figure)."""
        value = self.params if what == "params" else self.macs
        tol = self.params_tol if what == "params" else self.macs_tol
        if value is None:
            return None
        return abs(exact - value) <= tol * (1 + 1e-9)
