"""The inference backends table: EfficientNet-Lite0 (packaged ImageNet weights) at batch 1, 2 threads, through PyTorch
eager, effnets' fast path (channels_last), torch.compile, ONNX Runtime and OpenVINO, at fp32 and at bf16 / int8 where
this CPU offers them (:mod:`effnets.runtime.backends`).

Default: every backend in one process, interleaved (rotating rounds after a warm-up), the same photos to each,
outputs checked against eager fp32. ``--isolated``: each (backend, precision) in its own subprocess
(``python -m effnets bench model ... --backend NAME --precision P --json``), one after another: no engine's idle
threads share the cores with another's, which is how the issue's figures were taken; then the rows are not
interleaved, so a machine that changes speed during the run favours some of them (the load average is printed before
and after). The default backend is only chosen (and remembered) by the interleaved run.

Run: python3 benchmarks/backends.py [--model efficientnet_lite0] [--resolution 224] [--batch 1] [--threads 2]
     [--warmup 5] [--repeats 40] [--no-compile] [--isolated]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

import torch  # noqa: E402

from effnets.runtime import backends  # noqa: E402


def load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def table(rows: list[dict]) -> None:
    eager = next((r["median_ms"] for r in rows if r["label"] == "eager fp32" and r["median_ms"]), None)
    print(
        f"{'backend':<12} {'precision':<9} {'median ms':>9} {'p10':>7} {'p90':>7} {'x eager':>7} "
        f"{'max|diff|':>9}  check"
    )
    for r in rows:
        head = f"{r['backend']:<12} {r['precision']:<9} "
        if r["reason"]:
            print(head + f"not run: {r['reason']}")
            continue
        ratio = f"{eager / r['median_ms']:.2f}" if eager else "-"
        check = "ok" if r["within_tolerance"] else f"FAILS (> {r['tolerance']:.3g})"
        busy = " busy" if r["busy"] else ""
        print(
            head + f"{r['median_ms']:>9.2f} {r['p10_ms']:>7.2f} {r['p90_ms']:>7.2f} {ratio:>7} "
            f"{r['max_abs_diff']:>9.2e}  {check}{busy}"
        )


def isolated(args: argparse.Namespace, names: list[str]) -> list[dict]:
    """Each (backend, precision) in its own process, one after another."""
    device = torch.device("cpu")
    rows = []
    for name, precision, why in backends.plan(names, None, device):
        if why:
            rows.append({"backend": name, "precision": precision, "label": f"{name} {precision}", "reason": why})
            continue
        cmd = [sys.executable, "-m", "effnets", "bench", "model", args.model, "--backend", name, "--precision",
               precision, "--batch", str(args.batch), "--threads", str(args.threads), "--warmup", str(args.warmup),
               "--repeats", str(args.repeats), "--device", "cpu", "--json"]  # fmt: skip
        if args.resolution:
            cmd += ["--resolution", str(args.resolution)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=1800)
        try:
            rows.append(json.loads(r.stdout))
        except json.JSONDecodeError:
            last = (r.stderr.strip().splitlines() or ["no output"])[-1]
            rows.append({"backend": name, "precision": precision, "label": f"{name} {precision}", "reason": last})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="efficientnet_lite0")
    p.add_argument("--resolution", type=int, default=None, help="default: the model's own (224 for Lite0)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=40)
    p.add_argument("--no-compile", action="store_true", help="leave torch.compile out (it compiles for minutes)")
    p.add_argument("--isolated", action="store_true", help="each engine in its own process (not interleaved)")
    args = p.parse_args()
    names = [n for n in backends.BACKEND_NAMES if not (args.no_compile and n == "compile")]
    print(f"load average before: {load()}")
    if args.isolated:
        rows = isolated(args, names)
        for r in rows:
            r.setdefault("reason", None)
        print(
            f"{args.model}, batch {args.batch}, {args.threads} threads, "
            "each engine in its own process (not interleaved)"
        )
        table(rows)
        default, reason = backends.choose_default([r for r in rows if not r["reason"]])
        print(f"fastest fp32 within tolerance (not remembered: not interleaved): {default}: {reason}")
    else:
        r = backends.compare_model(
            args.model, resolution=args.resolution, batch=args.batch, threads=args.threads, backends=names,
            warmup=args.warmup, repeats=args.repeats,
        )  # fmt: skip
        env = r["environment"]
        print(
            f"{r['model']} at {r['resolution']} px, batch {r['batch']}, {env['device_name']}, interleaved "
            f"({r['repeats']} timed rounds after {r['warmup']} warm-up)"
        )
        table(r["backends"])
        print(f"default: {r['default']}: {r['reason']}")
        print(backends.summary(r).replace("**", ""))
        print("versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items() if v))
    print(f"check: {backends.tolerance_text()}")
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
