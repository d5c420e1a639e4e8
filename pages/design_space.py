"""Design Space: networks generated from a few numbers. The RegNet generator block by block (and its two roundings),
MobileNet's width x resolution grid, ShuffleNet's groups trade, and the cost distribution of a sampled design space."""

import streamlit as st

from effnets.analysis import design_space
from effnets.models import MODELS
from effnets.models import scaling as model_scaling
from effnets.ui import classroom, common, design_space_sections, forms, schema, state

S = schema.DESIGN_SPACE
P = S.prefix
GENERATOR_FIELDS = design_space_sections.GENERATOR_FIELDS

# ----- state from the link (first run of the session) ------------------------------------------------------------
if state.first_run(P):
    name = state.restore(S).get("preset", S["preset"].default)
    fields = state.read_spec_fields(MODELS[name].spec, P)
    state.seed_preset(P, name, {**MODELS[name].make_spec().to_dict(), **fields})
    state.mark_loaded(P)
state.defaults(S)

# ----- controls --------------------------------------------------------------------------------------------------
with st.sidebar:
    st.markdown("**RegNet generator**")
    name = forms.control(
        st,
        S,
        "preset",
        "Preset",
        format_func=lambda n: MODELS[n].label,
        help="Loads the preset's (d, w0, wa, wm, g) from pycls; change any of them below.",
    )
    if state.seeded_preset(P) != name:
        state.seed_preset(P, name, MODELS[name].make_spec().to_dict())
    info = MODELS[name]
    generator_box = st.container()  # d, w0, wa, wm and g: drawn by the fragment below, in this place
    rest = forms.spec_widgets(info.spec, P, skip=GENERATOR_FIELDS)  # b, SE, resolution ...
    counting = common.counting_controls(P, st.sidebar)
classroom.sidebar_controls()

classroom.page_header("Design Space", P)
st.markdown(
    "A design space is a rule that turns a few numbers into whole networks. RegNet's six numbers generate every "
    "block's width; MobileNet's α and ρ scale one network into a grid; ShuffleNet's groups trade dense 1x1 convs for "
    "width. Every count here is computed from the settings (no network is built): "
    f"**{counting.name}** ({counting.contents}) per image, and learnable parameters."
)

sections = classroom.sections(P, list(design_space_sections.SECTIONS))  # the fragment below fills the open one


@classroom.page_fragment
def generated_view(info, rest, counting) -> None:
    """The generator's five numbers (in the sidebar's place for them), the open section and the link: changing d,
    w0, wa, wm or g reruns this, not the page (the preset, the other settings, the counting convention and the tabs
    are the page's: fewer elements to send again at every step)."""
    with generator_box:
        fast = forms.spec_widgets(info.spec, P, skip=tuple(rest))
    values = {**fast, **rest}  # in the spec's field order, as the link lists them
    generated = design_space.generate(info, values)
    for section, box in sections.items():
        if box is not None:
            with box:
                design_space_sections.SECTIONS[section](generated, counting)
    state.write(state.link(S, always=("preset",)), model_scaling.preset_changes(info, values) or None)


generated_view(info, rest, counting)
