"""Command line: ``python -m effnets ...``, one module per verb group.

Every user error (bad argument, impossible setting, unreadable file) ends with exit code 2 and one readable line on
stderr; nothing prints a traceback. The verb modules import only :mod:`effnets.cli.common`, never this module.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence

from effnets.cli import bench, catalog, cost, inference, networks, predict, scaling, training
from effnets.cli.common import EXIT_BROKEN_PIPE, EXIT_USAGE, Parser, UsageError, parse_sets, parse_shape

VERB_GROUPS = (catalog, cost, scaling, inference, bench, predict, training, networks)
"""The verb groups in the order ``--help`` lists them; each module has ``register(subparsers)``."""

__all__ = ["main", "build_parser", "UsageError", "parse_shape", "parse_sets", "EXIT_USAGE"]


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m effnets", description="Costs, scaling and behaviour of efficient CNN designs.")
    sub = p.add_subparsers(dest="command", parser_class=Parser, required=True)
    for group in VERB_GROUPS:
        group.register(sub)
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
