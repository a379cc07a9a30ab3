"""The ``rmisr`` command line: one module per command, argument parsing here and nowhere else.

Each command module has ``add_command(commands)``; the settings they read are checked by the rules of
:mod:`monai_rmisr.inference.settings` (directly, or through ``Upscaler`` / ``super_resolve``).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
from collections.abc import Sequence

from .._version import __version__
from . import corpus, info, listen, pacs, upscale, view, weights
from .common import OutputClosedError, report_error

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``rmisr`` parser with its subcommands."""
    parser = argparse.ArgumentParser(prog="rmisr", description="RMISR medical image super-resolution (MONAI plugin).")
    parser.add_argument("--version", action="version", version=f"monai-rmisr {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in (info, upscale, pacs, listen, view, corpus, weights):
        command.add_command(commands)
    for command_parser in commands.choices.values():  # for main: a command's own usage on a word it does not know
        command_parser.set_defaults(command_parser=command_parser)
    return parser


#: Options whose value may start with a minus sign: a region (``--roi -5,0,10,10``, refused by its own check) and a
#: display window (``--window -600,1500``, the lung window's centre).
NEGATIVE_VALUE_OPTIONS = ("--roi", "--window")
_NUMBER_LIST = re.compile(r"^-\d[\d.,\s-]*$")


def _joined_negative_values(argv: Sequence[str]) -> list[str]:
    """``--roi -5,0,10,10`` as ``--roi=-5,0,10,10``: argparse takes a value that starts with ``-`` (and is not one
    negative number) for an option and answers "expected one argument"."""
    joined: list[str] = []
    index = 0
    while index < len(argv):
        word = argv[index]
        if word in NEGATIVE_VALUE_OPTIONS and index + 1 < len(argv) and _NUMBER_LIST.match(argv[index + 1]):
            joined.append(f"{word}={argv[index + 1]}")
            index += 2
            continue
        joined.append(word)
        index += 1
    return joined


def main(argv: list[str] | None = None) -> int:
    """Run ``rmisr`` with ``argv`` (default: the process's arguments); returns the exit code."""
    words = _joined_negative_values(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, unknown = parser.parse_known_args(words)
    if unknown:  # argparse names them under the top-level usage, which lists none of the command's options
        before_command = words[: words.index(args.command)]
        (parser if any(word in before_command for word in unknown) else args.command_parser).error(
            f"unrecognized arguments: {' '.join(unknown)}"
        )
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return args.run(args)
    except KeyboardInterrupt:  # Ctrl-C: one line and exit 130 (128 + SIGINT), not a traceback
        return report_error(args.command, "interrupted (Ctrl-C).", 130)
    except Terminated:  # kill, systemd, a `timeout` wrapper: the same, 143 (128 + SIGTERM)
        return report_error(args.command, "terminated (SIGTERM).", 143)
    except OutputClosedError:  # the reader went away (`rmisr info | head -3`): quietly, 128 + SIGPIPE, as Unix tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return 141
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


class Terminated(BaseException):
    """SIGTERM arrived: raised in the main thread so that what a command holds is cleaned up on the way out (the
    temporary folder of patient images a one-shot ``rmisr pacs`` retrieved), as Ctrl-C's ``KeyboardInterrupt``
    is. A ``BaseException``, so that no command takes it for a failure of one input. The long-running services
    (``--watch``, ``rmisr listen``) put their own handler in place for their run: they finish the series in hand."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated
