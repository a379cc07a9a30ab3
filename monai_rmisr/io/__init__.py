"""Image input: DICOM (files and series), NIfTI, PNG / JPEG / TIFF, behind one :func:`read_image`.

Every reader returns a channel-first ``float32`` array in the file's own units (DICOM modality
units, raw 8/16-bit values for PNG/JPEG/TIFF, scaled NIfTI voxels) and a ``meta`` dict with the
source path, the format, the geometry (``spacing``, ``origin``, ``direction``, ``affine``,
``space``) and whatever is needed to write the data back in its original units. Any file that
cannot be turned into an image raises :class:`ImageReadError` (a ``ValueError``) naming the file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .dicom import PINNED_DECODER, read_dicom, read_dicom_series, stored_values
from .errors import ImageReadError, ImageTooLargeError
from .images import read_raster
from .nifti import read_nifti

__all__ = [
    "FORMAT_SUFFIXES",
    "PINNED_DECODER",
    "RASTER_FORMATS",
    "ImageData",
    "ImageReadError",
    "ImageTooLargeError",
    "detect_format",
    "format_from_name",
    "image_format",
    "read_dicom",
    "read_dicom_series",
    "read_image",
    "read_images",
    "read_nifti",
    "read_raster",
    "stored_values",
]

logger = logging.getLogger(__name__)


@dataclass
class ImageData:
    """An image as read from disk.

    Attributes:
        array: channel-first ``float32`` array, ``(C, H, W)`` or ``(C, H, W, D)``, in the file's
            units (not normalised).
        meta: metadata; always has ``source_path``, ``filename_or_obj`` (MONAI's key for the
            same), ``format`` ("dicom", "dicom-series", "nifti", "png", "jpeg", "tiff", "bmp"),
            ``spacing``, ``affine`` and ``spatial_shape``; see the format's reader for the rest.
    """

    array: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The file (or series folder) the image was read from."""
        return str(self.meta.get("source_path", ""))

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """The array's shape without the channel axis."""
        return tuple(self.array.shape[1:])


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
    raise ImageReadError(path, "unknown image format (expected DICOM, NIfTI, PNG, JPEG or TIFF).")


def detect_format(path: str | os.PathLike[str]) -> str:
    """Which reader handles ``path``: ``"dicom"``, ``"dicom-series"``, ``"nifti"`` or ``"raster"``.

    :func:`image_format` with the four raster formats as one ``"raster"``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ImageReadError: the file is empty or its format is not recognised.
    """
    kind = image_format(path)
    return "raster" if kind in RASTER_FORMATS else kind


def read_image(path: str | os.PathLike[str], max_values: int | None = None, skip_bad_slices: bool = False) -> ImageData:
    """Read any supported image (DICOM file or series folder, NIfTI, PNG, JPEG, TIFF).

    Args:
        path: a file, or a folder holding one DICOM series.
        max_values: DICOM and NIfTI: refuse, from the header and before decoding, an image of more
            than this many values (pixels x frames or slices x channels); ``None``: no limit.
            PNG / JPEG / TIFF are held to Pillow's decompression-bomb limit only.
        skip_bad_slices: a DICOM series: leave broken slices out instead of refusing the series
            (:func:`~monai_rmisr.io.dicom.read_dicom_series`).

    Returns:
        :class:`ImageData` with a channel-first ``float32`` array and its metadata (see
        :func:`~monai_rmisr.io.dicom.read_dicom`, :func:`~monai_rmisr.io.dicom.read_dicom_series`,
        :func:`~monai_rmisr.io.nifti.read_nifti`, :func:`~monai_rmisr.io.images.read_raster`).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ImageReadError: the file cannot be read as an image; the message names it.
    """
    kind = detect_format(path)
    if kind == "dicom":
        array, meta = read_dicom(path, max_values=max_values)
    elif kind == "dicom-series":
        array, meta = read_dicom_series(path, skip_bad_slices=skip_bad_slices, max_values=max_values)
    elif kind == "nifti":
        array, meta = read_nifti(path, max_values=max_values)
    else:
        array, meta = read_raster(path)
    return ImageData(array, meta)


def read_images(paths: Iterable[str | os.PathLike[str]], skip_bad: bool = False) -> list[ImageData]:
    """Read a whole data set up front, so a bad file stops the run before training starts.

    Args:
        paths: image files and / or DICOM series folders.
        skip_bad: if False (default) the first unreadable file raises; if True it is logged with
            ``logging.warning`` (naming the file and the reason) and left out.

    Returns:
        The images that could be read, in the order of ``paths``.

    Raises:
        ImageReadError, FileNotFoundError: for the first bad path, unless ``skip_bad``.
    """
    images = []
    for path in paths:
        try:
            images.append(read_image(path))
        except (ImageReadError, FileNotFoundError) as err:
            if not skip_bad:
                raise
            logger.warning("skipping bad image: %s", err)
    return images
