"""The ``nnfast`` command line.

Each subcommand lives in ``nnfast/_cli/<name>.py`` and provides
``configure(parser)`` and ``run(args) -> int``.  Errors a user can fix are
printed as one line, with exit code 2, not as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> one-line help; modules are imported only for the subcommand that runs
SUBCOMMANDS = {
    "train": "train a network on the default data or a file, compare backends, write a report and plots",
    "evaluate": "evaluate a saved model on data",
    "gradcheck": "check the analytic gradient against finite differences",
    "bench": "time cost+gradient of every backend (and PyTorch/JAX if installed) side by side",
    "info": "show versions, available backends (and why others are not) and thread settings",
}


class UserError(Exception):
    """An error caused by the user's input: reported as one line, exit code 2."""


def build_parser(load=None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnfast",
        description="Fast cost and gradient for sigmoid networks (Andrew Ng's ex4 and beyond).",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"nnfast {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if load is None or load == name:
            module = _module(name)
            if module is not None:
                module.configure(p)
    return parser


def _module(name):
    try:
        return importlib.import_module(f"nnfast._cli.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"nnfast._cli.{name}":
            return None
        raise


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(load=command if command in SUBCOMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module = _module(args.command)
    if module is None:
        print(f"nnfast: error: '{args.command}' is not available in this version", file=sys.stderr)
        return 2
    try:
        return int(module.run(args) or 0)
    except (UserError, ValueError, TypeError, FileNotFoundError) as exc:
        print(f"nnfast {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nnfast: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    # run the imported module's main, not this __main__ copy: the subcommands raise
    # nnfast.cli.UserError, which must be the class main() catches
    from nnfast.cli import main as _main

    sys.exit(_main())
