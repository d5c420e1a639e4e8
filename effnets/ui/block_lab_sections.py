"""The Block Lab's longer sections (compare, sampling, cross-check, predict), drawn for the block the page has set
up. The sections with widgets of their own are fragments: a change there reruns the section, not the page."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from effnets.analysis import block_summary
from effnets.analysis.sampling import picture
from effnets.blocks import BlockInfo, BlockSpec
from effnets.cost import Cost
from effnets.figures import blocks as block_figures
from effnets.ui import cached, classroom, common, forms, jobs, schema

P = schema.BLOCK_LAB.prefix
LOCALIZED = st.column_config.NumberColumn(format="localized")
VERDICT_BOX = {"info": st.info, "success": st.success, "warning": st.warning}


@dataclass(frozen=True)
class Chosen:
    """The block on the page: its registry entry, spec, input shape (C, H, W) and analytic cost."""

    info: BlockInfo
    spec: BlockSpec
    shape: tuple[int, int, int]
    cost: Cost

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def key(self) -> tuple:
        """The spec as the cached loaders take it."""
        return cached.spec_key(self.spec)

    @property
    def hw(self) -> tuple[int, int]:
        return self.shape[1], self.shape[2]

    @property
    def filename(self) -> str:
        """The stem of the page's downloads: 'mbconv_32x56x56'."""
        return f"{self.name}_{self.shape[0]}x{self.shape[1]}x{self.shape[2]}"


def sampling(chosen: Chosen) -> None:
    """The taps one output pixel of the first spatial conv reads, for an output pixel the viewer picks (a transposed
    conv: how many kernel taps reach each output pixel)."""
    if chosen.name == "transposed_conv":
        st.markdown(
            "How many kernel taps reach each output pixel: every input pixel writes a k×k patch, the patches s "
            "pixels apart, so where they overlap unevenly the output is a checkerboard."
        )
    else:
        st.markdown("Where one output pixel of the block's first spatial conv reads the input.")
    pc1, pc2 = st.columns(2)
    try:
        base = picture(chosen.spec, chosen.hw, None, chosen.cost.receptive_field)
        oi = forms.index_input(pc1, "output row", base.out_hw[0], base.out_pos[0], key=f"{P}.out_row")
        oj = forms.index_input(pc2, "output column", base.out_hw[1], base.out_pos[1], key=f"{P}.out_col")
        pic = cached.sampling_picture(
            chosen.name, chosen.key, chosen.hw, (int(oi), int(oj)), chosen.cost.receptive_field
        )
        figure = block_figures.sampling_figure(pic)
        classroom.plot(figure, f"sampling_{chosen.filename}", key=f"{P}.sampling_chart", width="content")
        st.caption(pic.caption())
        if getattr(pic, "shifted", None):  # a deformable conv's taps (a transposed conv's picture has none)
            st.info(
                "Red: where each tap samples after adding offsets predicted by an untrained offset conv on a "
                "random input (an illustration of the mechanism; trained offsets follow object shape). Samples "
                "fall between pixels and are bilinearly interpolated from 4 neighbours."
            )
    except ValueError as e:
        common.show_error(str(e))


@st.fragment
def compare(chosen: Chosen, counting, h: int, w: int) -> None:
    """Every block at the block's shared settings against the standard conv (its metric radio reruns only this)."""
    shared = block_summary.shared_settings(chosen.spec)
    cc1, cc2, cc3 = st.columns(3)
    labels = {"macs": counting.name, "params": "parameters"}
    cmp_metric = forms.control(cc1, schema.BLOCK_LAB, "cmp_metric", "Compare", format_func=labels.get, horizontal=True)
    cc2.markdown(block_summary.comparison_caption(shared, h, w))
    rows_cmp = block_summary.with_yours(
        cached.compare(shared.in_channels, shared.out_channels, shared.kernel_size, int(h), int(w), shared.stride),
        chosen.name,
        chosen.cost,
    )
    figure = block_figures.comparison_figure(rows_cmp, cmp_metric, counting.unit, current=chosen.name)
    classroom.plot(figure, f"compare_{chosen.filename}", key=f"{P}.cmp_chart")
    st.caption(block_summary.comparison_legend(chosen.name))
    if failed := block_summary.not_compared(rows_cmp):
        st.caption(failed)


@st.fragment
def cross_check(chosen: Chosen) -> None:
    """The analytic count against the tracers (FlopCounterMode, fvcore on request, effnets' dispatch counter)."""
    run_fv = forms.control(st, schema.BLOCK_LAB, "fvcore", "Also run fvcore (a JIT trace on the CPU; slower)")
    with st.spinner("Tracing the module..."):
        check = cached.cross_check(chosen.name, chosen.key, chosen.shape, run_fv)
    classroom.table(
        pd.DataFrame(check["rows"]),
        f"{chosen.filename}_crosscheck",
        key=f"{P}.csv_check",
        column_config={"MACs": LOCALIZED},
    )
    for note in check["notes"]:
        st.markdown(f"- {note}")
    if not run_fv:
        st.caption("fvcore off: tick the toggle to see how its default counting (with batch norm) compares.")
    st.markdown("**Extras lines, analytic vs traced** (effnets' dispatch counter on the real module)")
    classroom.grid(pd.DataFrame(block_figures.extras_check_rows(chosen.cost, check["dispatch_extras"])))


@st.fragment
def predict(chosen: Chosen) -> None:
    """Guess the parameter count, then which is faster here: the block or a standard conv at its settings."""
    info, c = chosen.info, chosen.cost
    classroom.predict_then_reveal(
        f"{P}.quiz_params",
        f"how many learnable parameters does this {info.label.lower()} have at these settings?",
        c.params,
        hint="Hint: count each conv's k_h · k_w · C_in/g · C_out weights, and 2 per channel for every batch norm.",
        explain=lambda: block_summary.params_by_layer(c),
    )
    st.divider()
    if not block_summary.has_rival(info):
        st.info(block_summary.NO_RIVAL, icon=":material/info:")
        return
    st.markdown(block_summary.race_question(info, chosen.spec, *chosen.hw))
    pick = st.radio(
        "Your guess", ["this block", "the standard conv"], key=f"{P}.race_guess", horizontal=True, index=None
    )
    which = (chosen.name, chosen.key)
    if st.button("Race them", key=f"{P}.race", disabled=pick is None):
        with st.spinner("Timing both, interleaved..."):
            try:
                rival = cached.spec_key(block_summary.standard_rival(chosen.spec))
                st.session_state[f"{P}.race_result"] = (cached.race(*which, rival, chosen.shape), which)
            except ValueError as e:
                common.show_error(str(e))
    res = st.session_state.get(f"{P}.race_result")
    if res is not None and res[1] == which:
        record = res[0]
        kind, message = block_summary.race_verdict(record.value, pick == "this block")
        VERDICT_BOX[kind](message)
        st.caption(f"{jobs.provenance(record)} {block_summary.race_conditions(record.value)}")
