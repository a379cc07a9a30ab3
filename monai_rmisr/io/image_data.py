"""The image a reader returns and a writer takes: array and metadata (:class:`ImageData`, :class:`ImageMeta`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["META_KEYS", "ImageData", "ImageMeta"]

#: Every key the metadata of an image may hold, with what it holds: the readers write them, the
#: :class:`~monai_rmisr.inference.upscale.Upscaler` adds the output grid and ``derivation``, the writers read
#: them. One list, so that a misspelt key fails where it is written or read (:class:`ImageMeta`).
META_KEYS: dict[str, str] = {
    # every reader
    "source_path": "the file or DICOM series folder read (str)",
    "filename_or_obj": "the same, under MONAI's key (str)",
    "format": 'the file format: "dicom", "dicom-series", "nifti", "png", "jpeg", "tiff", "bmp"',
    "spatial_shape": "the array's shape without the channel axis (tuple of int)",
    "spacing": "pixel (and slice) spacing in mm, in array-axis order (tuple of float)",
    "spacing_source": "where the spacing came from (str; a DICOM volume: a pair, in-plane and through-plane)",
    "origin": "the first pixel's centre in patient coordinates, mm (tuple of 3 float)",
    "direction": "unit direction cosines of the array axes, (3, 3) array",
    "affine": "voxel index -> patient coordinates, (4, 4) array",
    "space": 'the patient coordinate system: "LPS" (DICOM), "RAS" (NIfTI), None (raster images)',
    "color": '"GRAY", "RGB", or None (other channel counts)',
    "inverted": "the stored values were inverted on reading (MONOCHROME1, a min-is-white TIFF) (bool)",
    "palette_applied": "palette indices were expanded to colours on reading (bool)",
    "color_converted": "the source's CMYK, YCbCr, Lab or HSV colours were read as RGB: its ICC profile not kept (bool)",
    "alpha_dropped": "an alpha channel was dropped on reading (bool)",
    "jpeg_subsampling": "a JPEG's chroma subsampling, kept by its output: 0 4:4:4, 1 4:2:2, 2 4:2:0, -1 grey (int)",
    "nifti_intent": "the NIfTI header's intent name, e.g. 'none', 'label' (str)",
    "exif_orientation_applied": (
        "the EXIF Orientation (2-8) of a JPEG or PNG, or a TIFF's Orientation tag: its pixels turned as shown (int)"
    ),
    "decoder": "the library that decoded the pixels (str)",
    "number_of_frames": "frames in the file (int)",
    # PNG / JPEG / TIFF / BMP
    "mode": "Pillow's mode of the decoded image (str)",
    "dtype": "the stored sample type, e.g. 'uint8' (str)",
    "bit_depth": "bits per stored sample (int)",
    "photometric": "TIFF photometric interpretation (str)",
    # DICOM
    "modality": "DICOM Modality (str)",
    "sop_class_uid": "DICOM SOP Class UID (str)",
    "pixel_data_keyword": "where a DICOM object keeps its pixels: PixelData, FloatPixelData or DoubleFloatPixelData",
    "series_instance_uid": "DICOM Series Instance UID (str)",
    "transfer_syntax": "DICOM transfer syntax UID (str)",
    "transfer_syntax_name": "its name (str)",
    "lossy_compression": "its pixels went through lossy compression: DICOM Lossy Image Compression is '01', or the "
    "pixel data's coding is lossy (io.dicom_coding.lossy_compression_method) (bool)",
    "bits_allocated": "DICOM Bits Allocated (int)",
    "bits_stored": "DICOM Bits Stored (int)",
    "high_bit": "DICOM High Bit (int)",
    "pixel_representation": "DICOM Pixel Representation: 0 unsigned, 1 signed (int)",
    "samples_per_pixel": "DICOM Samples per Pixel (int)",
    "photometric_interpretation": "DICOM Photometric Interpretation as stored (str)",
    "window_center": "DICOM Window Center, every value given (list of float, or None)",
    "window_width": "DICOM Window Width, every value given (list of float, or None)",
    "rescale_slope": "the modality rescale slope applied on reading (float or None)",
    "rescale_intercept": "the modality rescale intercept applied on reading (float or None)",
    "rescale_type": "DICOM Rescale Type (str or None)",
    "rescale_per_frame": "per-frame (slope, intercept) pairs of an enhanced multi-frame object, or None",
    "modality_lut": "the non-linear modality LUT applied on reading ('ModalityLUTSequence'), or None",
    "inversion_sum": "the value x was subtracted from to invert a MONOCHROME1 image (float)",
    "frames": "the frame indices read from a multi-frame file, or None for all",
    "frame_time": "DICOM Frame Time, ms (list of float, or None)",
    # DICOM series
    "series_files": "the slice files, in the order of the array's last axis (list of str)",
    "skipped_slices": 'files of the series left out as unreadable (list of {"path", "reason"})',
    "slice_positions": "each slice's position along the slice normal, mm (list of float)",
    "slice_spacing_uniform": "the slices are evenly spaced (bool)",
    "slice_grid_error": "how far the slices' origins lie from the affine's evenly spaced grid, mm: (along the "
    "normal, across it: a gantry tilt)",
    "rescale_slopes": "each slice's rescale slope (list of float)",
    "rescale_intercepts": "each slice's rescale intercept (list of float)",
    # NIfTI
    "original_affine": "the affine as read (4, 4) array",
    "scl_slope": "NIfTI scl_slope (float or None)",
    "scl_inter": "NIfTI scl_inter (float or None)",
    "datatype": "the stored NIfTI data type (str)",
    "qform_code": "NIfTI qform_code (int or None)",
    "sform_code": "NIfTI sform_code (int or None)",
    "xyzt_units": "NIfTI spatial and time units (tuple of str)",
    # a result (monai_rmisr.io.geometry.resampled_geometry, Upscaler)
    "resampling": 'the output grid against the source\'s: {"zoom": per-axis factors, "start": first pixel}',
    "derivation": "how a result was made: model, weights_sha256, method, scale, axis, roi, self_ensemble, precision",
}


class ImageMeta(dict):
    """An image's metadata: a ``dict`` whose keys must be among :data:`META_KEYS`.

    Writing, reading, testing (``in``) or removing a key that is not one of them raises a ``KeyError``
    naming it and the keys of the same start, so a misspelt key fails where it is used instead of reading
    as absent. A known key that an image does not have reads as absent, as in any ``dict``
    (``meta.get("window_center")`` is None for a PNG). Our writers take it as any mapping; ``{**meta, ...}``,
    ``meta | other`` and ``dict(meta)`` are plain dicts again. Give MONAI ``dict(meta)`` (a ``MetaTensor``
    looks up keys of its own, which this refuses).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.update(*args, **kwargs)

    @staticmethod
    def check_key(key: Any) -> None:
        """Raise ``KeyError`` unless ``key`` is one of :data:`META_KEYS`."""
        if key not in META_KEYS:
            near = sorted(name for name in META_KEYS if isinstance(key, str) and name[:3] == key[:3])
            hint = f"; similar: {near}" if near else ""
            raise KeyError(f"{key!r} is not an image metadata key (monai_rmisr.io.META_KEYS){hint}.")

    def __setitem__(self, key: str, value: Any) -> None:
        self.check_key(key)
        super().__setitem__(key, value)

    def __getitem__(self, key: str) -> Any:
        self.check_key(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.check_key(key)
        return super().__contains__(key)

    def __delitem__(self, key: str) -> None:
        self.check_key(key)
        super().__delitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.check_key(key)
        return super().get(key, default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.check_key(key)
        return super().setdefault(key, default)

    def pop(self, key: str, *default: Any) -> Any:
        self.check_key(key)
        return super().pop(key, *default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """``dict.update``, all keys checked before any is written."""
        items: list[tuple[Any, Any]] = []
        for source in (*args, kwargs):
            items += list(source.items() if isinstance(source, Mapping) else source)
        for key, _ in items:
            self.check_key(key)
        for key, value in items:
            super().__setitem__(key, value)

    def __ior__(self, other: Any) -> ImageMeta:  # type: ignore[override,misc]
        self.update(other)
        return self

    def copy(self) -> ImageMeta:
        return ImageMeta(self)


@dataclass
class ImageData:
    """An image as read from disk.

    Attributes:
        array: channel-first ``float32`` array, ``(C, H, W)`` or ``(C, H, W, D)``, in the file's
            units (not normalised).
        meta: :class:`ImageMeta` (a mapping given here is converted; an unknown key raises ``KeyError``);
            always has ``source_path``, ``filename_or_obj`` (MONAI's key for the same), ``format``
            ("dicom", "dicom-series", "nifti", "png", "jpeg", "tiff", "bmp"), ``spacing``, ``affine`` and
            ``spatial_shape``; :data:`META_KEYS` lists every key and the format's reader says which it sets.
    """

    array: np.ndarray
    meta: ImageMeta = field(default_factory=ImageMeta)

    def __post_init__(self) -> None:
        if not isinstance(self.meta, ImageMeta):
            self.meta = ImageMeta(self.meta)

    @property
    def path(self) -> str:
        """The file (or series folder) the image was read from."""
        return str(self.meta.get("source_path", ""))

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """The array's shape without the channel axis."""
        return tuple(self.array.shape[1:])

    @property
    def is_colour(self) -> bool:
        """Whether the channels are one colour image: three that the file calls RGB (an ImageData made in memory
        without a ``color`` entry counts as colour). Any other channels are images of their own (the volumes of a
        4-D NIfTI: time points, diffusion directions)."""
        return int(self.array.shape[0]) == 3 and self.meta.get("color", "RGB") == "RGB"
