"""``train-cost model`` and ``train-cost block``: what a training step costs against inference.

``python -m effnets train-cost model efficientnet_b0 --batch 32 --json`` traces one step on the meta device (no
memory, exact shapes): forward and backward MACs (FlopCounterMode with the grouped-conv rule corrected, per kind of
layer, the forward checked against effnets' analytic count), the activations kept for backward against the inference
figure, and the peak memory over forward, backward and the optimizer step with its split. ``--measure`` also times a
step against the inference latency of the same model at the same batch, interleaved on ``--device``; on a CUDA
device it records the memory timeline there too, with the allocator's own figures. ``--series`` puts the per-op
timeline into the JSON. Errors exit with code 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from effnets.cli.common import Parser, UsageError, fmt, parse_sets, parse_shape


def _check(args: argparse.Namespace) -> None:
    if args.batch < 2:
        raise UsageError(f"--batch {args.batch} must be at least 2 (batch norm in training mode needs two values)")
    resolution = getattr(args, "resolution", None)
    if resolution is not None and resolution < 8:
        raise UsageError(f"--resolution {resolution} must be at least 8")
    if args.repeats < 1 or args.warmup < 0:
        raise UsageError("--repeats must be at least 1 and --warmup at least 0")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads {args.threads} must be at least 1")


def _measure(args: argparse.Namespace, tc, factory) -> dict[str, Any]:
    import torch

    from effnets.analysis import training
    from effnets.runtime import devices

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device, _ = devices.pick_device(args.device)
    return training.measure(factory, tc, device, args.warmup, args.repeats, series=args.series)


def _print(d: dict[str, Any]) -> None:
    from effnets.report import human_bytes

    f, mem = d["flops"], d["memory"]
    shape = "x".join(map(str, d["input_shape"]))
    print(f"{d['network']}: batch {d['batch']} x {shape}, {d['dtype']}, {d['optimizer_detail'].split(' (')[0]}, "
          f"loss: {d['loss']}")  # fmt: skip
    print("  conv + linear MACs of one step, whole batch (FlopCounterMode on the meta device)")
    same = "exact" if f["forward_macs"] == d["analytic_macs_batch"] else "DIFFERS"
    print(f"    forward   {f['forward_macs']:>18,}  ({fmt(f['forward_macs'])}; analytic "
          f"{fmt(d['analytic_macs_per_image'])} x {d['batch']}: {same})")  # fmt: skip
    print(
        f"    backward  {f['backward_macs']:>18,}  ({fmt(f['backward_macs'])}; {f['backward_to_forward']:.2f}x forward)"
    )
    if f["flop_counter_backward_macs"] != f["backward_macs"]:
        print(f"    backward as torch's stock rule counts it: {fmt(f['flop_counter_backward_macs'])} (groups ignored)")
    print(f"    {'kind':<20} {'forward':>10} {'grad input':>11} {'grad weight':>12}")
    for r in f["by_kind"]:
        print(f"    {r['kind']:<20} {fmt(r['forward']):>10} {fmt(r['grad wrt input']):>11} "
              f"{fmt(r['grad wrt weight']):>12}")  # fmt: skip
    print(f"  kept for backward {human_bytes(d['saved_activation_bytes'])} = {d['saved_to_inference']:.2f}x the "
          f"inference activations ({human_bytes(d['inference_activation_bytes'])})")  # fmt: skip
    for who, b in d["saved_by_layer"].items():
        print(f"    {who:<52} {human_bytes(b):>10}")
    peak = mem["peak"]
    where = f" in {peak['module']}" if peak["module"] else ""
    print(f"  peak memory {human_bytes(peak['bytes'])} in the {peak['phase']} pass, after {peak['op']}{where}")
    for c, b in peak["split"].items():
        print(f"    {c:<20} {human_bytes(b):>10}  {b / peak['bytes']:6.1%}")
    if m := d.get("measured"):
        env = m["environment"]
        print(f"  measured on {env['device_name']}: training step {m['training_step_ms']:.1f} ms (p10 "
              f"{m['training_step_p10_ms']:.1f}, p90 {m['training_step_p90_ms']:.1f}), inference "
              f"{m['inference_ms']:.1f} ms: {m['step_to_inference']:.2f}x (the MACs say {m['macs_ratio']:.2f}x)"
              + ("  busy: measure again" if m["busy"] else ""))  # fmt: skip
        if cm := m.get("cuda_memory"):
            print(f"  on the GPU: tracked peak {human_bytes(cm['tracked_peak_bytes'])}, allocator peaks "
                  + ", ".join(f"{k} {human_bytes(v)}" for k, v in cm["allocator_peaks"].items()))  # fmt: skip
    for line in d["explanation"]:
        print(f"  - {line}")


def _finish(args: argparse.Namespace, tc, factory) -> int:
    d = tc.to_dict(series=args.series)
    if args.measure:
        d["measured"] = _measure(args, tc, factory)
    if args.json:
        print(json.dumps(d, indent=2))
    else:
        _print(d)
    return 0


def cmd_train_cost_model(args: argparse.Namespace) -> int:
    import effnets
    from effnets.analysis import training
    from effnets.models import get_model
    from effnets.spec import parse_fields

    _check(args)
    fields = parse_fields(get_model(args.name).spec, parse_sets(args.set))
    tc = training.model_training_cost(args.name, args.batch, args.resolution, args.optimizer, args.dtype, **fields)
    return _finish(args, tc, lambda: effnets.build_model(args.name, resolution=args.resolution, **fields))


def cmd_train_cost_block(args: argparse.Namespace) -> int:
    from effnets.analysis import training
    from effnets.blocks import get_block
    from effnets.spec import parse_fields

    _check(args)
    info = get_block(args.name)
    raw = parse_sets(args.set)
    if "in_channels" in raw:
        raise UsageError("in_channels comes from --input C,H,W; do not --set it")
    fields = parse_fields(info.spec, raw)
    shape = parse_shape(args.input) if args.input else (info.make_spec().in_channels, 56, 56)
    tc = training.block_training_cost(args.name, shape, args.batch, args.optimizer, args.dtype, **fields)
    spec = info.spec_for_input(shape[0], **fields)
    return _finish(args, tc, lambda: info.build(spec))


def _common(p: argparse.ArgumentParser) -> None:
    from effnets.runtime.devices import DEVICE_CHOICES
    from effnets.runtime.training import DTYPES, OPTIMIZERS

    p.add_argument("--batch", type=int, default=32, help="images per step (default 32; at least 2)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="a spec field (repeatable)")
    p.add_argument("--optimizer", choices=list(OPTIMIZERS), default="sgd", help="sgd (momentum 0.9, default) or adam")
    p.add_argument("--dtype", choices=list(DTYPES), default="float32", help="parameters and activations (traced)")
    p.add_argument("--measure", action="store_true", help="also time a step against inference (random init, fp32)")
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="where --measure runs (auto: CUDA first)")
    p.add_argument("--threads", type=int, help="CPU threads for --measure (default: torch's own choice)")
    p.add_argument("--warmup", type=int, default=2, help="untimed rounds of --measure (default 2)")
    p.add_argument("--repeats", type=int, default=5, help="timed rounds of --measure (default 5); the median")
    p.add_argument("--series", action="store_true", help="put the per-op memory timeline into the JSON")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``train-cost model`` and ``train-cost block`` to the CLI's sub-commands."""
    pt = sub.add_parser("train-cost", help="training cost: forward + backward MACs, saved activations, peak memory")
    tsub = pt.add_subparsers(dest="kind", parser_class=Parser, required=True)
    pm = tsub.add_parser("model", help="a whole network's training step (traced on the meta device)")
    pm.add_argument("name", help="model preset (see: list models)")
    pm.add_argument("--resolution", type=int, help="input side in pixels (default: the model's own)")
    _common(pm)
    pm.set_defaults(func=cmd_train_cost_model)
    pb = tsub.add_parser("block", help="one block's training step (loss: the sum of its outputs)")
    pb.add_argument("name", help="block type (see: list blocks)")
    pb.add_argument("--input", help="input shape C,H,W (default: the block's in_channels at 56x56)")
    _common(pb)
    pb.set_defaults(func=cmd_train_cost_block)
