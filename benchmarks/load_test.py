"""A class at once: N concurrent browser sessions against one `streamlit run serve.py` server.

Every session (its own browser context, so its own Streamlit session) walks through the Block Lab, the Scaling Lab and
the Inference Lab with settings of its own, and checks what it is shown against effnets computed here:

* correct results: the Block Lab's MACs and the Scaling Lab's MACs equal effnets' analytic counts for THAT session's
  settings; the Inference Lab's top-1 is a cat for chelsea and espresso for coffee;
* no state leaks between sessions: after everyone has run, each session reads its Block Lab number again and must
  still see its own;
* the shared cached model is never mutated: every session reads the model fingerprint (SHA-256 of every parameter and
  buffer) the page prints, and it must equal the fingerprint of the packaged weights computed here;
* peak memory: the server's resident memory is sampled every 0.2 s (VmRSS of the server and its children) and the
  peak is reported and checked against --max-rss-gib.

* server CPU: user + system CPU seconds of the server process over the whole run, divided by the sessions, checked
  against --max-cpu-per-session.

Run: python3 benchmarks/load_test.py [--sessions 30] [--max-rss-gib 2] [--max-cpu-per-session 0.5]
Exit code 0 when every check passed, 1 otherwise. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.devserver import CHROMIUM_ARGS, app_server, chromium_path  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children so far (seconds)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [
            int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        ]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return total


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (KiB)."""
    total = 0
    pids = [pid]
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        pids += [int(p) for p in out]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


class MemorySampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak, self.samples, self._stop = pid, every, 0, [], threading.Event()

    def run(self) -> None:
        while not self._stop.is_set():
            v = rss_kib(self.pid)
            self.samples.append(v)
            self.peak = max(self.peak, v)
            time.sleep(self.every)

    def stop(self) -> None:
        self._stop.set()


def expected_values(n: int) -> dict:
    """What each session must be shown, computed with effnets in this process."""
    import effnets
    from effnets.report import human
    from effnets.runtime import weights
    from effnets.ui.runtime import fingerprint

    block = [human(effnets.block_cost("standard", (32, 56, 56), out_channels=16 + 8 * i).macs) for i in range(n)]
    widths = [round(0.5 + 0.05 * i, 2) for i in range(n)]
    scaling = [human(effnets.model_cost("efficientnet_b0", width_mult=w).macs) for w in widths]
    model, _ = weights.load_model("efficientnet_lite0")
    return {"block": block, "widths": widths, "scaling": scaling, "fingerprint": fingerprint(model)}


async def wait_idle(pg, timeout: float = 240) -> None:
    await pg.wait_for_selector('[data-testid="stApp"]', timeout=timeout * 1000)
    await asyncio.sleep(0.5)
    deadline = time.time() + timeout
    quiet = 0
    while time.time() < deadline:
        if await pg.locator('[data-testid="stStatusWidget"]').count() == 0:
            quiet += 1
            if quiet >= 3:
                return
        else:
            quiet = 0
        await asyncio.sleep(0.3)
    raise TimeoutError("page kept running")


async def metric_value(pg, label_start: str) -> str:
    await pg.locator('[data-testid="stMetricLabel"]', has_text=label_start).first.wait_for(timeout=240_000)
    await wait_idle(pg)
    metrics = pg.locator('[data-testid="stMetric"]')
    for i in range(await metrics.count()):
        m = metrics.nth(i)
        label = await m.locator('[data-testid="stMetricLabel"]').inner_text()
        if label.strip().startswith(label_start):
            return (await m.locator('[data-testid="stMetricValue"]').inner_text()).strip()
    raise AssertionError(f"no metric '{label_start}'")


async def session(i: int, url: str, browser, exp: dict, report: dict, barrier: asyncio.Event, has_scaling: bool):
    ctx = await browser.new_context(viewport={"width": 1300, "height": 900})
    pg = await ctx.new_page()
    errors: list[str] = []
    times: dict[str, float] = {}
    arrived = False

    def arrive() -> None:
        nonlocal arrived
        if not arrived:
            arrived = True
            report["done"] += 1
            if report["done"] >= report["n"]:
                barrier.set()

    try:
        # Block Lab with this session's own C_out
        t = time.perf_counter()
        await pg.goto(f"{url}/block-lab?block=standard&cfg=out_channels:{16 + 8 * i}", timeout=240_000)
        await wait_idle(pg)
        got = await metric_value(pg, "MACs")
        times["block_lab"] = time.perf_counter() - t
        if got != exp["block"][i]:
            errors.append(f"block lab shows {got}, expected {exp['block'][i]}")
        # Scaling Lab with this session's own width multiplier
        if has_scaling:
            t = time.perf_counter()
            await pg.goto(
                f"{url}/scaling-lab?model=efficientnet_b0&mode=multipliers&w={exp['widths'][i]}", timeout=240_000
            )
            await wait_idle(pg)
            await pg.locator('[data-testid="stMetricLabel"]').first.wait_for(timeout=240_000)
            await wait_idle(pg)
            with contextlib.suppress(Exception):  # a page still drawing under load: give it time, then read it
                await pg.wait_for_function(
                    "(e) => document.querySelector('[data-testid=stMain]')?.innerText.includes(e)",
                    arg=exp["scaling"][i],
                    timeout=120_000,
                )
            body = await pg.locator('[data-testid="stMain"]').inner_text()
            times["scaling_lab"] = time.perf_counter() - t
            if exp["scaling"][i] not in body:
                errors.append(f"scaling lab does not show {exp['scaling'][i]} MACs for width {exp['widths'][i]}")
        # Inference Lab on a sample photo
        sample = "chelsea" if i % 2 == 0 else "coffee"
        t = time.perf_counter()
        await pg.goto(f"{url}/inference-lab?sample={sample}&source=sample&model=efficientnet_lite0", timeout=240_000)
        await wait_idle(pg)
        await pg.get_by_text("top-1:").first.wait_for(timeout=240_000)
        top1 = await pg.get_by_text("top-1:").first.inner_text()
        times["inference_lab"] = time.perf_counter() - t
        want = ("cat",) if sample == "chelsea" else ("espresso",)
        if not any(w in top1 for w in want):
            errors.append(f"inference lab top-1 for {sample}: '{top1}'")
        await pg.get_by_text("About this model").click(timeout=240_000)
        await pg.get_by_text("Shared model fingerprint").first.wait_for(timeout=240_000)
        fp_text = await pg.get_by_text("Shared model fingerprint").first.inner_text()
        fp = re.search(r"`?([0-9a-f]{16})`?", fp_text)
        if not fp or fp.group(1) != exp["fingerprint"]:
            errors.append(
                f"model fingerprint {fp.group(1) if fp else '?'} != {exp['fingerprint']}: shared model changed"
            )
        # Leak check: once everyone has been through, our Block Lab still shows our number
        arrive()
        await asyncio.wait_for(barrier.wait(), timeout=900)
        await pg.goto(f"{url}/block-lab?block=standard&cfg=out_channels:{16 + 8 * i}", timeout=240_000)
        await wait_idle(pg)
        again = await metric_value(pg, "MACs")
        if again != exp["block"][i]:
            errors.append(f"after the others ran, block lab shows {again}, expected {exp['block'][i]} (state leak)")
        if await pg.locator('[data-testid="stException"]').count():
            errors.append("an exception box was shown")
    except Exception as e:  # one line per failed session, not a traceback
        errors.append(f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}")
    finally:
        arrive()  # a failed session must not keep the others waiting at the barrier
        await ctx.close()
    report["sessions"][i] = {"errors": errors, "times": times}


async def drive(url: str, n: int, exp: dict, has_scaling: bool) -> dict:
    from playwright.async_api import async_playwright

    report = {"n": n, "done": 0, "sessions": {}}
    barrier = asyncio.Event()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path() or "/usr/bin/chromium", args=CHROMIUM_ARGS)
        # warm the server once (first deep link after start shows Streamlit's 'Page not found' modal: #8860)
        warm = await browser.new_page()
        await warm.goto(url, timeout=240_000)
        await wait_idle(warm)
        await warm.close()
        t = time.perf_counter()
        await asyncio.gather(*(session(i, url, browser, exp, report, barrier, has_scaling) for i in range(n)))
        report["wall_s"] = time.perf_counter() - t
        await browser.close()
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--max-rss-gib", type=float, default=2.0, help="fail if the server's peak RSS exceeds this")
    ap.add_argument(
        "--max-cpu-per-session",
        type=float,
        default=0.5,
        help="fail if the server's CPU seconds per session exceed this",
    )
    a = ap.parse_args()
    has_scaling = (ROOT / "pages" / "scaling_lab.py").exists()
    print(f"computing expected values for {a.sessions} sessions ...", flush=True)
    exp = expected_values(a.sessions)
    with app_server(timeout_s=240, capture_output=False) as (url, proc):
        base_rss = rss_kib(proc.pid)
        sampler = MemorySampler(proc.pid)
        sampler.start()
        cpu0 = cpu_seconds(proc.pid)
        try:
            report = asyncio.run(drive(url, a.sessions, exp, has_scaling))
        finally:
            server_cpu = cpu_seconds(proc.pid) - cpu0
            sampler.stop()
        peak_gib = sampler.peak / 1024**2
    failed = {i: s["errors"] for i, s in report["sessions"].items() if s["errors"]}
    print(f"\n{a.sessions} concurrent sessions, one server, {os.cpu_count()} CPU cores; wall {report['wall_s']:.0f} s")
    for step in ("block_lab", "scaling_lab", "inference_lab"):
        ts = [s["times"][step] for s in report["sessions"].values() if step in s["times"]]
        if ts:
            ts.sort()
            print(
                f"  {step:<14} time to result: median {statistics.median(ts):6.1f} s, "
                f"p90 {ts[int(0.9 * (len(ts) - 1))]:6.1f} s, max {ts[-1]:6.1f} s  ({len(ts)} sessions)"
            )
    print(
        f"  server CPU time for everything: {server_cpu:.0f} s ({server_cpu / a.sessions:.1f} s per session); the "
        f"{a.sessions} headless browsers run on the same {os.cpu_count()} cores, so times to result include their "
        "rendering"
    )
    print(
        f"  server memory: {base_rss / 1024**2:.2f} GiB idle after start, peak {peak_gib:.2f} GiB "
        f"(limit {a.max_rss_gib} GiB)"
    )
    print(f"  shared model fingerprint expected {exp['fingerprint']}")
    per_session = server_cpu / a.sessions
    print(f"  server CPU per session {per_session:.2f} s (limit {a.max_cpu_per_session} s)")
    ok = not failed and peak_gib <= a.max_rss_gib and per_session <= a.max_cpu_per_session
    for i, errs in sorted(failed.items()):
        for e in errs:
            print(f"  session {i}: {e}")
    print(
        "RESULT: "
        + ("all sessions correct, no leaks, shared model unchanged, memory and CPU bounded" if ok else "FAILED")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
