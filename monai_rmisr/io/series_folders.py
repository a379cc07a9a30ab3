"""When a folder's DICOM files are one series: the one rule for ``rmisr upscale``'s inputs and a data set's items.

A folder whose readable DICOM images are all single-frame slices of one SeriesInstanceUID, two files or more, is one
volume (:func:`~monai_rmisr.io.read_dicom_series` reads it). DICOM files whose header cannot be read count with
the series: they are its broken slices, which the reader refuses by name or leaves out (``skip_bad_slices``), not
images of their own. Neither files of other formats beside the slices (a screenshot, a NIfTI export) nor DICOM
objects that hold no image (a structured report, a presentation state: :func:`is_image_class`) split it; those
objects are no input at all.

A folder holding several series (a flat CD or study export: every file in one folder) is no series, but each of
its series of two slices or more is an input of its own, a :class:`SeriesInFolder`: the folder and the series'
UID, named for its output after its SeriesNumber and SeriesDescription (:func:`series_names`).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from pydicom.uid import UID

from .dicom import ORIENTATION_TOLERANCE, read_dicom_dataset
from .formats import detect_format

__all__ = [
    "SeriesInFolder",
    "SliceHeader",
    "dicom_slice_header",
    "first_file_of_series",
    "is_image_class",
    "is_one_series",
    "is_stack",
    "series_names",
    "stacks_of_folder",
]

#: the header elements a folder scan reads of each file (a few: a data set of 250,000 slices is scanned in minutes)
_HEADER_TAGS = (
    "SOPClassUID",
    "SeriesInstanceUID",
    "NumberOfFrames",
    "SeriesNumber",
    "SeriesDescription",
    "ImageOrientationPatient",
    "ImagePositionPatient",
)
#: storage classes whose objects hold pixels though their names do not say "Image" (dose grids, parametric and
#: thickness maps, segmentations, volumes): the registry's others without "Image" in the name hold none
_PIXELS_WITHOUT_THE_WORD = re.compile(r"Image|Parametric Map|RT Dose|Segmentation Storage|Volume|Map Storage|DICOS")


class SliceHeader(NamedTuple):
    """What a folder scan reads of a DICOM file: its series, frame count, whether its class holds an image, the
    series' number and description (empty when the file has none), the image's orientation and position (its
    ImageOrientationPatient and ImagePositionPatient; None without one)."""

    series_uid: str
    frames: int
    image: bool
    series_number: str = ""
    description: str = ""
    orientation: tuple[float, ...] | None = None
    position: tuple[float, ...] | None = None


@dataclass(frozen=True)
class SeriesInFolder:
    """One series of a folder that holds several (a flat CD or study export): an input of its own.

    :func:`~monai_rmisr.io.read_image` reads the series ``series_uid`` of ``folder``. ``name`` names its output
    (:func:`series_names`); ``str()`` is the folder with that name, for messages and a fixed order. It is no path
    (``Path()`` of it fails): the folder holds other series too.
    """

    folder: Path
    series_uid: str
    name: str

    def __str__(self) -> str:
        return f"{self.folder} [{self.name}]"


#: what a series name keeps of a SeriesDescription: letters, digits and '-' (the rest runs of '_'; no '.', so that
#: no name reads as a file suffix: "brain.nii.gz"), this many
_DESCRIPTION_CHARACTERS = 40


def series_names(headers: Mapping[str, SliceHeader], taken: Iterable[str] = ()) -> dict[str, str]:
    """A name for each series of one folder (``{SeriesInstanceUID: a header of the series}``), unique among them,
    unlike the names in ``taken`` (the folder's own files and sub-folders, compared case-folded) and safe as a
    folder name on every system: ``series3_AX_T1_POST`` from SeriesNumber 3 and SeriesDescription "AX T1 POST";
    ``series_<UID>`` for a series without a number, or whose name another series of the folder, or an entry of
    ``taken``, has. A name depends on what the folder holds: a series added with the same number and description
    renames both.
    """

    def name(header: SliceHeader) -> str:
        description = re.sub(r"[^A-Za-z0-9-]+", "_", header.description).strip("_")[:_DESCRIPTION_CHARACTERS]
        return f"series{header.series_number}" + (f"_{description}" if description else "")

    wanted = {uid: name(header) for uid, header in headers.items() if re.fullmatch(r"-?\d+", header.series_number)}
    folded = [value.casefold() for value in wanted.values()]
    others = {entry.casefold() for entry in taken}

    def unique(uid: str) -> bool:
        key = wanted[uid].casefold()
        return folded.count(key) == 1 and key not in others

    return {uid: wanted[uid] if uid in wanted and unique(uid) else f"series_{uid}" for uid in headers}


def is_image_class(sop_class_uid: str) -> bool:
    """Whether objects of the SOP class ``sop_class_uid`` may hold an image: every class but the registered ones that
    cannot (structured reports, presentation states, key object selections, RT plans and structure sets, encapsulated
    documents, waveforms ...). An unknown or missing class may."""
    uid = UID(sop_class_uid) if sop_class_uid else None
    if uid is None or uid.type != "SOP Class":  # unknown to pydicom's registry (a private class), or none given
        return True
    return bool(_PIXELS_WITHOUT_THE_WORD.search(uid.name))


def dicom_slice_header(path: Path) -> SliceHeader | None:
    """A DICOM file's :class:`SliceHeader`, from a few elements of its header; None when the header cannot be read
    or has no SeriesInstanceUID (cut off before it)."""
    try:
        # as the reader reads it (a raw data set too), the few elements only
        ds = read_dicom_dataset(path, stop_before_pixels=True, quiet=True, specific_tags=_HEADER_TAGS)
        uid = str(ds.get("SeriesInstanceUID", ""))
        if not uid:
            return None
        number = ds.get("SeriesNumber", "")
        orientation, position = ds.get("ImageOrientationPatient"), ds.get("ImagePositionPatient")
        return SliceHeader(
            uid,
            int(ds.get("NumberOfFrames", 1) or 1),
            is_image_class(str(ds.get("SOPClassUID", ""))),
            "" if number is None else str(number).strip(),
            str(ds.get("SeriesDescription", "") or "").strip(),
            tuple(float(v) for v in orientation) if orientation and len(orientation) == 6 else None,
            tuple(float(v) for v in position) if position and len(position) == 3 else None,
        )
    except Exception:  # a broken header: the reader names the problem
        return None


def is_one_series(headers: Sequence[SliceHeader | None]) -> bool:
    """Whether a folder's DICOM files, given by their :func:`dicom_slice_header` (None: unreadable), are one series.

    True when the readable images are single-frame files of one SeriesInstanceUID, more than half of them in one
    orientation, and the folder holds two DICOM images or more, the unreadable files counted; objects that hold no
    image are left out of the count. Images of no common orientation are no stack (a localizer series: a frontal
    and a lateral scout, three planes): each is an image of its own; an odd slice among a stack's is the series'
    (the reader names it, or leaves it out).
    """
    images = [header for header in headers if header is None or header.image]
    readable = [header for header in images if header is not None]
    uids = {header.series_uid for header in readable}
    if not (len(images) > 1 and len(uids) == 1 and all(header.frames == 1 for header in readable)):
        return False
    counts = Counter(header.orientation for header in readable)  # a stack's slices: one value, or a few close ones
    most = max(sum(n for other, n in counts.items() if _same_orientation(one, other)) for one in counts)
    return 2 * most > len(readable)


def is_stack(headers: Sequence[SliceHeader]) -> bool:
    """Whether the DICOM images of one series among several in a folder (``headers``, all readable) are a stack to
    read as one volume: one series (:func:`is_one_series`) whose images lie at more than half as many positions as
    there are images. Images at one place (the same image in several encodings, a cine's phases, a set of captures
    without positions) are images of their own there, as every file of such a folder was."""
    if not is_one_series(headers):
        return False
    places = {tuple(round(v, 2) for v in h.position) for h in headers if h.position is not None}
    return 2 * len(places) > len(headers)  # a slice without a position among a stack's is the reader's to name


def stacks_of_folder(folder: Path, headers: Mapping[Path, SliceHeader]) -> tuple[list[SeriesInFolder], list[Path]]:
    """The series of a folder whose DICOM images are not one series (a flat CD or study export), as ``rmisr upscale``
    and a training data set both read it: a :class:`SeriesInFolder` for each series that is a stack (:func:`is_stack`),
    named unlike the folder's entries (:func:`series_names`), and the other images' files, each an image of its own.

    Args:
        folder: the folder.
        headers: its readable DICOM images, each file's :func:`dicom_slice_header`, in the folder's order.

    Returns:
        ``(stacks, files)``: the stacks in the order their first slices come, and the files of no stack in theirs.
    """
    by_series: dict[str, list[SliceHeader]] = {}
    for header in headers.values():
        by_series.setdefault(header.series_uid, []).append(header)
    stacks = {uid: members[0] for uid, members in by_series.items() if is_stack(members)}
    names = series_names(stacks, [entry.name for entry in folder.iterdir()]) if stacks else {}
    files = [path for path, header in headers.items() if header.series_uid not in stacks]
    return [SeriesInFolder(folder, uid, names[uid]) for uid in stacks], files


def first_file_of_series(series: SeriesInFolder) -> Path | None:
    """The first DICOM file, in name order, of the series ``series`` in its folder; None when none is there now.

    A folder's series are found from the headers of its files once while the folder is unchanged (its entries: a
    file added, removed or renamed), not once per series asked: each file's header is read once however many series
    are asked for (tests/data/test_user_datasets.py).
    """
    folder = series.folder
    return dict(_first_files(folder, folder.stat().st_mtime_ns)).get(series.series_uid)


@functools.lru_cache(maxsize=16)
def _first_files(folder: Path, _modified: int) -> tuple[tuple[str, Path], ...]:
    """``((SeriesInstanceUID, its first file), ...)`` of the DICOM files of ``folder`` (``_modified``: the folder's
    modification time, which keys the cache)."""
    first: dict[str, Path] = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        try:
            if detect_format(path) != "dicom":
                continue
        except Exception:  # unreadable: no series of it here
            continue
        header = dicom_slice_header(path)
        if header is not None:
            first.setdefault(header.series_uid, path)
    return tuple(first.items())


def _same_orientation(one: tuple[float, ...] | None, other: tuple[float, ...] | None) -> bool:
    """Whether two ImageOrientationPatient values are one orientation, within :data:`ORIENTATION_TOLERANCE`."""
    if one is None or other is None:
        return one is other
    return bool(np.allclose(one, other, atol=ORIENTATION_TOLERANCE))
