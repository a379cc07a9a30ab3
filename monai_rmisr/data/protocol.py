"""The evaluation protocol: HR/LR pairs by MATLAB bicubic degradation, and its bicubic baseline.

Protocol (as in the RMISR issue and the SR literature): each TEST image of the embedded corpus
(:func:`monai_rmisr.data.load_corpus`, grey, min-max normalised to ``[0, 1]``) is cropped to a
multiple of the scale ``s`` (top-left kept, "modcrop"), degraded with MATLAB's
``imresize(HR, 1/s, 'bicubic')`` without rounding, super-resolved, and scored with PSNR / SSIM at
data range 1 after removing ``s`` border pixels; the figure reported is the mean over the six
images. Plain bicubic up-sampling, ``imresize(LR, s)`` **without clipping** to ``[0, 1]``, gives
:data:`BICUBIC_REFERENCE`: 37.42 / 34.68 / 33.06 dB at x2 / x3 / x4 (clipping the bicubic
output would give 37.43 / 34.69 / 33.07 dB).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
import torch
from monai.config import NdarrayOrTensor

from ..metrics import psnr, ssim
from ..transforms.resize import imresize
from .corpus import CorpusImage, load_corpus

__all__ = ["BICUBIC_REFERENCE", "bicubic_baseline", "make_pair", "mean_scores", "modcrop"]

#: Mean PSNR (dB) of bicubic up-sampling on the TEST split, per scale, as stated in the issue.
BICUBIC_REFERENCE: dict[int, float] = {2: 37.42, 3: 34.68, 4: 33.06}


def _integer_scale(scale: float) -> int:
    if isinstance(scale, bool) or not float(scale).is_integer() or int(scale) < 1:
        raise ValueError(f"scale must be a positive integer for an exact HR/LR pair, got {scale}.")
    return int(scale)


def modcrop(hr: NdarrayOrTensor, scale: int) -> NdarrayOrTensor:
    """Crop the bottom / right of a ``(C, H, W)`` image so that H and W are multiples of ``scale``.

    Raises:
        ValueError: ``scale`` is not a positive integer, the image is not ``(C, H, W)`` or it is
            smaller than ``scale``.
    """
    s = _integer_scale(scale)
    if hr.ndim != 3:
        raise ValueError(f"expected a channel-first (C, H, W) image, got shape {tuple(hr.shape)}.")
    h, w = (int(hr.shape[1]) // s) * s, (int(hr.shape[2]) // s) * s
    if h == 0 or w == 0:
        raise ValueError(f"image {tuple(hr.shape)} is smaller than the scale {s}.")
    return hr[:, :h, :w]


def make_pair(hr: NdarrayOrTensor, scale: int) -> tuple[NdarrayOrTensor, NdarrayOrTensor]:
    """The protocol's HR/LR pair of one image.

    Args:
        hr: ``(C, H, W)`` image (numpy or torch), e.g. a corpus image ``(1, H, W)`` in ``[0, 1]``.
        scale: integer SR factor.

    Returns:
        ``(hr_cropped, lr)``: ``hr`` cropped to ``(C, s*h, s*w)`` with ``h = H // s``,
        ``w = W // s``, and ``lr = imresize(hr_cropped, 1/s)`` of shape ``(C, h, w)``, MATLAB
        bicubic with antialiasing, float (float32 / float64 kept, integers become float32), not
        rounded, not clipped.
    """
    s = _integer_scale(scale)
    hr_cropped = modcrop(hr, s)
    return hr_cropped, imresize(hr_cropped, scale=1.0 / s)


def mean_scores(scores: dict[str, tuple[float, float]]) -> tuple[float, float]:
    """Mean ``(psnr, ssim)`` over the images of a :func:`bicubic_baseline` result."""
    values = np.array(list(scores.values()), dtype=np.float64)
    return float(values[:, 0].mean()), float(values[:, 1].mean())


def bicubic_baseline(
    scale: int,
    images: Sequence[CorpusImage] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    clip: bool = False,
) -> dict[str, tuple[float, float]]:
    """Score bicubic up-sampling on the protocol: ``imresize(imresize(HR, 1/s), s)`` vs HR.

    Computed in float64; PSNR and SSIM at data range 1 with ``crop_border = scale``.

    Args:
        scale: integer SR factor (2, 3, 4 in the literature).
        images: images to score; default the TEST split of the embedded corpus.
        cache_dir: corpus cache folder when ``images`` is None.
        clip: clip the bicubic output to ``[0, 1]`` before scoring. Default False, the setting
            that reproduces :data:`BICUBIC_REFERENCE`.

    Returns:
        ``{name: (psnr_db, ssim)}`` per image, in corpus order; :func:`mean_scores` averages it.
    """
    s = _integer_scale(scale)
    if images is None:
        images = load_corpus("test", cache_dir=cache_dir)
    scores: dict[str, tuple[float, float]] = {}
    for image in images:
        hr, lr = make_pair(torch.from_numpy(np.asarray(image.array, dtype=np.float64)), s)
        sr = imresize(lr, output_size=tuple(hr.shape[1:]))
        if clip:
            sr = sr.clamp(0.0, 1.0)
        p, q = psnr(sr, hr, 1.0, crop_border=s), ssim(sr, hr, 1.0, crop_border=s)
        if not (math.isfinite(p) and math.isfinite(q)):
            raise ValueError(f"bicubic baseline of '{image.name}' is not finite: psnr={p}, ssim={q}.")
        scores[image.name] = (float(p), float(q))
    return scores
