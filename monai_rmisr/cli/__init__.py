"""The ``rmisr`` command line: one module per command, argument parsing here and nowhere else.

Each command module has ``add_command(commands)``; the settings they read are checked by the rules of
:mod:`monai_rmisr.inference.settings` (directly, or through ``Upscaler`` / ``super_resolve``).
"""

from __future__ import annotations

import argparse
import os
import sys

from .._version import __version__
from . import corpus, info, listen, pacs, upscale, view, weights
from .common import report_error

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``rmisr`` parser with its subcommands."""
    parser = argparse.ArgumentParser(prog="rmisr", description="RMISR medical image super-resolution (MONAI plugin).")
    parser.add_argument("--version", action="version", version=f"monai-rmisr {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in (info, upscale, pacs, listen, view, corpus, weights):
        command.add_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``rmisr`` with ``argv`` (default: the process's arguments); returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        code = args.run(args)
        sys.stdout.flush()  # here, not at exit, where a closed pipe would be a traceback
        return code
    except KeyboardInterrupt:  # Ctrl-C: one line and exit 130 (128 + SIGINT), not a traceback
        return report_error(args.command, "interrupted (Ctrl-C).", 130)
    except BrokenPipeError:
        if not _stdout_closed():
            raise  # a socket's, not the reader of our output
        # the reader went away (`rmisr info | head -3`): stop quietly, 128 + SIGPIPE, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to flush at exit
        return 141


def _stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has gone (where ``poll`` exists; elsewhere, Windows, assumed)."""
    try:
        import select

        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
    except (ImportError, AttributeError, OSError, ValueError):
        return True
    return any(events & select.POLLERR for _, events in poller.poll(0))
