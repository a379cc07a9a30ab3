"""The image a reader returns and a writer takes: array and metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ImageData"]


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
