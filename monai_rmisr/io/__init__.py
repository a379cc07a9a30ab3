"""Image input: DICOM (files and series), NIfTI, PNG / JPEG / TIFF, behind one :func:`read_image`.

Every reader returns a channel-first ``float32`` array in the file's own units (DICOM modality
units, raw 8/16-bit values for PNG/JPEG/TIFF, scaled NIfTI voxels) and a ``meta`` dict with the
source path, the format, the geometry (``spacing``, ``origin``, ``direction``, ``affine``,
``space``) and whatever is needed to write the data back in its original units. Any file that
cannot be turned into an image raises :class:`ImageReadError` (a ``ValueError``) naming the file.
"""

from .dicom import PINNED_DECODER, read_dicom, read_dicom_series, stored_values
from .errors import BrokenSliceError, ImageReadError, ImageTooLargeError
from .formats import FORMAT_SUFFIXES, RASTER_FORMATS, detect_format, format_from_name, image_format
from .image_data import META_KEYS, ImageData, ImageMeta
from .images import read_raster
from .nifti import read_nifti
from .read import read_image, read_images
from .series_folders import SeriesInFolder

__all__ = [
    "FORMAT_SUFFIXES",
    "META_KEYS",
    "PINNED_DECODER",
    "RASTER_FORMATS",
    "BrokenSliceError",
    "ImageData",
    "ImageMeta",
    "ImageReadError",
    "ImageTooLargeError",
    "SeriesInFolder",
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
