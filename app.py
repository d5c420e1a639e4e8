"""effnets: the app's entry point. Page config and navigation only (no widgets here: see ../shared/design.md)."""

import streamlit as st

from effnets.ui import classroom, navigation

# A presenter link (?present=1) opens with the sidebar collapsed; the toggle itself lives in each page's sidebar.
_presenting = st.query_params.get("present") in ("1", "true", "yes")
st.set_page_config(
    page_title="effnets: efficient CNN design lab",
    page_icon=":material/calculate:",
    layout="wide",
    initial_sidebar_state="collapsed" if _presenting else "auto",
)


classroom.new_run()
st.navigation(navigation.st_pages()).run()
