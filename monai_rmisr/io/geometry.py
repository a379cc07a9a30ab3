"""The geometry of a resampled grid: how zoom and cropping change the affine, spacing and origin."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["input_index", "output_index", "resampled_geometry", "resampling_of"]


def input_index(index: float, zoom: float, start: float = 0.0) -> float:
    """The input (continuous) index that output index ``index`` samples along one axis."""
    return start + (index + 0.5) / zoom - 0.5


def output_index(index: float, zoom: float, start: float = 0.0) -> float:
    """The output (continuous) index of input index ``index`` along one axis; inverse of :func:`input_index`."""
    return (index - start + 0.5) * zoom - 0.5


def resampled_geometry(meta: Mapping[str, Any], zoom: Sequence[float], start: Sequence[float]) -> dict[str, Any]:
    """Geometry of an image resampled the way the SR networks and MATLAB ``imresize`` sample.

    Output index ``j`` along spatial axis ``k`` sits at input (continuous) index
    ``start[k] + (j + 0.5) / zoom[k] - 0.5``: pixel *edges* line up, so the physical extent of
    ``n * zoom`` output pixels equals that of ``n`` input pixels, and the first output pixel
    centre moves half an output pixel inside the first input pixel's edge. ``start`` is the
    first input index of a crop (``--roi``), 0 otherwise.

    Args:
        meta: the input's metadata with ``affine`` (4x4, array index -> world) and ``spacing``.
        zoom: output / input size per spatial axis (1 for an axis left alone).
        start: first input index per spatial axis.

    Returns:
        ``{"affine", "spacing", "origin", "resampling"}`` for the output grid, where
        ``resampling = {"zoom": ..., "start": ...}`` records the mapping for writers that need to
        find the source slice of an output slice.
    """
    zoom = tuple(float(z) for z in zoom)
    start = tuple(float(s) for s in start)
    if len(zoom) != len(start):
        raise ValueError(f"zoom {zoom} and start {start} need one value per spatial axis.")
    index_map = np.eye(4)  # output index -> input index, one affine map per axis
    for axis, (z, s) in enumerate(zip(zoom, start)):
        index_map[axis, axis] = 1.0 / z
        index_map[axis, 3] = input_index(0.0, z, s)
    affine = np.asarray(meta["affine"], dtype=np.float64) @ index_map
    spacing = tuple(float(sp) / z for sp, z in zip(meta["spacing"], zoom)) + tuple(meta["spacing"][len(zoom) :])
    return {
        "affine": affine,
        "spacing": spacing,
        "origin": tuple(float(v) for v in affine[:3, 3]),
        "resampling": {"zoom": zoom, "start": start},
    }


def resampling_of(meta: Mapping[str, Any]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``(zoom, start)`` per spatial axis of an output's grid, from ``meta["resampling"]``
    (:func:`resampled_geometry`); the identity on three axes when ``meta`` has none."""
    resampling = meta.get("resampling") or {"zoom": (1.0,) * 3, "start": (0.0,) * 3}
    return tuple(float(z) for z in resampling["zoom"]), tuple(float(s) for s in resampling["start"])
