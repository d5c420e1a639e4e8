"""The one list of the app's pages: app.py builds its navigation from it, the server launcher (serve.py) and the
browser tests read it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageEntry:
    """A page: its file under pages/, its title and icon, and its URL path ("" for Home, served at the root)."""

    file: str
    title: str
    icon: str
    url_path: str


PAGES: tuple[PageEntry, ...] = (
    PageEntry("pages/home.py", "Home", ":material/home:", "home"),
    PageEntry("pages/block_lab.py", "Block Lab", ":material/view_in_ar:", "block-lab"),
    PageEntry("pages/scaling_lab.py", "Scaling Lab", ":material/trending_up:", "scaling-lab"),
    PageEntry("pages/design_space.py", "Design Space", ":material/scatter_plot:", "design-space"),
    PageEntry("pages/kernel_gallery.py", "Kernel Gallery", ":material/grid_on:", "kernel-gallery"),
    PageEntry("pages/inference_lab.py", "Inference Lab", ":material/image_search:", "inference-lab"),
    PageEntry("pages/network_builder.py", "Network Builder", ":material/construction:", "network-builder"),
    PageEntry("pages/network_inspector.py", "Network Inspector", ":material/travel_explore:", "network-inspector"),
    PageEntry("pages/model_zoo.py", "Model Zoo", ":material/speed:", "model-zoo"),
    PageEntry("pages/latency_lab.py", "Latency Lab", ":material/timer:", "latency-lab"),
    PageEntry(
        "pages/reparameterization_lab.py", "Reparameterization Lab", ":material/merge:", "reparameterization-lab"
    ),
)
HOME = PAGES[0]


def url_paths() -> list[str]:
    """Every page's URL path (Home's too: /home shows Home, as / does)."""
    return [p.url_path for p in PAGES]


def st_pages() -> list:
    """The st.Page list for st.navigation: Home is the default page at the root, and also answers at /home (a
    hidden alias, so a typed /home is not 'Page not found')."""
    import streamlit as st

    pages = [
        st.Page(p.file, title=p.title, icon=p.icon, url_path="index" if p is HOME else p.url_path, default=p is HOME)
        for p in PAGES
    ]
    pages.append(st.Page(HOME.file, title=HOME.title, icon=HOME.icon, url_path=HOME.url_path, visibility="hidden"))
    return pages
