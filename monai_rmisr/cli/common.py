"""What several commands share: the ``--tile`` and path arguments, the result lines on stdout, the one-line error
report, the services' logging and the warnings folded into a command's report."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import warnings
from collections.abc import Callable, Iterator

__all__ = [
    "TILE_HELP",
    "OutputClosedError",
    "collected_warnings",
    "path_argument",
    "print_result",
    "report_error",
    "service_logging",
    "tile_argument",
]

TILE_HELP = (
    "LR tile size in pixels; 'auto' (default): images too large for the working-memory budget (1152 MiB on the "
    "CPU, a quarter of the available memory on a GPU) are tiled (within about 2e-4 of the whole image on a "
    "radiograph: docs/inference.md), smaller ones run whole; N >= 64: tiles of N; 0: always the whole image"
)


def tile_argument(text: str) -> int | str:
    """``--tile``: ``"auto"``, ``0`` (the whole image) or a size, as the Upscaler's ``check_tile`` takes them."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto', 0 (whole image) or a size, got {text!r}") from None


def path_argument(text: str) -> str:
    """A file or folder argument: not empty (``Path("")`` is the current folder, which no one means by ``-o ''``)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; give a file or folder name")
    return text


class OutputClosedError(Exception):
    """The reader of stdout has gone (``rmisr info | head -3``): the command stops quietly. Not an ``OSError``, so
    that no command reports it as a failure of its own work."""


def print_result(text: str) -> None:
    """Print a line of the command's result on stdout, flushed (a script reading it gets each line as it comes).

    Raises:
        OutputClosedError: stdout's reader has gone; ``rmisr``'s ``main`` ends with 141, as Unix tools do.
    """
    try:
        print(text, flush=True)
    except BrokenPipeError:
        raise OutputClosedError from None


def report_error(command: str, message: object, code: int = 2) -> int:
    """Print ``rmisr COMMAND: error: MESSAGE`` to stderr on one line (whatever lines the message held);
    return ``code``, the command's exit status (2: bad arguments or input)."""
    print(f"rmisr {command}: error: {' '.join(str(message).split())}", file=sys.stderr)
    return code


def service_logging(quiet: bool, chatty_library: str) -> None:
    """Logging of a long-running command (``rmisr pacs``, ``rmisr listen``): INFO lines with their time on stderr
    (WARNING and above with ``quiet``); ``chatty_library``'s own INFO lines (queries, associations) left out."""
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger(chatty_library).setLevel(logging.WARNING)


@contextlib.contextmanager
def collected_warnings() -> Iterator[Callable[[], list[str]]]:
    """Python warnings (but deprecations) and WARNING records of pydicom's and monai_rmisr's loggers, kept instead
    of printed.

    Yields a function that returns them so far, one line each and without repeats (pydicom logs and
    warns the same text), so that a command can fold them into its one error line or print them
    after its result.
    """
    logged: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logged.append(record.getMessage())

    handler = Keep(logging.WARNING)
    loggers = [logging.getLogger(name) for name in ("pydicom", "monai_rmisr")]
    propagate = [logger.propagate for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.propagate = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # deprecations are addressed to developers (e.g. torch's of torch.jit.script, warned as MONAI and our
            # TorchScript export load), not something a user can act on: they stay out of a command's error line
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            yield lambda: list(dict.fromkeys(" ".join(str(t).split()) for t in [*logged, *(w.message for w in caught)]))
    finally:
        for logger, flag in zip(loggers, propagate):
            logger.removeHandler(handler)
            logger.propagate = flag
