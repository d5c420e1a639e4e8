"""The only package that imports streamlit: widgets generated from specs, URL state, cached loaders."""
