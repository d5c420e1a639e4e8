"""effnets: the app's entry point. Page config and navigation only (no widgets here: see ../shared/design.md)."""

import streamlit as st

# A presenter link (?present=1) opens with the sidebar collapsed; the toggle itself lives in each page's sidebar.
_presenting = st.query_params.get("present") in ("1", "true", "yes")
st.set_page_config(
    page_title="effnets: efficient CNN design lab",
    page_icon=":material/calculate:",
    layout="wide",
    initial_sidebar_state="collapsed" if _presenting else "auto",
)

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", url_path="home", default=True),
    st.Page("pages/block_lab.py", title="Block Lab", icon=":material/view_in_ar:", url_path="block-lab"),
    st.Page("pages/scaling_lab.py", title="Scaling Lab", icon=":material/trending_up:", url_path="scaling-lab"),
    st.Page("pages/design_space.py", title="Design Space", icon=":material/scatter_plot:", url_path="design-space"),
    st.Page("pages/kernel_gallery.py", title="Kernel Gallery", icon=":material/grid_on:", url_path="kernel-gallery"),
    st.Page("pages/inference_lab.py", title="Inference Lab", icon=":material/image_search:", url_path="inference-lab"),
    st.Page("pages/model_zoo.py", title="Model Zoo", icon=":material/speed:", url_path="model-zoo"),
    st.Page("pages/latency_lab.py", title="Latency Lab", icon=":material/timer:", url_path="latency-lab"),
]

st.navigation(PAGES).run()
