"""Block Lab: pick a block, change its settings, see its exact cost, the formula, and why."""

import pandas as pd
import streamlit as st

from effnets.analysis import block_summary
from effnets.blocks import BLOCKS
from effnets.figures import blocks as block_figures
from effnets.layer_table import torchinfo_caption
from effnets.ui import block_lab_sections, cached, classroom, common, forms, schema, state

S = schema.BLOCK_LAB
P = S.prefix
FIELDS_FOR = f"{P}._fields_for"  # the block whose settings the field widgets hold
ALWAYS_LINKED = ("name", "h", "w", "batch")
LOCALIZED = st.column_config.NumberColumn(format="localized")

# ----- state from the link (first run of the session) ------------------------------------------------------------
if state.first_run(P):
    name = state.restore(S).get("name", S["name"].default)
    state.seed_session(P, block_summary.fields_from_link(BLOCKS[name], state.read_spec_fields(BLOCKS[name].spec, P)))
    st.session_state[FIELDS_FOR] = name
    state.mark_loaded(P)
state.defaults(S)

# ----- controls --------------------------------------------------------------------------------------------------
with st.sidebar:
    name = forms.control(st, S, "name", "Block type", format_func=lambda n: BLOCKS[n].label)
    info = BLOCKS[name]
    if st.session_state.get(FIELDS_FOR, name) != name:  # switched block type: keep only settings that fit it
        fitted, note = block_summary.switch_to(info, forms.held_values(info.spec, P))
        state.seed_session(P, fitted)
        if note:
            st.session_state[f"{P}._reset_note"] = note
    st.session_state[FIELDS_FOR] = name
    st.caption(info.layout)
    st.markdown("**Input**")
    c1, c2, c3 = st.columns(3)
    h = forms.control(c1, S, "h", "H", help="Input height in pixels.")
    w = forms.control(c2, S, "w", "W", help="Input width in pixels.")
    batch = forms.control(c3, S, "batch", "batch", help="Images per forward pass.")
    st.markdown("**Block settings**")
    settings_box = st.container()  # the block's settings: drawn by the fragment below, in this place
    counting = common.counting_controls(P, st.sidebar)
classroom.sidebar_controls()

classroom.page_header(info.label, P)
if note := st.session_state.pop(f"{P}._reset_note", None):
    st.info(note)
st.markdown(f"`{info.layout}`  \n[{info.paper}]({info.url})")
st.write(info.explanation)

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
headline_box = st.container()  # the fragment's own output (the headline), above the tabs
sec = classroom.sections(P, SECTIONS)  # the fragment below fills the open one


@classroom.page_fragment
def block_view(info, name, h, w, batch, counting) -> None:
    """The block's settings (in the sidebar's place for them), the headline, the open section and the link: a change
    of a setting reruns this, not the page (the block type, the input size and the counting are the page's)."""
    state.keep(f"{P}.out_row", f"{P}.out_col", f"{P}.race_guess")  # drawn inside tabs: kept while one is closed
    with settings_box:
        values = forms.spec_widgets(info.spec, P)
    try:
        spec = info.make_spec(**values)
        shape = (spec.in_channels, int(h), int(w))
        c = info.cost(spec, shape)
    except ValueError as e:
        state.write(state.link(S, always=ALWAYS_LINKED), values)
        common.show_error(
            str(e), "Change one of the settings in the sidebar; the numbers come back as soon as the block is possible."
        )
        classroom.sections_without_numbers(sec, "Nothing to show until the block can be built (see above).")
        return
    state.write(state.link(S, always=ALWAYS_LINKED), spec.changed_fields() | {"in_channels": spec.in_channels})

    # ----- headline numbers --------------------------------------------------------------------------------------
    chosen = block_lab_sections.Chosen(info, spec, shape, c)
    key, fname = chosen.key, chosen.filename
    common.metric_row(block_summary.headline(c, shape, counting, batch))
    st.caption(block_summary.counting_caption(counting, batch))

    if (box := sec["Cost breakdown"]) is not None:
        with box:
            rows = block_figures.breakdown_rows(c, counting.extras, counting.unit, batch)
            classroom.table(
                pd.DataFrame(rows), f"{fname}_breakdown", key=f"{P}.csv_breakdown", column_config={"count": LOCALIZED}
            )
            if batch > 1:
                st.caption(f"Counts for a batch of {batch}.")
            if left_out := block_summary.not_counted(c, counting):
                st.caption(left_out)
            st.markdown("**Layer by layer**")
            classroom.table(
                pd.DataFrame(block_figures.step_rows(c, counting.unit)),
                f"{fname}_layers",
                key=f"{P}.csv_steps",
                column_config={k: LOCALIZED for k in ("params", counting.name, "extra ops")},
            )

    if (box := sec["Formula"]) is not None:
        with box:
            st.latex(info.formula)
            st.markdown(block_summary.formula_intro(counting))
            for tex in block_figures.formula_latex(c):
                st.latex(tex)

    if (box := sec["Compare blocks"]) is not None:
        with box:
            block_lab_sections.compare(chosen, counting, h, w)

    if (box := sec["Diagram"]) is not None:
        with box:
            st.graphviz_chart(cached.block_dot(name, key, shape, dark=common.dark_theme()), width="content")
            st.caption("Traced from the real PyTorch module (torch.fx); edges carry C×H×W.")

    if (box := sec["Layers (torchinfo)"]) is not None:
        with box:
            table_rows, totals = cached.layer_table(name, key, shape)
            classroom.table(
                pd.DataFrame(table_rows).drop(columns=["leaf"]),
                f"{fname}_torchinfo",
                key=f"{P}.csv_torchinfo",
                column_config={k: LOCALIZED for k in ("params", "mult-adds (torchinfo)")},
            )
            st.caption(
                torchinfo_caption(totals, c.macs) + " Container rows are empty: the layers under them carry counts."
            )

    for section, draw in (
        ("Sampling", block_lab_sections.sampling),
        ("Cross-check", block_lab_sections.cross_check),
        ("Predict", block_lab_sections.predict),
    ):
        if (box := sec[section]) is not None:
            with box:
                draw(chosen)


with headline_box:
    block_view(info, name, h, w, batch, counting)
