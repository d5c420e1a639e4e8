"""CLI commands for real images and weights: ``classify`` and ``weights status|download``.

``python -m effnets classify photo.jpg other.png --topk 3 --json`` classifies each file with offline weights; a file
that cannot be read or decoded prints one line naming it and the problem, the others are still classified, and the
exit code is then 2. ``python -m effnets weights status`` shows where each model's weights come from;
``python -m effnets weights download NAME...`` fetches torchvision checkpoints on a machine with internet.
"""

from __future__ import annotations

import argparse
import json
import sys

EXIT_OK, EXIT_USAGE = 0, 2
DEFAULT_MODEL = "efficientnet_lite0"


def _err(message: str) -> None:
    print(f"effnets: error: {message}", file=sys.stderr)


# ----- classify ---------------------------------------------------------------------------------------------------


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except IsADirectoryError:
        raise ValueError(f"'{path}' is a directory, not an image file") from None
    except FileNotFoundError:
        raise ValueError(f"'{path}' does not exist") from None
    except OSError as e:
        raise ValueError(f"'{path}' cannot be read ({e.strerror or e})") from None


def cmd_classify(args: argparse.Namespace) -> int:
    import torch

    from effnets.runtime import devices, images, inference, preprocessing, weights
    from effnets.runtime import timing as timing_stats
    from effnets.runtime.images import ImageError

    if args.topk < 1:
        raise ValueError(f"--topk {args.topk} must be at least 1")
    device, device_reason = devices.pick_device(args.device)
    base, status = weights.load_model(args.model)
    if not status.pretrained:
        print(
            f"effnets: warning: {args.model} has no pretrained weights here ({status.detail}); its predictions are "
            "meaningless",
            file=sys.stderr,
        )
    model = inference.prepare(base, device, args.precision)
    del base
    tf = weights.eval_transform(args.model)
    # one untimed call first: the first forward pays for allocations and kernel selection
    inference.predict_logits(model, torch.zeros(1, 3, tf.crop, tf.crop))

    results: list[dict] = []
    failed = 0
    for path in args.images:
        try:
            loaded = images.load_image(_read(path), path)
            x = preprocessing.preprocess(
                loaded.image, tf.resize, tf.crop, tf.normalization, interpolation=tf.interpolation
            )
        except (ImageError, ValueError) as e:
            failed += 1
            _err(str(e))
            results.append({"file": path, "error": str(e)})
            continue
        timing = timing_stats.time_inference(
            lambda x=x: inference.predict_logits(model, x.tensor), warmup=0, repeats=3, sync=device
        )
        top = inference.classify(model, x.tensor, args.topk)[0]
        results.append(
            {
                "file": path,
                "model": args.model,
                "weights": status.status,
                "device": str(device),
                "precision": args.precision,
                "top": [p.to_dict() for p in top],
                "latency_ms": timing.median_ms,
                "notes": loaded.notes,
            }
        )

    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{args.model} ({status.status} weights) on {device} ({device_reason}), {args.precision}")
        for r in results:
            if "error" in r:
                continue
            print(f"{r['file']}  ({r['latency_ms']:.1f} ms)")
            for note in r["notes"]:
                print(f"  note: {note}")
            for p in r["top"]:
                print(f"  {100 * p['prob']:5.1f}%  {p['label']} ({p['index']})")
    return EXIT_USAGE if failed else EXIT_OK


# ----- weights ----------------------------------------------------------------------------------------------------


def cmd_weights_status(args: argparse.Namespace) -> int:
    from effnets.runtime import weights

    rows = weights.weight_statuses(args.names or None)
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], indent=2))
        return EXIT_OK
    width = max(len(r.name) for r in rows)
    for r in rows:
        print(f"{r.name:<{width}}  {r.status:<11}  {r.detail}")
    return EXIT_OK


def cmd_weights_download(args: argparse.Namespace) -> int:
    from effnets.models import MODELS
    from effnets.runtime import weights

    names = args.names or [n for n in MODELS if weights.torchvision_name(n)]
    results = weights.download(names)
    for r in results:
        if r.ok:
            print(r.message)
        else:
            _err(r.message)
    return EXIT_OK if all(r.ok for r in results) else EXIT_USAGE


# ----- registration -----------------------------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``classify`` and ``weights`` to the CLI's sub-commands (called from effnets.cli.build_parser)."""
    from effnets.runtime.devices import DEVICE_CHOICES, PRECISIONS

    pc = subparsers.add_parser("classify", help="classify image files with offline ImageNet weights")
    pc.add_argument("images", nargs="+", metavar="IMAGE", help="JPEG, PNG, WebP, BMP, GIF or TIFF files")
    pc.add_argument("--model", default=DEFAULT_MODEL, help=f"model name (default {DEFAULT_MODEL}; see: list models)")
    pc.add_argument("--topk", type=int, default=5, help="how many classes to show per image (default 5)")
    pc.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="auto: CUDA, then MPS, then CPU")
    pc.add_argument("--precision", default="fp32", choices=list(PRECISIONS), help="fp16/bf16 where the device can")
    pc.add_argument("--json", action="store_true", help="machine-readable output (one object per image)")
    pc.set_defaults(func=cmd_classify)

    pw = subparsers.add_parser("weights", help="where pretrained weights come from; download them")
    wsub = pw.add_subparsers(dest="action", parser_class=type(pw), required=True)
    ps = wsub.add_parser("status", help="packaged / cached / random init, per model")
    ps.add_argument("names", nargs="*", metavar="NAME", help="models (default: all)")
    ps.add_argument("--json", action="store_true", help="machine-readable output")
    ps.set_defaults(func=cmd_weights_status)
    pd = wsub.add_parser("download", help="fetch torchvision checkpoints into the torch hub cache (needs internet)")
    pd.add_argument("names", nargs="*", metavar="NAME", help="models (default: every registry model torchvision has)")
    pd.set_defaults(func=cmd_weights_download)
