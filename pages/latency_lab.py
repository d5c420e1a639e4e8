"""Latency Lab: blocks timed on this device, placed on a measured roofline, and ShuffleNetV2's guidelines G1-G4."""

import pandas as pd
import streamlit as st

from effnets.analysis import guidelines, roofline, verdicts
from effnets.analysis.compare import comparable_fields, matched_width
from effnets.blocks import BLOCKS
from effnets.figures import zoo as zoo_figures
from effnets.report import plural
from effnets.runtime import bench, inference
from effnets.ui import classroom, common, forms, jobs, schema, state, zoo_cached

S = schema.LATENCY_LAB
P = S.prefix


def _ms(r) -> tuple[float, float, float]:
    return r.median_ms, r.p10_ms, r.p90_ms


if state.first_run(P):
    restored = state.restore(S)
    if not restored.get("blocks", True):  # an empty list from the link keeps the default set
        st.session_state.pop(S.key("blocks"))
    state.mark_loaded(P)
state.defaults(S)

with st.sidebar:
    names = forms.control(st, S, "blocks", "Blocks", format_func=lambda n: BLOCKS[n].label)
    mode = forms.control(
        st,
        S,
        "mode",
        "Compare at",
        horizontal=True,
        format_func={"same": "the same channels", "matched": "matched MACs"}.get,
        help="Same channels: every block maps C -> C. Matched MACs: each block's width is chosen so its "
        "MACs match the standard conv's.",
    )
    c1, c2, c3 = st.columns(3)
    c = forms.control(c1, S, "c", "C", help="Channels (in and out).")
    hw = forms.control(c2, S, "hw", "H = W")
    k = forms.control(c3, S, "k", "k", help="Kernel size where the block has one.")
    st.markdown("**Measurement**")
    device, reason, precision = common.device_controls(P, show_reason=False)
    d1, d2 = st.columns(2)
    batch = forms.control(d1, S, "batch", "Batch")
    threads = forms.control(d2, S, "threads", "CPU threads")
    d3, d4 = st.columns(2)
    warmup = forms.control(d3, S, "warmup", "Warm-up")
    repeats = forms.control(d4, S, "repeats", "Timed rounds")
classroom.sidebar_controls()

classroom.page_header("Latency Lab", P)
state.write(state.link(S, always=("blocks", "c", "hw", "k", "mode")))
if not names:
    st.info("Pick some blocks in the sidebar.")
    st.stop()

# ----- the blocks at the shared settings ------------------------------------------------------------------------
target = (
    BLOCKS["standard"]
    .cost(
        BLOCKS["standard"].make_spec(in_channels=int(c), out_channels=int(c), kernel_size=int(k)),
        (int(c), int(hw), int(hw)),
    )
    .macs
)
configs, skipped = {}, []
for n in names:
    info = BLOCKS[n]
    try:
        if mode == "matched":
            m = matched_width(info, target, int(k), int(hw), int(hw))
            if m is None:
                raise ValueError("no width matches")
            fields = m[0]
        else:
            fields = comparable_fields(info, int(c), int(c), int(k), 1)
        spec = info.make_spec(**fields)
        cost = info.cost(spec, (spec.in_channels, int(hw), int(hw)))
        intensity = roofline.arithmetic_intensity(cost, precision, int(batch))
        configs[n] = (fields, spec, cost, intensity)
    except ValueError as e:
        skipped.append(f"{info.label}: {e}")
for s in skipped:
    st.caption(f"Left out at these settings: {s}")
if not configs:
    st.info("No chosen block can be built at these settings (see why above): change C, H = W or k.")
    st.stop()

st.markdown(
    f"{len(configs)} blocks on a {hw}x{hw} input, batch {batch}, "
    + (
        f"each as wide as needed to cost about {target / 1e6:.1f}M MACs per image (the standard {k}x{k} conv at C={c}; "
        f"the table counts the whole batch)"
        if mode == "matched"
        else f"each mapping {c} -> {c} channels"
    )
    + f". Timed on **{inference.device_name(device)}** ({reason}), {plural(int(threads), 'thread')}, {precision}, "
    "interleaved."
)

key = bench.config_key(
    device,
    kind="latency_lab",
    blocks=sorted(configs),
    mode=mode,
    c=int(c),
    hw=int(hw),
    k=int(k),
    batch=int(batch),
    threads=int(threads),
    precision=precision,
    warmup=int(warmup),
    repeats=int(repeats),
)
job = jobs.follow(f"{P}.job")
record = jobs.recall(key)
result = record.value if record else None
if st.button("Measure", type="primary", key=f"{P}.measure", disabled=job is not None and not job.finished):
    plan = {n: (cfg[0], (cfg[1].in_channels, int(hw), int(hw))) for n, cfg in configs.items()}

    def work(progress, stop):
        with bench.num_threads(int(threads)):
            ceilings = roofline.measure_ceilings(device, precision)
            variants = [
                bench.block_variant(n, f, shape, batch=int(batch), device=device, precision=precision, label=n)
                for n, (f, shape) in plan.items()
            ]
            run = bench.run_interleaved(
                variants,
                device=device,
                warmup=int(warmup),
                repeats=int(repeats),
                progress=progress,
                stop=stop,
                rotate=True,
            )
        return {"ceilings": ceilings, "run": run}

    jobs.start(f"{P}.job", key, f"timing {len(configs)} blocks", work)
    st.rerun()
if job is not None and job.finished:
    if job.error:
        common.show_error(f"The measurement failed: {job.error}")
    elif job.result is not None and job.key == key:
        record = jobs.recall(key)
        result = record.value
        if job.result["run"].partial:
            st.warning("Stopped early: fewer rounds than asked.")
if result is not None:
    (st.caption if jobs.mine(record) else st.info)(jobs.provenance(record, "these blocks and measurement settings"))
    busy = [BLOCKS[r.label].label for r in result["run"].results if r.timing is not None and r.timing.busy]
    if busy:
        st.warning(
            f"Busy machine: the spread of {', '.join(busy)} (p90 more than {inference.BUSY_SPREAD:g} x p10) "
            "says something "
            "else ran during the measurement. Press *Measure* again."
        )

MACS_COL = f"MACs (batch of {batch})"
rows, points = [], []
for n, (_fields, spec, cost, inten) in configs.items():
    row = {
        "block": BLOCKS[n].label,
        "C": spec.in_channels,
        MACS_COL: cost.macs * int(batch),
        "params": cost.params,
        "bytes moved": inten.bytes,
        "MACs/byte": inten.intensity,
    }
    if result is not None:
        r = next((x for x in result["run"].results if x.label == n), None)
        if r is not None and r.timing is not None:
            pt = roofline.roofline_point(BLOCKS[n].label, inten, r.median_ms, result["ceilings"])
            points.append(pt)
            row.update(
                {
                    "median ms": r.median_ms,
                    "p10 ms": r.p10_ms,
                    "p90 ms": r.p90_ms,
                    "GMAC/s": pt.achieved_gmacs,
                    "% of roof": 100 * pt.efficiency,
                    "bound by": pt.bound,
                }
            )
    rows.append(row)

SECTIONS = ["Latency", "Roofline", "Guidelines G1-G4"]
sec = classroom.sections(P, SECTIONS)

if (box := sec["Latency"]) is not None:
    with box:
        nf = st.column_config.NumberColumn
        classroom.table(
            pd.DataFrame(rows),
            "latency_lab",
            key=f"{P}.csv",
            column_config={
                MACS_COL: nf(format="localized"),
                "params": nf(format="localized"),
                "bytes moved": nf(format="localized"),
                "MACs/byte": nf(format="%.1f"),
                "median ms": nf(format="%.3f"),
                "p10 ms": nf(format="%.3f"),
                "p90 ms": nf(format="%.3f"),
                "GMAC/s": nf(format="%.1f"),
                "% of roof": nf(format="%.0f"),
            },
        )
        if result is None:
            st.caption("Press *Measure* to time the blocks (interleaved rounds after warm-up, device synchronised).")
        else:
            env = result["run"].environment
            st.caption("Environment: " + ", ".join(f"{a} {b}" for a, b in env.items()))
            timed = [
                verdicts.Timed(BLOCKS[r.label].label, configs[r.label][2].macs, r.median_ms, r.p10_ms, r.p90_ms)
                for r in result["run"].results
                if r.timing is not None and r.label in configs
            ]
            st.markdown(verdicts.latency_spread(timed, matched=mode == "matched"))

if (box := sec["Roofline"]) is not None:
    with box:
        if result is None:
            st.info(
                "Press *Measure*: the roofline's ceilings are measured on this device (a large matmul for "
                "compute, a large copy for bandwidth)."
            )
        else:
            cl = result["ceilings"]
            plot = roofline.roofline_plot(cl, points)
            classroom.plot(zoo_figures.roofline_figure(plot), "roofline", key=f"{P}.roof")
            st.caption(cl.describe())
            with st.expander("How bytes moved are counted"):
                st.write(roofline.BYTE_MODEL)

if (box := sec["Guidelines G1-G4"]) is not None:
    with box:
        st.markdown(
            "ShuffleNetV2's guidelines for speed, not MACs: **G1** equal input and output widths minimise memory "
            "access; **G2** many groups cost memory access; **G3** fragmentation (many small parallel ops) hurts "
            "parallelism; **G4** element-wise ops are not free."
        )
        what = forms.control(
            st,
            S,
            "check_what",
            "Check",
            horizontal=True,
            format_func={"block": "a block from the list", "model": "a whole model"}.get,
        )
        findings = []
        if what == "block":
            pick = st.selectbox("Block", list(configs), key=f"{P}.check", format_func=lambda n: BLOCKS[n].label)
            if pick:
                findings = guidelines.check_cost(configs[pick][2], BLOCKS[pick].label)
        else:
            mpick = forms.control(st, S, "check_model", "Model")
            try:
                findings = zoo_cached.model_findings(mpick)
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
        ekey = bench.config_key(device, kind="guidelines", precision=precision, threads=int(threads))
        ejob = jobs.follow(f"{P}.gjob")
        erecord = jobs.recall(ekey)
        effects = erecord.value if erecord else None
        if st.button("Measure G1-G4", key=f"{P}.gmeasure", disabled=ejob is not None and not ejob.finished):

            def gwork(progress, stop):
                with bench.num_threads(int(threads)):
                    return guidelines.measured_effects(device=device, precision=precision, progress=progress, stop=stop)

            jobs.start(f"{P}.gjob", ekey, "timing the G1-G4 pairs", gwork)
            st.rerun()
        if ejob is not None and ejob.finished and ejob.result is not None and ejob.key == ekey:
            erecord = jobs.recall(ekey)
            effects = erecord.value
        if effects:
            st.caption(jobs.provenance(erecord, "this device, precision and thread count"))
            classroom.table(
                pd.DataFrame(
                    [
                        {
                            "guideline": e.guideline,
                            "question": e.question,
                            "follows (ms)": e.follows.median_ms,
                            "breaks (ms)": e.breaks.median_ms,
                            "MACs follows": e.follows_macs,
                            "MACs breaks": e.breaks_macs,
                            "effect of breaking it": verdicts.compare_pair(
                                verdicts.Timed("follows", e.follows_macs, *_ms(e.follows)),
                                verdicts.Timed("breaks", e.breaks_macs, *_ms(e.breaks)),
                            )
                            if e.ratio
                            else "not measured (stopped)",
                        }
                        for e in effects
                    ]
                ),
                "guideline_effects",
                key=f"{P}.gcsv",
            )
