"""What a DICOM image draws or masks in pixel coordinates, moved onto the resampled grid of its derived image.

A super-resolved (or cropped, ``--roi``) image has other pixels than its source. An attribute that names source
pixels would mask or draw over the wrong part of the new image: a display shutter's edges, centre, radius or
vertices (DX, CR and XA images carry them), an overlay plane's bitmap and origin (a graphic, a region of interest,
burned-in text kept apart from the pixels), an ultrasound region's corners. They follow the pixels, by the mapping
of :mod:`~monai_rmisr.io.geometry`: output index ``o`` samples input index ``start + (o + 0.5) / zoom - 0.5``.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import pack_bits
from pydicom.sequence import Sequence as DicomSequence

from .geometry import input_index, output_index

__all__ = ["pixel_bounds", "resample_overlays", "shift_regions", "shift_shutters"]

logger = logging.getLogger(__name__)

#: the even groups 6000-601E that hold overlay planes (PS3.3 C.9.2)
_OVERLAY_GROUPS = range(0x6000, 0x6020, 2)
#: overlay elements that describe the source's pixels and are not recomputed: ROI area, mean and standard deviation
_OVERLAY_STATISTICS = (0x1301, 0x1302, 0x1303)


def pixel_bounds(first: float, last: float, zoom: float, start: float, size: int) -> tuple[int, int] | None:
    """The output pixels (inclusive 0-based bounds, within ``size``) whose centres lie on the input pixels ``first``
    to ``last`` (inclusive 0-based bounds), from the left edge of ``first`` to the right edge of ``last``; None
    when no output pixel does (a crop beside them).

    At x2 input pixels ``i`` to ``j`` become ``2i`` to ``2j + 1`` (rounding the bounds' centres gave ``2j``, a pixel
    short).
    """
    low = math.ceil(output_index(first - 0.5, zoom, start) - 1e-6)
    high = math.floor(output_index(last + 0.5, zoom, start) + 1e-6)
    low, high = max(low, 0), min(high, size - 1)
    return (low, high) if low <= high else None


def shift_regions(ds: Dataset, zoom: tuple[float, ...], start: tuple[float, ...], shape: tuple[int, ...]) -> None:
    """Ultrasound region corners follow the pixels (:func:`pixel_bounds`); regions falling outside a crop are
    dropped."""
    regions = ds.get("SequenceOfUltrasoundRegions")
    if not regions:
        return
    kept = []
    for region in regions:
        corners = {}
        for low_keyword, high_keyword, axis in (
            ("RegionLocationMinX0", "RegionLocationMaxX1", 1),
            ("RegionLocationMinY0", "RegionLocationMaxY1", 0),
        ):
            if low_keyword not in region or high_keyword not in region:
                continue
            low, high = float(region[low_keyword].value), float(region[high_keyword].value)
            bounds = pixel_bounds(low, high, zoom[axis], start[axis], shape[axis])
            corners[low_keyword], corners[high_keyword] = bounds if bounds else (0, 0)
        if corners.get("RegionLocationMinX0", 0) >= corners.get("RegionLocationMaxX1", 1) or corners.get(
            "RegionLocationMinY0", 0
        ) >= corners.get("RegionLocationMaxY1", 1):
            continue
        for keyword, value in corners.items():
            region[keyword].value = value
        for keyword, axis in (("ReferencePixelX0", 1), ("ReferencePixelY0", 0)):
            if keyword in region:
                region[keyword].value = round(output_index(float(region[keyword].value), zoom[axis], start[axis]))
        kept.append(region)
    if kept:
        ds.SequenceOfUltrasoundRegions = DicomSequence(kept)
    else:
        del ds.SequenceOfUltrasoundRegions


def _one_based_point(row: float, column: float, zoom: tuple[float, ...], start: tuple[float, ...]) -> list[int]:
    """A 1-based (row, column) pixel position of the source at the derived image's nearest pixel, 1-based (halves
    up: a source pixel's centre at x2 falls between two output pixels)."""
    return [
        math.floor(output_index(row - 1, zoom[0], start[0]) + 0.5) + 1,
        math.floor(output_index(column - 1, zoom[1], start[1]) + 0.5) + 1,
    ]


def shift_shutters(ds: Dataset, zoom: tuple[float, ...], start: tuple[float, ...], shape: tuple[int, ...]) -> None:
    """Display shutter coordinates (PS3.3 C.7.6.11: rectangular edges, a circle's centre and radius, a polygon's
    vertices; 1-based pixel rows and columns) follow the pixels. A rectangle's edges are inclusive pixel bounds
    (:func:`pixel_bounds`); centre and vertices are points; the radius scales with the mean in-plane zoom."""
    shapes = {str(value).upper() for value in np.atleast_1d(ds.get("ShutterShape", []) or [])}
    if "RECTANGULAR" in shapes:
        for low_keyword, high_keyword, axis in (
            ("ShutterLeftVerticalEdge", "ShutterRightVerticalEdge", 1),
            ("ShutterUpperHorizontalEdge", "ShutterLowerHorizontalEdge", 0),
        ):
            if low_keyword in ds and high_keyword in ds:
                low, high = int(ds[low_keyword].value) - 1, int(ds[high_keyword].value) - 1
                bounds = pixel_bounds(low, high, zoom[axis], start[axis], shape[axis])
                if bounds is None:  # the crop lies outside the open area: it is all behind the shutter
                    bounds = (shape[axis], shape[axis]) if low > start[axis] else (-1, -1)
                setattr(ds, low_keyword, bounds[0] + 1)
                setattr(ds, high_keyword, bounds[1] + 1)
    if "CIRCULAR" in shapes and "CenterOfCircularShutter" in ds:
        row, column = (float(v) for v in ds.CenterOfCircularShutter)
        ds.CenterOfCircularShutter = _one_based_point(row, column, zoom, start)
        if "RadiusOfCircularShutter" in ds:
            ds.RadiusOfCircularShutter = round(float(ds.RadiusOfCircularShutter) * (zoom[0] + zoom[1]) / 2)
    if "POLYGONAL" in shapes and "VerticesOfThePolygonalShutter" in ds:
        vertices = [float(v) for v in ds.VerticesOfThePolygonalShutter]
        moved = [
            value
            for row, column in zip(vertices[0::2], vertices[1::2])
            for value in _one_based_point(row, column, zoom, start)
        ]
        ds.VerticesOfThePolygonalShutter = moved


def _drop_overlay(ds: Dataset, group: int) -> None:
    for tag in [element.tag for element in ds if element.tag.group == group]:
        del ds[tag]


def resample_overlays(ds: Dataset, zoom: tuple[float, ...], start: tuple[float, ...], shape: tuple[int, ...]) -> None:
    """Each overlay plane (groups 6000-601E) redrawn on the derived image's grid: its bitmap sampled at the source
    pixel nearest each output pixel (an overlay is a 1-bit graphic: nearest keeps it sharp and on or off), covering
    the whole derived image (origin 1\\1). An overlay whose bitmap cannot be read is left out (said once), not kept
    over the wrong pixels; so is its ROI area / mean / standard deviation, which described the source's pixels."""
    rows = np.floor(input_index(np.arange(shape[0]), zoom[0], start[0]) + 0.5).astype(int)
    columns = np.floor(input_index(np.arange(shape[1]), zoom[1], start[1]) + 0.5).astype(int)
    for group in _OVERLAY_GROUPS:
        if not any(element.tag.group == group for element in ds):
            continue
        try:
            planes = np.asarray(ds.overlay_array(group))
            origin = [int(v) for v in ds[group, 0x0050].value]
        except Exception as err:  # no OverlayData (embedded in the retired high bits), a broken or short bitmap
            logger.warning(
                "'%s': overlay group %04X cannot be read (%s): left out of the output, not kept over other pixels",
                getattr(ds, "filename", None) or "the source",
                group,
                err,
            )
            _drop_overlay(ds, group)
            continue
        frames = planes if planes.ndim == 3 else planes[None]
        source_rows, source_columns = rows - (origin[0] - 1), columns - (origin[1] - 1)
        keep_rows = (source_rows >= 0) & (source_rows < frames.shape[1])
        keep_columns = (source_columns >= 0) & (source_columns < frames.shape[2])
        redrawn = np.zeros((frames.shape[0], shape[0], shape[1]), dtype=np.uint8)
        picked = frames[:, source_rows[keep_rows]][:, :, source_columns[keep_columns]]
        redrawn[np.ix_(np.arange(frames.shape[0]), np.flatnonzero(keep_rows), np.flatnonzero(keep_columns))] = picked
        ds[group, 0x0010].value = shape[0]  # OverlayRows
        ds[group, 0x0011].value = shape[1]  # OverlayColumns
        ds[group, 0x0050].value = [1, 1]  # OverlayOrigin
        ds[group, 0x0100].value = 1  # OverlayBitsAllocated
        ds[group, 0x0102].value = 0  # OverlayBitPosition
        ds[group, 0x3000].value = pack_bits(redrawn.ravel(), pad=True)  # OverlayData
        for element in _OVERLAY_STATISTICS:
            if (group, element) in ds:
                del ds[group, element]
