"""The ``rae-explore`` command line: one sub-command per module in ``rae_explore.cli.commands``.

Each command module defines ``register(subparsers)``, which adds its parser and sets
``func`` (called with the parsed namespace, returns an exit code). Heavy imports happen inside
the command functions, so ``rae-explore --help`` stays fast.
"""

import argparse
import importlib
import logging
import sys

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


def build_parser():
    """The argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="rae-explore",
        description="How far can embedding vectors be compressed before their nearest neighbours are lost?",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv=None):
    """Entry point of the ``rae-explore`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError, TypeError) as e:
        # user errors: one clear line, no traceback (use -v to see it)
        if args.verbose:
            raise
        print(f"rae-explore {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
