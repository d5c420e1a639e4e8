"""The server: ``python3 -m streamlit run serve.py`` (the README's command) serves app.py with three additions that
a plain ``streamlit run app.py`` lacks:

- the pages are known before the first visitor, so a deep link opened first after a start (``/block-lab``) shows its
  page without Streamlit's "Page not found" box (Streamlit otherwise treats the first session as an old-style app
  with a pages/ folder);
- a path below a page (``/block-lab/foo``, a link mangled by a mail client) redirects to the page instead of a blank
  white screen;
- Streamlit's frontend files are served from memory, gzip-compressed once (:mod:`effnets.ui.static_assets`): a
  new browser's 8 MB of JavaScript otherwise costs the server more CPU than that student's page runs;
- before it answers its first request, the server imports everything the pages import and fills the shared caches
  with what the pages show first at their defaults (:mod:`effnets.ui.warmup`, a few seconds), so that the first
  visitor of any page does not wait for them: Streamlit itself runs no app code before the first session. The
  warm-up is capped at WARM_UP_S; what is left of it then goes on in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

import streamlit as st
from starlette.middleware import Middleware
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from effnets.ui.navigation import url_paths
from effnets.ui.static_assets import StaticAssets

WARM_UP_S = 60


def _warm() -> None:
    from effnets.ui import warmup

    took = warmup.warm()
    print("effnets: warmed up (" + ", ".join(f"{k} {v:.1f} s" for k, v in took.items()) + ")", flush=True)


@contextlib.asynccontextmanager
async def lifespan(_app):
    from streamlit.runtime.pages_manager import PagesManager

    # app.py lists its pages with st.navigation; the folder named pages/ is not Streamlit's old page directory.
    PagesManager.uses_pages_directory = False
    warm = threading.Thread(target=_warm, daemon=True, name="effnets-warm-up")
    warm.start()
    await asyncio.to_thread(warm.join, WARM_UP_S)
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
    middleware=[Middleware(StaticAssets)],
    routes=[Route(f"/{p}/{{rest:path}}", _below_a_page, methods=["GET", "HEAD"]) for p in url_paths()],
)
