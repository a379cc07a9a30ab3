"""Realistic low-resolution inputs: clip to [0, 1] and quantise to the bit depth of a stored image.

A MATLAB-bicubic downscale of an image in [0, 1] overshoots that range at sharp edges (air and
tissue in CT, a black MR background, burned-in text). A real low-resolution scan, stored as integers
and normalised, never does: it is clipped, and it carries the quantisation of its bit depth (8 bits
for ultrasound, endoscopy and JPEG photographs, 10-16 bits for CT, MR and radiographs). The realistic
protocol and the training pipeline feed the network such inputs (the RMISR paper's *realistic*).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.transforms import MapTransform, Randomizable, Transform
from monai.utils import TransformBackends

__all__ = ["RandQuantizeIntensity", "RandQuantizeIntensityd", "check_bit_range", "quantize_intensity"]


def check_bit_range(bits: Sequence[int]) -> tuple[int, int]:
    """``(low, high)`` from a two-number sequence of bit depths, with ``1 <= low <= high <= 24``.

    Raises:
        ValueError: not two integers in that order and range (the message names the value).
    """
    values = tuple(bits) if isinstance(bits, (Sequence, np.ndarray)) and not isinstance(bits, str) else (bits,)
    if len(values) != 2 or not all(float(v).is_integer() for v in values):
        raise ValueError(f"bit depths must be two integers (lowest, highest), got {bits!r}.")
    low, high = (int(v) for v in values)
    if not 1 <= low <= high <= 24:
        raise ValueError(f"bit depths must satisfy 1 <= lowest <= highest <= 24, got {bits!r}.")
    return low, high


def quantize_intensity(img: NdarrayOrTensor, bits: int | NdarrayOrTensor | None) -> NdarrayOrTensor:
    """``img`` clipped to [0, 1] and rounded to ``2**bits`` levels: ``round(x * (2**bits - 1)) / (2**bits - 1)``.

    Args:
        img: numpy array or tensor of any shape, values nominally in [0, 1] (a bicubic LR image).
        bits: the bit depth; an array or tensor of bit depths broadcastable against ``img`` (one per
            item of a batch, shape ``(B, 1, 1, 1)``); ``None`` clips without quantising.

    Returns:
        the same type, shape and floating dtype, values in [0, 1]; the input is not modified.
    """
    if isinstance(img, torch.Tensor):
        clipped = img.clamp(0.0, 1.0)
        if bits is None:
            return clipped
        levels = torch.as_tensor(bits, device=img.device).to(torch.float64).exp2().sub(1.0)
        return (clipped.double() * levels).round().div(levels).to(img.dtype)
    array = np.asarray(img)
    clipped = np.clip(array, 0.0, 1.0)
    if bits is None:
        return clipped
    levels = np.exp2(np.asarray(bits, dtype=np.float64)) - 1.0
    return (np.round(clipped.astype(np.float64) * levels) / levels).astype(array.dtype, copy=False)


class RandQuantizeIntensity(Randomizable, Transform):
    """Clip to [0, 1] and quantise to a bit depth drawn uniformly from ``bits`` (both ends included).

    Makes a simulated LR image look like a stored one (:func:`quantize_intensity`): the bicubic
    overshoot never reaches the network, and the grey levels are those of an 8- to 16-bit scan.

    Args:
        bits: ``(lowest, highest)`` bit depth, default ``(8, 16)``.
        prob: probability of quantising; otherwise the image is only clipped.

    Shapes and ranges: input any shape, nominally [0, 1]; output the same shape and type, in [0, 1].
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, bits: Sequence[int] = (8, 16), prob: float = 1.0) -> None:
        self.bits = check_bit_range(bits)
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"prob must be in [0, 1], got {prob}.")
        self.prob = float(prob)
        self.drawn_bits: int | None = None

    def randomize(self, data: object = None) -> None:
        quantise = self.R.random() < self.prob
        self.drawn_bits = int(self.R.randint(self.bits[0], self.bits[1] + 1)) if quantise else None

    def __call__(self, img: NdarrayOrTensor, randomize: bool = True) -> NdarrayOrTensor:
        """Args: img: the LR image; randomize: draw a new bit depth (False reuses the last one)."""
        if randomize:
            self.randomize()
        return quantize_intensity(img, self.drawn_bits)


class RandQuantizeIntensityd(Randomizable, MapTransform):
    """Dictionary-based wrapper of :py:class:`RandQuantizeIntensity`: one bit depth for all ``keys``.

    Args:
        keys: keys of the images to clip and quantise (e.g. ``"lr"``).
        bits, prob: see :py:class:`RandQuantizeIntensity`.
        allow_missing_keys: don't raise an exception if a key is missing.
    """

    backend = RandQuantizeIntensity.backend

    def __init__(
        self, keys: KeysCollection, bits: Sequence[int] = (8, 16), prob: float = 1.0, allow_missing_keys: bool = False
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        self.quantizer = RandQuantizeIntensity(bits, prob)

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None):
        super().set_random_state(seed, state)
        self.quantizer.set_random_state(seed, state)
        return self

    def randomize(self, data: object = None) -> None:
        self.quantizer.randomize()

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        self.randomize()
        for key in self.key_iterator(d):
            d[key] = self.quantizer(d[key], randomize=False)
        return d
