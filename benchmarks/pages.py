"""Server-side re-run time of the Scaling Lab and the Design Space after a widget change (Streamlit's AppTest, in
process, the way benchmarks/counting.py measures the Block Lab). Every tab runs on every re-run (tabs, not presenter
mode), so this is the worst case a slider sees.

Run: python3 benchmarks/pages.py [--repeats 20] [--page scaling|design|all]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore")

ROOT = Path(__file__).resolve().parents[1]


def _report(label: str, samples: list[float]) -> None:
    samples = sorted(samples)
    print(
        f"{label:<58} median {statistics.median(samples) * 1e3:6.0f} ms   "
        f"p90 {samples[int(0.9 * (len(samples) - 1))] * 1e3:6.0f} ms   max {samples[-1] * 1e3:6.0f} ms"
    )


def rerun_times(page: str, query: dict, change: Callable, repeats: int) -> list[float]:
    """Seconds of ``repeats`` re-runs, each after ``change(at, i)`` set a widget (the first run is not timed)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    samples = []
    for i in range(repeats):
        change(at, i)
        t = time.perf_counter()
        at.run()
        samples.append(time.perf_counter() - t)
        if at.exception:
            raise RuntimeError(at.exception[0].value)
    return samples


def scaling_lab(repeats: int) -> None:
    print("Scaling Lab (pages/scaling_lab.py), every tab rendered:")
    phis = [round(-3 + 0.5 * (i % 20), 1) for i in range(repeats)]
    _report(
        "B0, phi slider (all three multipliers change)",
        rerun_times("scaling_lab.py", {}, lambda at, i: at.slider(key="scaling.phi").set_value(phis[i]), repeats),
    )
    _report(
        "B7, phi slider",
        rerun_times(
            "scaling_lab.py",
            {"model": "efficientnet_b7"},
            lambda at, i: at.slider(key="scaling.phi").set_value(phis[i] / 3),
            repeats,
        ),
    )
    widths = [round(0.5 + 0.1 * (i % 20), 2) for i in range(repeats)]
    _report(
        "B0, width multiplier slider",
        rerun_times(
            "scaling_lab.py",
            {"mode": "multipliers"},
            lambda at, i: at.slider(key="scaling.width_x").set_value(widths[i]),
            repeats,
        ),
    )
    _report(
        "RegNetY-16GF, depth d number box",
        rerun_times(
            "scaling_lab.py",
            {"model": "regnety_16gf"},
            lambda at, i: at.number_input(key="scaling.depth").set_value(10 + i % 20),
            repeats,
        ),
    )
    _report(
        "B0, alpha (new phi sweep and released table each time)",
        rerun_times(
            "scaling_lab.py",
            {"phi": "1"},
            lambda at, i: at.number_input(key="scaling.alpha").set_value(round(1.1 + 0.01 * i, 2)),
            repeats,
        ),
    )


def design_space(repeats: int) -> None:
    print("Design Space (pages/design_space.py), every tab rendered:")
    _report(
        "RegNetX-200MF, depth d number box",
        rerun_times(
            "design_space.py", {}, lambda at, i: at.number_input(key="design.depth").set_value(8 + i % 20), repeats
        ),
    )
    _report(
        "RegNetX-200MF, slope wa number box",
        rerun_times(
            "design_space.py",
            {},
            lambda at, i: at.number_input(key="design.wa").set_value(20.0 + 2 * i),
            repeats,
        ),
    )
    _report(
        "sampling: new seed (200 networks sampled and costed)",
        rerun_times(
            "design_space.py", {}, lambda at, i: at.number_input(key="design.s_seed").set_value(100 + i), repeats
        ),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--page", choices=("scaling", "design", "all"), default="all")
    a = ap.parse_args()
    if a.page in ("scaling", "all"):
        scaling_lab(a.repeats)
    if a.page in ("design", "all"):
        design_space(a.repeats)


if __name__ == "__main__":
    main()
