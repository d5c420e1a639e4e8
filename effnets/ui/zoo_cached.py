"""Cached Model Zoo rows (exact counts and published accuracy: the same for every session)."""

from __future__ import annotations

import streamlit as st

from effnets.analysis import zoo


@st.cache_data(max_entries=512, show_spinner="Counting...")
def row(name: str) -> dict:
    return zoo.zoo_row(name).to_dict()


def rows(names: tuple[str, ...]) -> list[dict]:
    return [row(n) for n in names]


@st.cache_data(max_entries=64, show_spinner=False)
def model_findings(name: str) -> list:
    """ShuffleNetV2's G1-G4 applied to a whole model (analytic, no timing)."""
    from effnets.analysis.guidelines import check_model

    return check_model(name)
