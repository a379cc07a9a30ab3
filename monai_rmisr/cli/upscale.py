"""``rmisr upscale``: a file, a series or a folder (batch, torchrun shards)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .common import (
    add_derivation_arguments,
    add_series_argument,
    collected_warnings,
    derivation_upscaler,
    path_argument,
    print_result,
    report_error,
)

__all__ = ["add_command"]


def _upscale(args: argparse.Namespace) -> int:
    with collected_warnings() as notes:
        code = _upscale_run(args, notes)
        if code == 0 and not args.quiet:
            for note in notes():
                print(f"rmisr upscale: warning: {note}", file=sys.stderr)
    return code


def _upscale_run(args: argparse.Namespace, notes: Callable[[], list[str]]) -> int:
    import os
    from pathlib import Path

    from ..inference.batch import (
        InputItem,
        PlannedOutput,
        distributed_rank,
        find_inputs,
        plan_batch,
        select_series,
        upscale_batch,
    )
    from ..inference.pretrained import WeightsChangedError
    from ..inference.upscale import RUN_ERRORS
    from ..io.writers import check_output, output_name

    def fail(err: BaseException, code: int = 2) -> int:
        folded = "; ".join(notes())
        warned = f" (warnings: {folded if len(folded) <= 300 else folded[:297] + '...'})" if folded else ""
        return report_error("upscale", f"{err}{warned}", code)

    try:
        source: InputItem = Path(args.input)
        rank, world_size, local_rank = distributed_rank()
        device = args.device
        if device == "cuda" and world_size > 1:
            device = f"cuda:{local_rank}"
        if args.series is not None:
            source = select_series(source, args.series)
            items = [source]
        else:
            items = find_inputs(source)
        batch = isinstance(source, Path) and source.is_dir() and items != [source]
        output = Path(args.output)
        one_file = isinstance(source, Path) and source.is_file()
        if not batch and one_file and output.is_dir():  # like cp: a file into a folder
            output = output / output_name(source)
        elif not batch and one_file and args.output.endswith(("/", os.sep)):  # Path() drops the slash
            raise ValueError(
                f"output '{args.output}' names a folder, which does not exist: create it, or name the output file."
            )
        if not batch:
            check_output(output, source, args.overwrite)
        upscaler = derivation_upscaler(args, device, progress=not (batch or args.quiet))  # a batch: a bar of images
    except WeightsChangedError as err:  # a run saving the file: not the arguments
        return fail(err, code=1)
    except (ValueError, FileNotFoundError, OSError) as err:
        return fail(err)

    if args.dry_run:
        try:
            plan = (
                plan_batch(source, args.output, items, args.overwrite, rank, world_size)
                if batch
                else [PlannedOutput(source, output, "write")]
            )
        except ValueError as err:
            return fail(err)
        return _print_plan(plan, rank if world_size > 1 else None)
    if batch:
        try:
            report = upscale_batch(
                upscaler,
                source,
                args.output,
                items=items,
                overwrite=args.overwrite,
                rank=rank,
                world_size=world_size,
                progress=not args.quiet,
            )
        except ValueError as err:
            return fail(err)
        print_result(("" if world_size == 1 else f"rank {rank}: ") + report.summary())
        return 1 if report.failed else 0
    try:
        written = upscaler.file(source, output, overwrite=args.overwrite)
    except RUN_ERRORS as err:  # out of memory, a writer's optional package, a full disk: not the arguments
        return fail(err, code=1)
    except (ValueError, FileNotFoundError, OSError) as err:
        return fail(err)
    if not args.quiet:
        print_result(f"wrote {written} (x{upscaler.scale:g}, model {upscaler.model_name}, axis {args.axis})")
    return 0


def _print_plan(plan: Sequence[Any], rank: int | None) -> int:
    """Print what a run would do with each input (``--dry-run``), then one line of counts; 1 where an input would
    fail (as the run would end), else 0."""
    prefix = "" if rank is None else f"rank {rank}: "  # under torchrun each process lists its share
    for planned in plan:
        if planned.action == "write":
            print_result(f"{prefix}write {planned.item} -> {planned.target}")
        elif planned.action == "skip":
            print_result(f"{prefix}skip  {planned.item} ({planned.reason}: {planned.target}; --overwrite redoes it)")
        else:
            print_result(f"{prefix}FAIL  {planned.item}: {planned.reason}")
    counts = {action: sum(p.action == action for p in plan) for action in ("write", "skip", "fail")}
    print_result(
        f"{prefix}dry run: {counts['write']} to write, {counts['skip']} to skip (output exists), {counts['fail']} "
        "would fail from what names and headers tell (an image that cannot be decoded fails only when run); "
        "nothing was written."
    )
    return 1 if counts["fail"] else 0


def add_command(commands: Any) -> None:
    """Add the command to ``commands``, the ``rmisr`` parser's subparsers (``add_subparsers()``)."""
    upscale = commands.add_parser(
        "upscale",
        help="super-resolve a DICOM file or series, NIfTI, PNG/JPEG/TIFF, or a folder of them",
        description=(
            "Super-resolve INPUT and write OUTPUT in the input's format (DICOM: a new derived series). "
            "A folder of several images is a batch: OUTPUT is then a folder (a folder holding several DICOM series "
            "gives a derived series per series, named after it), existing outputs are skipped, "
            "failures are listed at the end (exit code 1); under torchrun each process takes its share. "
            "Bad arguments or a bad single input: exit code 2 and no output."
        ),
    )
    upscale.add_argument(
        "input", help="DICOM file, DICOM series folder, NIfTI, PNG/JPEG/TIFF/BMP, or a folder of these"
    )
    upscale.add_argument(
        "-o",
        "--output",
        required=True,
        type=path_argument,
        help="output file, series folder, or folder (batch); for one input file, an existing folder takes the output "
        "under the input's name (as cp does)",
    )
    add_series_argument(upscale)
    add_derivation_arguments(upscale, roi=True)
    upscale.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    upscale.add_argument(
        "--dry-run",
        action="store_true",
        help="list what would be written, skipped or refused, from names and headers only (no pixel decoded, "
        "nothing written; the model is loaded, to check the arguments); exit code 1 if an input would fail for a "
        "reason these tell",
    )
    upscale.add_argument("-q", "--quiet", action="store_true", help="no progress bars (tiles, batch) or messages")
    upscale.set_defaults(run=_upscale)
