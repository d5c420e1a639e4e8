"""Cached wrappers around the library for the pages (plain data in, plain data out).

Specs travel as (name, sorted field items) so that Streamlit can hash them; the spec is rebuilt inside.
"""

from __future__ import annotations

import streamlit as st
import torch

from effnets.blocks import get_block


def spec_key(spec) -> tuple:
    """Hashable form of a spec."""
    return tuple(sorted(spec.to_dict().items()))


def _spec(name: str, key: tuple):
    return get_block(name).make_spec(**dict(key))


@st.cache_data(max_entries=256, show_spinner=False)
def block_dot(name: str, key: tuple, shape: tuple[int, int, int], dark: bool = False) -> str:
    from effnets.counting import build_on_meta
    from effnets.figures import diagram

    info = get_block(name)
    spec = _spec(name, key)
    return diagram.block_dot(build_on_meta(lambda: info.build(spec)), shape, title="", dark=dark)


@st.cache_data(max_entries=256, show_spinner=False)
def layer_table(name: str, key: tuple, shape: tuple[int, int, int]) -> tuple[list[dict], dict]:
    from effnets.counting import build_on_meta
    from effnets.layer_table import layer_table as table

    info = get_block(name)
    spec = _spec(name, key)
    return table(build_on_meta(lambda: info.build(spec)), shape)


@st.cache_data(max_entries=256, show_spinner=False)
def cross_check(name: str, key: tuple, shape: tuple[int, int, int], use_fvcore: bool) -> dict:
    from effnets.counting import cross_check as check

    info = get_block(name)
    spec = _spec(name, key)
    analytic = info.cost(spec, shape)
    cc = check(lambda: info.build(spec), analytic, shape, use_fvcore=use_fvcore)
    return {
        "rows": cc.rows(),
        "notes": cc.notes,
        "fvcore_by_operator": cc.fvcore.by_operator if cc.fvcore else None,
        "dispatch_extras": cc.dispatch.extras if cc.dispatch else None,
        "dispatch_acts": cc.dispatch.acts if cc.dispatch else None,
    }


@st.cache_data(max_entries=64, show_spinner=False)
def compare(c_in: int, c_out: int, k: int, h: int, w: int, stride: int):
    from effnets.analysis.compare import compare_blocks

    return compare_blocks(c_in, c_out, k, h, w, stride)


@st.cache_data(max_entries=64, show_spinner=False)
def deformable_picture(key: tuple, in_hw: tuple[int, int], out_pos: tuple[int, int] | None):
    from effnets.analysis.sampling import deformable_taps

    with torch.no_grad():
        return deformable_taps(_spec("deformable", key), in_hw, out_pos)


def sampling_picture(name: str, key: tuple, in_hw: tuple[int, int], out_pos: tuple[int, int] | None, rf):
    """Where ``out_pos`` of the block's first spatial conv reads the input (a deformable conv's shifted taps come
    from its cached offset run)."""
    from effnets.analysis.sampling import picture

    if name == "deformable":
        return deformable_picture(key, in_hw, out_pos)
    return picture(_spec(name, key), in_hw, out_pos, rf)


def race(name: str, key: tuple, standard_key: tuple, shape: tuple[int, int, int]):
    """This block against the standard conv, timed interleaved (see analysis.quiz.race), now and for this session
    (never cached: a timing belongs to the viewer who raced)."""
    from effnets.analysis import quiz
    from effnets.ui import jobs

    return jobs.measure_now(
        f"race:{name}:{key}:{standard_key}:{shape}",
        lambda: quiz.race((name, dict(key)), ("standard", dict(standard_key)), shape),
    )
