"""Which image format a path holds: from its name, and from its first bytes."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ImageReadError

__all__ = ["FORMAT_SUFFIXES", "RASTER_FORMATS", "detect_format", "format_from_name", "image_format"]


#: The raster formats :func:`image_format` tells apart, by their names in ``meta["format"]``.
RASTER_FORMATS = ("png", "jpeg", "tiff", "bmp")
#: The file-name suffixes (lower case) that name each format, the usual one first. ``nifti-pair``
#: is the Analyze / NIfTI pair (a header file and an image file), which is neither read nor written.
FORMAT_SUFFIXES = {
    "dicom": (".dcm", ".dicom", ".ima"),
    "nifti": (".nii.gz", ".nii"),
    "nifti-pair": (".hdr", ".img", ".hdr.gz", ".img.gz"),
    "png": (".png",),
    "jpeg": (".jpg", ".jpeg"),
    "tiff": (".tif", ".tiff"),
    "bmp": (".bmp",),
}


def format_from_name(path: str | os.PathLike[str]) -> str | None:
    """The format that the name of ``path`` announces (a key of :data:`FORMAT_SUFFIXES`), or None."""
    name = Path(path).name.lower()
    return next((fmt for fmt, suffixes in FORMAT_SUFFIXES.items() if name.endswith(suffixes)), None)


def image_format(path: str | os.PathLike[str]) -> str:
    """The format of ``path``: ``"dicom"``, ``"dicom-series"``, ``"nifti"`` or one of :data:`RASTER_FORMATS`.

    The file's first bytes decide (``DICM`` at offset 128, the PNG / JPEG / TIFF / BMP signatures,
    the NIfTI magic); the suffix decides only for content without a signature (raw DICOM data
    sets, gzipped NIfTI). A folder is a DICOM series.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ImageReadError: the file is empty or its format is not recognised.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such image file or folder: '{path}'.")
    if path.is_dir():
        return "dicom-series"
    if path.stat().st_size == 0:
        raise ImageReadError(path, "the file is empty (0 bytes).")
    with open(path, "rb") as f:
        head = f.read(348)
    if head[128:132] == b"DICM":
        return "dicom"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:2] == b"BM":
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[344:348] in (b"n+1\x00", b"ni1\x00") or head[4:8] in (b"n+2\x00", b"ni2\x00"):
        return "nifti"
    named = format_from_name(path)
    if named in ("nifti", "nifti-pair"):
        return "nifti"
    if named in RASTER_FORMATS:
        return named
    if named == "dicom" or "." not in path.name:
        return "dicom"
    raise ImageReadError(path, "unknown image format (expected DICOM, NIfTI, PNG, JPEG, TIFF or BMP).")


def detect_format(path: str | os.PathLike[str]) -> str:
    """Which reader handles ``path``: ``"dicom"``, ``"dicom-series"``, ``"nifti"`` or ``"raster"``.

    :func:`image_format` with the four raster formats as one ``"raster"``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ImageReadError: the file is empty or its format is not recognised.
    """
    kind = image_format(path)
    return "raster" if kind in RASTER_FORMATS else kind
