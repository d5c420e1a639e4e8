"""What a count counts: the unit (MACs or FLOPs) and the extras lines added to conv + linear, in one value.

Every page, figure, table and CLI line that shows a count takes its names and its factor from here, so "FLOPs" is
defined once (2 x MACs, the convention of the EfficientNet and MobileNet papers' successors) and the label of a
number always says which extras it contains. The conventions themselves are in :mod:`effnets.cost`'s docstring.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from effnets.cost import EXTRA_KINDS, EXTRA_LABELS

UNITS: tuple[str, ...] = ("macs", "flops")
NAMES: dict[str, str] = {"macs": "MACs", "flops": "FLOPs"}
"""Short names, for column headers and sentences."""
LABELS: dict[str, str] = {"macs": "MACs (multiply-accumulates)", "flops": "FLOPs (= 2 x MACs)"}
"""Long names, for axis titles and the unit control."""
FACTORS: dict[str, int] = {"macs": 1, "flops": 2}


def check_unit(unit: str) -> str:
    """``unit`` if it is one of :data:`UNITS`; otherwise ValueError naming the choices."""
    if unit not in FACTORS:
        raise ValueError(f"unit '{unit}' must be 'macs' or 'flops'")
    return unit


def scale(macs: int | float, unit: str) -> int | float:
    """A MAC count in ``unit`` (FLOPs are 2 x MACs)."""
    return macs * FACTORS[check_unit(unit)]


def _ordered_extras(extras: Iterable[str]) -> tuple[str, ...]:
    chosen = set(extras)
    unknown = chosen - set(EXTRA_KINDS)
    if unknown:
        raise ValueError(f"unknown extras line(s) {', '.join(sorted(unknown))} (known: {', '.join(EXTRA_KINDS)})")
    return tuple(k for k in EXTRA_KINDS if k in chosen)


def giga_per_second(count: float, ms: float) -> float:
    """A rate in giga-units per second: ``count`` MACs (or bytes) done in ``ms`` milliseconds -> GMAC/s (GB/s)."""
    return count / (ms * 1e-3) / 1e9


@dataclass(frozen=True)
class Counting:
    """A counting convention: the unit and the extras lines counted on top of conv + linear MACs.

    Attributes:
        unit: ``"macs"`` or ``"flops"``.
        extras: names from :data:`effnets.cost.EXTRA_KINDS`, kept in that order whatever order they were given in.
    """

    unit: str = "macs"
    extras: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_unit(self.unit)
        object.__setattr__(self, "extras", _ordered_extras(self.extras))

    @property
    def name(self) -> str:
        """'MACs' or 'FLOPs'."""
        return NAMES[self.unit]

    @property
    def unit_label(self) -> str:
        """'MACs (multiply-accumulates)' or 'FLOPs (= 2 x MACs)'."""
        return LABELS[self.unit]

    @property
    def factor(self) -> int:
        return FACTORS[self.unit]

    @property
    def label(self) -> str:
        """What a count column holds: 'MACs (conv + linear)', 'FLOPs (conv + linear + bn)'."""
        return f"{self.name} (" + " + ".join(["conv + linear", *self.extras]) + ")"

    @property
    def contents(self) -> str:
        """What the count contains, for sentences: 'conv + linear', 'conv + linear + bn, act'."""
        return "conv + linear" + (" + " + ", ".join(self.extras) if self.extras else "")

    @property
    def what(self) -> str:
        """One sentence: what the headline number contains."""
        parts = ["multiply-accumulates of every conv and linear layer (the papers' unit)"]
        parts += [EXTRA_LABELS[k] for k in self.extras]
        return "; ".join(parts) + ("; doubled for FLOPs" if self.unit == "flops" else "")

    def scale(self, macs: int | float) -> int | float:
        """A MAC count in this unit."""
        return macs * self.factor

    def total(self, cost: Any) -> int:
        """The headline count of a :class:`effnets.cost.Cost` (or a model cost with a ``total`` Cost): conv +
        linear MACs plus the chosen extras lines, in this unit."""
        record = getattr(cost, "total", cost)
        return record.total_macs(self.extras) * self.factor
