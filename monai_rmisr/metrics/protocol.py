"""The evaluation protocol of the project, in one place: how an HR/LR pair is made, which border is
cut, how an image is scored, how scores are averaged.

Protocol (realistic; ``DATA.md`` of the project): each TEST image of the embedded corpus
(:func:`monai_rmisr.data.load_corpus`, grey, min-max normalised to ``[0, 1]``) is cropped to a
multiple of the scale ``s`` (top-left kept, "modcrop"; for a fractional ``s`` see :func:`fractional_pair`),
degraded with MATLAB's ``imresize(HR, 1/s, 'bicubic')`` and **clipped to [0, 1]** (a real scan has no
bicubic overshoot; :func:`protocol_pair`), super-resolved, and scored (:func:`image_scores`) with PSNR /
SSIM at data range 1 after removing :func:`protocol_border` ``= ceil(s)`` border pixels, the network's
output clipped to [0, 1]; the figure reported is the mean over the six images (:func:`mean_scores`),
every image listed. Plain bicubic up-sampling of that LR, ``imresize(LR, s)`` not clipped
(:func:`bicubic_baseline`), gives :data:`BICUBIC_REFERENCE`: 37.41 / 34.66 / 33.05 dB at x2 / x3 / x4.
The unclipped variant (the overshoot fed on, as in many SR papers) gives
:data:`BICUBIC_REFERENCE_UNCLIPPED`: 37.42 / 34.68 / 33.06 dB; it may be reported beside the realistic
number, never instead of it.

The benchmark (:mod:`monai_rmisr.benchmark`), the training validation
(:class:`~monai_rmisr.engines.SRImageQuality`), the viewer's check mode and the demo all score through
this module; PSNR and SSIM themselves are :mod:`monai_rmisr.metrics.quality` (MONAI's metrics).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
from monai.config import NdarrayOrTensor

from ..networks.blocks import laplacian_gradient
from ..networks.utils import scaled_size
from ..transforms.quantize import quantize_intensity
from ..transforms.resize import imresize
from .quality import SSIM_WINDOW, psnr, ssim

if TYPE_CHECKING:  # data imports this module; the corpus type is only named here
    from ..data.corpus import CorpusImage

__all__ = [
    "BICUBIC_REFERENCE",
    "BICUBIC_REFERENCE_UNCLIPPED",
    "Scores",
    "bicubic_baseline",
    "bicubic_upscale",
    "fractional_pair",
    "image_scores",
    "laplacian_map",
    "make_pair",
    "mean_scores",
    "min_scored_size",
    "modcrop",
    "protocol_border",
    "protocol_pair",
    "protocol_scores",
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
    hr_size = scaled_size(lr_size, scale)
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


def protocol_border(scale: float) -> int:
    """The pixels cut from every side of an SR image before it is scored: ``ceil(scale)`` (the SR
    literature's ``scale`` for integer factors; rounded up for fractional ones)."""
    return math.ceil(scale)


def min_scored_size(scale: float) -> int:
    """The smallest side, in pixels, of an image the protocol can score at ``scale``: its HR crop
    (:func:`fractional_pair`) less the border (:func:`protocol_border`) on both sides must hold SSIM's 11x11
    window."""
    need = SSIM_WINDOW + 2 * protocol_border(scale)
    size = need
    while scaled_size([int(size // scale)], scale)[0] < need:
        size += 1
    return size


class Scores(NamedTuple):
    """The protocol's scores of one image (dB, dB, [0, 1], dB)."""

    psnr: float
    ssim: float
    laplacian_psnr: float
    #: PSNR of the Laplacian map a two-branch network reconstructs itself (RMISR-VP), else None.
    branch_laplacian_psnr: float | None = None


def laplacian_map(image: np.ndarray) -> np.ndarray:
    """The four-neighbour Laplacian of a (C, H, W) array, same shape, float64 (the RMISR-VP criterion:
    :func:`~monai_rmisr.networks.blocks.laplacian_gradient`)."""
    return laplacian_gradient(torch.from_numpy(np.asarray(image, dtype=np.float64))[None])[0].numpy()


def image_scores(sr: np.ndarray, hr: np.ndarray, scale: float, sr_laplacian: np.ndarray | None = None) -> Scores:
    """The protocol's scores of one SR image against its HR image, both (C, H, W) in [0, 1].

    PSNR (peak 1), SSIM and the Laplacian-map PSNR after cropping :func:`protocol_border` pixels;
    with ``sr_laplacian`` (the map a two-branch network reconstructs) also that map's PSNR.
    """
    border = protocol_border(scale)
    hr_laplacian = laplacian_map(hr)
    return Scores(
        psnr(sr, hr, 1.0, crop_border=border),
        ssim(sr, hr, 1.0, crop_border=border),
        psnr(laplacian_map(sr), hr_laplacian, 1.0, crop_border=border),
        None if sr_laplacian is None else psnr(sr_laplacian, hr_laplacian, 1.0, crop_border=border),
    )


Predictor = Callable[[np.ndarray], "np.ndarray | tuple[np.ndarray, np.ndarray]"]


def protocol_scores(
    predict: Predictor,
    scale: float,
    images: Sequence[CorpusImage],
    clip: bool = True,
    clip_lr: bool = True,
    lr_bits: int | None = None,
) -> dict[str, Scores]:
    """``{name: Scores}`` of ``predict`` on the protocol, in the order of ``images``.

    Args:
        predict: maps a (1, h, w) float32 LR array to the SR image (1, H, W), or to a pair
            ``(sr, sr_laplacian)`` for a network that also reconstructs the Laplacian map.
        scale: SR factor (integer or not).
        images: the images to score (``.name`` and ``.array``, (1, H, W) in [0, 1]), e.g.
            ``monai_rmisr.data.load_corpus("test")``.
        clip: clip the output to [0, 1] before scoring (a network's output is; bicubic's is not).
        clip_lr, lr_bits: the LR variant, see :func:`protocol_pair`.

    Raises:
        ValueError: a score is NaN (the output held NaN; the message names the image). A perfect
            reconstruction scores an infinite PSNR, which is kept.
    """
    scores = {}
    for image in images:
        hr, lr = protocol_pair(np.asarray(image.array, dtype=np.float32), scale, clip_lr, lr_bits)
        output = predict(np.asarray(lr, dtype=np.float32))
        sr, sr_laplacian = output if isinstance(output, tuple) else (output, None)
        sr = np.asarray(sr, dtype=np.float64)
        if clip:
            sr = np.clip(sr, 0.0, 1.0)
        scores[image.name] = image_scores(sr, hr, scale, sr_laplacian)
        if any(math.isnan(value) for value in scores[image.name] if value is not None):
            raise ValueError(f"the scores of '{image.name}' are not numbers (NaN): {scores[image.name]}.")
    return scores


def mean_scores(scores: Iterable[Scores]) -> Scores:
    """The mean of each score over the images (``branch_laplacian_psnr`` None unless every image has one)."""
    values = list(scores)
    columns = [[getattr(score, field) for score in values] for field in Scores._fields]
    return Scores(*(None if None in column else float(np.mean(column)) for column in columns))


def bicubic_upscale(scale: float) -> Callable[[np.ndarray], np.ndarray]:
    """The protocol's bicubic predictor: ``imresize(LR, scale)`` (MATLAB bicubic) to the protocol's HR size."""

    def upscale(lr: np.ndarray) -> np.ndarray:
        return imresize(lr, output_size=tuple(scaled_size(list(lr.shape[1:]), scale)))

    return upscale


def bicubic_baseline(
    scale: float,
    images: Sequence[CorpusImage],
    clip: bool = False,
    clip_lr: bool = True,
    lr_bits: int | None = None,
) -> dict[str, Scores]:
    """The protocol's scores of bicubic up-sampling (:func:`bicubic_upscale`), ``{name: Scores}``.

    Args:
        scale: SR factor.
        images: as for :func:`protocol_scores` (the TEST split gives :data:`BICUBIC_REFERENCE`).
        clip: clip the bicubic output to ``[0, 1]`` before scoring. Default False, the setting
            that reproduces :data:`BICUBIC_REFERENCE`.
        clip_lr, lr_bits: the LR variant (:func:`protocol_pair`); ``clip_lr=False`` reproduces
            :data:`BICUBIC_REFERENCE_UNCLIPPED`.
    """
    return protocol_scores(bicubic_upscale(scale), scale, images, clip, clip_lr, lr_bits)
