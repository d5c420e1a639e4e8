"""The server: ``python3 -m streamlit run serve.py`` (the README's command) serves app.py with three additions that
a plain ``streamlit run app.py`` lacks:

- the pages are known before the first visitor, so a deep link opened first after a start (``/block-lab``) shows its
  page without Streamlit's "Page not found" box (Streamlit otherwise treats the first session as an old-style app
  with a pages/ folder);
- a path below a page (``/block-lab/foo``, a link mangled by a mail client) redirects to the page instead of a blank
  white screen;
- torch, torchvision and the effnets catalog are imported in the background as the server starts, so the first
  visitor does not wait for them.
"""

from __future__ import annotations

import contextlib
import threading

import streamlit as st
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from effnets.ui.navigation import url_paths


def _warm() -> None:
    import torchvision  # noqa: F401

    import effnets.blocks  # noqa: F401
    import effnets.models  # noqa: F401


@contextlib.asynccontextmanager
async def lifespan(_app):
    from streamlit.runtime.pages_manager import PagesManager

    # app.py lists its pages with st.navigation; the folder named pages/ is not Streamlit's old page directory.
    PagesManager.uses_pages_directory = False
    threading.Thread(target=_warm, daemon=True, name="effnets-warm-up").start()
    yield


async def _below_a_page(request):
    page, rest = request.url.path.strip("/").split("/", 1)
    if rest.split("/", 1)[0] in _SERVER_PATHS:
        # The browser probes /<page>/_stcore/... to find the app's base path; only a 404 sends it to the root.
        return Response(status_code=404)
    query = request.url.query
    return RedirectResponse(f"/{page}" + (f"?{query}" if query else ""), status_code=307)


_SERVER_PATHS = {"_stcore", "static", "media", "component", "app", "~"}


app = st.App(
    "app.py",
    lifespan=lifespan,
    routes=[Route(f"/{p}/{{rest:path}}", _below_a_page, methods=["GET", "HEAD"]) for p in url_paths()],
)
