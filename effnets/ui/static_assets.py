"""Streamlit's frontend bundles served from memory, gzip-compressed once.

Every new browser downloads about 8 MB of JavaScript and fonts (Plotly's bundle alone is 4.7 MB). Streamlit's own
static handler streams each file from disk in 64 KB chunks through a worker thread and never compresses it, which on
a 2-core classroom server costs more CPU per student than all of that student's page runs together.
:class:`StaticAssets` is an ASGI middleware in front of it: a GET or HEAD of ``/static/<file>`` is answered from an
in-memory copy of the file (read once; text compressed once with gzip for clients that accept it), with the same
year-long immutable caching Streamlit sends (the file names carry a content hash). Anything else, or a file that is
not under the static folder, goes on to Streamlit unchanged.
"""

from __future__ import annotations

import asyncio
import gzip
import mimetypes
from dataclasses import dataclass
from pathlib import Path

import streamlit

STREAMLIT_STATIC = Path(streamlit.__file__).resolve().parent / "static" / "static"
PREFIX = "/static/"
COMPRESSIBLE = (".js", ".css", ".map", ".json", ".svg", ".txt", ".html", ".ttf")
CACHE_CONTROL = b"public, immutable, max-age=31536000"
MAX_CACHED_BYTES = 256 * 2**20  # everything Streamlit ships (25 MB) fits many times over


@dataclass(frozen=True)
class Asset:
    """One file: its bytes, its gzip form (None when it does not compress or is not text) and its media type."""

    raw: bytes
    gzipped: bytes | None
    media_type: str


def load_asset(path: Path) -> Asset:
    raw = path.read_bytes()
    gzipped = None
    if path.suffix in COMPRESSIBLE and len(raw) > 1024:
        packed = gzip.compress(raw, compresslevel=6, mtime=0)
        gzipped = packed if len(packed) < 0.9 * len(raw) else None
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if media_type.startswith("text/") or path.suffix == ".js":
        media_type = ("text/javascript" if path.suffix == ".js" else media_type) + "; charset=utf-8"
    return Asset(raw, gzipped, media_type)


def accepts_gzip(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name.lower() == b"accept-encoding":
            return any(part.split(b";")[0].strip() in (b"gzip", b"*") for part in value.lower().split(b","))
    return False


class StaticAssets:
    """ASGI middleware serving ``/static/...`` from memory (see the module docstring).

    Args:
        app: the ASGI app behind it (Streamlit's).
        root: the folder ``/static/`` maps to (Streamlit's frontend build by default).
    """

    def __init__(self, app, root: Path = STREAMLIT_STATIC):
        self.app = app
        self.root = Path(root).resolve()
        self._assets: dict[str, Asset | None] = {}
        self._bytes = 0
        self._lock = asyncio.Lock()

    def resolve(self, rel: str) -> Path | None:
        """The file under the root that ``rel`` names, or None (missing, a folder, or outside the root)."""
        if not rel or "\x00" in rel:
            return None
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        return path

    async def asset(self, rel: str) -> Asset | None:
        if rel in self._assets:
            return self._assets[rel]
        async with self._lock:  # one read and compression per file, off the event loop
            if rel not in self._assets:
                path = self.resolve(rel)
                found = await asyncio.to_thread(load_asset, path) if path is not None else None
                size = len(found.raw) + len(found.gzipped or b"") if found else 0
                if self._bytes + size > MAX_CACHED_BYTES:
                    return found
                self._assets[rel] = found
                self._bytes += size
        return self._assets[rel]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        found = await self.asset(scope["path"][len(PREFIX) :])
        if found is None:
            await self.app(scope, receive, send)
            return
        packed = found.gzipped is not None and accepts_gzip(scope.get("headers", []))
        body = found.gzipped if packed else found.raw
        headers = [
            (b"content-type", found.media_type.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", CACHE_CONTROL),
            (b"vary", b"Accept-Encoding"),
        ]
        if packed:
            headers.append((b"content-encoding", b"gzip"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
