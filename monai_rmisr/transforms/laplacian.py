"""Laplacian gradient map as a data transform (the prior map of RMISR-VP, paper formulas 6-8)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.data import MetaTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends

from monai_rmisr.networks.blocks.laplacian import LaplacianGradient, laplacian_gradient

from .resize import numpy_to_torch
from .utils import resolve_output_keys

__all__ = ["LaplacianMap", "LaplacianMapd"]


class LaplacianMap(Transform):
    """Compute the Laplacian gradient map of a channel-first image.

    Applies :func:`monai_rmisr.networks.blocks.laplacian.laplacian_gradient` (second differences
    with replicated borders, so a constant image maps to zero) to one image.

    Args:
        mode: ``"sum"`` (default): the four-neighbour (six in 3-D) Laplacian, shape ``(C, *spatial)``;
            ``"components"``: the per-axis second differences, shape ``(C * spatial_dims, *spatial)``.

    Values: for an image in ``[0, 1]``, each second difference lies in ``[-2, 2]``, so the ``"sum"`` map in
    ``[-2 * spatial_dims, 2 * spatial_dims]`` (``[-4, 4]`` in 2-D); zero where the image is locally linear.
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, mode: str = "sum") -> None:
        LaplacianGradient(mode)  # validates ``mode`` (ValueError) exactly as the network block does
        self.mode = mode

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """Args: img: ``(C, *spatial)`` numpy array or tensor, 1-3 spatial dims.

        Returns the map with the input's type and device; float32 / float64 are kept, other
        dtypes give float32. A MetaTensor keeps its metadata (the spatial grid is unchanged).
        """
        is_numpy = isinstance(img, np.ndarray)
        x = numpy_to_torch(img) if is_numpy else img
        if isinstance(x, MetaTensor):
            x = x.as_tensor()
        if x.dtype not in (torch.float32, torch.float64):
            x = x.to(torch.float32)
        out = laplacian_gradient(x[None], self.mode)[0]
        if is_numpy:
            return out.numpy()
        if isinstance(img, MetaTensor) and get_track_meta():
            out = MetaTensor(out)
            out.copy_meta_from(img)
        return out


class LaplacianMapd(MapTransform):
    """Dictionary-based wrapper of :py:class:`LaplacianMap`.

    Args:
        keys: keys of the images to process. See also: :py:class:`monai.transforms.MapTransform`.
        mode: ``"sum"`` or ``"components"``, see :py:class:`LaplacianMap`.
        output_keys: where to write the maps, one per key; ``None`` means ``f"{key}_laplacian"``.
            The input images are never modified.
        allow_missing_keys: don't raise an exception if a key is missing.
    """

    backend = LaplacianMap.backend

    def __init__(
        self,
        keys: KeysCollection,
        mode: str = "sum",
        output_keys: KeysCollection | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.laplacian = LaplacianMap(mode)
        self.output_keys = resolve_output_keys(self.keys, output_keys, "_laplacian")

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key, out_key in self.key_iterator(d, self.output_keys):
            d[out_key] = self.laplacian(d[key])
        return d
