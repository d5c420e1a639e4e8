"""The in-memory static-file middleware: the same bytes as the file (gzip when accepted), nothing outside its folder,
everything else passed on to Streamlit."""

from __future__ import annotations

import asyncio
import gzip

import pytest

from effnets.ui.static_assets import STREAMLIT_STATIC, StaticAssets, accepts_gzip


def call(app, path: str, method: str = "GET", encoding: bytes | None = b"gzip, deflate, br"):
    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b""}

    headers = [(b"accept-encoding", encoding)] if encoding else []
    asyncio.run(app({"type": "http", "method": method, "path": path, "headers": headers}, receive, send))
    return sent


class Behind:
    """The app behind the middleware: records what reached it."""

    def __init__(self):
        self.paths = []

    async def __call__(self, scope, receive, send):
        self.paths.append(scope["path"])
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"streamlit"})


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "static"
    (root / "js").mkdir(parents=True)
    (root / "js" / "app.abc123.js").write_text("console.log('effnets');\n" * 400)
    (root / "media").mkdir()
    (root / "media" / "logo.png").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "secret.txt").write_text("not for the browser")
    return root


def test_a_file_is_served_from_memory_gzipped_when_accepted(tree):
    behind = Behind()
    app = StaticAssets(behind, root=tree)
    raw = (tree / "js" / "app.abc123.js").read_bytes()
    start, body = call(app, "/static/js/app.abc123.js")
    headers = dict(start["headers"])
    assert start["status"] == 200 and headers[b"content-encoding"] == b"gzip"
    assert gzip.decompress(body["body"]) == raw and len(body["body"]) < len(raw) / 4
    assert headers[b"content-length"] == str(len(body["body"])).encode()
    assert headers[b"cache-control"].startswith(b"public, immutable")
    assert headers[b"content-type"].startswith(b"text/javascript")
    start, body = call(app, "/static/js/app.abc123.js", encoding=None)
    assert body["body"] == raw and b"content-encoding" not in dict(start["headers"])
    start, body = call(app, "/static/js/app.abc123.js", method="HEAD")
    assert body["body"] == b"" and dict(start["headers"])[b"content-length"] == str(len(gzip.compress(raw))).encode()
    start, body = call(app, "/static/media/logo.png")  # binary: served as it is
    assert body["body"] == (tree / "media" / "logo.png").read_bytes() and start["status"] == 200
    assert behind.paths == []


@pytest.mark.parametrize(
    "path",
    ["/static/../secret.txt", "/static/js/../../secret.txt", "/static/js", "/static/", "/static/nope.js", "/", "/x"],
)
def test_anything_else_goes_on_to_streamlit(tree, path):
    behind = Behind()
    start, body = call(StaticAssets(behind, root=tree), path)
    assert behind.paths == [path] and body["body"] == b"streamlit"


def test_only_get_and_head_are_answered(tree):
    behind = Behind()
    call(StaticAssets(behind, root=tree), "/static/js/app.abc123.js", method="POST")
    assert behind.paths == ["/static/js/app.abc123.js"]


def test_accept_encoding_parsing():
    assert accepts_gzip([(b"Accept-Encoding", b"br, gzip;q=0.8")])
    assert accepts_gzip([(b"accept-encoding", b"*")])
    assert not accepts_gzip([(b"accept-encoding", b"br, deflate")])
    assert not accepts_gzip([])


def test_streamlits_own_bundle_is_found():
    index = next(STREAMLIT_STATIC.glob("js/index.*.js"))
    start, body = call(StaticAssets(Behind()), f"/static/js/{index.name}")
    assert start["status"] == 200 and gzip.decompress(body["body"]) == index.read_bytes()
