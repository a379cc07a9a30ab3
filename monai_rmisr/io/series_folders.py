"""When a folder's DICOM files are one series: the one rule for ``rmisr upscale``'s inputs and a data set's items.

A folder whose readable DICOM files are all single-frame slices of one SeriesInstanceUID, two files or more, is one
volume (:func:`~monai_rmisr.io.read_dicom_series` reads it). DICOM files whose header cannot be read count with
the series: they are its broken slices, which the reader refuses by name or leaves out (``skip_bad_slices``), not
images of their own. Files of other formats beside the slices (a screenshot, a NIfTI export) do not split it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .dicom import read_dicom_dataset

__all__ = ["dicom_series_uid", "is_one_series"]


def dicom_series_uid(path: Path) -> tuple[str, int] | None:
    """(SeriesInstanceUID, number of frames) of a DICOM file, from its header; None when the header cannot be read
    or has no SeriesInstanceUID (cut off before it)."""
    try:
        ds = read_dicom_dataset(path, stop_before_pixels=True, quiet=True)  # as the reader reads it: a raw data set too
        uid = str(ds.get("SeriesInstanceUID", ""))
        return (uid, int(ds.get("NumberOfFrames", 1) or 1)) if uid else None
    except Exception:  # a broken header: the reader names the problem
        return None


def is_one_series(headers: Sequence[tuple[str, int] | None]) -> bool:
    """Whether a folder's DICOM files, given by their :func:`dicom_series_uid` (None: unreadable), are one series.

    True when the readable ones are single-frame files of one SeriesInstanceUID and the folder holds two DICOM files
    or more, the unreadable ones counted.
    """
    readable = [header for header in headers if header is not None]
    uids = {uid for uid, _ in readable}
    return len(headers) > 1 and len(uids) == 1 and all(frames == 1 for _, frames in readable)
