"""What several commands share: the options of how an image is derived (``--scale``, ``--model``, ``--tile``, ...),
path arguments, the result lines on stdout, the one-line error report, the services' logging and the warnings folded
into a command's report."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

__all__ = [
    "TILE_HELP",
    "OutputClosedError",
    "add_derivation_arguments",
    "collected_warnings",
    "derivation_upscaler",
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


def add_series_argument(parser: argparse.ArgumentParser) -> None:
    """``--series``: one series of a folder holding several (a flat CD or study export), by its SeriesNumber or
    SeriesInstanceUID (:func:`~monai_rmisr.inference.batch.select_series`); ``rmisr upscale`` and ``view``."""
    parser.add_argument(
        "--series",
        default=None,
        metavar="NUMBER_OR_UID",
        help="INPUT is a folder holding several DICOM series (a flat CD or study export): take only this one, by its "
        "SeriesNumber or SeriesInstanceUID (an unknown one is refused, listing those the folder holds)",
    )


def add_derivation_arguments(parser: argparse.ArgumentParser, roi: bool = False) -> None:
    """Add how each image is derived to ``parser``, the same options in every command that derives images
    (``rmisr upscale``, ``pacs``, ``listen``): ``--scale`` (required), ``--model``, ``--tile``, ``--tile-statistics``,
    ``--axis``, ``--self-ensemble``, ``--precision``, ``--device``, ``--skip-bad-slices``, and with ``roi`` ``--roi``
    (a region in one image's pixels: not for the services, whose series differ). :func:`derivation_upscaler` builds
    the :class:`~monai_rmisr.inference.upscale.Upscaler` they ask for, which checks each value."""
    group = parser.add_argument_group("how each image is derived (the same in rmisr upscale, pacs and listen)")
    group.add_argument(
        "--scale", required=True, help="up-sampling factor > 1 (dedicated models: 2, 3, 4; meta: up to 8)"
    )
    group.add_argument(
        "--model",
        default="auto",
        help="'auto' (default), 'bicubic' (the baseline), a registry name (rmisr info) or a checkpoint path",
    )
    if roi:
        group.add_argument(
            "--roi", default=None, metavar="x0,y0,x1,y1", help="super-resolve only this region (pixels, x = column)"
        )
    group.add_argument("--tile", type=tile_argument, default="auto", metavar="N", help=TILE_HELP)
    group.add_argument(
        "--tile-statistics",
        default="image",
        metavar="{image,tile}",
        help="where a tiled image's channel attention takes its statistics: image (default; gathered over the whole "
        "image first, about 2.6x the time of the tiles alone, the result within a few 1e-3 of the whole image's) or "
        "tile (each tile its own: faster, pixels move by up to about 0.1)",
    )
    group.add_argument(
        "--axis", choices=("xy", "z"), default="xy", help="xy: in-plane (default); z: add slices (volumes)"
    )
    group.add_argument(
        "--self-ensemble",
        action="store_true",
        help="average the network's outputs over 8 flips/rotations: slightly more faithful, 8x slower",
    )
    group.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    group.add_argument(
        "--precision",
        default="float32",
        help="the network's compute dtype: float32 (default), bfloat16 (where the CPU has AVX512-BF16 / AMX or the "
        "GPU bfloat16: about 3x faster on a CPU with AMX, no faster with AVX512-BF16 alone, docs/inference.md; "
        "refused where it would be emulated) or auto (bfloat16 where native)",
    )
    group.add_argument(
        "--skip-bad-slices",
        action="store_true",
        help="a DICOM series with broken slices: write one series from the readable ones, naming those left out "
        "(default: the series is refused)",
    )


def derivation_upscaler(args: argparse.Namespace, device: str | None = None, progress: bool = False) -> Any:
    """The :class:`~monai_rmisr.inference.upscale.Upscaler` of :func:`add_derivation_arguments`'s options in
    ``args`` (``device`` in place of ``args.device`` where given: a torchrun process's own GPU).

    Raises:
        ValueError, FileNotFoundError: a bad value or model, naming the option.
    """
    from ..inference.settings import check_scale_text
    from ..inference.upscale import Upscaler

    return Upscaler(
        check_scale_text(args.scale),
        model=args.model,
        tile=args.tile,
        tile_statistics=args.tile_statistics,
        axis=args.axis,
        device=args.device if device is None else device,
        roi=getattr(args, "roi", None),
        self_ensemble=args.self_ensemble,
        precision=args.precision,
        skip_bad_slices=args.skip_bad_slices,
        progress=progress,
    )


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
