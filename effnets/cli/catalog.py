"""``list blocks`` and ``list models``: what the registries hold."""

from __future__ import annotations

import argparse
import json


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


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``list`` to the CLI's sub-commands."""
    pl = sub.add_parser("list", help="list block types or models")
    pl.add_argument("what", choices=["blocks", "models"])
    pl.add_argument("--json", action="store_true", help="machine-readable output")
    pl.set_defaults(func=cmd_list)
