"""Command line: ``python -m effnets ...``.

Every user error (bad argument, impossible setting, unreadable file) ends with exit code 2 and one readable line on
stderr; nothing prints a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import warnings
from collections.abc import Sequence

from effnets.cli_bench import register as register_bench
from effnets.cli_inference import register as register_inference

EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE: what a Unix tool reports when the reader of its output went away (``... | head``)."""


class UsageError(Exception):
    """A user error: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of argparse's usage block
        raise UsageError(f"{message} (see: python -m effnets {self._sub_hint()}--help)")

    def _sub_hint(self) -> str:
        rest = self.prog.removeprefix("python -m effnets").strip()
        return rest + " " if rest else ""


def parse_shape(text: str) -> tuple[int, int, int]:
    """'32,56,56' -> (32, 56, 56)."""
    parts = [p.strip() for p in text.replace("x", ",").split(",") if p.strip()]
    if len(parts) != 3:
        raise UsageError(f"--input '{text}' must be C,H,W (three positive integers, e.g. 32,56,56)")
    try:
        vals = tuple(int(p) for p in parts)
    except ValueError:
        raise UsageError(f"--input '{text}' must be C,H,W (three positive integers, e.g. 32,56,56)") from None
    if min(vals) < 1:
        raise UsageError(f"--input '{text}': every dimension must be at least 1")
    return vals  # type: ignore[return-value]


def parse_sets(items: Sequence[str] | None) -> dict[str, str]:
    """['k=3', 'stride=2'] -> {'k': '3', 'stride': '2'}."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set '{item}' must look like key=value")
        out[key.strip()] = value.strip()
    return out


def _fmt(n: float) -> str:
    from effnets.report import human

    return human(n)


# ----- list -----------------------------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    if args.what == "blocks":
        from effnets.blocks import BLOCKS

        rows = [{"name": n, "label": i.label, "layout": i.layout, "paper": i.paper} for n, i in BLOCKS.items()]
    else:
        from effnets.models import MODELS

        rows = [{"name": n, "label": i.label, "family": i.family, "paper": i.paper} for n, i in MODELS.items()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        width = max(len(r["name"]) for r in rows)
        for r in rows:
            print(f"{r['name']:<{width}}  {r['label']}")
    return 0


# ----- cost -----------------------------------------------------------------------------------------------------


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
    print(f"  params        {c.params:>15,}  ({_fmt(c.params)})  learnable")
    print(f"  MACs          {c.macs:>15,}  ({_fmt(c.macs)})  conv + linear multiply-accumulates")
    print(f"  FLOPs         {c.flops:>15,}  ({_fmt(c.flops)})  = 2 x MACs")
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

    info = get_model(args.name)
    raw = parse_sets(args.set)
    for flag, key in (("--width", "width_mult"), ("--depth", "depth_mult"), ("--resolution", "resolution")):
        if key in raw and getattr(args, flag[2:]) is not None:
            raise UsageError(f"{key} is given twice: use either {flag} or --set {key}=...")
    fields = parse_fields(info.spec, raw)
    spec = effnets.model_spec(args.name, args.width, args.depth, args.resolution, **fields)
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
    print(f"  params        {c.params:>16,}  ({_fmt(c.params)})  learnable")
    print(f"  MACs          {c.macs:>16,}  ({_fmt(c.macs)})  conv + linear multiply-accumulates")
    print(f"  FLOPs         {c.flops:>16,}  ({_fmt(c.flops)})  = 2 x MACs")
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
                f"  {r.stage:>2}  {r.operator[:34]:<34} {res:>9} {r.channels:>5} {r.layers:>3} {k:>2} {r.stride:>2} "
                f"{t:>3} {r.params:>12,} {r.macs:>15,}"
            )
    return 0


# ----- entry point ----------------------------------------------------------------------------------------------


def cmd_scaling_released(args: argparse.Namespace) -> int:
    from effnets import scaling_views as sv

    lo, hi = sv.BASE_RANGE
    for flag, v in (("--alpha", args.alpha), ("--beta", args.beta), ("--gamma", args.gamma)):
        if not lo <= v <= hi:
            raise UsageError(f"{flag} {v:g} is outside {lo:g}..{hi:g} (the bases of compound scaling)")
    rows = sv.released_table(args.alpha, args.beta, args.gamma)
    known, inferred = sv.released_explanation(rows)
    plain = re.sub(r"[*`]", "", known + "\n" + inferred)  # the page's markdown, as plain sentences
    explanation = [line[2:] for line in plain.splitlines() if line.startswith("- ")]
    if args.json:
        print(
            json.dumps(
                {"alpha": args.alpha, "beta": args.beta, "gamma": args.gamma, "rows": rows, "explanation": explanation},
                indent=2,
            )
        )
        return 0
    print(
        f"EfficientNet B0-B7 released against compound scaling (alpha {args.alpha:g}, beta {args.beta:g}, gamma "
        f"{args.gamma:g})"
    )
    print(f"  {'model':<16} {'w rel/cmp':>12} {'d rel/cmp':>12} {'res rel/cmp':>14} {'cost phi':>9}")
    for r in rows:
        phi = r["cost_implied_phi"]
        print(
            f"  {r['model']:<16} {r['width_released']:>5g}/{r['width_compound']:<6.2f} "
            f"{r['depth_released']:>5g}/{r['depth_compound']:<6.2f} "
            f"{r['resolution_released']:>6}/{r['resolution_compound']:<7.1f} {phi if phi is None else round(phi, 2):>9}"
        )
    for line in explanation:
        print(f"  - {line}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m effnets", description="Costs, scaling and behaviour of efficient CNN designs.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser, required=True)

    pl = sub.add_parser("list", help="list block types or models")
    pl.add_argument("what", choices=["blocks", "models"])
    pl.add_argument("--json", action="store_true", help="machine-readable output")
    pl.set_defaults(func=cmd_list)

    pc = sub.add_parser("cost", help="analytic cost of a block or model")
    csub = pc.add_subparsers(dest="kind", parser_class=_Parser, required=True)
    pb = csub.add_parser("block", help="cost of one block")
    pb.add_argument("name", help="block type (see: list blocks)")
    pb.add_argument("--input", required=True, help="input shape C,H,W, e.g. 32,56,56")
    pb.add_argument("--set", action="append", metavar="KEY=VALUE", help="a spec field (repeatable)")
    pb.add_argument("--json", action="store_true", help="machine-readable output")
    pb.add_argument("--check", action="store_true", help="also count with FlopCounterMode and fvcore")
    pb.set_defaults(func=cmd_cost_block)
    pm = csub.add_parser("model", help="cost of a whole network (analytic; no module is built)")
    pm.add_argument("name", help="model preset (see: list models)")
    pm.add_argument("--width", type=float, help="width multiplier (width_mult), where the family has one")
    pm.add_argument("--depth", type=float, help="depth multiplier (depth_mult), where the family has one")
    pm.add_argument("--resolution", type=int, help="input side in pixels")
    pm.add_argument("--set", action="append", metavar="KEY=VALUE", help="a spec field (repeatable)")
    pm.add_argument("--stages", action="store_true", help="also print the per-stage table")
    pm.add_argument("--json", action="store_true", help="machine-readable output")
    pm.add_argument("--check", action="store_true", help="also trace on the meta device with FlopCounterMode")
    pm.set_defaults(func=cmd_cost_model)

    ps = sub.add_parser("scaling", help="compound scaling: the released EfficientNets against the rule")
    ssub = ps.add_subparsers(dest="kind", parser_class=_Parser, required=True)
    pr = ssub.add_parser("released", help="released B0-B7 against alpha^phi, beta^phi, gamma^phi, with the reasons")
    pr.add_argument("--alpha", type=float, default=1.2, help="depth base (default 1.2, the paper's)")
    pr.add_argument("--beta", type=float, default=1.1, help="width base (default 1.1)")
    pr.add_argument("--gamma", type=float, default=1.15, help="resolution base (default 1.15)")
    pr.add_argument("--json", action="store_true", help="machine-readable output")
    pr.set_defaults(func=cmd_scaling_released)

    register_inference(sub)
    register_bench(sub)
    return p


def _quiet_broken_pipe() -> int:
    """The reader closed our stdout (``| head``): stop quietly. Point stdout at /dev/null so that the interpreter's
    final flush of the buffered rest does not raise a second BrokenPipeError at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout without a file descriptor (tests capturing it): nothing to redirect
        pass
    return EXIT_BROKEN_PIPE


def main(argv: Sequence[str] | None = None) -> int:
    # Library deprecation chatter (torch.jit via fvcore) is not for the CLI's user.
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the try, not in the interpreter's exit
        return code
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except UsageError as e:
        print(f"effnets: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as e:
        print(f"effnets: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("effnets: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug: still one line, never a traceback
        msg = str(e).splitlines()[0] if str(e) else ""
        print(f"effnets: internal error: {type(e).__name__}: {msg}", file=sys.stderr)
        return 1
