"""Whether a file is one of monai-rmisr's own outputs, from what each writer records of what made it.

A DICOM output names the package in ``ContributingEquipmentSequence`` (Manufacturer ``monai-rmisr``), a NIfTI output
in ``descrip``, a PNG in its ``Software`` text, a TIFF in its ``Software`` tag, a JPEG in its comment
(:mod:`monai_rmisr.io.writers`, :mod:`monai_rmisr.io.dicom_writer`). A training data set leaves such files out: a
super-resolved image is no high-resolution truth to learn from.
"""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
from PIL import Image

from .._version import __version__
from .dicom import read_dicom_dataset
from .formats import detect_format
from .series_folders import SeriesInFolder, first_file_of_series

__all__ = ["PRODUCER", "SOFTWARE", "made_by_monai_rmisr"]

#: The name every output records as what made it.
PRODUCER = "monai-rmisr"
#: The software every output names, with its version (a PNG's and TIFF's Software, a NIfTI's descrip, a DICOM's
#: DerivationDescription).
SOFTWARE = f"{PRODUCER} {__version__}"
#: TIFF's Software tag.
_TIFF_SOFTWARE = 305


def made_by_monai_rmisr(path: str | os.PathLike[str] | SeriesInFolder) -> bool:
    """Whether ``path`` (a file, a DICOM series folder: its first DICOM file, or a series among others in a folder,
    a :class:`~monai_rmisr.io.series_folders.SeriesInFolder`: its first file) is an output of monai-rmisr.

    Only headers are read (no pixels). A file whose header cannot be read is not called one (its reader names
    the problem).
    """
    try:
        if isinstance(path, SeriesInFolder):
            first = first_file_of_series(path)
            return first is not None and _dicom_made_by_us(first)
        path = Path(path)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file())
            dicom = next((p for p in files if _is_dicom(p)), None)
            return dicom is not None and _dicom_made_by_us(dicom)
        kind = detect_format(path)
        if kind == "dicom":
            return _dicom_made_by_us(path)
        if kind == "nifti":
            descrip = nib.load(str(path)).header["descrip"].item()
            return f" {PRODUCER} ".encode() in b" " + bytes(descrip) + b" "
        with Image.open(path) as image:
            texts = [image.info.get("Software", ""), image.info.get("comment", b"")]
            texts.append(getattr(image, "tag_v2", {}).get(_TIFF_SOFTWARE, ""))
        return any(_names_us(text) for text in texts)
    except Exception:  # unreadable: the reader says why, when the file is read
        return False


def _is_dicom(path: Path) -> bool:
    try:
        return detect_format(path) == "dicom"
    except Exception:
        return False


def _names_us(text: str | bytes) -> bool:
    if isinstance(text, bytes):
        text = text.decode("latin-1", "replace")
    return PRODUCER in str(text)


def _dicom_made_by_us(path: Path) -> bool:
    ds = read_dicom_dataset(path, stop_before_pixels=True, quiet=True, specific_tags=["ContributingEquipmentSequence"])
    return any(str(item.get("Manufacturer", "")) == PRODUCER for item in ds.get("ContributingEquipmentSequence") or [])
