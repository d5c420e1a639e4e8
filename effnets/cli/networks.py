"""Networks from outside the registry: ``cost arch``, ``cost onnx`` (added to ``cost``), ``export`` and ``diff``.

Files the user names are read as data (text or ONNX protobuf), never executed or unpickled; every bad input ends in
one line and exit code 2.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from effnets.cli.common import Parser, UsageError, fmt

MAX_FILE = 64 * 1024 * 4
"""A JSON design file larger than this is refused unread."""


def read_arch(text: str) -> str:
    """An architecture string as given, or the contents of the .json / .txt file it names."""
    from effnets.networks.sources import is_arch

    if is_arch(text):
        return text
    p = Path(text)
    if p.suffix.lower() in (".json", ".txt", ".arch") or p.is_file():
        if not p.is_file():
            raise UsageError(f"no such file: {text[:200]}")
        if p.stat().st_size > MAX_FILE:
            raise UsageError(f"{p.name} is {p.stat().st_size:,} bytes; a design file is at most {MAX_FILE:,}")
        try:
            return p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"cannot read {p.name}: {type(e).__name__}") from None
    raise UsageError(
        f"'{text[:60]}' is neither an architecture string (r224|...) nor a design file (.json); "
        "export one with: python -m effnets export efficientnet_b0 --format arch"
    )


def print_report(r, layers: bool = False) -> None:
    """The text form of a NetworkReport: totals, extras lines, stages (and layers)."""
    shape = "x".join(map(str, r.input_shape))
    print(f"{r.name} ({r.source}) on a {shape} input")
    print(f"  params        {r.params:>16,}  ({fmt(r.params)})  learnable")
    print(f"  MACs          {r.macs:>16,}  ({fmt(r.macs)})  conv + linear multiply-accumulates")
    print(f"  FLOPs         {r.flops:>16,}  ({fmt(r.flops)})  = 2 x MACs")
    print(f"  activations   {r.acts:>16,}  conv/linear output elements")
    print(f"  output shape  {'x'.join(map(str, r.output_shape)):>16}")
    for k, v in r.extras.items():
        if v:
            print(f"  + {k:<11} {v:>16,}  (not in MACs)")
    print(f"  {'stage':<22} {'operator':<36} {'params':>12} {'MACs':>15} {'output':>14}")
    for s in r.stages:
        out = "x".join(map(str, s.output_shape))
        print(f"  {s.name[:22]:<22} {s.operator[:36]:<36} {s.params:>12,} {s.macs:>15,} {out:>14}")
    if layers:
        print(f"  {'layer':<40} {'kind':<15} {'params':>12} {'MACs':>15}")
        for row in r.layers:
            print(f"  {row.name[:40]:<40} {row.kind:<15} {row.params:>12,} {row.macs:>15,}")
    for note in r.notes:
        print(f"  - {note}")


def cmd_cost_arch(args: argparse.Namespace) -> int:
    from effnets.models.network import plan_cost
    from effnets.networks import arch, design

    d = arch.parse(read_arch(args.arch))
    if args.width is not None or args.depth is not None or args.resolution is not None:
        d = design.scale(d, args.width or 1.0, args.depth or 1.0, args.resolution, args.rounding)
    c = plan_cost(design.to_plan(d))
    result = {"name": "design", "arch": arch.encode(d), **c.to_dict(stages=args.stages)}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    from effnets.networks.sources import plan_report

    print_report(plan_report(design.to_plan(d), "your design", "builder"))
    return 0


def cmd_cost_onnx(args: argparse.Namespace) -> int:
    from effnets.networks import onnx_graph

    p = Path(args.file)
    if not p.is_file():
        raise UsageError(f"no such file: {args.file[:200]}")
    limit = onnx_graph.MAX_BYTES
    if p.stat().st_size > limit:
        raise UsageError(f"{p.name} is {p.stat().st_size:,} bytes; at most {limit:,} are read")
    from effnets.cli.common import parse_shape

    shape = parse_shape(args.input) if args.input else None
    r = onnx_graph.analyse_onnx(p.read_bytes(), name=p.name, input_shape=shape)
    if args.json:
        print(json.dumps(r.to_dict(layers=args.layers), indent=2))
        return 0
    print_report(r, args.layers)
    return 0


def _module_and_design(ref: str):
    """(design, label) of a registry name (NAME@key=value,...) or a design."""
    from effnets.networks import arch, design
    from effnets.networks.sources import is_arch

    if not is_arch(ref) and not ref.lower().endswith((".json", ".txt", ".arch")):
        from effnets.models import get_model
        from effnets.networks.sources import _settings

        name, _, settings = ref.partition("@")
        get_model(name)  # an unknown name: the nearest valid ones
        fields = _settings(name, settings)
        return design.from_model(name, **fields), name
    return arch.parse(read_arch(ref)), "design"


def cmd_export(args: argparse.Namespace) -> int:
    from effnets.networks import arch, design

    d, label = _module_and_design(args.network)
    out = Path(args.output)
    if args.format == "arch":
        data: bytes = (arch.encode(d) + "\n").encode()
    elif args.format == "json":
        data = (arch.to_json(d) + "\n").encode()
    else:
        plan = design.to_plan(d)
        from effnets.models.network import Network, plan_cost

        params = plan_cost(plan, record_steps=False).params
        if params > 500_000_000:
            raise UsageError(f"the network has {params:,} parameters; export builds at most 500,000,000")
        module = Network(plan).eval()
        if args.format == "py":
            from effnets.networks import pyexport

            header = f"Architecture: {arch.encode(d)}"
            data = pyexport.python_source(module, name="Net", header=header).encode()
        else:
            from effnets.networks import onnx_graph

            data = onnx_graph.export_onnx(module, plan.input_shape)
    try:
        out.write_bytes(data)
    except OSError as e:
        raise UsageError(f"cannot write {args.output[:200]}: {e.strerror or type(e).__name__}") from None
    print(f"wrote {out} ({len(data):,} bytes, {args.format}) for {label}")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from effnets.networks import diff

    a, b = args.a, args.b
    if args.preset:
        if args.preset not in diff.PRESETS:
            raise UsageError(f"unknown preset '{args.preset}' (presets: {', '.join(diff.PRESETS)})")
        a, b, _ = diff.PRESETS[args.preset]
    if not a or not b:
        raise UsageError("diff needs two networks A B (or --preset NAME)")
    ra, rb = _side(a), _side(b)
    latency = None
    if args.measure:
        if a.lower().endswith(".onnx") or b.lower().endswith(".onnx"):
            raise UsageError("--measure times registry names, torchvision:/timm: names and designs, not ONNX files")
        from effnets.analysis import diffing

        t = diffing.measure_pair(_ref(a), _ref(b), repeats=args.repeats)
        latency = t.latency_ms
    d = diff.diff(ra, rb, latency)
    if args.json:
        print(json.dumps(d.to_dict(), indent=2))
        return 0
    print(f"{d.a.name}  ->  {d.b.name}")
    print(f"  params {d.a.params:>14,} -> {d.b.params:>14,}  ({d.total('params'):+,})")
    print(f"  MACs   {d.a.macs:>14,} -> {d.b.macs:>14,}  ({d.total('macs'):+,})")
    print(f"  acts   {d.a.acts:>14,} -> {d.b.acts:>14,}  ({d.total('acts'):+,})")
    print(f"  {'stage A':<12} {'stage B':<12} {'d params':>12} {'d MACs':>15} {'d acts':>12}")
    for r in d.rows:
        na, nb = (r.a.name if r.a else "-"), (r.b.name if r.b else "-")
        dp, dm, da = r.delta("params"), r.delta("macs"), r.delta("acts")
        print(f"  {na[:12]:<12} {nb[:12]:<12} {dp:>+12,} {dm:>+15,} {da:>+12,}")
    if latency is not None:
        la, lb = latency
        print(f"  eager latency here: {la:.2f} ms -> {lb:.2f} ms ({lb - la:+.2f} ms, {lb / la:.2f}x)")
    for note in d.notes:
        print(f"  - {note}")
    return 0


def _side(text: str):
    """The report of one side of a diff: a name, a design, a design file or an ONNX file (parsed, never run)."""
    if text.lower().endswith(".onnx"):
        from effnets.networks import onnx_graph

        p = Path(text)
        if not p.is_file():
            raise UsageError(f"no such file: {text[:200]}")
        if p.stat().st_size > onnx_graph.MAX_BYTES:
            raise UsageError(f"{p.name} is {p.stat().st_size:,} bytes; at most {onnx_graph.MAX_BYTES:,} are read")
        return onnx_graph.analyse_onnx(p.read_bytes(), name=p.name)
    from effnets.networks.sources import resolve

    return resolve(_ref(text))


def _ref(text: str) -> str:
    """A diff side: a name, an architecture string, or a design file's contents."""
    if text.lower().endswith((".json", ".txt", ".arch")):
        return read_arch(text)
    return text


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``export`` and ``diff``; ``cost arch`` and ``cost onnx`` are added by :func:`register_cost`."""
    pe = sub.add_parser("export", help="write a network as Python, ONNX, JSON or its architecture string")
    pe.add_argument("network", help="a registry model (NAME or NAME@key=value,...), an architecture string or a .json")
    pe.add_argument("--format", required=True, choices=("py", "onnx", "json", "arch"))
    pe.add_argument("-o", "--output", required=True, help="the file to write")
    pe.set_defaults(func=cmd_export)
    pd = sub.add_parser("diff", help="the stage-by-stage difference of two networks")
    pd.add_argument("a", nargs="?", help="network A (registry name, torchvision:NAME, timm:NAME, design, .onnx)")
    pd.add_argument("b", nargs="?", help="network B")
    pd.add_argument("--preset", help="a lesson's pair instead of A B (b0_vs_b1, v2_vs_v3, train_vs_deploy ...)")
    pd.add_argument("--measure", action="store_true", help="also time both (eager, interleaved, random weights)")
    pd.add_argument("--repeats", type=int, default=10, help="timed rounds with --measure")
    pd.add_argument("--json", action="store_true", help="machine-readable output")
    pd.set_defaults(func=cmd_diff)


def register_cost(csub: argparse._SubParsersAction) -> None:
    from effnets.networks.design import ROUNDINGS

    pa = csub.add_parser("arch", help="cost of a design: an architecture string or a JSON spec file")
    pa.add_argument("arch", help="'r224|conv(c:32,k:3,s:2)|...' or a .json file written by export")
    pa.add_argument("--width", type=float, help="width multiplier on every row's output channels")
    pa.add_argument("--depth", type=float, help="depth multiplier on every block row's repeats (rounded up)")
    pa.add_argument("--resolution", type=int, help="input side in pixels")
    pa.add_argument("--rounding", default="divisible_8", choices=tuple(ROUNDINGS), help="width rounding")
    pa.add_argument("--stages", action="store_true", help="also the per-stage rows (JSON)")
    pa.add_argument("--json", action="store_true", help="machine-readable output (the same fields as cost model)")
    pa.set_defaults(func=cmd_cost_arch)
    po = csub.add_parser("onnx", help="cost of an ONNX file (parsed, never run)")
    po.add_argument("file", help="a .onnx file with its weights inside")
    po.add_argument("--input", help="input shape C,H,W where the file's input size is dynamic")
    po.add_argument("--layers", action="store_true", help="also one row per node")
    po.add_argument("--json", action="store_true", help="machine-readable output")
    po.set_defaults(func=cmd_cost_onnx)


__all__ = ["register", "register_cost", "Parser"]
