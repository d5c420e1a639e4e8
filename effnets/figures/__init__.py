"""Plotly and Graphviz figures, one module per topic (no streamlit)."""
