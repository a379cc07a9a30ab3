"""The evaluation protocol: HR/LR pairs by MATLAB bicubic degradation, and its bicubic baseline.

Protocol (realistic; ``DATA.md`` of the project): each TEST image of the embedded corpus
(:func:`monai_rmisr.data.load_corpus`, grey, min-max normalised to ``[0, 1]``) is cropped to a
multiple of the scale ``s`` (top-left kept, "modcrop"), degraded with MATLAB's
``imresize(HR, 1/s, 'bicubic')`` and **clipped to [0, 1]** (a real scan has no bicubic overshoot;
:func:`protocol_pair`), super-resolved, and scored with PSNR / SSIM at data range 1 after removing
``ceil(s)`` border pixels; the figure reported is the mean over the six images, every image listed.
Plain bicubic up-sampling of that LR, ``imresize(LR, s)`` not clipped, gives
:data:`BICUBIC_REFERENCE`: 37.41 / 34.66 / 33.05 dB at x2 / x3 / x4. The unclipped variant (the
overshoot fed on, as in many SR papers) gives :data:`BICUBIC_REFERENCE_UNCLIPPED`: 37.42 / 34.68 /
33.06 dB; it may be reported beside the realistic number, never instead of it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
import torch
from monai.config import NdarrayOrTensor

from ..metrics import psnr, ssim
from ..transforms.quantize import quantize_intensity
from ..transforms.resize import imresize
from .corpus import CorpusImage, load_corpus

__all__ = [
    "BICUBIC_REFERENCE",
    "BICUBIC_REFERENCE_UNCLIPPED",
    "bicubic_baseline",
    "fractional_pair",
    "make_pair",
    "mean_scores",
    "modcrop",
    "protocol_pair",
]

#: Mean PSNR (dB) of bicubic up-sampling on the TEST split, per scale, realistic protocol (LR clipped).
BICUBIC_REFERENCE: dict[int, float] = {2: 37.41, 3: 34.66, 4: 33.05}
#: The same with the LR's overshoot kept (the paper-style variant).
BICUBIC_REFERENCE_UNCLIPPED: dict[int, float] = {2: 37.42, 3: 34.68, 4: 33.06}


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


def fractional_pair(hr: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The HR/LR pair for a non-integer ``scale``: LR ``h = floor(H / s)`` (per axis), HR cropped
    (top-left kept) to ``round(h * s)`` so that an arbitrary-scale network's output size matches,
    LR ``= imresize(hr_cropped, output_size=(h, w))``. For integer scales this is :func:`make_pair`."""
    if float(scale).is_integer():
        return make_pair(hr, int(scale))
    lr_size = [int(n // scale) for n in hr.shape[1:]]
    if min(lr_size) < 1:
        raise ValueError(f"image of shape {tuple(hr.shape)} is smaller than the scale {scale}.")
    hr_size = [math.floor(n * scale + 0.5) for n in lr_size]
    cropped = hr[:, : hr_size[0], : hr_size[1]]
    return cropped, imresize(cropped, output_size=tuple(lr_size))


def protocol_pair(
    hr: np.ndarray, scale: float, clip_lr: bool = True, lr_bits: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The benchmark protocol's HR/LR pair: :func:`fractional_pair`, then the LR made realistic.

    Args:
        hr: ``(C, H, W)`` image in [0, 1].
        scale: SR factor (integer or not).
        clip_lr: clip the LR to [0, 1] (the realistic protocol, default): a stored scan has no
            bicubic overshoot. False keeps the overshoot (the paper-style, "unclipped" variant).
        lr_bits: also round the clipped LR to ``2**lr_bits`` levels (the quantised variant: 8, as
            DIV2K-style LR PNGs are); needs ``clip_lr``.

    Raises:
        ValueError: ``lr_bits`` without ``clip_lr``.
    """
    if lr_bits is not None and not clip_lr:
        raise ValueError("a quantised LR (lr_bits) is clipped to [0, 1]: it cannot be combined with clip_lr=False.")
    hr_cropped, lr = fractional_pair(hr, scale)
    return hr_cropped, (quantize_intensity(lr, lr_bits) if clip_lr else lr)


def mean_scores(scores: dict[str, tuple[float, float]]) -> tuple[float, float]:
    """Mean ``(psnr, ssim)`` over the images of a :func:`bicubic_baseline` result."""
    values = np.array(list(scores.values()), dtype=np.float64)
    return float(values[:, 0].mean()), float(values[:, 1].mean())


def bicubic_baseline(
    scale: int,
    images: Sequence[CorpusImage] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    clip: bool = False,
    clip_lr: bool = True,
) -> dict[str, tuple[float, float]]:
    """Score bicubic up-sampling on the protocol: ``imresize(LR, s)`` vs HR, ``LR = clip(imresize(HR, 1/s))``.

    Computed in float64; PSNR and SSIM at data range 1 with ``crop_border = scale``.

    Args:
        scale: integer SR factor (2, 3, 4 in the literature).
        images: images to score; default the TEST split of the embedded corpus.
        cache_dir: corpus cache folder when ``images`` is None.
        clip: clip the bicubic output to ``[0, 1]`` before scoring. Default False, the setting
            that reproduces :data:`BICUBIC_REFERENCE`.
        clip_lr: clip the LR to ``[0, 1]`` (the realistic protocol, default); False keeps the
            overshoot and reproduces :data:`BICUBIC_REFERENCE_UNCLIPPED`.

    Returns:
        ``{name: (psnr_db, ssim)}`` per image, in corpus order; :func:`mean_scores` averages it.
    """
    s = _integer_scale(scale)
    if images is None:
        images = load_corpus("test", cache_dir=cache_dir)
    scores: dict[str, tuple[float, float]] = {}
    for image in images:
        hr, lr = make_pair(torch.from_numpy(np.asarray(image.array, dtype=np.float64)), s)
        if clip_lr:
            lr = lr.clamp(0.0, 1.0)
        sr = imresize(lr, output_size=tuple(hr.shape[1:]))
        if clip:
            sr = sr.clamp(0.0, 1.0)
        p, q = psnr(sr, hr, 1.0, crop_border=s), ssim(sr, hr, 1.0, crop_border=s)
        if not (math.isfinite(p) and math.isfinite(q)):
            raise ValueError(f"bicubic baseline of '{image.name}' is not finite: psnr={p}, ssim={q}.")
        scores[image.name] = (float(p), float(q))
    return scores
