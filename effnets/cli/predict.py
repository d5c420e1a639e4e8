"""CLI commands of the latency predictor: ``predict model|score|rank``, ``device-card build|show``, and the per-layer
times of ``bench model NAME --per-layer``.

``python -m effnets predict model mobilenet_v2 --json`` gives ``{"predicted_ms", "roofline_ms", "table_ms",
"backend": "eager", "predictor"}`` on this device's card (cached in the user's cache directory, built on first use:
a minute or two) or on ``--device-card FILE`` (a card measured anywhere). ``predict score --json`` measures the zoo
here and gives ``{"within_15", "kendall_tau", "networks": [...]}``; ``predict rank --device-card A [--device-card
B]`` ranks networks on two devices side by side. ``device-card build -o FILE [--device] [--threads N]`` measures a
card. A card that is missing, malformed or hostile is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT_OK = 0


def _progress(done: int, total: int, label: str) -> None:
    if done == total or done % 100 == 0:
        print(f"  {done}/{total} {label}", file=sys.stderr, flush=True)


def _threads(n: int | None) -> None:
    import torch

    if n is not None:
        if n < 1:
            raise ValueError(f"--threads {n} must be at least 1")
        torch.set_num_threads(n)


def _card(path: str | None, device_pref: str = "auto"):
    from effnets.analysis import device_card
    from effnets.runtime import devices

    if path:
        return device_card.load(path)
    device, _ = devices.pick_device(device_pref)
    card = device_card.cached(device)
    if card is None:
        print(
            f"effnets: measuring the device card of {devices.device_name(device)} (once; cached in "
            f"{device_card.cache_path(device).parent})",
            file=sys.stderr,
        )
        card = device_card.this_device(device, progress=_progress)
    return card


def shipped_cards() -> list:
    """The device cards that come with effnets (assets/device_cards/*.json), measured where the project was built."""
    from effnets.analysis.layer_report import shipped_cards as shipped  # the one place that knows the folder

    return shipped()


# ----- bench model NAME --per-layer ----------------------------------------------------------------------------------


def cmd_bench_per_layer(args: argparse.Namespace, device) -> int:
    """``bench model NAME --per-layer``: every leaf layer's time on the eager path beside its MACs."""
    from effnets.runtime import per_layer

    bad = [f for f, on in (("--backend", args.backend), ("--compile", args.compile), ("--fast", args.fast),
                           ("--channels-last", args.channels_last)) if on]  # fmt: skip
    if bad or (args.precision not in (None, "fp32")):
        raise ValueError(f"--per-layer times the eager path in fp32 (NCHW); drop {', '.join(bad) or '--precision'}")
    r = per_layer.model_per_layer(
        args.name, resolution=args.resolution, batch=args.batch, device=device, warmup=args.warmup,
        repeats=args.repeats,
    )  # fmt: skip
    data = {"name": args.name, **r.to_dict()}
    if args.json:
        print(json.dumps(data, indent=2))
        return EXIT_OK
    env = r.environment
    print(f"{args.name}, eager path, per layer ({len(r.layers)} leaf layers; {env['device_name']}, batch {args.batch})")
    print(f"  whole forward {r.median_ms:.3f} ms (median of {r.repeats}); sum of the layers {r.sum_ms:.3f} ms")
    print(f"  {'stage':<40} {'ms':>9} {'time':>6} {'MACs':>6}")
    for g in r.stages:
        print(f"  {g.name[:40]:<40} {g.ms:9.3f} {g.share_ms:6.1%} {g.share_macs:6.1%}")
    print(f"  {'kind':<40} {'ms':>9} {'time':>6} {'MACs':>6}")
    for g in sorted(r.kinds, key=lambda g: -g.ms):
        print(f"  {g.name + f' ({g.layers})':<40} {g.ms:9.3f} {g.share_ms:6.1%} {g.share_macs:6.1%}")
    print("  the slowest layers:")
    for row in sorted(r.layers, key=lambda x: -x.ms)[:12]:
        share = f"{row.share_ms:6.1%} of time {row.share_macs:6.1%} of MACs"
        print(f"    {row.name[:44]:<44} {row.kind:<15} {row.ms:8.3f} ms {share}")
    for line in r.gap:
        print(f"  {line}")
    return EXIT_OK


# ----- predict ---------------------------------------------------------------------------------------------------


def cmd_predict_model(args: argparse.Namespace) -> int:
    from effnets.analysis import predictor

    _threads(args.threads)
    if args.resolution is not None and args.resolution < 8:
        raise ValueError(f"--resolution {args.resolution} must be at least 8")
    if args.batch < 1:
        raise ValueError(f"--batch {args.batch} must be at least 1")
    card = _card(args.device_card, args.device)
    p = predictor.predict(args.name, card, args.resolution, args.batch)
    data = {"name": args.name, **p.to_dict(), "device_card": card.label}
    if args.json:
        print(json.dumps(data, indent=2))
        return EXIT_OK
    print(f"{args.name} on {card.label}, eager path: predicted {p.predicted_ms:.2f} ms (the {p.predictor} predictor)")
    raw = f"(the plain sum over {p.units} unit calls {p.table_raw_ms:.2f})"
    print(f"  roofline {p.roofline_ms:.2f} ms   table {p.table_ms:.2f} ms {raw}")
    if p.fallbacks:
        print(f"  no table points for {', '.join(p.fallbacks)}: the roofline stands in for them")
    return EXIT_OK


def cmd_predict_score(args: argparse.Namespace) -> int:
    import torch

    from effnets.analysis import predictor
    from effnets.runtime import devices

    card = _card(args.device_card, args.device)
    device, _ = devices.pick_device(args.device if args.device != "auto" else card.device.split(":")[0])
    here = devices.device_name(device) if device.type != "cpu" else "CPU"
    if not card.device_name.startswith(here):
        raise ValueError(f"the card was measured on {card.device_name}; a score measures here ({here}): use this "
                         "device's card")  # fmt: skip
    if card.threads is not None and device.type == "cpu":
        torch.set_num_threads(card.threads)
    names = [n.strip() for n in args.models.split(",") if n.strip()] if args.models else None
    s = predictor.score(
        card, names, device=device, warmup=args.warmup, repeats=args.repeats, statistic=args.statistic,
        max_gmacs=args.max_gmacs, recalibrate=not args.no_recalibrate, progress=_progress,
    )  # fmt: skip
    if args.json:
        print(json.dumps(s.to_dict(), indent=2))
        return EXIT_OK
    print(f"{len(s.networks)} networks on {card.label} ({s.statistic} of {args.repeats}); fitted on "
          f"{', '.join(s.fit_networks)} (not scored)")  # fmt: skip
    print(f"  {'network':<24} {'measured':>9} {'roofline':>9} {'table':>9} {'predicted':>9} {'error':>7}  why")
    for r in sorted(s.networks, key=lambda r: r.measured_ms):
        p = r.prediction
        print(f"  {r.name:<24} {r.measured_ms:9.2f} {p.roofline_ms:9.2f} {p.table_ms:9.2f} {p.predicted_ms:9.2f} "
              f"{r.error:+7.1%}  {r.why}")  # fmt: skip
    print(f"  within +-15%: {s.within_15:.0%}   Kendall tau {s.kendall_tau:.3f}   (predictor '{s.predictor}')")
    return EXIT_OK


def cmd_predict_rank(args: argparse.Namespace) -> int:
    from effnets.analysis import predictor
    from effnets.models import MODELS

    paths = args.device_card or [str(p) for p in shipped_cards()]
    cards = [_card(p) for p in paths]
    if len(cards) < 2:
        cards.append(_card(None, args.device))
    names = [n.strip() for n in args.models.split(",") if n.strip()] if args.models else list(MODELS)
    r = predictor.rankings(cards, names)
    if args.json:
        print(json.dumps(r, indent=2))
        return EXIT_OK
    head = "".join(f" {d[:28]:>28} rank" for d in r["devices"])
    print(f"  {'network':<24}{head}")
    for row in r["rows"]:
        cells = "".join(f" {ms:25.2f} ms {rank:4d}" for ms, rank in zip(row["ms"], row["rank"], strict=True))
        print(f"  {row['name']:<24}{cells}")
    print(f"  fastest: {' vs '.join(r['fastest'])};  Kendall tau between the devices' rankings {r['kendall_tau']:.3f}")
    return EXIT_OK


# ----- device-card ---------------------------------------------------------------------------------------------


def cmd_card_build(args: argparse.Namespace) -> int:
    from pathlib import Path

    from effnets.analysis import device_card
    from effnets.runtime import devices

    device, _ = devices.pick_device(args.device)
    out = Path(args.output)
    if out.is_dir() or not out.parent.is_dir():
        raise ValueError(f"-o {args.output}: give a file name in an existing directory")
    card = device_card.build(
        device, threads=args.threads, scale=args.grid, warmup=args.warmup, repeats=args.repeats,
        statistic=args.statistic, progress=_progress,
    )  # fmt: skip
    card.save(out)
    if args.json:
        print(json.dumps({"path": str(out), "card": _summary(card)}, indent=2))
    else:
        print(f"wrote {out}: {device_card.describe(card)}; {card.seconds:.0f} s")
    return EXIT_OK


def _summary(card) -> dict[str, Any]:
    return {
        "device": card.device,
        "device_name": card.device_name,
        "threads": card.threads,
        "torch": card.torch,
        "created": card.created,
        "ceilings": card.ceilings,
        "overheads": card.overheads,
        "table_points": len(card.table.entries),
        "table_keys": len(card.table.keys),
        "calibration": card.calibration,
    }


def cmd_card_show(args: argparse.Namespace) -> int:
    from effnets.analysis import device_card

    card = device_card.load(args.file)
    if args.json:
        print(json.dumps(_summary(card), indent=2))
    else:
        print(device_card.describe(card))
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``predict`` and ``device-card`` to the CLI's sub-commands (called from effnets.cli.build_parser)."""
    from effnets.runtime.devices import DEVICE_CHOICES

    pp = subparsers.add_parser("predict", help="predict eager latency before running (and score the prediction)")
    psub = pp.add_subparsers(dest="kind", parser_class=type(pp), required=True)

    def card_args(p: argparse.ArgumentParser, many: bool = False) -> None:
        p.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="whose card (default: auto)")
        p.add_argument("--device-card", metavar="FILE", action="append" if many else "store",
                       help="a device card measured anywhere (device-card build)")  # fmt: skip
        p.add_argument("--json", action="store_true", help="machine-readable output")

    pm = psub.add_parser("model", help="predicted eager latency of a network on a device")
    pm.add_argument("name", help="model name (see: list models)")
    pm.add_argument("--resolution", type=int, help="input side in pixels (default: the model's own)")
    pm.add_argument("--batch", type=int, default=1, help="images per call (default 1)")
    pm.add_argument("--threads", type=int, help="CPU threads of this device's own card (default: torch's)")
    card_args(pm)
    pm.set_defaults(func=cmd_predict_model)

    ps = psub.add_parser("score", help="measure the zoo here and score the predictions (minutes)")
    ps.add_argument("--models", help="comma-separated networks (default: the zoo less the fitting networks)")
    ps.add_argument("--max-gmacs", type=float, help="skip networks above this many GMACs")
    ps.add_argument("--warmup", type=int, default=2, help="untimed rounds first (default 2)")
    ps.add_argument("--repeats", type=int, default=5, help="timed rounds (default 5)")
    ps.add_argument("--statistic", default="median", choices=("median", "p10", "min"), help="of the repeats")
    ps.add_argument("--no-recalibrate", action="store_true", help="keep the card's constants (no refit here)")
    card_args(ps)
    ps.set_defaults(func=cmd_predict_score)

    pr = psub.add_parser(
        "rank",
        help="predicted rankings on two devices side by side (default: the cards shipped in assets/device_cards)",
    )
    pr.add_argument("--models", help="comma-separated networks (default: the whole zoo)")
    card_args(pr, many=True)
    pr.set_defaults(func=cmd_predict_rank)

    pc = subparsers.add_parser("device-card", help="measure or show a device card (the predictor's data)")
    csub = pc.add_subparsers(dest="kind", parser_class=type(pc), required=True)
    cb = csub.add_parser("build", help="measure this device's card (a minute or two)")
    cb.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the card (JSON)")
    cb.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="auto: CUDA, then MPS, then CPU")
    cb.add_argument("--threads", type=int, help="CPU threads to measure at (default: torch's)")
    cb.add_argument("--grid", default="full", choices=("full", "small", "tiny"), help="how many shapes (default full)")
    cb.add_argument("--warmup", type=int, default=2, help="untimed calls first (default 2)")
    cb.add_argument("--repeats", type=int, default=5, help="timed calls per point (default 5)")
    cb.add_argument("--statistic", default="median", choices=("median", "p10", "min"), help="of the networks' repeats")
    cb.add_argument("--json", action="store_true", help="machine-readable output")
    cb.set_defaults(func=cmd_card_build)
    cs = csub.add_parser("show", help="what a card holds, in one line")
    cs.add_argument("file", help="a device card (JSON)")
    cs.add_argument("--json", action="store_true", help="machine-readable output")
    cs.set_defaults(func=cmd_card_show)
