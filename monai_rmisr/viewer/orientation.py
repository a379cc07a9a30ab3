"""How the viewer turns a slice for the screen, so that a NIfTI looks as it does in radiology viewers.

A NIfTI's voxel axes can point anywhere (its affine says where); shown as stored, its first axis
down, an axial slice of a scan stored left-right first appears transposed next to 3D Slicer or
ITK-SNAP. :func:`display_orientation` reads the affine (RAS+, as :func:`~monai_rmisr.io.read_image`
gives it) and returns the transpose and flips that put the slice in the radiological convention of
those viewers: axial and coronal slices with the patient's right on the screen's left, axial
slices anterior up, coronal and sagittal slices superior up, sagittal slices anterior on the left;
with the letters of the four edges. Only the display turns: regions (``--roi``, the comparisons,
``rmisr upscale --roi``) stay in the file's pixel coordinates (x along the second array axis,
y along the first), and the mapping between the two is :meth:`DisplayOrientation.roi_to_screen` /
:meth:`~DisplayOrientation.roi_from_screen`. Other formats (DICOM, whose rows and columns a PACS
shows as stored; PNG, TIFF) are shown as stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DisplayOrientation", "display_orientation"]

#: The letter of each RAS+ world direction: (axis, sign) -> letter.
_LETTERS = {(0, 1): "R", (0, -1): "L", (1, 1): "A", (1, -1): "P", (2, 1): "S", (2, -1): "I"}
#: For a slice whose normal is along a world axis: the world direction of screen-down and of screen-right.
_SCREEN = {
    2: ((1, -1), (0, -1)),  # axial: posterior down (anterior up), the patient's left to the right
    1: ((2, -1), (0, -1)),  # coronal: inferior down, the patient's left to the right
    0: ((2, -1), (1, -1)),  # sagittal: inferior down, posterior to the right (anterior on the left)
}


@dataclass(frozen=True)
class DisplayOrientation:
    """A slice ``(C, H, W)`` transposed (``transpose``: rows and columns swapped) and then flipped for the screen.

    Attributes:
        transpose: the screen's rows run along the array's second axis.
        flip_rows: the screen's rows in reverse order (after any transpose).
        flip_cols: the screen's columns in reverse order (after any transpose).
        edges: the anatomical letters of the screen's (top, bottom, left, right) edges; None where not known.
    """

    transpose: bool = False
    flip_rows: bool = False
    flip_cols: bool = False
    edges: tuple[str, str, str, str] | None = None

    @property
    def as_stored(self) -> bool:
        return not (self.transpose or self.flip_rows or self.flip_cols)

    def plane(self, array: np.ndarray) -> np.ndarray:
        """``(C, H, W)`` -> ``(C, H', W')`` as the screen shows it (a view where possible)."""
        if self.transpose:
            array = np.swapaxes(array, -2, -1)
        if self.flip_rows:
            array = array[..., ::-1, :]
        if self.flip_cols:
            array = array[..., ::-1]
        return array

    def screen_size(self, height: int, width: int) -> tuple[int, int]:
        """The screen's ``(height, width)`` of an array plane of ``(height, width)``."""
        return (width, height) if self.transpose else (height, width)

    def roi_to_screen(self, roi: tuple[int, int, int, int], height: int, width: int) -> tuple[int, int, int, int]:
        """A region ``(x0, y0, x1, y1)`` of the array plane (``height`` x ``width``; x1, y1 exclusive) on the screen."""
        x0, y0, x1, y1 = roi
        if self.transpose:
            x0, y0, x1, y1 = y0, x0, y1, x1
        return self._flipped((x0, y0, x1, y1), *self.screen_size(height, width))

    def roi_from_screen(self, roi: tuple[int, int, int, int], height: int, width: int) -> tuple[int, int, int, int]:
        """The inverse of :meth:`roi_to_screen`: a screen region in the array plane (``height`` x ``width``)."""
        x0, y0, x1, y1 = self._flipped(roi, *self.screen_size(height, width))
        return (y0, x0, y1, x1) if self.transpose else (x0, y0, x1, y1)

    def _flipped(
        self, roi: tuple[int, int, int, int], screen_height: int, screen_width: int
    ) -> tuple[int, int, int, int]:
        """A screen region under the flips (each its own inverse) of a screen of that size."""
        x0, y0, x1, y1 = roi
        if self.flip_rows:
            y0, y1 = screen_height - y1, screen_height - y0
        if self.flip_cols:
            x0, x1 = screen_width - x1, screen_width - x0
        return x0, y0, x1, y1


def display_orientation(meta: Mapping[str, Any]) -> DisplayOrientation:
    """The screen orientation of an image's slices (the array's last axis is the slice axis).

    Args:
        meta: :class:`~monai_rmisr.io.ImageData` meta; a NIfTI (``format`` ``"nifti"``) with a RAS+ ``affine``
            whose three voxel axes point mainly along three different world axes is turned (see the module);
            anything else is shown as stored.
    """
    if meta.get("format") != "nifti":
        return DisplayOrientation()
    affine = np.asarray(meta.get("affine", np.eye(4)), dtype=float)
    if affine.shape != (4, 4) or not np.isfinite(affine).all():
        return DisplayOrientation()
    directions = affine[:3, :3]
    world_axes = [int(np.argmax(np.abs(directions[:, axis]))) for axis in range(3)]
    if len(set(world_axes)) != 3:  # two voxel axes mainly along one world axis (doubly oblique): as stored
        return DisplayOrientation()
    signs = [1 if directions[world_axes[axis], axis] > 0 else -1 for axis in range(3)]
    (down_axis, down_sign), (right_axis, right_sign) = _SCREEN[world_axes[2]]
    rows_along = 0 if world_axes[0] == down_axis else 1  # the array axis that runs down the screen
    cols_along = 1 - rows_along
    edges = (
        _LETTERS[(down_axis, -down_sign)],
        _LETTERS[(down_axis, down_sign)],
        _LETTERS[(right_axis, -right_sign)],
        _LETTERS[(right_axis, right_sign)],
    )
    return DisplayOrientation(
        transpose=rows_along == 1,
        flip_rows=signs[rows_along] != down_sign,
        flip_cols=signs[cols_along] != right_sign,
        edges=edges,
    )
