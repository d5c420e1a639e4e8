"""A real `streamlit run serve.py` server and Debian's chromium driven by Playwright.

Skipped (with the reason) only where no chromium binary exists. Screenshots of every page go to
artifacts/screenshots/, from where the README's pictures are taken.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tools.devserver import CHROMIUM_ARGS, app_server, chromium_path

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"


@pytest.fixture(scope="session")
def server():
    with app_server() as (url, _proc):
        yield url


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        pytest.skip("no chromium binary (install Debian's: apt-get install -y chromium); browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def warm(server, browser):
    """Open the root once: Streamlit shows a 'Page not found' modal on the first deep link after start
    (streamlit/streamlit#8860) although the page renders; users of a running server never see it."""
    pg = browser.new_page()
    pg.goto(server)
    pg.wait_for_selector("h1", timeout=120_000)
    pg.close()
    return server


def wait_idle(pg, timeout: float = 90) -> None:
    """Wait until Streamlit has finished running the script (no 'running' status widget)."""
    pg.wait_for_selector('[data-testid="stApp"]', timeout=timeout * 1000)
    time.sleep(0.5)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pg.locator('[data-testid="stStatusWidget"]').count() == 0:
            time.sleep(0.3)
            if pg.locator('[data-testid="stStatusWidget"]').count() == 0:
                return
        time.sleep(0.2)
    raise TimeoutError("the app kept running for too long")


def shot(pg, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=False)
    return path
