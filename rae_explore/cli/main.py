"""The ``rae-explore`` command line: one sub-command per module in ``rae_explore.cli.commands``.

Each command module defines ``register(subparsers)``, which adds its parser and sets
``func`` (called with the parsed namespace, returns an exit code). Heavy imports happen inside
the command functions, so ``rae-explore --help`` stays fast.

One error style for every command, as argparse's own: ``rae-explore <command>: error: <what>,
<where>, <fix>`` on stderr and exit code 2, without a traceback unless ``-v`` is given. An output
file (``--out``) is checked before the work starts (:func:`rae_explore.atomic.check_writable`:
writable folder, a name that fits once the atomic writer's suffix is added, valid UTF-8, not the
input file), not after hours of it.
"""

import argparse
import importlib
import logging
import os
import pickle
import sys

from ..atomic import check_writable

# Order = order in --help.
COMMAND_MODULES = [
    "rae_explore.cli.commands.datasets",
    "rae_explore.cli.commands.ground_truth",
    "rae_explore.cli.commands.train",
    "rae_explore.cli.commands.baseline",
    "rae_explore.cli.commands.sweep",
    "rae_explore.cli.commands.pipeline",
    "rae_explore.cli.commands.report",
    "rae_explore.cli.commands.intrinsic_dim",
]

#: Commands whose ``--out`` is a folder, not a file.
_FOLDER_OUT = {"report"}
#: Argument names that hold an input file a command reads (an ``--out`` must not be one of them).
_INPUT_ARGS = ("dataset", "data_path", "results")


def build_parser():
    """The argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="rae-explore",
        description="How far can embedding vectors be compressed before their nearest neighbours are lost?",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr; tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def error_message(e):
    """One line for an exception: its own message (``OSError``: reason and file; ``KeyError``: unquoted)."""
    if isinstance(e, OSError) and e.strerror and not (e.args and isinstance(e.args[0], str) and len(e.args) == 1):
        where = f", {os.fsdecode(e.filename)!r}" if e.filename is not None else ""
        return f"{e.strerror}{where}; check the path and its permissions"
    if isinstance(e, KeyError) and len(e.args) == 1:
        return str(e.args[0])
    if isinstance(e, (ValueError, TypeError, KeyError, OSError, pickle.UnpicklingError, ImportError)) or \
            type(e).__name__ in ("TaskCrashed", "NotAnIntegerError"):
        return str(e)
    return f"{type(e).__name__}: {e} (unexpected: run again with -v for the traceback, and report it)"


def check_outputs(args):
    """Check a command's ``--out`` file before it starts (see :func:`rae_explore.atomic.check_writable`)."""
    out = getattr(args, "out", None)
    if out is None:
        return
    if args.command in _FOLDER_OUT:  # a folder of reports: can a file be written in it?
        check_writable(os.path.join(out, "index.html"), what="--out folder")
        return
    inputs = [getattr(args, a) for a in _INPUT_ARGS if isinstance(getattr(args, a, None), str)]
    check_writable(out, inputs=inputs, what="--out")


def main(argv=None):
    """Entry point of the ``rae-explore`` console script; returns the exit code (2 for a user error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    action = getattr(args, f"{args.command}_command", None)  # "pipeline run": as argparse names it
    prog = f"rae-explore {args.command}" + (f" {action}" if action else "")
    try:
        check_outputs(args)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; results already written are kept", file=sys.stderr)
        return 130
    except Exception as e:  # the CLI's one error style; -v shows the traceback
        if args.verbose:
            raise
        print(f"{prog}: error: {error_message(e)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
