"""CLI commands that measure latency: ``bench model`` and ``bench block``.

``python -m effnets bench model efficientnet_lite0 --threads 1 --json`` times this device's default path at that
thread count (:func:`effnets.runtime.backends.default_backend`: the fastest engine a ``--backend all`` comparison
measured here and remembered, else the fast path: BN folded, static padding, inference_mode) and says which and why
(``"backend"``, ``"why"``); ``--eager``, ``--fast`` or ``--compile`` (the fast path compiled) ask for a PyTorch path
instead, ``--channels-last`` sets their layout. ``python -m effnets bench block mbconv --input 32,56,56 --set
expand_ratio=4`` times one block as designed. Output: median, p10, p90, images/s, achieved GMAC/s and the
environment (device, threads, torch, precision, layout, batch, resolution); the JSON holds the same. Errors exit with
code 2 and one line on stderr.

``bench model NAME --backend eager|fast|compile|onnxruntime|openvino|all`` compares inference backends instead
(:mod:`effnets.runtime.backends`): the same photos through each, outputs checked against eager fp32, timed
interleaved at one thread count. ``all`` measures every backend at every precision it offers here (``--precision``
keeps one) and gives ``{"default", "reason", "backends": [{"backend", "precision", "median_ms", "p10_ms", "p90_ms",
"max_abs_diff", ...}], "environment"}``, remembering the default for this device; one backend gives its row (at
``--precision``, fp32 unless given). A backend that cannot run here (not installed, a failed export) is a row with a
``reason``; asked for alone, it exits with code 1 after printing that row.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

EXIT_OK = 0
EXIT_NOT_RUN = 1
BACKEND_CHOICES = ("eager", "fast", "compile", "onnxruntime", "openvino", "all")


def _positive(flag: str, value: int, minimum: int = 1) -> None:
    if value < minimum:
        raise ValueError(f"{flag} {value} must be at least {minimum}")


def _print_result(title: str, r: Any, as_json: bool, extra: dict[str, Any]) -> None:
    data = {**extra, **r.to_dict()}
    if as_json:
        print(json.dumps(data, indent=2))
        return
    env = r.environment
    print(title)
    print(
        f"  median {r.median_ms:.3f} ms   p10 {r.p10_ms:.3f}   p90 {r.p90_ms:.3f}   "
        f"({len(r.timing.samples)} timed calls after {len(r.timing.warmup_ms)} warm-up)"
    )
    if r.timing.busy:
        print(
            f"  busy: p90 is {r.timing.spread:.1f} x p10, so something else was running; the median is not to be "
            "trusted: measure again"
        )
    line = f"  {r.images_per_s:.1f} images/s"
    if r.gmacs_per_s is not None:
        line += f"   {r.gmacs_per_s:.2f} GMAC/s achieved ({r.macs:,} MACs per call)"
    print(line)
    if r.compile_s is not None:
        print(f"  compile time {r.compile_s:.1f} s (first call; not in the timings)")
    for note in r.info.get("notes", []):
        print(f"  note: {note}")
    threads = "" if "threads" in env["device_name"] else f", {env['threads']} threads"
    print(
        f"  environment: {env['device_name']}{threads}, torch {env['torch']}, {env['precision']}, {env['layout']}, "
        f"batch {env['batch']}, resolution {env['resolution']}"
    )


def _setup(args: argparse.Namespace):
    import torch

    from effnets.runtime import devices

    _positive("--batch", args.batch)
    _positive("--repeats", args.repeats)
    _positive("--warmup", args.warmup, 0)
    if args.threads is not None:
        _positive("--threads", args.threads)
        torch.set_num_threads(args.threads)
    device, _ = devices.pick_device(args.device)
    return device


def _torch_precision(args: argparse.Namespace) -> str:
    if args.precision == "int8":
        raise ValueError("int8 runs on ONNX Runtime and OpenVINO: add --backend onnxruntime, openvino or all")
    return args.precision or "fp32"


def _fmt_ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def _print_backends(result: dict[str, Any], every: bool = True) -> None:
    from effnets.report import plural

    env = result["environment"]
    print(
        f"{result['model']} at {result['resolution']} px, batch {result['batch']}, {env['device_name']}: backends "
        f"interleaved ({result['repeats']} timed rounds after {result['warmup']} warm-up)"
    )
    print(f"  {'backend':<12} {'precision':<9} {'median ms':>10} {'p10':>8} {'p90':>8} {'max|diff|':>10}  check")
    for r in result["backends"]:
        head = f"  {r['backend']:<12} {r['precision']:<9} "
        if r["reason"]:
            print(head + f"not run: {r['reason']}")
            continue
        check = "ok" if r["within_tolerance"] else f"FAILS (> {r['tolerance']:.3g})"
        busy = "  busy" if r["busy"] else ""
        print(
            head + f"{_fmt_ms(r['median_ms']):>10} {_fmt_ms(r['p10_ms']):>8} {_fmt_ms(r['p90_ms']):>8} "
            f"{r['max_abs_diff']:>10.2e}  {check}{busy}"
        )
    if every and result["default"]:
        print(f"  default: {result['default']}: {result['reason']}")
    print(f"  check: {result['check']}")
    vers = ", ".join(f"{k} {v}" for k, v in env["versions"].items() if v)
    print(f"  environment: {plural(env['threads'], 'thread')} for every engine, {vers}")


def cmd_bench_backends(args: argparse.Namespace, device) -> int:
    from effnets.runtime import backends

    if args.eager or args.fast or args.compile or args.channels_last:
        raise ValueError("--eager, --fast, --compile and --channels-last choose a PyTorch path instead of the default; "
                         "drop them with --backend (each backend has its own settings)")  # fmt: skip
    every = args.backend == "all"
    if not every:
        backends.check_request(args.backend, args.precision or "fp32", device)
    result = backends.compare_model(
        args.name,
        resolution=args.resolution,
        batch=args.batch,
        device=device,
        threads=args.threads,
        pretrained=not args.random_init,
        backends=backends.BACKEND_NAMES if every else [args.backend],
        precisions=[args.precision] if args.precision else (None if every else ["fp32"]),
        warmup=args.warmup,
        repeats=args.repeats,
        record=every,
    )
    if every:
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            _print_backends(result)
        return EXIT_OK
    row = result["backends"][0]
    keep = ("model", "resolution", "batch", "check", "environment", "warmup", "repeats")
    if args.json:
        print(json.dumps({**row, **{k: result[k] for k in keep}}, indent=2))
    else:
        _print_backends(result, every=False)
    return EXIT_NOT_RUN if row["reason"] else EXIT_OK


def cmd_bench_model(args: argparse.Namespace) -> int:
    from effnets.runtime import bench_networks

    device = _setup(args)
    if args.resolution is not None:
        _positive("--resolution", args.resolution, 8)
    if args.per_layer:
        from effnets.cli.predict import cmd_bench_per_layer  # per-layer time lives with the latency predictor

        return cmd_bench_per_layer(args, device)
    if args.backend:
        return cmd_bench_backends(args, device)
    backend, why = default_path(args, device)
    if backend in ("onnxruntime", "openvino"):
        return cmd_bench_default_engine(args, device, backend, why)
    precision = _torch_precision(args)
    r = bench_networks.bench_model(
        args.name,
        batch=args.batch,
        resolution=args.resolution,
        device=device,
        precision=precision,
        channels_last=args.channels_last,
        compile=backend == "compile",
        eager=backend == "eager",
        pretrained=not args.random_init,
        warmup=args.warmup,
        repeats=args.repeats,
    )
    path = r.config.get("path", "")
    if not args.json:
        print(f"{args.name}: {backend} ({why})")
    _print_result(
        f"{args.name} ({r.config.get('weights')} weights), {path} path",
        r,
        args.json,
        {"name": args.name, "kind": "model", "backend": backend, "why": why, "path": path},
    )
    return EXIT_OK


def default_path(args: argparse.Namespace, device) -> tuple[str, str]:
    """The backend ``bench model`` measures without ``--backend``, and why: the one a flag asks for (``--eager``,
    ``--fast``, ``--compile``), else the default path of this device at this thread count
    (:func:`effnets.runtime.backends.default_backend`: the fastest engine a comparison measured here, remembered; the
    fast path when none was)."""
    from effnets.runtime import backends

    flags = [f for f, on in (("--eager", args.eager), ("--fast", args.fast), ("--compile", args.compile)) if on]
    if args.eager and args.compile:
        raise ValueError("--compile applies to the fast path; drop --eager or --compile")
    if args.eager and args.fast:
        raise ValueError("--eager and --fast are two different paths: keep one")
    if flags:
        return ("eager" if args.eager else "compile" if args.compile else "fast"), f"asked for with {flags[-1]}"
    from effnets.report import plural

    rec = backends.default_record(device)
    if rec is None:
        return backends.FALLBACK_DEFAULT, (
            "the default path: the fast path, since no backend comparison has been measured on this device at this "
            "thread count (bench model NAME --backend all measures and remembers the fastest)"
        )
    ms = f" ({rec['median_ms']:.2f} ms)" if rec.get("median_ms") else ""
    threads = plural(rec["threads"], "thread") if isinstance(rec.get("threads"), int) else "? threads"
    fastest = (
        f"the fastest fp32 backend{ms} in the comparison measured on this device at {rec.get('measured_at', '?')}, "
        f"on {rec.get('model', '?')} at {threads}"
    )
    if rec["default"] in ("onnxruntime", "openvino") and args.channels_last:
        raise ValueError(f"the default path here is {rec['default']}, {fastest}; --channels-last applies to the "
                         "PyTorch paths: add --fast or --eager")  # fmt: skip
    return rec["default"], f"the default path: {rec['default']}, {fastest}"


def cmd_bench_default_engine(args: argparse.Namespace, device, backend: str, why: str) -> int:
    """``bench model NAME`` when the default path is ONNX Runtime or OpenVINO: that engine's row, as --backend gives
    it, with which backend was measured and why."""
    from effnets.runtime import backends

    precision = args.precision or "fp32"
    backends.check_request(backend, precision, device)
    result = backends.compare_model(
        args.name, resolution=args.resolution, batch=args.batch, device=device, threads=args.threads,
        pretrained=not args.random_init, backends=[backend], precisions=[precision], warmup=args.warmup,
        repeats=args.repeats, record=False,
    )  # fmt: skip
    row = result["backends"][0]
    keep = ("model", "resolution", "batch", "check", "environment", "warmup", "repeats")
    if args.json:
        data = {"name": args.name, "kind": "model", **row, "why": why, "path": backend}
        print(json.dumps({**data, **{k: result[k] for k in keep}}, indent=2))
    else:
        print(f"{args.name}: {backend} ({why})")
        _print_backends(result, every=False)
    return EXIT_NOT_RUN if row["reason"] else EXIT_OK


def cmd_bench_block(args: argparse.Namespace) -> int:
    from effnets.blocks import get_block
    from effnets.cli.common import UsageError, parse_sets, parse_shape
    from effnets.runtime import bench_networks
    from effnets.spec import parse_fields

    device = _setup(args)
    info = get_block(args.name)
    raw = parse_sets(args.set)
    if "in_channels" in raw:
        raise UsageError("in_channels comes from --input C,H,W; do not --set it")
    fields = parse_fields(info.spec, raw)
    shape = parse_shape(args.input) if args.input else None
    r = bench_networks.bench_block(
        args.name,
        fields,
        shape,
        batch=args.batch,
        device=device,
        precision=_torch_precision(args),
        channels_last=args.channels_last,
        eager=not args.fast,
        warmup=args.warmup,
        repeats=args.repeats,
    )
    c, h, w = r.config["input_shape"]
    _print_result(
        f"{info.label} on a {c}x{h}x{w} input, {r.config.get('path')} path",
        r,
        args.json,
        {"name": args.name, "kind": "block", "path": r.config.get("path")},
    )
    return EXIT_OK


def _common(p: argparse.ArgumentParser, repeats: int) -> None:
    from effnets.runtime.devices import DEVICE_CHOICES, PRECISIONS

    p.add_argument("--batch", type=int, default=1, help="images per call (default 1)")
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="auto: CUDA, then MPS, then CPU")
    p.add_argument(
        "--precision",
        choices=[*PRECISIONS, "int8"],
        help="fp32 (default), fp16/bf16 where the device can; int8 with --backend onnxruntime|openvino|all",
    )
    p.add_argument("--channels-last", action="store_true", help="NHWC memory layout (usually faster on CPUs)")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's own choice)")
    p.add_argument("--warmup", type=int, default=3, help="untimed calls first (default 3)")
    p.add_argument("--repeats", type=int, default=repeats, help=f"timed calls (default {repeats}); median, p10, p90")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``bench model`` and ``bench block`` to the CLI's sub-commands (called from effnets.cli.build_parser)."""
    pb = subparsers.add_parser("bench", help="measure latency of a model or a block on this device")
    bsub = pb.add_subparsers(dest="kind", parser_class=type(pb), required=True)

    pm = bsub.add_parser("model", help="latency of a whole network on this device's default path (unless --eager)")
    pm.add_argument("name", help="model name (see: list models; torchvision reference models too)")
    pm.add_argument("--resolution", type=int, help="input side in pixels (default: the model's own)")
    pm.add_argument("--compile", action="store_true", help="torch.compile the fast path (compile time reported)")
    pm.add_argument("--eager", action="store_true", help="time the plain model (BN unfolded) instead of the default")
    pm.add_argument("--fast", action="store_true", help="time effnets' fast path instead of the default path")
    pm.add_argument("--random-init", action="store_true", help="skip loading pretrained weights")
    pm.add_argument(
        "--backend",
        choices=BACKEND_CHOICES,
        help="compare inference backends (all: every one at every precision offered here) instead of the default path",
    )
    pm.add_argument(
        "--per-layer", action="store_true", help="time every leaf layer on the eager path beside its MACs (hooks)"
    )
    _common(pm, repeats=20)
    pm.set_defaults(func=cmd_bench_model)

    pk = bsub.add_parser("block", help="latency of one block, as designed (eager, BN included) unless --fast")
    pk.add_argument("name", help="block type (see: list blocks)")
    pk.add_argument("--input", help="input shape C,H,W (default: the block's in_channels at 56x56)")
    pk.add_argument("--set", action="append", metavar="KEY=VALUE", help="a spec field (repeatable)")
    pk.add_argument("--fast", action="store_true", help="time the block's fast path (BN folded) instead")
    _common(pk, repeats=30)
    pk.set_defaults(func=cmd_bench_block)
