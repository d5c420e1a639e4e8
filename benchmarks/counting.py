"""Analytic vs traced counting time for every block type, and the Block Lab's server-side re-render time.

Run: python3 benchmarks/counting.py [--size 56] [--repeats 50] [--no-fvcore] [--no-page]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore")

from effnets import counting  # noqa: E402
from effnets.blocks import BLOCKS  # noqa: E402


def timed(fn, repeats: int) -> float:
    """Median seconds of ``repeats`` calls after one warm-up."""
    fn()
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def blocks_table(size: int, repeats: int, fvcore: bool) -> None:
    tracer_runs = max(3, repeats // 10)
    print(f"Counting one block on a C x {size} x {size} input (median of {repeats}; tracers of {tracer_runs})")
    head = f"{'block':<22}{'analytic':>11}{'meta trace':>12}{'dispatch':>11}" + (f"{'fvcore':>11}" if fvcore else "")
    head += f"{'trace/analytic':>16}"
    print(head)
    print("-" * len(head))
    worst = 0.0
    for name, info in BLOCKS.items():
        spec = info.make_spec()
        shape = (spec.in_channels, size, size)
        t_an = timed(lambda: info.cost(spec, shape), repeats)  # noqa: B023
        tr = max(3, repeats // 10)
        t_fc = timed(lambda: counting.flop_counter_macs(counting.build_on_meta(lambda: info.build(spec)), shape), tr)  # noqa: B023
        t_dc = timed(lambda: counting.dispatch_counts(counting.build_on_meta(lambda: info.build(spec)), shape), tr)  # noqa: B023
        row = f"{name:<22}{t_an * 1e3:>9.3f}ms{t_fc * 1e3:>10.1f}ms{t_dc * 1e3:>9.1f}ms"
        if fvcore:
            t_fv = timed(lambda: counting.fvcore_counts(info.build(spec), shape), 2)  # noqa: B023
            row += f"{t_fv * 1e3:>9.0f}ms"
        row += f"{t_fc / t_an:>15.0f}x"
        worst = max(worst, t_an)
        print(row)
    print(f"slowest analytic cost: {worst * 1e3:.3f} ms")


def page_rerun(repeats: int) -> None:
    """Server-side time of a Block Lab re-run after a widget change (Streamlit's AppTest, same process)."""
    from streamlit.testing.v1 import AppTest

    root = Path(__file__).resolve().parents[1]
    at = AppTest.from_file(str(root / "pages" / "block_lab.py"), default_timeout=120).run()
    samples = []
    for i in range(repeats):
        at.number_input(key="blocks.out_channels").set_value(32 + 8 * (i % 20))
        t = time.perf_counter()
        at.run()
        samples.append(time.perf_counter() - t)
        assert not at.exception
    samples.sort()
    print(
        f"\nBlock Lab re-run after changing C_out ({repeats} changes, AppTest in-process, includes the cached tracer "
        f"and torchinfo calls for new settings): median {statistics.median(samples) * 1e3:.0f} ms, "
        f"p90 {samples[int(0.9 * (len(samples) - 1))] * 1e3:.0f} ms"
    )
    # Same settings again: everything but the script itself comes from st.cache_data.
    t = time.perf_counter()
    at.run()
    print(f"Block Lab re-run with unchanged settings: {(time.perf_counter() - t) * 1e3:.0f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=56)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--no-fvcore", action="store_true")
    ap.add_argument("--no-page", action="store_true")
    a = ap.parse_args()
    blocks_table(a.size, a.repeats, not a.no_fvcore)
    if not a.no_page:
        page_rerun(20)


if __name__ == "__main__":
    main()
