"""The ``nnfast`` command line.

Each subcommand lives in ``nnfast/_cli/<name>.py`` and provides
``configure(parser)`` and ``run(args) -> int``.  Errors a user can fix are
printed as one line, with exit code 2, not as a traceback: argparse's own
errors (one line and a hint to run ``--help`` instead of the usage block),
:class:`UserError` and the ``ValueError``/``OSError``/``MemoryError`` of bad
input.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys

# name -> one-line help; modules are imported only for the subcommand that runs
SUBCOMMANDS = {
    "train": "train a network on the default data or a file, compare backends, write a report and plots",
    "evaluate": "evaluate a saved model on the held-out part of its data, or on other data",
    "gradcheck": "check the analytic gradient against finite differences",
    "bench": "time cost+gradient of every backend (and PyTorch/JAX if installed) side by side",
    "info": "show versions, available backends (and why others are not) and thread settings",
}

#: options whose value may start with '-' though it is not a number ("-1,2"); see
#: _join_dash_values
DASH_VALUE_OPTIONS = ("--lambdas",)


class UserError(Exception):
    """An error caused by the user's input: reported as one line, exit code 2."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` only where it says something.

    Not when the help text already states the default, not for a default of
    None (the help says what happens then) and not for flags, whose default
    is just "not given".
    """

    def _get_help_string(self, action):
        text = action.help or ""
        if ("default" in text.lower() or action.default is None or action.nargs == 0
                or action.default is argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: the message and a hint to run ``--help``, exit code 2."""

    def error(self, message):
        self.exit(2, usage_error(self.prog, message))


def usage_error(prog, message) -> str:
    """The one line of a usage error, with the hint to run ``--help``."""
    return f"{prog}: error: {' '.join(message.split())} (run '{prog} --help' for the options)\n"


# argparse `type=` checks: a bad value becomes "argument --X: <message>", one line, exit 2

def number_type(kind, lowest, strict, what):
    """An argparse ``type=`` for numbers of ``kind`` (int or finite float) >= or > ``lowest``.

    ``what`` says what is expected, for the message ("an integer >= 1").
    """
    def check(text):
        try:
            value = kind(text)
        except (TypeError, ValueError):
            value = None
        if (value is None or (kind is float and not math.isfinite(value))
                or value < lowest or (strict and value == lowest)):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    check.__doc__ = f"{what[0].upper()}{what[1:]}."
    return check


positive_int = number_type(int, 1, False, "an integer >= 1")
non_negative_int = number_type(int, 0, False, "an integer >= 0")
positive_float = number_type(float, 0.0, True, "a finite number > 0")
non_negative_float = number_type(float, 0.0, False, "a finite number >= 0")


def build_parser(load=None) -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="nnfast",
        description="Fast cost and gradient for sigmoid networks (Andrew Ng's ex4 and beyond).",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"nnfast {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text,
                           formatter_class=HelpFormatter)
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


def _looks_negative(token) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return token.startswith("-")


def _join_dash_values(argv):
    """``["--lambdas", "-1,2"]`` -> ``["--lambdas=-1,2"]``, ``["--lam", "-1e-4"]`` likewise.

    argparse takes a token that starts with '-' for an option unless it looks
    like a plain negative number ("-1", "-.5"), so "-1e-4" or "-1,2" got
    "expected one argument".  Joined to their option, they reach the
    option's own check, which says what is wrong with them.
    """
    joined, i = [], 0
    for token in argv:
        # argparse drops a value of "--" (its end-of-options marker) and would run
        # with the option's default
        if token.startswith("--") and token.partition("=")[2] == "--":
            option = token.partition("=")[0]
            raise argparse.ArgumentError(None, f"argument {option}: expected a value, got '--'")
    while i < len(argv):
        option, value = argv[i], argv[i + 1] if i + 1 < len(argv) else None
        if (value is not None and option.startswith("--") and "=" not in option
                and (option in DASH_VALUE_OPTIONS and value.startswith("-") and value != "--"
                     or _looks_negative(value))):
            joined.append(f"{option}={value}")
            i += 2
        else:
            joined.append(option)
            i += 1
    return joined


def data_hint(error, option="--data") -> str:
    """What to type when a data file is missing, from a ``datasets.DataNotFoundError``.

    ``option`` is the command's option that takes a file instead, if any.
    """
    name = error.names[0] if error.names else "the file"
    fix = f"set NNFAST_DATA=DIR to the folder that holds {name}"
    if name == "ex4data1.mat" and option:
        fix = f"pass {option} /path/to/{name} or " + fix
    return f"{error.what} not found in {', '.join(map(str, error.dirs))}; {fix}"


def _describe(exc) -> str:
    """One line for an exception of bad input."""
    from .datasets import DataNotFoundError

    if isinstance(exc, DataNotFoundError) and hasattr(exc, "what"):
        return data_hint(exc, option=None)
    if isinstance(exc, MemoryError):
        return f"not enough memory{': ' + str(exc) if str(exc) else ''}"
    if isinstance(exc, OSError) and exc.filename is not None and not isinstance(
            exc, FileNotFoundError):
        return f"{exc.filename}: {exc.strerror or exc}"
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv=None) -> int:
    """Run ``nnfast`` with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(load=command if command in SUBCOMMANDS else None)
    try:
        try:
            argv = _join_dash_values(argv)
        except argparse.ArgumentError as exc:
            prog = f"nnfast {command}" if command in SUBCOMMANDS else "nnfast"
            sys.stderr.write(usage_error(prog, exc.message))
            return 2
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_help()
        return 2
    module = _module(args.command)
    if module is None:
        print(f"nnfast: error: '{args.command}' is not available in this version", file=sys.stderr)
        return 2
    try:
        return int(module.run(args) or 0)
    except (UserError, ValueError, TypeError, OSError, MemoryError) as exc:
        print(f"nnfast {args.command}: error: {_describe(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nnfast: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    # run the imported module's main, not this __main__ copy: the subcommands raise
    # nnfast.cli.UserError, which must be the class main() catches
    from nnfast.cli import main as _main

    sys.exit(_main())
