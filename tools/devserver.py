"""Start the app headless on a free local port and find a chromium to drive it (browser tests, load test).

Nothing here imports streamlit; the server runs in its own process (``python -m streamlit run serve.py``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    """$EFFNETS_CHROMIUM, Debian's /usr/bin/chromium, or chromium on PATH; None when there is none."""
    for cand in (
        os.environ.get("EFFNETS_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if cand and Path(cand).exists():
            return cand
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def app_server(timeout_s: float = 120, capture_output: bool = True) -> Iterator[tuple[str, subprocess.Popen]]:
    """``streamlit run serve.py`` on 127.0.0.1 at a free port; yields (url, process) once /_stcore/health answers.

    The server's output goes to an anonymous temporary file (a pipe nobody reads would stall a chatty server) and
    its end is quoted when the server fails to start.

    Raises:
        RuntimeError: the server exited or did not answer within ``timeout_s``.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "serve.py"), "--server.port", str(port)]
    cmd += ["--server.address", "127.0.0.1", "--server.headless", "true"]
    with contextlib.ExitStack() as stack:
        log = stack.enter_context(tempfile.TemporaryFile()) if capture_output else None
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=log if log is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        stack.callback(_stop, proc)
        deadline = time.monotonic() + timeout_s
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                out = ""
                if log is not None:
                    log.seek(0)
                    out = log.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"streamlit did not start within {timeout_s:.0f} s" + (f":\n{out}" if out else ""))
            time.sleep(0.5)
        yield url, proc


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
