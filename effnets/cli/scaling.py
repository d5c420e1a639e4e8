"""``scaling released``: the released EfficientNets against the compound-scaling rule."""

from __future__ import annotations

import argparse
import json
import re

from effnets.cli.common import Parser, UsageError


def cmd_scaling_released(args: argparse.Namespace) -> int:
    from effnets.analysis import scaling
    from effnets.models import scaling as model_scaling

    lo, hi = model_scaling.BASE_RANGE
    for flag, v in (("--alpha", args.alpha), ("--beta", args.beta), ("--gamma", args.gamma)):
        if not lo <= v <= hi:
            raise UsageError(f"{flag} {v:g} is outside {lo:g}..{hi:g} (the bases of compound scaling)")
    rows = scaling.released_table(args.alpha, args.beta, args.gamma)
    known, inferred = scaling.released_explanation(rows)
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


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``scaling released`` to the CLI's sub-commands."""
    ps = sub.add_parser("scaling", help="compound scaling: the released EfficientNets against the rule")
    ssub = ps.add_subparsers(dest="kind", parser_class=Parser, required=True)
    pr = ssub.add_parser("released", help="released B0-B7 against alpha^phi, beta^phi, gamma^phi, with the reasons")
    pr.add_argument("--alpha", type=float, default=1.2, help="depth base (default 1.2, the paper's)")
    pr.add_argument("--beta", type=float, default=1.1, help="width base (default 1.1)")
    pr.add_argument("--gamma", type=float, default=1.15, help="resolution base (default 1.15)")
    pr.add_argument("--json", action="store_true", help="machine-readable output")
    pr.set_defaults(func=cmd_scaling_released)
