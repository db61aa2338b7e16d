"""The ``rae-explore`` command line (:mod:`.main`), one module per sub-command in :mod:`.commands`."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
