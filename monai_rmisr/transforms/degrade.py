"""Bicubic degradation (HR -> LR), the standard SR training pair generator."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
from monai.config import KeysCollection, NdarrayOrTensor
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends, ensure_tuple

from .resize import imresize
from .utils import resolve_output_keys

__all__ = ["BicubicDegrade", "BicubicDegraded"]


def check_sr_scale(scale: float | Sequence[float]) -> float | tuple[float, ...]:
    """A degradation's SR factor: a finite number >= 1, or a non-empty sequence of them (one per spatial axis).

    Raises:
        ValueError: anything else, naming the value.
    """
    is_sequence = isinstance(scale, (Sequence, np.ndarray)) and np.ndim(scale) > 0
    values = tuple(np.asarray(scale, dtype=np.float64).ravel().tolist()) if is_sequence else (float(scale),)
    if not values:
        raise ValueError(f"scale must be a number >= 1 or a non-empty sequence of them, got {scale!r}.")
    for value in values:
        if not math.isfinite(value) or value < 1:
            raise ValueError(f"scale is the SR factor and must be a finite number >= 1, got {value}.")
    return values if is_sequence else values[0]


class BicubicDegrade(Transform):
    """Produce the low-resolution image of a super-resolution pair by MATLAB bicubic downscaling.

    ``LR = imresize(HR, 1 / scale)`` with MATLAB ``imresize(..., 'bicubic')`` semantics (antialiased
    cubic kernel, symmetric borders, no rounding or clipping), see
    :func:`monai_rmisr.transforms.imresize`. Each resized axis of length ``n`` becomes
    ``ceil(n / scale)``; crop the HR image to a multiple of ``scale`` first for an exact pair.

    Shapes and values: input ``(C, *spatial)``; output ``(C, *spatial')`` of the input's type. The cubic kernel
    has negative lobes, so the output overshoots the input's range at sharp edges (an HR image in ``[0, 1]``
    gives LR values a little below 0 and above 1 next to air or a black background); clip it
    (``lr.clip(0, 1)``, the benchmark's realistic protocol) where the LR must look like a real image.

    Args:
        scale: the SR factor (the LR image is ``scale`` times smaller), one value or one per resized
            axis. Must be finite and ``>= 1``; ``1`` is the identity (a copy). ``0``, negative, NaN,
            infinite and ``< 1`` values (which would enlarge) raise ``ValueError``.
        spatial_axes: 0-based spatial axes to degrade, e.g. ``(2,)`` for the slice axis of a
            ``(C, H, W, D)`` volume (thick-slice simulation); default all spatial axes.
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, scale: float | Sequence[float], spatial_axes: int | Sequence[int] | None = None) -> None:
        self.scale = check_sr_scale(scale)
        self.spatial_axes = spatial_axes

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """Args: img: channel-first ``(C, *spatial)`` numpy array or tensor. Returns the LR image, same type.

        Raises:
            ValueError: a ``scale`` per axis whose count is not the image's degraded axes', in the words it was given
                (``imresize``, which checks it too, is handed its reciprocals).
        """
        if isinstance(self.scale, tuple):
            axes = img.ndim - 1 if self.spatial_axes is None else len(ensure_tuple(self.spatial_axes))
            if len(self.scale) != axes:
                raise ValueError(
                    f"scale {self.scale} has {len(self.scale)} entries, one per degraded axis; the image "
                    f"{tuple(img.shape)} has {axes} (a single value degrades every axis alike)."
                )
        inv = tuple(1.0 / s for s in self.scale) if isinstance(self.scale, tuple) else 1.0 / self.scale
        return imresize(img, scale=inv, spatial_axes=self.spatial_axes)


class BicubicDegraded(MapTransform):
    """Dictionary-based wrapper of :py:class:`BicubicDegrade`.

    The LR image is written to new keys, so the HR input stays in the dictionary (unmodified) as
    the target: by default ``f"{key}_lr"`` for each key.

    Args:
        keys: keys of the HR images to degrade. See also: :py:class:`monai.transforms.MapTransform`.
        scale: the SR factor (``>= 1``), see :py:class:`BicubicDegrade`.
        spatial_axes: spatial axes to degrade, see :py:class:`BicubicDegrade`.
        output_keys: where to write the LR images, one per key (a single key is allowed when
            ``keys`` has one entry); ``None`` means ``f"{key}_lr"``. Passing the input key itself
            replaces the dictionary entry (the original array is still not modified).
        allow_missing_keys: don't raise an exception if a key is missing.
    """

    backend = BicubicDegrade.backend

    def __init__(
        self,
        keys: KeysCollection,
        scale: float | Sequence[float],
        spatial_axes: int | Sequence[int] | None = None,
        output_keys: KeysCollection | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.degrader = BicubicDegrade(scale, spatial_axes)
        self.output_keys = resolve_output_keys(self.keys, output_keys, "_lr")

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key, out_key in self.key_iterator(d, self.output_keys):
            d[out_key] = self.degrader(d[key])
        return d
