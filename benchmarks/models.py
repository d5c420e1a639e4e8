"""Analytic vs traced counting time for every registered model, and EfficientNet-B7 at 600x600 against the 50 ms
target of issue 3.

For each model at its preset resolution:

* analytic: ``ModelInfo.cost`` (stage table + cost model, with per-layer step records), median of ``--repeats``;
* no steps: the same with ``record_steps=False`` (what design-space sweeps use);
* meta trace: build the module on the meta device and run FlopCounterMode (median of ``--trace-repeats``);
* fvcore (with ``--fvcore``; slow): FlopCountAnalysis on a CPU module (its JIT trace computes for real; the build is
  not timed).

The "ok" column says the traced MACs equal the analytic MACs (fvcore: its conv + linear part).

Run: python3 benchmarks/models.py [--repeats 20] [--trace-repeats 3] [--fvcore] [--models efficientnet_b0,xception]
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

import torch  # noqa: E402

from benchmarks.counting import timed  # noqa: E402
from effnets import counting  # noqa: E402
from effnets.models import MODELS  # noqa: E402

B7_TARGET_S = 0.050


def ms(s: float) -> str:
    return f"{s * 1e3:9.2f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=20, help="analytic repeats (median)")
    p.add_argument("--trace-repeats", type=int, default=3, help="meta-trace repeats (median)")
    p.add_argument("--fvcore", action="store_true", help="also time fvcore (slow: real CPU compute)")
    p.add_argument("--models", default="", help="comma-separated subset of model names")
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    names = [n for n in args.models.split(",") if n] or list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        p.error(f"unknown models: {', '.join(unknown)}")

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; times in ms (medians)")
    head = f"{'model':<20} {'res':>4} {'MACs':>15} {'analytic':>9} {'no steps':>9} {'meta trace':>10} {'x':>6} ok"
    if args.fvcore:
        head += f" {'fvcore':>10} {'x':>7} ok"
    print(head)
    ratios, fv_ratios = [], []
    for name in names:
        info = MODELS[name]
        spec = info.make_spec()
        cost = info.cost(spec)
        shape = cost.input_shape
        t_an = timed(lambda info=info, spec=spec: info.cost(spec), args.repeats)
        t_fast = timed(lambda info=info, spec=spec: info.cost(spec, record_steps=False), args.repeats)
        traced = {}

        def trace(info=info, spec=spec, shape=shape, traced=traced):
            traced["macs"] = counting.flop_counter_macs(counting.build_on_meta(lambda: info.build(spec)), shape)

        t_tr = timed(trace, args.trace_repeats)
        ratios.append(t_tr / t_an)
        line = (
            f"{name:<20} {shape[1]:>4} {cost.macs:>15,} {ms(t_an)} {ms(t_fast)} {ms(t_tr):>10} "
            f"{t_tr / t_an:>6.0f} {'y' if traced['macs'] == cost.macs else 'N'} "
        )
        if args.fvcore:
            cpu = info.build(spec).eval()
            t = time.perf_counter()
            fv = counting.fvcore_counts(cpu, shape)
            t_fv = time.perf_counter() - t
            fv_ratios.append(t_fv / t_an)
            line += f"{ms(t_fv):>10} {t_fv / t_an:>7.0f} {'y' if fv.conv_linear == cost.macs else 'N'}"
            del cpu
        print(line, flush=True)

    print(f"\nmeta trace / analytic: median {statistics.median(ratios):.0f}x (min {min(ratios):.0f}x)")
    if fv_ratios:
        print(f"fvcore / analytic: median {statistics.median(fv_ratios):.0f}x (min {min(fv_ratios):.0f}x)")

    b7 = MODELS["efficientnet_b7"]
    spec = b7.make_spec(resolution=600)
    t = timed(lambda: b7.cost(spec), max(args.repeats, 20))
    t_fast = timed(lambda: b7.cost(spec, record_steps=False), max(args.repeats, 20))
    t_plan = timed(lambda: b7.stage_plan(spec), max(args.repeats, 20))
    verdict = "meets" if t < B7_TARGET_S else "MISSES"
    print(
        f"\nEfficientNet-B7 at 600x600, analytic: {t * 1e3:.1f} ms with step records, {t_fast * 1e3:.1f} ms without "
        f"(stage table alone {t_plan * 1e3:.1f} ms): {verdict} the {B7_TARGET_S * 1e3:.0f} ms target"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
