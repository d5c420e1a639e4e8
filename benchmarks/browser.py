"""What the room feels: the app's speed in a real browser (Playwright driving Debian's chromium) against a real
`streamlit run serve.py` server on this machine.

Two measurements:

* **interactions**: for the Block Lab, the Scaling Lab, the Design Space, the Network Builder and the Inference Lab,
  a scripted sequence of widget changes (a number typed and committed, a slider moved one step with the arrow key,
  an architecture string edited, a sample photo picked); each is timed in the page from the key press or click
  that commits it (the input event's own time stamp) to the animation frame at which the page's headline number
  (the MACs or params metric; the Inference Lab's top-1 line) shows a new value, polled at every frame. p50 and p90
  per page; the table also gives the harness's time around the same change (from before Playwright's press, which
  first finds the control in the page, to its wait returning: 20-60 ms more here, none of it the app's). Nothing is
  measured before the page has settled after opening, so the page's own first run is not counted here.
* **cold pages** (``--starts N``): for every page, N fresh servers; each is started, its health endpoint answers,
  and a fresh browser opens the page's link at once (the first session of that server): the time from the browser
  opening the link to the page's title (h1), to its controls (a sidebar widget) and to its headline (the first
  metric; the Inference Lab's top-1; the Kernel Gallery's kernel image) and, on the Design Space and the Inference
  Lab, to the first chart drawn (the Design Space's Vega-Lite widths; the Inference Lab's plotly top-5), median over
  the starts. Each is read in the
  page itself: the first animation frame (the browser about to paint) at which the element is in the document
  (an image: loaded and decoded), in milliseconds from the navigation's start. (Polling from Playwright instead was
  late by up to half a second plus any long script then running: its waits back off to 500 ms polls and cannot
  answer during, for example, the one-second evaluation of Plotly's bundle on a page with a chart.)

The browser runs on the same cores as the server, so every time includes chromium's own rendering: this is what a
student at a laptop sees only when the server has the machine to itself.

Run: python3 benchmarks/browser.py [--pages block-lab,scaling-lab,...] [--changes 12] [--starts 3] [--no-cold]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.devserver import CHROMIUM_ARGS, app_server, chromium_path  # noqa: E402

METRIC_JS = "(i) => document.querySelectorAll('[data-testid=stMetricValue]')[i]?.innerText ?? null"
TOP1_JS = """() => {
  for (const el of document.querySelectorAll('[data-testid=stCaptionContainer]')) {
    if (el.innerText.includes('top-1:')) return el.innerText;
  }
  return null;
}"""


@dataclass(frozen=True)
class Scenario:
    """One page's scripted changes.

    Attributes:
        path: the link opened (with its query).
        headline: JS returning the headline's text (or null while it is not on screen).
        arg: the argument passed to ``headline``.
        changes: ``change(page, i)`` prepares the i-th change and returns the function that commits it (the timed
            part starts just before that call).
    """

    path: str
    headline: str
    arg: object
    changes: Callable
    cold: str | dict  # what counts as "headline on screen" in the cold start: a CSS selector, or {"css", "text"}: an
    # element matching css whose text contains text


def _typed(label: str, values: list[str], commit: str = "Enter") -> Callable:
    def change(pg, i):
        box = pg.get_by_role("spinbutton", name=label)
        box.fill(values[i % len(values)])
        return lambda: box.press(commit)

    return change


def _slider(label: str, pattern: str) -> Callable:
    """Arrow keys: ``pattern`` of 'R'/'L' steps, one per change."""

    def change(pg, i):
        thumb = pg.get_by_role("slider", name=label)
        thumb.focus()
        key = "ArrowRight" if pattern[i % len(pattern)] == "R" else "ArrowLeft"
        return lambda: thumb.press(key)

    return change


def _arch(pg, i):
    box = pg.locator("textarea").first
    box.fill(
        f"r224|conv(c:32,k:3,s:2)|mbconv*2(c:{24 + 8 * (i % 6)},s:2)|mbconv*3(c:80,s:2)|conv(c:1280,k:1)/classifier"
    )
    return lambda: box.press("Control+Enter")


def _samples():
    from effnets.runtime.images import SAMPLE_IMAGES

    return [n for n in SAMPLE_IMAGES if n != "chelsea"]


def _sample(pg, i):
    names = _samples()
    name = names[i % len(names)]
    pg.get_by_role("combobox", name="Sample photo").click()
    option = pg.get_by_role("option").filter(has_text=f"{name} ·").first
    option.wait_for(timeout=30_000)
    return lambda: option.click()


METRIC_CHANGED = '[data-testid="stMetricValue"]'
SCENARIOS = {
    "block-lab": Scenario(
        "/block-lab?block=standard",
        METRIC_JS,
        1,
        _typed("C_out", ["48", "64", "96", "80", "128", "40"]),
        METRIC_CHANGED,
    ),
    "scaling-lab": Scenario(
        "/scaling-lab", METRIC_JS, 1, _slider("compound coefficient φ", "RRRRRRLLLRRL"), METRIC_CHANGED
    ),
    "design-space": Scenario(
        "/design-space", METRIC_JS, 1, _typed("depth d", ["14", "16", "10", "18", "12", "20"]), METRIC_CHANGED
    ),
    "network-builder": Scenario("/network-builder?from=efficientnet_b0", METRIC_JS, 1, _arch, METRIC_CHANGED),
    "inference-lab": Scenario(
        "/inference-lab", TOP1_JS, None, _sample, {"css": '[data-testid="stCaptionContainer"]', "text": "top-1:"}
    ),
}
COLD_ONLY = {
    "home": "h1",
    "kernel-gallery": '[data-testid="stImage"] img',  # the kernels drawn (loaded, not just the frame)
    "model-zoo": '[data-testid="stDataFrame"], [data-testid="stTable"]',
}


CHART = '[data-testid="stPlotlyChart"] .main-svg, [data-testid="stVegaLiteChart"] svg.marks'  # a chart drawn
FIRST_CHART = ("design-space", "inference-lab")  # pages whose first view has a chart (the Inference Lab's: its top-5)
CONTROLS = '[data-testid="stSidebar"] input'
NO_CONTROLS = {"home": "h1"}  # the home page has links, no controls

# In the page, before its own scripts: at every animation frame, the time (ms since the navigation started) at which
# each watched selector first matched (an image only once it is loaded and decoded).
SEEN_JS = """(watch) => {
  window.__effnetsSeen = {};
  const find = (w) => {
    if (typeof w === "string") return document.querySelector(w);
    for (const el of document.querySelectorAll(w.css)) if (el.textContent.includes(w.text)) return el;
    return null;
  };
  const tick = () => {
    for (const [k, sel] of Object.entries(watch)) {
      if (k in window.__effnetsSeen) continue;
      let el = null;
      try {
        el = find(sel);
      } catch (e) {
        window.__effnetsSeen[k] = null;  // a selector the browser rejects: reported, not waited for
        continue;
      }
      const shown = el && (el.tagName !== "IMG" || (el.complete && el.naturalWidth > 0));
      if (shown) window.__effnetsSeen[k] = performance.now();
    }
    if (Object.keys(window.__effnetsSeen).length < Object.keys(watch).length) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""


def wait_quiet(pid: int, timeout: float = 120) -> float:
    """Seconds until the server's CPU use stays under 5 % for two seconds (its start-up warm-up has finished)."""
    from benchmarks.load_test import cpu_seconds

    t0 = time.perf_counter()
    quiet = 0
    last = cpu_seconds(pid)
    while time.perf_counter() - t0 < timeout and quiet < 4:
        time.sleep(0.5)
        now = cpu_seconds(pid)
        quiet = quiet + 1 if now - last < 0.025 else 0
        last = now
    return time.perf_counter() - t0


def settle(pg, timeout: float = 240) -> None:
    """Until the script has finished (no 'running' status widget for a second)."""
    pg.wait_for_selector('[data-testid="stApp"]', timeout=timeout * 1000)
    deadline = time.time() + timeout
    quiet = 0
    while time.time() < deadline:
        if pg.locator('[data-testid="stStatusWidget"]').count() == 0:
            quiet += 1
            if quiet >= 5:
                return
        else:
            quiet = 0
        time.sleep(0.2)
    raise TimeoutError("the page kept running")


def headline(pg, sc: Scenario):
    return pg.evaluate(sc.headline, sc.arg) if sc.arg is not None else pg.evaluate(sc.headline)


# In the page: the time stamp of the last key press or pointer press (the event's own, from the browser's input
# pipeline), so an interaction is also timed inside the page, from the user's input to the frame that shows the new
# headline, without the harness's own round trips (Playwright resolving the control's locator before it presses,
# and answering the wait after the frame).
INPUT_JS = """() => {
  window.__effnetsInput = null;
  for (const t of ["keydown", "pointerdown"]) {
    addEventListener(t, (e) => { window.__effnetsInput = e.timeStamp; }, true);
  }
}"""


def interactions(browser, url: str, name: str, n: int, section: str | None = None) -> list[tuple[float, float]]:
    """(harness, in-page) seconds per change: from before Playwright's press or click to its wait returning, and
    from the input event's time stamp to the animation frame at which the new headline is in the page."""
    sc = SCENARIOS[name]
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.add_init_script(f"({INPUT_JS})()")
    pg = ctx.new_page()
    pg.goto(url + sc.path, timeout=240_000)
    pg.wait_for_function(sc.headline, arg=sc.arg, timeout=240_000)
    settle(pg)
    if section:
        pg.get_by_role("tab", name=section, exact=True).click()
        settle(pg)
    times = []
    for i in range(n):
        commit = sc.changes(pg, i)
        before = headline(pg, sc)
        pg.evaluate("() => { window.__effnetsInput = null; }")
        t = time.perf_counter()
        commit()
        felt = pg.wait_for_function(
            f"""([a, b]) => {{
              const v = ({sc.headline})(a);
              if (v === null || v === b) return false;
              return window.__effnetsInput === null ? -1 : performance.now() - window.__effnetsInput;
            }}""",
            arg=[sc.arg, before],
            polling="raf",
            timeout=120_000,
        ).json_value()
        wall = time.perf_counter() - t
        if felt < 0:
            raise RuntimeError(f"{name}: change {i} reached the page without a key or pointer event")
        times.append((wall, felt / 1e3))
        settle(pg)  # the next change starts on a quiet page
        if pg.locator('[data-testid="stException"]').count():
            raise RuntimeError(f"{name}: an exception box after change {i}")
    ctx.close()
    return times


def cold(browser, name: str, starts: int) -> dict[str, float]:
    path = SCENARIOS[name].path if name in SCENARIOS else f"/{name}" if name != "home" else "/"
    selector = SCENARIOS[name].cold if name in SCENARIOS else COLD_ONLY[name]
    got: dict[str, list[float]] = {"ready": [], "title": [], "controls": [], "headline": [], "chart": []}
    for _ in range(starts):
        t_start = time.perf_counter()
        with app_server(timeout_s=240) as (url, _proc):
            got["ready"].append(time.perf_counter() - t_start)
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
            watch = {"title": "h1", "controls": NO_CONTROLS.get(name, CONTROLS), "headline": selector}
            if name in FIRST_CHART:
                watch["chart"] = CHART
            ctx.add_init_script(f"({SEEN_JS})({json.dumps(watch)})")
            pg = ctx.new_page()
            pg.goto(url + path, wait_until="commit", timeout=240_000)
            pg.wait_for_function(
                "(n) => window.__effnetsSeen && Object.keys(window.__effnetsSeen).length === n",
                arg=len(watch),
                timeout=240_000,
            )
            for k, ms in pg.evaluate("window.__effnetsSeen").items():
                if ms is None:
                    raise ValueError(f"{name}: the browser rejects the {k} selector {watch[k]!r}")
                got[k].append(ms / 1e3)
            if pg.locator('[data-testid="stException"]').count():
                raise RuntimeError(f"{name}: an exception box on the cold page")
            ctx.close()
    return {k: (statistics.median(v) if v else None) for k, v in got.items()}


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def cpu_probe_ms() -> float:
    """Milliseconds for a fixed pure-Python loop (best of 3), printed before and after the run: a shared VM's speed
    moves from minute to minute (this one's by up to 2x), and two tables are comparable only at similar probes."""
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        s = 0
        for i in range(2_000_000):
            s += i
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", default=",".join([*SCENARIOS, *COLD_ONLY]))
    ap.add_argument("--changes", type=int, default=12, help="changes per page")
    ap.add_argument("--starts", type=int, default=3, help="fresh server starts per page for the cold times")
    ap.add_argument("--section", help="open this tab before the changes (default: the page's first)")
    ap.add_argument("--no-cold", action="store_true")
    ap.add_argument("--no-interactions", action="store_true")
    a = ap.parse_args()
    pages = [p for p in a.pages.split(",") if p]
    path = chromium_path()
    if path is None:
        print("no chromium (apt-get install -y chromium)")
        return 2
    from playwright.sync_api import sync_playwright

    rows_i, rows_c, failed = [], [], []
    probe_before = cpu_probe_ms()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        if not a.no_interactions and any(n in SCENARIOS for n in pages):
            with app_server(timeout_s=240) as (url, proc):
                print(f"  server warm-up finished {wait_quiet(proc.pid):.1f} s after the server answered", flush=True)
                for name in [n for n in pages if n in SCENARIOS]:
                    ts = interactions(browser, url, name, a.changes, a.section)
                    rows_i.append((name, ts))
                    print(f"  {name}: {' '.join(f'{f * 1e3:.0f}/{w * 1e3:.0f}' for w, f in ts)} ms", flush=True)
        if not a.no_cold:
            for name in pages:
                try:
                    rows_c.append((name, cold(browser, name, a.starts)))
                except Exception as e:  # one page failing must not lose the others' figures
                    failed.append(f"cold {name}: {type(e).__name__}: {str(e).splitlines()[0]}")
                    print(f"  {failed[-1]}", flush=True)
                    continue
                print(f"  cold {name}: {rows_c[-1]}", flush=True)
        browser.close()
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"\nbrowser benchmark, {stamp}, {os.cpu_count()} CPU cores, server and chromium on the same machine")
    print(
        f"CPU probe (a 2M-step Python loop, best of 3): {probe_before:.0f} ms before the run, "
        f"{cpu_probe_ms():.0f} ms after"
    )
    if rows_i:
        print(
            f"\n{'interaction (change -> new headline)':<40} {'n':>3} {'p50 ms':>8} {'p90 ms':>8} {'max ms':>8}"
            f"   {'harness p50':>11} {'p90':>5}"
        )
        for name, ts in rows_i:
            felt, wall = [f for _, f in ts], [w for w, _ in ts]
            print(
                f"{name:<40} {len(ts):>3} {pct(felt, 0.5) * 1e3:>8.0f} {pct(felt, 0.9) * 1e3:>8.0f}"
                f" {max(felt) * 1e3:>8.0f}   {pct(wall, 0.5) * 1e3:>11.0f} {pct(wall, 0.9) * 1e3:>5.0f}"
            )
        print(
            "in the page: from the key or pointer event's time stamp to the animation frame with the new headline; "
            "harness: from before Playwright's press or click (it first resolves the control) to its wait returning"
        )
    if rows_c:
        print(f"\n{'cold page (fresh server, median of ' + str(a.starts) + ')':<40} {'server ready s':>14} "
              f"{'title s':>8} {'controls s':>10} {'headline s':>10} {'chart s':>8}")  # fmt: skip
        for name, r in rows_c:
            chart = "-" if r["chart"] is None else f"{r['chart']:.2f}"
            print(
                f"{name:<40} {r['ready']:>14.2f} {r['title']:>8.2f} {r['controls']:>10.2f} {r['headline']:>10.2f}"
                f" {chart:>8}"
            )
        print(
            "server ready: from the server command to its health endpoint answering; the other columns from the "
            "browser opening the link (at once after that) to the first frame painted with the element; chart: the "
            "first chart drawn (the Inference Lab's top-5), where the first view has one"
        )
    for line in failed:
        print(f"FAILED {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
