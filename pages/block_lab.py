"""Block Lab: pick a block, change its settings, see its exact cost, the formula, and why."""

import pandas as pd
import streamlit as st

from effnets.analysis.compare import comparable_fields
from effnets.analysis.sampling import picture
from effnets.blocks import BLOCKS
from effnets.cost import EXTRA_KINDS
from effnets.figures import blocks as block_figures
from effnets.layer_table import torchinfo_reasons
from effnets.report import human, human_bytes, plural
from effnets.spec import field_label, field_names
from effnets.ui import cached, classroom, common, forms, jobs, schema, state

S = schema.BLOCK_LAB
P = S.prefix
NAMES = S["name"].choices()
FIELDS_FOR = f"{P}._fields_for"  # the block whose settings the field widgets hold

# ----- state from the link (first run of the session) ------------------------------------------------------------
if state.first_run(P):
    name = state.restore(S).get("name", S["name"].default)
    cfg = state.read_spec_fields(BLOCKS[name].spec, P)
    try:  # fields the link leaves out follow its C_in where the block needs it (stride-1 shuffle: C_out = C_in)
        c_in = cfg.get("in_channels", BLOCKS[name].make_spec().in_channels)
        cfg = BLOCKS[name].spec_for_input(c_in, **{k: v for k, v in cfg.items() if k != "in_channels"}).to_dict()
    except ValueError:
        pass  # the page shows what is wrong with the link's settings
    state.seed_session(P, cfg)
    st.session_state[FIELDS_FOR] = name
    state.mark_loaded(P)
state.defaults(S)

# ----- controls --------------------------------------------------------------------------------------------------
with st.sidebar:
    name = forms.control(st, S, "name", "Block type", format_func=lambda n: BLOCKS[n].label)
    info = BLOCKS[name]
    if st.session_state.get(FIELDS_FOR, name) != name:  # switched block type: keep only settings that fit it
        keys = {f: forms.widget_key(P, f) for f in field_names(info.spec)}
        carried = {f: st.session_state[k] for f, k in keys.items() if k in st.session_state}
        fitted, reset = info.fit(carried)
        state.seed_session(P, fitted)
        if reset:
            st.session_state[f"{P}._reset_note"] = (
                f"Switched to {info.label}: "
                + ", ".join(f"{field_label(info.spec, k)} {carried[k]} → {fitted[k]}" for k in reset)
                + " (the previous block's settings do not make this block)."
            )
    st.session_state[FIELDS_FOR] = name
    st.caption(info.layout)
    st.markdown("**Input**")
    c1, c2, c3 = st.columns(3)
    h = forms.control(c1, S, "h", "H", help="Input height in pixels.")
    w = forms.control(c2, S, "w", "W", help="Input width in pixels.")
    batch = forms.control(c3, S, "batch", "batch", help="Images per forward pass.")
    st.markdown("**Block settings**")
    values = forms.spec_widgets(info.spec, P)
    counting = common.counting_controls(P, st.sidebar)
    unit, extras = counting.unit, list(counting.extras)
classroom.sidebar_controls()

unit_name = counting.name
classroom.page_header(info.label, P)
if note := st.session_state.pop(f"{P}._reset_note", None):
    st.info(note)
st.markdown(f"`{info.layout}`  \n[{info.paper}]({info.url})")
st.write(info.explanation)

try:
    spec = info.make_spec(**values)
    shape = (spec.in_channels, int(h), int(w))
    c = info.cost(spec, shape)
except ValueError as e:
    state.write(state.link(S, always=("name", "h", "w", "batch")), values)
    common.show_error(
        str(e), "Change one of the settings in the sidebar; the numbers come back as soon as the block is possible."
    )
    st.stop()

state.write(
    state.link(S, always=("name", "h", "w", "batch")), spec.changed_fields() | {"in_channels": spec.in_channels}
)

# ----- headline numbers ------------------------------------------------------------------------------------------
key = cached.spec_key(spec)
count = counting.total(c)
act_bytes = (c.acts + spec.in_channels * h * w) * batch * 4
m = st.columns(5)
m[0].metric(
    "Parameters",
    human(c.params),
    help=f"{c.params:,} learnable parameters (BN gamma/beta included; fixed "
    "kernels and BN running statistics are buffers, not parameters).",
)
what = "conv + linear" + (" + " + ", ".join(extras) if extras else "")
m[1].metric(
    f"{unit_name} per image", human(count), help=f"{count:,} {unit_name}: {what}. Batch of {batch}: {count * batch:,}."
)
m[2].metric("Output shape", "×".join(map(str, c.output_shape)), help="C × H × W of one output.")
rf = f"{c.receptive_field[0]}×{c.receptive_field[1]}"
m[3].metric(
    "Receptive field" + (" (+ global)" if c.global_context else ""),
    rf,
    help="Input window one output value sees along the main path. '+ global': a global "
    "pool (squeeze-excitation) also feeds it, so it depends on the whole input.",
)
m[4].metric(
    "Activation memory",
    human_bytes(act_bytes),
    help=f"(input + every conv/linear output) x batch {batch} x "
    "4 bytes (fp32): what a training forward pass keeps for the backward pass.",
)
st.caption(f"Counted in **{unit_name}**: {what}. Numbers are per image unless the batch is mentioned.")

SECTIONS = [
    "Cost breakdown",
    "Formula",
    "Compare blocks",
    "Diagram",
    "Layers (torchinfo)",
    "Sampling",
    "Cross-check",
    "Predict",
]
sec = classroom.sections(P, SECTIONS)
fname = f"{name}_{spec.in_channels}x{h}x{w}"

if (box := sec["Cost breakdown"]) is not None:
    with box:
        rows = block_figures.breakdown_rows(c, extras, unit, batch)
        classroom.table(
            pd.DataFrame(rows),
            f"{fname}_breakdown",
            key=f"{P}.csv_breakdown",
            column_config={"count": st.column_config.NumberColumn(format="localized")},
        )
        if batch > 1:
            st.caption(f"Counts for a batch of {batch}.")
        not_counted = [k for k in EXTRA_KINDS if k not in extras and c.extra(k)]
        if not_counted:
            st.caption(
                "Not in the headline (tick them in the sidebar): "
                + ", ".join(f"{k} {human(counting.scale(c.extra(k)))}" for k in not_counted)
            )
        st.markdown("**Layer by layer**")
        localized = st.column_config.NumberColumn(format="localized")
        classroom.table(
            pd.DataFrame(block_figures.step_rows(c, unit)),
            f"{fname}_layers",
            key=f"{P}.csv_steps",
            column_config={k: localized for k in ("params", unit_name, "extra ops")},
        )

if (box := sec["Formula"]) is not None:
    with box:
        st.latex(info.formula)
        st.markdown(
            f"With your numbers ({unit_name} = k_h · k_w · C_in/g · C_out · H_out · W_out for each conv"
            + (", doubled for FLOPs" if counting.factor == 2 else "")
            + "):"
        )
        for label, tex in block_figures.formula_lines(c):
            st.latex(rf"\text{{{label}}}:\quad {tex}")
        st.latex(rf"\text{{total conv + linear MACs}} = {c.macs:,}".replace(",", "{,}"))
        st.latex(rf"\text{{params}} = {c.params:,}".replace(",", "{,}"))

if (box := sec["Compare blocks"]) is not None:
    with box:
        cc1, cc2, cc3 = st.columns(3)
        cmp_metric = cc1.radio(
            "Compare",
            ["macs", "params"],
            format_func={"macs": unit_name, "params": "parameters"}.get,
            horizontal=True,
            key=f"{P}.cmp_metric",
        )
        k_cmp = int(getattr(spec, "kernel_size", 3))
        c_out = int(getattr(spec, "out_channels", spec.in_channels))
        s_cmp = int(getattr(spec, "stride", 1))
        cc2.markdown(f"All blocks at C_in={spec.in_channels}, C_out={c_out}, k={k_cmp}, stride {s_cmp}, {h}×{w} input.")
        rows_cmp = cached.compare(spec.in_channels, c_out, k_cmp, int(h), int(w), s_cmp)
        classroom.plot(
            block_figures.comparison_figure(rows_cmp, cmp_metric, unit, current=name),
            f"compare_{fname}",
            key=f"{P}.cmp_chart",
        )
        st.caption(
            "Log scale. Grey: the standard conv at the same settings; red: the block you picked. Depthwise-"
            "separable saves about 1/C_out + 1/k² of the standard conv; a grouped conv 1/g."
        )
        failed = [r for r in rows_cmp if r.error]
        if failed:
            st.caption("Not shown at these settings: " + "; ".join(f"{r.label} ({r.error})" for r in failed))

if (box := sec["Diagram"]) is not None:
    with box:
        st.graphviz_chart(cached.block_dot(name, key, shape, dark=common.dark_theme()), width="content")
        st.caption("Traced from the real PyTorch module (torch.fx); edges carry C×H×W.")

if (box := sec["Layers (torchinfo)"]) is not None:
    with box:
        table_rows, totals = cached.layer_table(name, key, shape)
        classroom.table(pd.DataFrame(table_rows).drop(columns=["leaf"]), f"{fname}_torchinfo", key=f"{P}.csv_torchinfo")
        diff = totals["mult-adds (torchinfo)"] - c.macs
        reasons = torchinfo_reasons(totals, c.macs)
        st.caption(
            f"torchinfo: {totals['params']:,} params, {totals['mult-adds (torchinfo)']:,} mult-adds, {diff:+,} "
            f"against the {c.macs:,} conv + linear MACs above. torchinfo counts each layer's parameters × its "
            "output positions (a norm layer's parameters once per image)"
            + (": " + "; ".join(f"{n:+,} for {why}" for why, n in reasons) + "." if reasons else ", which agrees here.")
        )

if (box := sec["Sampling"]) is not None:
    with box:
        st.markdown("Where one output pixel of the block's first spatial conv reads the input.")
        pc1, pc2 = st.columns(2)
        try:
            base = picture(spec, (int(h), int(w)), None, c.receptive_field)
            for k_, hi_, default_ in (
                ("out_row", base.out_hw[0] - 1, base.out_pos[0]),
                ("out_col", base.out_hw[1] - 1, base.out_pos[1]),
            ):
                if not 0 <= st.session_state.get(f"{P}.{k_}", -1) <= hi_:
                    st.session_state[f"{P}.{k_}"] = default_
            oi = pc1.number_input("output row", 0, base.out_hw[0] - 1, key=f"{P}.out_row")
            oj = pc2.number_input("output column", 0, base.out_hw[1] - 1, key=f"{P}.out_col")
            if name == "deformable":
                pic = cached.deformable_picture(key, (int(h), int(w)), (int(oi), int(oj)))
            else:
                pic = picture(spec, (int(h), int(w)), (int(oi), int(oj)), c.receptive_field)
            classroom.plot(
                block_figures.sampling_figure(pic), f"sampling_{fname}", key=f"{P}.sampling_chart", width="content"
            )
            win = pic.window
            st.caption(
                f"kernel {win.kernel[0]}×{win.kernel[1]}, stride {win.stride}, padding {win.padding[0]}, dilation "
                f"{win.dilation}: output ({pic.out_pos[0]}, {pic.out_pos[1]}) of {pic.out_hw[0]}×{pic.out_hw[1]} reads "
                f"{len(pic.taps)} input pixels, {pic.taps_in_padding} of them in the zero padding. "
                + (
                    f"The dashed box is the whole block's receptive field ({pic.rf[0]}×{pic.rf[1]})."
                    if pic.rf[0] and pic.rf[1]
                    else "A deformable conv has no fixed receptive field: its offsets move the taps (red), so no "
                    "box is drawn."
                )
            )
            if pic.shifted:
                st.info(
                    "Red: where each tap samples after adding offsets predicted by an untrained offset conv on a "
                    "random input (an illustration of the mechanism; trained offsets follow object shape). Samples "
                    "fall between pixels and are bilinearly interpolated from 4 neighbours."
                )
        except ValueError as e:
            common.show_error(str(e))

if (box := sec["Cross-check"]) is not None:
    with box:
        run_fv = st.toggle("Also run fvcore (a JIT trace on the CPU; slower)", key=f"{P}.fvcore")
        with st.spinner("Tracing the module..."):
            check = cached.cross_check(name, key, shape, run_fv)
        classroom.table(
            pd.DataFrame(check["rows"]),
            f"{fname}_crosscheck",
            key=f"{P}.csv_check",
            column_config={"MACs": st.column_config.NumberColumn(format="localized")},
        )
        for note in check["notes"]:
            st.markdown(f"- {note}")
        if not run_fv:
            st.caption("fvcore off: tick the toggle to see how its default counting (with batch norm) compares.")
        ext = check["dispatch_extras"]
        st.markdown("**Extras lines, analytic vs traced** (effnets' dispatch counter on the real module)")
        classroom.grid(
            pd.DataFrame(
                [
                    {"line": k, "analytic": c.extra(k), "traced": ext[k], "agrees": c.extra(k) == ext[k]}
                    for k in EXTRA_KINDS
                ]
            )
        )

k_q = int(getattr(spec, "kernel_size", 3))
c_out_q = int(getattr(spec, "out_channels", spec.in_channels))
s_q = int(getattr(spec, "stride", 1))
if (box := sec["Predict"]) is not None:
    with box:
        classroom.predict_then_reveal(
            f"{P}.quiz_params",
            f"how many learnable parameters does this {info.label.lower()} have at these settings?",
            c.params,
            hint="Hint: count each conv's k_h · k_w · C_in/g · C_out weights, and 2 per channel for every batch norm.",
            explain=lambda: "; ".join(f"{s.label}: {s.params:,}" for s in c.steps if s.params),
        )
        st.divider()
        std_fields = comparable_fields(BLOCKS["standard"], spec.in_channels, c_out_q, k_q, s_q)
        st.markdown(
            f"**Predict, then reveal:** on this server, which runs faster on a batch of 8 at {h}×{w}: the "
            f"{info.label.lower()} as set, or a standard {k_q}×{k_q} conv with the same C_in={spec.in_channels} and "
            f"C_out={c_out_q}?"
        )
        pick = st.radio(
            "Your guess", ["this block", "the standard conv"], key=f"{P}.race_guess", horizontal=True, index=None
        )
        if st.button("Race them", key=f"{P}.race", disabled=pick is None):
            with st.spinner("Timing both, interleaved..."):
                try:
                    st.session_state[f"{P}.race_result"] = (
                        cached.race(name, key, cached.spec_key(BLOCKS["standard"].make_spec(**std_fields)), shape),
                        (name, key),
                    )
                except ValueError as e:
                    common.show_error(str(e))
        res = st.session_state.get(f"{P}.race_result")
        if res is not None and res[1] == (name, key):
            record = res[0]
            r = record.value
            if not r.decided:  # within the spread: neither guess is right, and MACs did not decide it either
                st.info(r.message())
            else:
                right = (r.faster == 0) == (pick == "this block")
                (st.success if right else st.warning)(("Right. " if right else "Not this time. ") + r.message())
            env = r.environment
            st.caption(
                f"{jobs.provenance(record)} {env.get('device_name')}, {plural(int(env.get('threads', 1)), 'thread')}, "
                f"torch {env.get('torch')}; median of interleaved runs after warm-up. MACs predict the order only "
                "sometimes."
            )
