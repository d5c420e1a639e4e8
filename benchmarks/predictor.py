"""The latency predictor scored against measurement over the zoo, on this device.

Builds (or loads with ``--card``) the device card of this CPU at ``--threads`` threads: ceilings, per-operator
overheads, the lookup table of layers on a grid of shapes, and the calibration on the fitting networks
(:data:`effnets.analysis.predictor.FIT_NETWORKS`, never scored). Then measures every other registry network on the
eager path (random init, eval, inference_mode, fp32, batch 1, its own resolution) and prints one row per network:
measured ms, roofline ms, table ms, the predicted ms (the card's chosen predictor), the error and why it misses;
then the share within +-15 % and Kendall's tau of the ranking. The load average before and after is printed: on a
shared machine other processes add time to the measurements (``--statistic p10`` takes the 10th percentile of the
repeats instead of the median, which they disturb less).

Run: python3 benchmarks/predictor.py [--threads 1] [--card FILE] [--save-card FILE] [--grid full|small]
     [--max-gmacs 10] [--models a,b,...] [--repeats 5] [--warmup 2] [--statistic median|p10|min] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore")

import torch  # noqa: E402

from effnets.analysis import device_card, predictor  # noqa: E402


def load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--card", help="a device card to use instead of building one")
    ap.add_argument("--save-card", help="write the card built here to this file")
    ap.add_argument("--grid", default="full", choices=("full", "small", "tiny"))
    ap.add_argument("--max-gmacs", type=float, help="skip networks above this many GMACs")
    ap.add_argument("--models", help="comma-separated networks to score (default: the zoo less the fitting set)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--statistic", default="median", choices=("median", "p10", "min"))
    ap.add_argument("--json", help="also write the score as JSON to this file")
    ap.add_argument("--no-recalibrate", action="store_true", help="use the card's constants as they are")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load average before: {load()}; torch {torch.__version__}, {args.threads} thread(s)", flush=True)
    t0 = time.perf_counter()
    if args.card:
        card = device_card.load(args.card)
    else:

        def report(done: int, total: int, label: str) -> None:
            if done % 200 == 0 or done == total:
                print(f"  card {done}/{total} {label}", flush=True)

        card = device_card.build(
            "cpu", threads=args.threads, scale=args.grid, warmup=args.warmup, repeats=args.repeats,
            statistic=args.statistic, progress=report,
        )  # fmt: skip
        print(f"card built in {card.seconds:.0f} s", flush=True)
        if args.save_card:
            card.save(args.save_card)
    print(device_card.describe(card), flush=True)
    names = args.models.split(",") if args.models else None
    s = predictor.score(
        card, names, warmup=args.warmup, repeats=args.repeats, statistic=args.statistic, max_gmacs=args.max_gmacs,
        recalibrate=not args.no_recalibrate,
        progress=lambda d, n, name: print(f"  measured {d}/{n} {name}", flush=True, file=sys.stderr),
    )  # fmt: skip
    print()
    print(f"{'network':24s} {'measured':>9s} {'roofline':>9s} {'table':>9s} {'predicted':>9s} {'error':>7s}  why")
    for r in sorted(s.networks, key=lambda r: r.measured_ms):
        p = r.prediction
        print(
            f"{r.name:24s} {r.measured_ms:9.2f} {p.roofline_ms:9.2f} {p.table_ms:9.2f} {p.predicted_ms:9.2f} "
            f"{r.error * 100:+6.1f}%  {r.why}"
        )
    print()
    print(
        f"{len(s.networks)} networks scored ({s.statistic} of {args.repeats} after {args.warmup} warm-up), fitted on "
        f"{', '.join(s.fit_networks)} (not scored)"
    )
    print(
        f"within +-15%: {s.within_15:.0%} (predictor '{s.predictor}'; roofline alone {s.roofline_within_15:.0%}, "
        f"table alone {s.table_within_15:.0%});  Kendall tau {s.kendall_tau:.3f}"
    )
    print(f"noisy measurements (p90 > 1.3 x p10): {len(s.busy)}")
    print(f"load average after: {load()}; {time.perf_counter() - t0:.0f} s in all")
    if args.json:
        Path(args.json).write_text(json.dumps(s.to_dict(), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
