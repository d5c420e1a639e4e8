"""Hypothesis strategies that draw valid-looking specs from the fields' own metadata.

The strategies only know the field metadata (range, choices, type), so a new block is covered without new test code.
Widths come from a small pool of "friendly" numbers so that divisibility constraints are met often enough.
"""

from __future__ import annotations

from dataclasses import fields

from hypothesis import strategies as st

from effnets.spec import field_type

FRIENDLY = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48)
GROUPS = (1, 2, 3, 4, 8, 16)
KERNELS = (1, 2, 3, 5, 7)


def _in_range(values, lo, hi):
    return [v for v in values if (lo is None or v >= lo) and (hi is None or v <= hi)]


def field_strategy(cls, f) -> st.SearchStrategy:
    t = field_type(cls, f.name)
    m = f.metadata
    if m.get("choices") is not None:
        return st.sampled_from(list(m["choices"]))
    if t is bool:
        return st.booleans()
    lo, hi = m.get("lo"), m.get("hi")
    if t is int:
        if "group" in f.name:
            return st.sampled_from(_in_range(GROUPS, lo, hi))
        if f.name == "kernel_size":
            return st.sampled_from(_in_range(KERNELS, lo, hi))
        if hi is not None and hi >= 256:
            pool = _in_range(FRIENDLY, lo, hi) + ([0] if lo == 0 else [])
            return st.sampled_from(pool)
        return st.integers(int(lo), int(min(hi, lo + 4)))
    if t is float:
        step = m.get("step") or (hi - lo) / 8
        n = int(round((hi - lo) / step))
        grid = sorted({round(lo + i * step, 6) for i in range(n + 1)})
        return st.sampled_from(grid)
    raise TypeError(f"no strategy for {cls.__name__}.{f.name} of type {t}")


@st.composite
def spec_fields(draw, spec_cls) -> dict:
    return {f.name: draw(field_strategy(spec_cls, f)) for f in fields(spec_cls)}


@st.composite
def input_hw(draw, lo: int = 1, hi: int = 20) -> tuple[int, int]:
    h = draw(st.integers(lo, hi))
    w = draw(st.one_of(st.just(h), st.integers(lo, hi)))
    return h, w
