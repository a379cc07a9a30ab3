"""Image lists and validation pairs for the training workflow (used by the bundle configs)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np

from ..transforms.resize import imresize
from .corpus import load_corpus
from .protocol import make_pair

__all__ = ["corpus_images", "fractional_pair", "validation_pairs"]


def name_starts_with(name: str, prefixes: Sequence[str]) -> bool:
    """How the bundle's ``val_names`` (and ``include`` / ``exclude`` below) pick corpus images:
    by name prefix, so ``"emri_small"`` matches all its frames ``emri_small#k``."""
    return any(name.startswith(prefix) for prefix in prefixes)


def corpus_images(
    split: str = "train",
    include: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    cache_dir: str | os.PathLike | None = None,
) -> list[np.ndarray]:
    """(1, H, W) float32 images in [0, 1] of the embedded corpus.

    Args:
        split: ``"train"`` or ``"test"`` (the development split of ``DATA.md``).
        include: keep only images whose name starts with one of these (frames of a volume are
            named ``source#k``, so ``"emri_small"`` keeps all its frames).
        exclude: drop images whose name starts with one of these (e.g. the validation images).
        cache_dir: the corpus cache (default ``$MONAI_RMISR_CACHE`` or ``~/.cache/monai_rmisr``).
    """
    images = load_corpus(split, cache_dir=cache_dir)
    selected = [
        img
        for img in images
        if (include is None or name_starts_with(img.name, include)) and not name_starts_with(img.name, exclude)
    ]
    if not selected:
        raise ValueError(f"no {split} image of the corpus matches include={include} exclude={exclude}.")
    return [img.array for img in selected]


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


def validation_pairs(images: Sequence[np.ndarray], scale: float) -> list[dict[str, np.ndarray]]:
    """``[{"hr": (C, H, W), "lr": (C, h, w)}]``: each image cropped to fit ``scale`` and degraded
    with the MATLAB-bicubic operator (the benchmark protocol; see :func:`fractional_pair`)."""
    pairs = []
    for image in images:
        hr, lr = fractional_pair(image, scale)
        pairs.append({"hr": np.asarray(hr, dtype=np.float32), "lr": np.asarray(lr, dtype=np.float32)})
    return pairs
