"""One reader for every format: :func:`read_image` and :func:`read_images`."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

from .dicom import read_dicom, read_dicom_series
from .errors import ImageReadError
from .formats import detect_format
from .image_data import ImageData
from .images import read_raster
from .nifti import read_nifti
from .series_folders import SeriesInFolder

__all__ = ["read_image", "read_images"]

logger = logging.getLogger(__name__)


def read_image(
    path: str | os.PathLike[str] | SeriesInFolder, max_values: int | None = None, skip_bad_slices: bool = False
) -> ImageData:
    """Read any supported image (DICOM file or series folder, NIfTI, PNG, JPEG, TIFF).

    Args:
        path: a file, a folder holding one DICOM series, or a :class:`~monai_rmisr.io.series_folders.SeriesInFolder`
            (one series of a folder holding several).
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
    series_uid = None
    if isinstance(path, SeriesInFolder):
        series_uid, path = path.series_uid, path.folder
    kind = detect_format(path)
    if kind == "dicom":
        array, meta = read_dicom(path, max_values=max_values)
    elif kind == "dicom-series":
        array, meta = read_dicom_series(
            path, series_uid=series_uid, skip_bad_slices=skip_bad_slices, max_values=max_values
        )
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
