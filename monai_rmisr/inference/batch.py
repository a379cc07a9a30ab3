"""Folders and data sets of inputs through one :class:`~monai_rmisr.inference.upscale.Upscaler`.

:func:`find_inputs` lists a folder's images (a DICOM series as one input), :func:`upscale_batch` writes
them one at a time (bounded memory; existing outputs skipped, failures recorded and the batch going on),
each ``torchrun`` process taking its :func:`shard` (:func:`distributed_rank`); :class:`DatasetUpscaler`
is the same as the ``evaluator`` of the bundle's ``inference.json``.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import BundleRunError
from ..io import ImageReadError, detect_format
from ..io.folders import walk_folders
from ..io.formats import format_from_name
from ..io.output import OutputPathError, check_folder_takes_files
from ..io.provenance import made_by_monai_rmisr
from ..io.series_folders import (
    SeriesInFolder,
    SliceHeader,
    dicom_slice_header,
    is_one_series,
    is_stack,
    stacks_of_folder,
)
from ..io.writers import check_output, output_name
from .upscale import RUN_ERRORS, Upscaler

__all__ = [
    "BatchFailedError",
    "BatchReport",
    "DatasetUpscaler",
    "InputItem",
    "PlannedOutput",
    "as_input",
    "check_batch_output",
    "distributed_rank",
    "find_inputs",
    "plan_batch",
    "raise_for_failures",
    "select_series",
    "shard",
    "upscale_batch",
]

logger = logging.getLogger(__name__)

#: one input of a batch: a file, a folder of one DICOM series, or one series of a folder holding several
InputItem = Path | SeriesInFolder


def find_inputs(folder: str | os.PathLike[str]) -> list[InputItem]:
    """Every image under ``folder``, in a fixed order: files, and DICOM series as folders.

    A folder whose readable DICOM files are all single-frame slices of one series is one input (a
    volume), broken DICOM files beside them included: a series is one unit, so
    :func:`~monai_rmisr.io.read_dicom_series` refuses it naming the broken slice (or leaves the
    slice out with ``skip_bad_slices``) instead of the folder splitting into one input per file.
    A folder holding several series (a flat CD or study export) gives one input per series of two
    single-frame slices or more, a :class:`~monai_rmisr.io.series_folders.SeriesInFolder` (its output
    named after the series: ``series3_AX_T1``); a DICOM file whose series cannot be told (a broken header)
    is then a broken slice of each, as it may be one.
    Other DICOM files, NIfTI and PNG/JPEG/TIFF/BMP files are one input each. Files that are no
    image at all (notes, DICOMDIR, DICOM objects of a class that holds no image: a structured report, a
    presentation state) are left out, and so are monai-rmisr's own outputs beside other images in a folder (a
    warning names them: super-resolved already, written beside the images, they were super-resolved again; a
    folder of its outputs alone, a derived series, is an input as any other); broken images are kept, so the batch
    reports them.
    Linked folders are followed (data linked in from other storage), each real folder once (a link
    loop ends). A file is its own one input.

    Raises:
        FileNotFoundError: ``folder`` does not exist.
        ValueError: it holds no image (a mistyped or empty folder must not look like a finished batch).
    """
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"input '{folder}' does not exist.")
    if not folder.is_dir():
        return [folder]
    found: list[InputItem] = []
    places: dict[str, list[Path]] = {}  # the folders holding each series' slices (a series split between folders)
    ours: list[Path] = []
    for directory_path, files in walk_folders(folder):
        scan = _scan_folder(directory_path, files, leave_out_ours=True)
        ours.extend(scan.ours)
        found.extend(scan.others)
        if is_one_series(scan.headers()) and not scan.ours:  # the reader of a folder would read those too
            found.append(directory_path)  # its broken slices fail (or are skipped) with the series
            places.setdefault(scan.dicoms[0][1].series_uid if scan.dicoms else "", []).append(directory_path)
        else:
            items = _series_of_a_folder(directory_path, scan)
            found.extend(items)
            for item in items:
                if isinstance(item, SeriesInFolder):
                    places.setdefault(item.series_uid, []).append(directory_path)
        found.extend(scan.broken)
    if ours:
        named = ", ".join(f"'{os.path.relpath(path, folder)}'" for path in ours[:3])
        named += ", ..." if len(ours) > 3 else ""
        logger.warning(
            "leaving out %d output(s) of monai-rmisr beside other images under '%s' (super-resolved already; give "
            "a file itself, or a folder of them alone, to super-resolve it again): %s",
            len(ours),
            folder,
            named,
        )
    if not found:
        raise ValueError(f"found no images under '{folder}' (DICOM, NIfTI, PNG, JPEG, TIFF, BMP).")
    for uid, folders in places.items():
        if uid and len(folders) > 1:
            logger.warning(
                "the slices of series %s lie in %d folders (%s): each folder's are derived as a series of their own; "
                "put the series' files in one folder to derive it whole.",
                uid,
                len(folders),
                ", ".join(f"'{f}'" for f in folders),
            )
    return sorted(found, key=str)


@dataclass
class _FolderScan:
    """What one folder's files are, from their headers (:func:`_scan_folder`)."""

    folder: Path
    dicoms: list[tuple[Path, SliceHeader]] = field(default_factory=list)  # DICOM images with their headers
    broken_dicoms: list[Path] = field(default_factory=list)  # DICOM (by content or name) with no readable series
    others: list[Path] = field(default_factory=list)  # images of other formats
    broken: list[Path] = field(default_factory=list)  # named as another image format we read, yet unreadable
    ours: list[Path] = field(default_factory=list)  # monai-rmisr's own outputs, where they are left out

    def headers(self) -> list[SliceHeader | None]:
        """The DICOM images' headers, None for each broken one (for
        :func:`~monai_rmisr.io.series_folders.is_one_series`)."""
        return [info for _, info in self.dicoms] + [None] * len(self.broken_dicoms)

    def by_series(self) -> dict[str, list[tuple[Path, SliceHeader]]]:
        """The DICOM images with their headers, by SeriesInstanceUID, in the folder's order."""
        grouped: dict[str, list[tuple[Path, SliceHeader]]] = {}
        for path, info in self.dicoms:
            grouped.setdefault(info.series_uid, []).append((path, info))
        return grouped


def _scan_folder(folder: Path, files: Iterable[str], leave_out_ours: bool = False) -> _FolderScan:
    """Sort the files ``files`` of ``folder`` by what they are. DICOMDIR, and DICOM objects of a class that holds no
    image (a report or presentation state beside the slices), are no input at all; with ``leave_out_ours``, nor are
    monai-rmisr's own outputs (:func:`~monai_rmisr.io.provenance.made_by_monai_rmisr`) that lie beside other
    images (listed in ``ours``): a folder of its outputs alone (a derived series, an earlier batch's output) is
    sorted as any other."""
    if leave_out_ours:
        names = list(files)
        ours = {name for name in names if made_by_monai_rmisr(folder / name)}
        scan = _scan_folder(folder, [name for name in names if name not in ours])
        if scan.dicoms or scan.others or scan.broken or scan.broken_dicoms:
            scan.ours = [folder / name for name in names if name in ours]
            return scan
        return _scan_folder(folder, names)
    scan = _FolderScan(folder)
    for name in files:
        if name.upper() == "DICOMDIR":
            continue
        path = folder / name
        try:
            kind = detect_format(path)
        except (ImageReadError, FileNotFoundError):
            named = format_from_name(path)
            if named == "dicom":
                scan.broken_dicoms.append(path)
            elif named not in (None, "nifti-pair"):
                scan.broken.append(path)  # reported, not dropped
            continue
        if kind != "dicom":
            scan.others.append(path)
            continue
        info = dicom_slice_header(path)
        if info is None:  # no readable header, cut before its SeriesInstanceUID, or without one
            scan.broken_dicoms.append(path)
        elif info.image:
            scan.dicoms.append((path, info))
    return scan


def _series_of_a_folder(folder: Path, scan: _FolderScan) -> list[InputItem]:
    """The DICOM inputs of a folder whose DICOM files are not one series: its stacks and other files
    (:func:`~monai_rmisr.io.series_folders.stacks_of_folder`); the files without a readable series are slices of
    those stacks (the reader refuses or skips them there) or, where there is none, inputs of their own."""
    stacks, files = stacks_of_folder(folder, dict(scan.dicoms))
    items: list[InputItem] = [*stacks, *files]
    if not stacks:
        items.extend(scan.broken_dicoms)
    return items


def select_series(folder: str | os.PathLike[str], series: str | None) -> InputItem:
    """The input of one series of the DICOM files in ``folder`` (its own files, not its sub-folders'), chosen by its
    SeriesInstanceUID or its SeriesNumber (``--series``; ``3`` and ``03`` are one number): the folder itself when it
    holds that series alone, a :class:`SeriesInFolder` for a stack among other series' files, the file of a series
    of one image. ``series`` None: the folder's one series (``rmisr view FOLDER``).

    Raises:
        FileNotFoundError: ``folder`` does not exist.
        ValueError: ``folder`` is a file, holds no such series (the message lists those it holds by number, and the
            sub-folders that hold DICOM files), several series and ``series`` None, two series of that number, or
            the series is several images of no common orientation (a localizer: give one file).
    """
    folder = Path(folder)
    asked = "" if series is None else f"--series {series}: "
    if not folder.exists():
        raise FileNotFoundError(f"input '{folder}' does not exist.")
    if not folder.is_dir():
        raise ValueError(f"{asked}'{folder}' is a file; --series chooses among a folder's DICOM series.")
    _, files = next(walk_folders(folder, recursive=False))  # the folder's own files, as a batch lists them
    scan = _scan_folder(folder, files)
    by_series = scan.by_series()
    if series is None and len(by_series) == 1:
        chosen = list(by_series)
    else:
        chosen = [uid for uid in by_series if uid == series] or [
            uid for uid, members in by_series.items() if _same_number(members[0][1].series_number, series)
        ]
    if len(chosen) != 1:
        raise ValueError(f"{asked}'{folder}' {_which_series(folder, by_series, series, chosen)}")
    members = by_series[chosen[0]]
    headers = [info for _, info in members]
    if len(by_series) == 1 and is_one_series(scan.headers()):
        return folder
    if is_stack(headers):  # named as the folder's batch names it
        return next(i for i in _series_of_a_folder(folder, scan) if getattr(i, "series_uid", None) == chosen[0])
    if len(members) == 1:
        return members[0][0]
    files = ", ".join(path.name for path, _ in members)
    raise ValueError(
        f"{asked}its {len(members)} images in '{folder}' are no stack (no common orientation, or multi-frame files: "
        f"a localizer series?); give one of its files as the input: {files}."
    )


def _same_number(number: str, asked: str | None) -> bool:
    """Whether a SeriesNumber is the one ``asked`` (``3`` is ``03``; as text where either is no integer)."""
    try:
        return asked is not None and int(number) == int(asked)
    except ValueError:
        return number == asked


def _which_series(
    folder: Path, by_series: dict[str, list[tuple[Path, SliceHeader]]], asked: str | None, chosen: list[str]
) -> str:
    """What :func:`select_series` says of a folder where ``asked`` chose no one series: what it holds instead."""

    def number(uid: str) -> tuple[int, str]:
        text = by_series[uid][0][1].series_number
        return (int(text), text) if re.fullmatch(r"-?\d+", text) else (2**31, text)

    listed = "; ".join(
        f"{by_series[uid][0][1].series_number or '?'} {by_series[uid][0][1].description!r} ({uid}, "
        f"{len(by_series[uid])} file(s))"
        for uid in sorted(by_series, key=number)
    )
    if asked is None:
        return f"holds {len(by_series)} DICOM series: give one with --series NUMBER (or its UID): {listed}."
    if chosen:
        return f"holds two or more series of that number: give its SeriesInstanceUID: {listed}."
    if by_series:
        return f"holds no such series; its series: {listed}."
    below = [
        path
        for path, files in walk_folders(folder)
        if path != folder and any(format_from_name(path / name) == "dicom" or "." not in name for name in files)
    ]
    where = f"; sub-folders with files that may be DICOM: {', '.join(str(p) for p in below[:5])}" if below else ""
    return f"holds no DICOM series of its own (--series looks at the folder's own files, not its sub-folders'){where}."


def as_input(item: InputItem | str | os.PathLike[str]) -> InputItem:
    """An input as :func:`upscale_batch` takes it: a :class:`SeriesInFolder` as it is, any other path as a ``Path``."""
    return item if isinstance(item, SeriesInFolder) else Path(item)


def shard(items: Sequence[Any], rank: int, world_size: int) -> list[Any]:
    """The items of process ``rank`` of ``world_size``: every ``world_size``-th, so no item is done twice."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is outside a world of {world_size} processes.")
    return list(items[rank::world_size])


@dataclass
class BatchReport:
    """What a batch did: written outputs, skipped existing outputs and failures (path, reason)."""

    written: list[Path] = field(default_factory=list)
    skipped: list[InputItem] = field(default_factory=list)
    failed: list[tuple[InputItem, str]] = field(default_factory=list)
    seconds: float = 0.0

    def add_failure(self, item: InputItem, reason: str) -> None:
        """Record (and log) that ``item`` failed for ``reason``."""
        logger.warning("failed: %s: %s", item, reason)
        self.failed.append((item, reason))

    def summary(self) -> str:
        lines = [
            f"{len(self.written)} written, {len(self.skipped)} skipped (output exists; --overwrite redoes them), "
            f"{len(self.failed)} failed, in {self.seconds:.1f} s."
        ]
        lines += [f"  FAILED {path}: {reason}" for path, reason in self.failed]
        return "\n".join(lines)


def _output_for(item: InputItem, root: Path | None, output_dir: Path) -> Path:
    """Where the output of ``item`` goes: its path under ``root`` repeated under ``output_dir`` (its name otherwise);
    a series of a folder holding several goes into that folder's place, under the series' name."""
    if isinstance(item, SeriesInFolder):
        return _output_for(item.folder, root, output_dir) / item.name if item.folder != root else output_dir / item.name
    inside = root is not None and item != root and root in item.parents
    relative = item.relative_to(root) if inside else Path(item.name)
    return output_dir / relative.parent / output_name(item)


def _case_insensitive(folder: Path) -> bool:
    """Whether the file system of ``folder`` (or its nearest existing parent) takes ``A`` and ``a`` as one name
    (macOS, Windows): a probe file is created there and looked up with its name's case swapped."""
    existing = next((p for p in (folder, *folder.absolute().parents) if p.is_dir()), None)
    if existing is None:
        return False
    try:
        with tempfile.NamedTemporaryFile(prefix=".rmisr-Case-", dir=existing) as probe:
            name = Path(probe.name).name
            return (existing / name.swapcase()).exists()
    except OSError:  # a folder that takes no files: checked (and refused) per output later
        return False


def _output_key(fold: bool) -> Callable[[Path], str]:
    """How output paths are compared: as written, or case-folded where the output's file system ignores case
    (:func:`_case_insensitive`)."""
    return (lambda path: str(path).casefold()) if fold else str


def _shared_outputs(targets: Sequence[tuple[InputItem, Path]], fold: bool) -> dict[InputItem, list[InputItem]]:
    """The inputs whose output path (``targets``: each input with its output) another input has too, each with
    those others (``noext`` and ``noext.png``, both PNG; a JPEG named ``scan.png`` beside ``scan.jpg``): neither is
    written, or one would replace the other's result under its name. With ``fold`` (the output's file system ignores
    case), so are the names compared."""
    key = _output_key(fold)
    by_output: dict[str, list[InputItem]] = {}
    for item, target in targets:
        by_output.setdefault(key(target), []).append(item)
    return {item: [o for o in group if o != item] for group in by_output.values() if len(group) > 1 for item in group}


def _series_output_holding(
    targets: Sequence[tuple[InputItem, Path]], fold: bool
) -> Callable[[Path], tuple[Path, InputItem] | None]:
    """A function that names the derived-series folder (and its input) an output path lies inside, None for none.

    A series folder's sub-folder (``ct/`` holding its slices and ``ct/report/x.png``) gives an output inside the
    derived series' folder: it would mix into the series, and where the series failed, its folder made by the other
    output would look like the series' finished output at the next run (skipped as done).
    """
    key = _output_key(fold)
    series_outputs = {key(target): (target, item) for item, target in targets if _is_series(item)}

    def holder(target: Path) -> tuple[Path, InputItem] | None:
        return next((series_outputs[key(p)] for p in target.parents if key(p) in series_outputs), None)

    return holder


def _input_clash_check(inputs: Sequence[InputItem]) -> Callable[[Path], InputItem | None]:
    """A function that names the input an output path would overwrite (None when it overwrites none).

    An output clashes with an input it equals, lies inside (a series folder) or contains: with the
    output folder above the input folder, a nested input's output can land on another input's path.
    Built once per batch (sets of resolved paths), so each check costs one ``resolve``.
    """
    resolved = {_where(path).resolve(): path for path in inputs}
    above_inputs: dict[Path, InputItem] = {}  # each folder above an input: one input below it
    for path, source in resolved.items():
        for parent in path.parents:
            above_inputs.setdefault(parent, source)

    def clash(target: Path) -> InputItem | None:
        target = target.resolve()
        for candidate in (target, *target.parents):
            if candidate in resolved:
                return resolved[candidate]
        return above_inputs.get(target)

    return clash


def check_batch_output(root: str | os.PathLike[str] | None, output_dir: str | os.PathLike[str]) -> Path:
    """``output_dir`` if a batch over the folder ``root`` (None: listed inputs) may write its outputs there.

    Raises:
        OutputPathError: ``output_dir`` is ``root``, lies inside it, is a file, or cannot take files (a read-only
            folder, or one that cannot be made there).
    """
    output_dir = Path(output_dir)
    if root is not None:
        root = Path(root)
        if output_dir.resolve() == root.resolve() or root.resolve() in output_dir.resolve().parents:
            raise OutputPathError(
                f"output folder '{output_dir}' lies inside the input folder '{root}'; choose another."
            )
    if output_dir.exists() and not output_dir.is_dir():
        raise OutputPathError(f"output '{output_dir}' is a file; a batch writes a folder of outputs: name a folder.")
    check_folder_takes_files(output_dir)  # one error before any work, not one failure per input
    return output_dir


@dataclass(frozen=True)
class PlannedOutput:
    """What a batch does with one input: ``action`` is ``"write"`` (to ``target``), ``"skip"`` (``target`` exists)
    or ``"fail"`` (``reason`` says why: before any work)."""

    item: InputItem
    target: Path
    action: str
    reason: str = ""


def plan_batch(
    root: str | os.PathLike[str] | None,
    output_dir: str | os.PathLike[str],
    items: Iterable[InputItem | str | os.PathLike[str]] | None = None,
    overwrite: bool = False,
    rank: int = 0,
    world_size: int = 1,
) -> list[PlannedOutput]:
    """What :func:`upscale_batch` would do with each input of this process's share, read from names and headers only
    (no pixel is decoded, nothing is written): ``rmisr upscale --dry-run``.

    Raises:
        OutputPathError: as :func:`upscale_batch`, for ``output_dir``.
    """
    output_dir = Path(output_dir)
    if root is None and items is None:
        raise ValueError("upscale_batch needs a root folder or a list of items.")
    root = None if root is None else Path(root)
    check_batch_output(root, output_dir)
    every_input = sorted((as_input(i) for i in items) if items is not None else find_inputs(root), key=str)
    overwrites_an_input = _input_clash_check(every_input)
    targets = [(item, _output_for(item, root, output_dir)) for item in every_input]  # each named once
    fold = _case_insensitive(output_dir)
    shared = _shared_outputs(targets, fold)
    inside_a_series = _series_output_holding(targets, fold)
    plan = []
    for item, target in shard(targets, rank, world_size):
        clash = overwrites_an_input(target)
        holder = inside_a_series(target)
        if item in shared:
            others = ", ".join(f"'{other}'" for other in shared[item])
            reason = f"output '{target}' is also the output of {others} (one name for two inputs); rename one of them."
            plan.append(PlannedOutput(item, target, "fail", reason))
        elif holder is not None:
            reason = (
                f"output '{target}' would lie inside '{holder[0]}', the derived series of '{holder[1]}' (a folder "
                f"inside a series folder); derive it apart (rmisr upscale '{_where(item)}' -o ANOTHER_FOLDER), or "
                "move it out of the series folder."
            )
            plan.append(PlannedOutput(item, target, "fail", reason))
        elif clash is not None:
            reason = f"output '{target}' would overwrite the input '{clash}'; choose another output folder."
            plan.append(PlannedOutput(item, target, "fail", reason))
        elif _is_series(item) and target.is_dir() and not overwrite and not any(e.is_file() for e in target.iterdir()):
            reason = (
                f"output '{target}' is a folder without a derived series in it (an earlier run's outputs of a folder "
                "inside the series folder?); remove it, or give --overwrite."
            )
            plan.append(PlannedOutput(item, target, "fail", reason))
        elif target.exists() and not overwrite:
            plan.append(PlannedOutput(item, target, "skip", "output exists"))
        else:
            try:  # what the run refuses of the output and the input before reading it (upscaler.file checks again)
                check_output(target, item, overwrite)
            except (OutputPathError, ImageReadError, FileNotFoundError) as err:
                plan.append(PlannedOutput(item, target, "fail", " ".join(str(err).split())))
                continue
            plan.append(PlannedOutput(item, target, "write"))
    return plan


def _is_series(item: InputItem) -> bool:
    """Whether ``item``'s output is a derived series' folder: a series of a folder holding several, or a folder."""
    return isinstance(item, SeriesInFolder) or item.is_dir()


def _where(item: InputItem) -> Path:
    """Where ``item``'s files are: its path, or the folder holding a series of several."""
    return item.folder if isinstance(item, SeriesInFolder) else item


def upscale_batch(
    upscaler: Upscaler,
    root: str | os.PathLike[str] | None,
    output_dir: str | os.PathLike[str],
    items: Iterable[InputItem | str | os.PathLike[str]] | None = None,
    overwrite: bool = False,
    rank: int = 0,
    world_size: int = 1,
    progress: bool = True,
    prefetch: bool = True,
) -> BatchReport:
    """Super-resolve every input under ``root`` into ``output_dir``, one at a time (bounded memory).

    The folder structure under ``root`` is repeated under ``output_dir``; ``items`` outside
    ``root`` (or all of them when ``root`` is None) are written under their own names. Existing outputs are
    skipped unless ``overwrite`` (an interrupted batch resumes where it stopped). A failing item
    is logged and recorded, and the batch goes on; inputs that would share one output name (``a`` and
    ``a.png``) fail, all of them, before any work (:func:`plan_batch`). With ``world_size > 1`` (``torchrun``)
    each process takes its :func:`shard` of the sorted inputs. With ``prefetch`` (default) a reader thread
    decodes the next input while the network runs on the current one.

    Returns:
        :class:`BatchReport` of this process's share.

    Raises:
        OutputPathError: ``output_dir`` is ``root``, lies inside it, is a file, or cannot take files (a read-only
            folder, or one that cannot be made there).
    """
    plan = plan_batch(root, output_dir, items, overwrite, rank, world_size)
    report = BatchReport()
    started = time.perf_counter()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(plan), unit="image", desc=f"rank {rank}" if world_size > 1 else "upscale", file=sys.stderr)
    todo = []
    for planned in plan:
        if planned.action == "write":
            todo.append((planned.item, planned.target))
            continue
        if planned.action == "fail":
            report.add_failure(planned.item, planned.reason)
        else:
            report.skipped.append(planned.item)
        if bar is not None:
            bar.update(1)
    # one reader thread decodes the next input while the network runs on this one (pydicom, Pillow
    # and the network release the GIL for most of their work); at most one input waits in memory
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rmisr-read") as reader:
        pending = reader.submit(upscaler.read, todo[0][0]) if todo and prefetch else None
        for position, (item, target) in enumerate(todo):
            current = pending
            if prefetch and position + 1 < len(todo):
                pending = reader.submit(upscaler.read, todo[position + 1][0])
            try:
                image = None if current is None else current.result()
                upscaler.file(item, target, overwrite=overwrite, image=image)
                report.written.append(target)
            except (ImageReadError, OutputPathError, FileNotFoundError, ValueError, OSError, *RUN_ERRORS) as err:
                report.add_failure(item, " ".join(str(err).split()))  # one line, whatever the message held
            if bar is not None:
                bar.update(1)
                bar.set_postfix(failed=len(report.failed), refresh=False)
    if bar is not None:
        bar.close()
    report.seconds = time.perf_counter() - started
    return report


@dataclass
class DatasetUpscaler:
    """Super-resolve every input of a dataset into a folder: the ``evaluator`` of the bundle's ``inference.json``.

    Args:
        upscaler: the :class:`Upscaler` that reads, super-resolves and writes each input.
        dataset: the inputs, file and DICOM-series-folder paths and series of a folder holding several (a MONAI
            ``Dataset`` of them in the bundle; :func:`find_inputs` lists a folder's).
        output_dir: where the outputs go, each in its input's format.
        root: the folder the inputs were found in (its sub-folders are repeated under ``output_dir``);
            ``None``: each output is written under its input's own name.
        overwrite: redo outputs that exist (default: skip them, so an interrupted run resumes).
        progress: a tqdm bar of the inputs on stderr.
    """

    upscaler: Upscaler
    dataset: Sequence[str | os.PathLike[str] | SeriesInFolder]
    output_dir: str | os.PathLike[str]
    root: str | os.PathLike[str] | None = None
    overwrite: bool = False
    progress: bool = True

    def run(self) -> BatchReport:
        """Write every output (see :func:`upscale_batch`); a failed input is recorded and the others go on."""
        items = [as_input(self.dataset[index]) for index in range(len(self.dataset))]
        return upscale_batch(
            self.upscaler, self.root, self.output_dir, items=items, overwrite=self.overwrite, progress=self.progress
        )


class BatchFailedError(BundleRunError, RuntimeError):
    """Some inputs of a batch failed: ``report`` lists them (its summary names each). A bundle run
    (``inferring``, which prints the summary first) ends with this one line and exit code 1, not a traceback."""

    def __init__(self, report: BatchReport):
        total = len(report.written) + len(report.skipped) + len(report.failed)
        super().__init__(f"{len(report.failed)} of {total} input(s) failed (listed above).")
        self.report = report


def raise_for_failures(report: BatchReport) -> None:
    """Raise :class:`BatchFailedError` (a ``RuntimeError``) when inputs failed, so a bundle run exits non-zero."""
    if report.failed:
        raise BatchFailedError(report)


def distributed_rank() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from the ``torchrun`` environment (0, 1, 0 without it)."""
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"bad torchrun environment: RANK={rank}, WORLD_SIZE={world}.")
    return rank, world, local
