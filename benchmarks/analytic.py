"""The analytic path's speed (issue #15, item 5): EfficientNet-B7 at 600 px costed with its stage records (with and
without the per-layer step records the formulas and diagrams read), 200 RegNets sampled from a design space, a
Scaling Lab sweep over 50 values of phi, and the Network Builder's design of B0 parsed and costed.

Each figure is the median of ``--repeats`` runs after one warm-up, in this process, on this machine.

Run: python3 benchmarks/analytic.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore")

from effnets.models import get_model, regnet, scaling  # noqa: E402
from effnets.models.network import plan_cost  # noqa: E402
from effnets.networks import arch, design  # noqa: E402


def timed(fn, repeats: int, fresh=None) -> tuple[float, float]:
    """(median ms, fastest ms) of ``repeats`` calls after one warm-up (``fresh`` runs before each call, untimed)."""
    fn()
    out = []
    for _ in range(repeats):
        if fresh:
            fresh()
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e3)
    return statistics.median(out), min(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    b7 = get_model("efficientnet_b7")
    spec = b7.make_spec()
    b0 = get_model("efficientnet_b0")
    base = b0.make_spec()
    phis = [i * 0.1 for i in range(50)]
    b0_arch = arch.encode(design.from_model("efficientnet_b0"))
    from effnets.models import network

    def clear():  # the layer memos (what a stage's identical blocks and neighbouring sweep points share): forgotten
        network._layer_totals.cache_clear()
        network._layer_from_fresh.cache_clear()

    rows = [
        ("B7 @600: stage rows + step records (cold memo)", lambda: b7.cost(spec), clear, 5.0),
        ("B7 @600: stage rows only (cold memo)", lambda: b7.cost(spec, record_steps=False), clear, 5.0),
        ("B7 @600: stage rows + step records (again)", lambda: b7.cost(spec), None, None),
        ("B7 @600: per layer, no memo", lambda: plan_cost(b7.stage_plan(spec), memo=False), None, None),
        ("200 RegNets sampled and costed (warm memo)", lambda: regnet.sample_regnet_space(200, seed=1), None, 200.0),
        ("200 RegNets sampled and costed (cold memo)", lambda: regnet.sample_regnet_space(200, seed=1), clear, 200.0),
        ("Scaling Lab sweep, 50 phi values (warm)", lambda: scaling.phi_sweep(b0, base, 1.2, 1.1, 1.15, phis), None,
         100.0),
        ("Scaling Lab sweep, 50 phi values (cold memo)",
         lambda: scaling.phi_sweep(b0, base, 1.2, 1.1, 1.15, phis), clear, 100.0),
        ("Builder: B0 string parsed and costed", lambda: design.evaluate(arch.decode(b0_arch)), None, None),
    ]  # fmt: skip
    print(f"{'what':<48}{'median ms':>11}{'best ms':>10}{'target':>9}")
    for label, fn, fresh, target in rows:
        if fresh is None and "cold" in label:
            continue
        med, best = timed(fn, args.repeats, fresh)
        mark = "" if target is None else (f"< {target:g}" + (" ok" if med < target else " MISS"))
        print(f"{label:<48}{med:>11.2f}{best:>10.2f}{mark:>12}")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
