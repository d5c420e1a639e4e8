"""Cached Model Zoo rows (exact counts and published accuracy: the same for every session)."""

from __future__ import annotations

import streamlit as st

from effnets import zoo as Z


@st.cache_data(max_entries=512, show_spinner="Counting...")
def row(name: str) -> dict:
    return Z.zoo_row(name).to_dict()


def rows(names: tuple[str, ...]) -> list[dict]:
    return [row(n) for n in names]
