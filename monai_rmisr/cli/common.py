"""What several commands share: the ``--tile`` argument and the warnings folded into a command's report."""

from __future__ import annotations

import argparse
import contextlib
import logging
import warnings
from collections.abc import Callable, Iterator

__all__ = ["TILE_HELP", "collected_warnings", "tile_argument"]

TILE_HELP = (
    "LR tile size in pixels; 'auto' (default): images too large for the working-memory budget (1152 MiB on the "
    "CPU, a quarter of the available memory on a GPU) are tiled (results within a few 1e-3 of the whole image), "
    "smaller ones run whole; 0: always the whole image"
)


def tile_argument(text: str) -> int | str | None:
    """``--tile``: ``"auto"``, ``0`` (None: the whole image) or a size (checked by the Upscaler)."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto', 0 (whole image) or a size, got {text!r}") from None
    return None if value == 0 else value


@contextlib.contextmanager
def collected_warnings() -> Iterator[Callable[[], list[str]]]:
    """Python warnings and WARNING records of pydicom's and monai_rmisr's loggers, kept instead of printed.

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
            yield lambda: list(dict.fromkeys(" ".join(str(t).split()) for t in [*logged, *(w.message for w in caught)]))
    finally:
        for logger, flag in zip(loggers, propagate):
            logger.removeHandler(handler)
            logger.propagate = flag
