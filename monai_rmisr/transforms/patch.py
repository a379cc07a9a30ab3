"""Paired HR/LR patch sampling for super-resolution training."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping

import numpy as np
import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.data import MetaTensor
from monai.transforms import MapTransform, Randomizable, Transform
from monai.utils import TransformBackends

from .resize import imresize, with_meta_of

__all__ = ["RandPairedPatch", "RandPairedPatchd", "paired_patch_sizes"]


def paired_patch_sizes(patch_size: int, scale: float) -> tuple[int, int]:
    """``(hr_size, lr_size)`` of a training pair: HR ``round(p * s)`` (halves up), LR ``p``.

    For an integer scale the HR size is the exact multiple ``p * s``; for a fractional one the
    LR partner is made with ``imresize(hr, output_size=p)``, so the pair is exact either way.
    """
    if patch_size < 1:
        raise ValueError(f"patch_size must be >= 1, got {patch_size}.")
    if not scale >= 1:
        raise ValueError(f"scale must be >= 1, got {scale}.")
    return math.floor(patch_size * scale + 0.5), patch_size


class RandPairedPatch(Randomizable, Transform):
    """Random HR crop plus its exact MATLAB-bicubic LR partner, with identical flips/rot90.

    The HR crop has size ``round(p * s)`` (a multiple of ``s`` for integer scales); the LR patch
    is ``imresize(hr_crop, output_size=p)``. The flips and the 90-degree rotation are applied
    to the HR crop before degradation, which is the same as applying them to both (the bicubic
    operator commutes with them). Images smaller than the HR crop are first padded by
    mirroring (MATLAB's symmetric boundary), so every sample has the same size.

    Args:
        patch_size: LR patch size ``p`` (the paper: 48 for x4, i.e. HR 192).
        scale: the SR factor ``s >= 1``.
        flip: random horizontal and vertical flips.
        rot90: random 90-degree rotation (only for square crops).

    Call with a channel-first (C, H, W) HR image in [0, 1] (numpy or torch); returns
    ``(hr_patch, lr_patch)`` of shapes (C, round(p*s), round(p*s)) and (C, p, p), float32, in the
    input's type. A ``MetaTensor``'s pair carries affines that place each patch where it was cut
    (crop, flips, rotation; LR pixels on MATLAB's grid); the sampling is not recorded for ``inverse``.
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, patch_size: int, scale: float, flip: bool = True, rot90: bool = True):
        self.hr_size, self.lr_size = paired_patch_sizes(patch_size, scale)
        self.scale = float(scale)
        self.flip = flip
        self.rot90 = rot90
        self._start: tuple[int, int] = (0, 0)
        self._flips: tuple[bool, bool] = (False, False)
        self._rotate = False

    def randomize(self, spatial_shape: tuple[int, int], start: tuple[int, int] | None = None) -> None:
        """Draw the crop's corner (uniformly; or take ``start``, the HR crop's top-left pixel, moved inside the
        image where it would reach past it), the flips and the rotation, for an image of ``spatial_shape``."""
        h, w = (max(n, self.hr_size) for n in spatial_shape)
        if start is None:
            self._start = (int(self.R.randint(0, h - self.hr_size + 1)), int(self.R.randint(0, w - self.hr_size + 1)))
        else:
            self._start = (min(max(int(start[0]), 0), h - self.hr_size), min(max(int(start[1]), 0), w - self.hr_size))
        self._flips = (bool(self.flip and self.R.rand() < 0.5), bool(self.flip and self.R.rand() < 0.5))
        self._rotate = bool(self.rot90 and self.R.rand() < 0.5)

    def __call__(self, img: NdarrayOrTensor, randomize: bool = True) -> tuple[NdarrayOrTensor, NdarrayOrTensor]:
        if img.ndim != 3:
            raise ValueError(f"RandPairedPatch expects a (C, H, W) image, got shape {tuple(img.shape)}.")
        as_numpy = isinstance(img, np.ndarray)
        image = torch.as_tensor(np.asarray(img) if as_numpy else img).float()
        if randomize:
            self.randomize((int(image.shape[1]), int(image.shape[2])))
        image = _pad_symmetric(image, self.hr_size)
        top, left = self._start
        hr = image[:, top : top + self.hr_size, left : left + self.hr_size]
        if self._flips[0]:
            hr = hr.flip(1)
        if self._flips[1]:
            hr = hr.flip(2)
        if self._rotate:
            hr = hr.rot90(1, dims=(1, 2))
        hr = hr.contiguous()
        lr = imresize(hr, output_size=(self.lr_size, self.lr_size))
        lr = torch.as_tensor(lr).float()
        if as_numpy:
            return hr.numpy(), lr.numpy()
        if isinstance(img, MetaTensor):
            return self._with_geometry(img, hr, lr)
        return hr, lr

    def _patch_index_maps(self) -> tuple[np.ndarray, np.ndarray]:
        """3x3 homogeneous maps from an HR-patch and an LR-patch pixel index (row, column) to the input image's."""
        n = self.hr_size - 1
        crop = np.array([[1.0, 0, self._start[0]], [0, 1, self._start[1]], [0, 0, 1]])
        rows = np.array([[-1.0, 0, n], [0, 1, 0], [0, 0, 1]]) if self._flips[0] else np.eye(3)
        cols = np.array([[1.0, 0, 0], [0, -1, n], [0, 0, 1]]) if self._flips[1] else np.eye(3)
        turn = (
            np.array([[0.0, 1, 0], [-1, 0, n], [0, 0, 1]]) if self._rotate else np.eye(3)
        )  # rot90: out[i, j] = in[j, n - i]
        hr = crop @ rows @ cols @ turn
        step = self.hr_size / self.lr_size  # MATLAB geometry: LR pixel k is centred on HR k * step + (step - 1) / 2
        return hr, hr @ np.array([[step, 0, (step - 1) / 2], [0, step, (step - 1) / 2], [0, 0, 1]])

    def _with_geometry(self, img: MetaTensor, hr: torch.Tensor, lr: torch.Tensor) -> tuple[MetaTensor, MetaTensor]:
        """The pair as MetaTensors whose affines place each patch where it was cut from ``img`` (crop, flips,
        rotation; the LR pixels on MATLAB's grid). Not recorded as invertible operations: a patch is not
        mapped back."""
        affine = torch.as_tensor(img.affine, dtype=torch.float64)
        pair = []
        for patch, index_map in zip((hr, lr), self._patch_index_maps()):
            embedded = torch.eye(affine.shape[0], dtype=torch.float64)
            embedded[:2, :2] = torch.as_tensor(index_map[:2, :2])
            embedded[:2, -1] = torch.as_tensor(index_map[:2, 2])
            out = with_meta_of(torch.as_tensor(patch), img, affine @ embedded)
            out.meta["spatial_shape"] = np.array(patch.shape[1:])
            pair.append(out)
        return pair[0], pair[1]


def _pad_symmetric(image: torch.Tensor, size: int) -> torch.Tensor:
    """Mirror-pad (edge repeated) a (C, H, W) image so both spatial sides are at least ``size``."""
    while image.shape[1] < size or image.shape[2] < size:
        pad_h = min(size - image.shape[1], image.shape[1]) if image.shape[1] < size else 0
        pad_w = min(size - image.shape[2], image.shape[2]) if image.shape[2] < size else 0
        if pad_h:
            image = torch.cat([image, image[:, -pad_h:].flip(1)], dim=1)
        if pad_w:
            image = torch.cat([image, image[:, :, -pad_w:].flip(2)], dim=2)
    return image


class RandPairedPatchd(Randomizable, MapTransform):
    """Dictionary version of :class:`RandPairedPatch`: reads ``keys`` (one HR image key) and
    writes the pair to ``hr_key`` and ``lr_key``; the input entry is left untouched.

    Args:
        keys: the key of the HR image (exactly one).
        patch_size, scale, flip, rot90: see :class:`RandPairedPatch`.
        hr_key: output key of the HR patch (default ``"hr"``).
        lr_key: output key of the LR patch (default ``"lr"``).
        allow_missing_keys: skip silently when the key is absent.
    """

    backend = RandPairedPatch.backend

    def __init__(
        self,
        keys: KeysCollection,
        patch_size: int,
        scale: float,
        flip: bool = True,
        rot90: bool = True,
        hr_key: str = "hr",
        lr_key: str = "lr",
        allow_missing_keys: bool = False,
    ):
        MapTransform.__init__(self, keys, allow_missing_keys)
        if len(self.keys) != 1:
            raise ValueError(f"RandPairedPatchd takes exactly one image key, got {self.keys}.")
        self.sampler = RandPairedPatch(patch_size, scale, flip=flip, rot90=rot90)
        self.hr_key, self.lr_key = hr_key, lr_key

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None):
        super().set_random_state(seed, state)
        self.sampler.set_random_state(seed, state)
        return self

    def randomize(self, data=None) -> None:
        pass  # the array transform draws

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[self.hr_key], d[self.lr_key] = self.sampler(d[key])
        return d
