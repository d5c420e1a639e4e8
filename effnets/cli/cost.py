"""``cost block`` and ``cost model``: analytic counts, optionally checked against the tracers."""

from __future__ import annotations

import argparse
import json

from effnets.cli.common import Parser, UsageError, fmt, parse_sets, parse_shape


def cmd_cost_block(args: argparse.Namespace) -> int:
    from effnets.blocks import get_block
    from effnets.spec import parse_fields

    info = get_block(args.name)
    shape = parse_shape(args.input)
    raw = parse_sets(args.set)
    if "in_channels" in raw:
        raise UsageError("in_channels comes from --input C,H,W; do not --set it")
    given = parse_fields(info.spec, raw)
    spec = info.spec_for_input(shape[0], **given)
    c = info.cost(spec, shape)
    defaults = info.make_spec().to_dict()
    followed = {k: v for k, v in spec.to_dict().items() if k not in given and k != "in_channels" and v != defaults[k]}
    result = {"name": args.name, "input_shape": list(shape), "spec": spec.to_dict(), **c.to_dict()}
    if args.check:
        from effnets.counting import cross_check

        cc = cross_check(lambda: info.build(spec), c, shape)
        result["check"] = {
            "flop_counter_macs": cc.flop_counter_macs,
            "fvcore_total": cc.fvcore.total if cc.fvcore else None,
            "fvcore_conv_linear": cc.fvcore.conv_linear if cc.fvcore else None,
            "fvcore_by_operator": cc.fvcore.by_operator if cc.fvcore else None,
            "dispatch_macs": cc.dispatch.macs if cc.dispatch else None,
            "notes": cc.notes,
        }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{info.label} on a {shape[0]}x{shape[1]}x{shape[2]} input")
    if followed:
        print(
            "  settings      "
            + ", ".join(f"{k}={v} (default {defaults[k]})" for k, v in followed.items())
            + f": the defaults do not fit a {shape[0]}-channel input"
        )
    print(f"  params        {c.params:>15,}  ({fmt(c.params)})  learnable")
    print(f"  MACs          {c.macs:>15,}  ({fmt(c.macs)})  conv + linear multiply-accumulates")
    print(f"  FLOPs         {c.flops:>15,}  ({fmt(c.flops)})  = 2 x MACs")
    print(f"  output shape  {'x'.join(map(str, c.output_shape)):>15}")
    print(
        f"  receptive fld {'x'.join(map(str, c.receptive_field)):>15}"
        + ("  + global context" if c.global_context else "")
    )
    for k, v in c.extras_dict.items():
        if v:
            print(f"  + {k:<11} {v:>15,}  (not in MACs)")
    if args.check:
        ch = result["check"]
        print("  cross-check:")
        print(f"    FlopCounterMode / 2   {ch['flop_counter_macs']:>15,}")
        print(f"    fvcore conv+linear    {ch['fvcore_conv_linear']:>15,}")
        print(f"    fvcore total          {ch['fvcore_total']:>15,}")
        for note in ch["notes"]:
            print(f"    - {note}")
    return 0


def cmd_cost_model(args: argparse.Namespace) -> int:
    import effnets
    from effnets.models import get_model
    from effnets.spec import parse_fields

    if ":" in args.name:  # torchvision:NAME, timm:NAME: traced on the meta device
        return _cost_external(args)
    info = get_model(args.name)
    raw = parse_sets(args.set)
    for flag, key in (("--width", "width_mult"), ("--depth", "depth_mult"), ("--resolution", "resolution")):
        if key in raw and getattr(args, flag[2:]) is not None:
            raise UsageError(f"{key} is given twice: use either {flag} or --set {key}=...")
    fields = parse_fields(info.spec, raw)
    given = {"width_mult": args.width, "depth_mult": args.depth, "resolution": args.resolution}
    given = {k: fields.pop(k, v) for k, v in given.items()}  # --set resolution=256 is the same as --resolution 256
    spec = effnets.model_spec(args.name, **given, **fields)
    c = info.cost(spec)
    result = {
        "name": args.name,
        "label": info.label,
        "family": info.family,
        "spec": spec.to_dict(),
        **c.to_dict(stages=args.stages),
    }
    if args.check:
        from effnets.counting import build_on_meta, explain_differences, flop_counter_macs, param_count

        meta = build_on_meta(lambda: info.build(spec))
        fc = flop_counter_macs(meta, c.input_shape)
        has_deform = any(type(m).__name__ == "DeformConv2d" for m in meta.modules())
        result["check"] = {
            "flop_counter_macs": fc,
            "param_count": param_count(meta),
            "notes": explain_differences(c.total, fc, None, has_deform),
        }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    shape = "x".join(map(str, c.input_shape))
    preset = info.make_spec().to_dict()
    changed = ", ".join(f"{k}={v}" for k, v in spec.to_dict().items() if preset[k] != v)
    print(f"{info.label} ({args.name}) on a {shape} input" + (f"  [{changed}]" if changed else ""))
    print(f"  params        {c.params:>16,}  ({fmt(c.params)})  learnable")
    print(f"  MACs          {c.macs:>16,}  ({fmt(c.macs)})  conv + linear multiply-accumulates")
    print(f"  FLOPs         {c.flops:>16,}  ({fmt(c.flops)})  = 2 x MACs")
    print(f"  activations   {c.acts:>16,}  conv/linear output elements")
    print(f"  output shape  {'x'.join(map(str, c.output_shape)):>16}")
    for k, v in c.total.extras_dict.items():
        if v:
            print(f"  + {k:<11} {v:>16,}  (not in MACs)")
    if args.check:
        ch = result["check"]
        ok = ch["flop_counter_macs"] == c.macs and ch["param_count"] == c.params
        print(
            f"  cross-check: FlopCounterMode / 2 = {ch['flop_counter_macs']:,}, sum(p.numel()) = {ch['param_count']:,}"
        )
        print(f"    {'agrees' if ok else 'DISAGREES'} with the analytic count")
        for note in ch["notes"]:
            print(f"    - {note}")
    if args.stages:
        cols = f"{'input':>9} {'ch':>5} {'n':>3} {'k':>2} {'s':>2} {'t':>3} {'params':>12} {'MACs':>15}"
        print(f"  {'#':>2}  {'operator':<34} {cols}")
        for r in c.stages:
            res = f"{r.resolution[0]}x{r.resolution[1]}"
            k = "" if r.kernel is None else str(r.kernel)
            t = "" if r.expand_ratio is None else f"{r.expand_ratio:g}"
            print(
                f"  {r.stage:>2}  {r.operator[:34]:<34} {res:>9} {r.channels:>5} {r.repeats:>3} {k:>2} {r.stride:>2} "
                f"{t:>3} {r.params:>12,} {r.macs:>15,}"
            )
    return 0


def _cost_external(args: argparse.Namespace) -> int:
    from effnets.cli.networks import print_report
    from effnets.networks import external

    if args.set or args.width is not None or args.depth is not None:
        raise UsageError(
            f"{args.name}: only --resolution applies to a torchvision or timm model "
            "(width and depth multipliers need a registered family: see the report's notes)"
        )
    r = external.analyse(args.name, resolution=args.resolution)
    if args.json:
        print(json.dumps(r.to_dict(layers=args.stages), indent=2))
        return 0
    print_report(r)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``cost block`` and ``cost model`` to the CLI's sub-commands."""
    pc = sub.add_parser("cost", help="analytic cost of a block or model")
    csub = pc.add_subparsers(dest="kind", parser_class=Parser, required=True)
    pb = csub.add_parser("block", help="cost of one block")
    pb.add_argument("name", help="block type (see: list blocks)")
    pb.add_argument("--input", required=True, help="input shape C,H,W, e.g. 32,56,56")
    pb.add_argument("--set", action="append", metavar="KEY=VALUE", help="a spec field (repeatable)")
    pb.add_argument("--json", action="store_true", help="machine-readable output")
    pb.add_argument("--check", action="store_true", help="also count with FlopCounterMode and fvcore")
    pb.set_defaults(func=cmd_cost_block)
    pm = csub.add_parser("model", help="cost of a whole network (analytic; no module is built)")
    pm.add_argument("name", help="model preset (see: list models), or torchvision:NAME / timm:NAME")
    pm.add_argument("--width", type=float, help="width multiplier (width_mult), where the family has one")
    pm.add_argument("--depth", type=float, help="depth multiplier (depth_mult), where the family has one")
    pm.add_argument("--resolution", type=int, help="input side in pixels")
    pm.add_argument("--set", action="append", metavar="KEY=VALUE", help="a spec field (repeatable)")
    pm.add_argument("--stages", action="store_true", help="also print the per-stage table")
    pm.add_argument("--json", action="store_true", help="machine-readable output")
    pm.add_argument("--check", action="store_true", help="also trace on the meta device with FlopCounterMode")
    pm.set_defaults(func=cmd_cost_model)
    from effnets.cli.networks import register_cost

    register_cost(csub)
