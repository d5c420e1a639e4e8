"""Latency Lab: blocks timed on this device, placed on a measured roofline, and ShuffleNetV2's guidelines G1-G4."""

import functools

import pandas as pd
import streamlit as st

from effnets.analysis import guidelines, latency, roofline, verdicts
from effnets.blocks import BLOCKS
from effnets.figures import zoo as zoo_figures
from effnets.runtime import bench
from effnets.ui import classroom, common, forms, jobs, latency_lab_sections, measuring, schema, state, zoo_cached

S = schema.LATENCY_LAB
P = S.prefix
MODES = {"same": "the same channels", "matched": "matched MACs"}
CHECKS = {"block": "a block from the list", "model": "a whole model"}

state.load(S, keep_default_if_empty=("blocks",))
state.keep(f"{P}.check")  # picked inside the Guidelines tab

with st.sidebar:
    names = forms.control(st, S, "blocks", "Blocks", format_func=lambda n: BLOCKS[n].label)
    mode = forms.control(
        st,
        S,
        "mode",
        "Compare at",
        horizontal=True,
        format_func=MODES.get,
        help="Same channels: every block maps C -> C. Matched MACs: each block's width is chosen so its "
        "MACs match the standard conv's.",
    )
    c1, c2, c3 = st.columns(3)
    c = int(forms.control(c1, S, "c", "C", help="Channels (in and out)."))
    hw = int(forms.control(c2, S, "hw", "H = W"))
    k = int(forms.control(c3, S, "k", "k", help="Kernel size where the block has one."))
    ms = measuring.controls(S)
classroom.sidebar_controls()

classroom.page_header("Latency Lab", P)
state.write(state.link(S, always=("blocks", "c", "hw", "k", "mode")))
if not names:
    st.info("Pick some blocks in the sidebar.")
    st.stop()

built, skipped = latency.setups(names, mode, c, hw, k, ms.precision, ms.batch)
for s in skipped:
    st.caption(f"Left out at these settings: {s}")
if not built:
    st.info("No chosen block can be built at these settings (see why above): change C, H = W or k.")
    st.stop()

st.markdown(latency.describe(len(built), mode, c, hw, k, ms.batch, ms.device_name, ms.reason, ms.threads, ms.precision))
for b in built.values():
    if b.note:
        st.caption(b.note)

key = ms.key(kind="latency_lab", blocks=sorted(built), mode=mode, c=c, hw=hw, k=k)
m = measuring.measure(
    ms,
    key,
    functools.partial(latency.measure, built, **ms.timing()),
    button="Measure",
    label=f"timing {len(built)} blocks",
    job_key=f"{P}.job",
    button_key=f"{P}.measure",
)
measuring.job_notes(m, "Stopped early: fewer rounds than asked.", lambda result: result["run"].partial)
result = m.value
if result is not None:
    measuring.whose(
        m, "these blocks and measurement settings", result["run"].results, "Measure", lambda n: BLOCKS[n].label
    )

rows, points = latency.table(built, ms.batch, result)

sec = classroom.sections(P, ["Latency", "Roofline", "Guidelines G1-G4", "Per layer"])

if (box := sec["Latency"]) is not None:
    with box:
        classroom.table(
            pd.DataFrame(rows),
            "latency_lab",
            key=f"{P}.csv",
            column_config=measuring.number_columns(latency.column_formats(ms.batch)),
        )
        if result is None:
            st.caption("Press *Measure* to time the blocks (interleaved rounds after warm-up, device synchronised).")
        else:
            measuring.environment(result["run"].environment)
            st.markdown(verdicts.latency_spread(latency.timed(built, result["run"]), matched=mode == "matched"))

if (box := sec["Roofline"]) is not None:
    with box:
        if result is None:
            st.info(
                "Press *Measure*: the roofline's ceilings are measured on this device (a large matmul for "
                "compute, a large copy for bandwidth)."
            )
        else:
            plot = roofline.roofline_plot(result["ceilings"], points)
            classroom.plot(zoo_figures.roofline_figure(plot), "roofline", key=f"{P}.roof")
            st.caption(result["ceilings"].describe())
            with st.expander("How bytes moved are counted"):
                st.write(roofline.BYTE_MODEL)

if (box := sec["Guidelines G1-G4"]) is not None:
    with box:
        st.markdown(
            "ShuffleNetV2's guidelines for speed, not MACs: **G1** equal input and output widths minimise memory "
            "access; **G2** many groups cost memory access; **G3** fragmentation (many small parallel ops) hurts "
            "parallelism; **G4** element-wise ops are not free."
        )
        what = forms.control(st, S, "check_what", "Check", horizontal=True, format_func=CHECKS.get)
        findings = []
        if what == "block":
            pick = st.selectbox("Block", list(built), key=f"{P}.check", format_func=lambda n: BLOCKS[n].label)
            if pick:
                findings = guidelines.check_cost(built[pick].cost, built[pick].label)
        else:
            model = forms.control(st, S, "check_model", "Model")
            try:
                findings = zoo_cached.model_findings(model)
            except ValueError as e:
                common.show_error(str(e))
        icon = {"ok": ":green[:material/check_circle:]", "warn": ":orange[:material/warning:]", "n/a": "·"}
        for f in findings:
            st.markdown(f"{icon.get(f.status, '')} **{f.guideline}** {f.title}: {f.summary}")
            if f.rows:
                with st.expander(f"{f.guideline} details ({f.rule})"):
                    classroom.grid(pd.DataFrame(f.rows))
        st.markdown(
            "**The measured effect of each guideline on this device** (pairs of layers at matched MACs, "
            "one following the guideline, one breaking it, timed interleaved):"
        )
        effects = measuring.measure(
            ms,
            bench.config_key(ms.device, kind="guidelines", precision=ms.precision, threads=ms.threads),
            functools.partial(guidelines.measured_effects, device=ms.device, precision=ms.precision),
            button="Measure G1-G4",
            label="timing the G1-G4 pairs",
            job_key=f"{P}.gjob",
            button_key=f"{P}.gmeasure",
            primary=False,
        )
        if effects.value:
            st.caption(jobs.provenance(effects.record, "this device, precision and thread count"))
            classroom.table(pd.DataFrame(guidelines.effect_rows(effects.value)), "guideline_effects", key=f"{P}.gcsv")

if (box := sec["Per layer"]) is not None:
    with box:
        latency_lab_sections.per_layer(S, ms)
