"""Training data: reproducible random HR/LR patch pairs drawn from a list of images."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.transforms import Randomizable
from scipy import ndimage
from torch.utils.data import Dataset, Sampler

from ..transforms.medical_degrade import RandMedicalDegrade
from ..transforms.patch import RandPairedPatch
from ..transforms.quantize import check_bit_range
from ..transforms.resize import imresize

__all__ = ["EDGE_GRID", "EpochSampler", "PairedPatchDataset", "edge_weights", "medical_degradation"]

logger = logging.getLogger(__name__)


def medical_degradation(
    scale: float, options: Mapping[str, Any] | None, scale_range: Sequence[float] | None = None
) -> RandMedicalDegrade | None:
    """The bundle's ``train#degradation``: the training LR made by :class:`~monai_rmisr.transforms.RandMedicalDegrade`.

    Args:
        scale: the training scale.
        options: None (default of the bundle's ``medical_degradation``: the MATLAB-bicubic LR of the
            protocol), or the keyword arguments of ``RandMedicalDegrade`` besides ``scale``, e.g.
            ``{"blur_sigma": [0, 1], "gaussian_noise_std": [0, 0.01], "jpeg_quality": [70, 95]}``.
        scale_range: the arbitrary-scale training range (the ``meta`` variant), or None.

    Raises:
        ValueError: options that are not a mapping, an option ``RandMedicalDegrade`` refuses (the message
            names it), or options with a ``scale_range`` (the trainer re-degrades each batch to a random
            scale with plain bicubic there, so the degradation would be lost).
    """
    if options is None:
        return None
    if not isinstance(options, Mapping):
        raise ValueError(f"options must be None or a mapping of RandMedicalDegrade keyword arguments, got {options!r}.")
    if scale_range is not None:
        raise ValueError(
            "a training-LR degradation needs a fixed training scale: the arbitrary-scale (meta) training "
            "re-degrades every batch to a random scale with plain bicubic."
        )
    try:
        return RandMedicalDegrade(scale, **options)
    except TypeError as e:  # an unknown option name
        raise ValueError(f"RandMedicalDegrade options: {e}") from e


class PairedPatchDataset(Dataset):
    """Random training pairs, each a pure function of ``(seed, index)``.

    Item ``i`` picks an image (with probability proportional to its area, so a 1024x1024 image
    gives more patches than a 64x64 one), a random crop, flips and rotation from a generator
    seeded with ``(seed, i)``, and returns ``{"hr": (C, P, P), "lr": (C, p, p), "scale": s}``
    float32 tensors; with ``lr_bits`` also ``"lr_bits"``, the bit depth the trainer quantises
    this sample's LR to (drawn here, so that it belongs to the sample, whichever process or batch
    position trains on it). Because nothing depends on worker processes or on previous draws, a run
    resumed from a checkpoint sees exactly the samples of an uninterrupted one, provided it
    asks for the same indices (see :class:`EpochSampler`).

    Args:
        images: channel-first (C, H, W) arrays in [0, 1].
        patch_size: LR patch size ``p``.
        scale: SR factor ``s`` (HR patch ``round(p*s)``).
        seed: base seed.
        length: nominal length (indices beyond it are valid too: the sampler hands out global
            indices ``epoch * length + k``).
        lr_bits: ``(lowest, highest)``: draw a bit depth per sample, uniformly, both ends included
            (:class:`~monai_rmisr.engines.SRTrainer` clips and quantises the LR to it); None: none.
        degradation: None (default): the LR patch is the MATLAB-bicubic downscale of the HR patch; else a
            randomisable transform from the HR patch ``(C, P, P)`` to its LR ``(C, p, p)`` (e.g.
            :class:`~monai_rmisr.transforms.RandMedicalDegrade`: blur, noise, JPEG), seeded per item.
        edge_share: the share of items, in [0, 1], whose crop is centred on a pixel drawn with probability
            proportional to the image's gradient magnitude (:func:`edge_weights`) instead of uniformly:
            more patches of the strongest edges (bone, air / tissue), where an x4 model's excess error over
            a better one lies (``benchmarks/error_regions.py --strongest-edges``). The image is still drawn
            by area. 0 (default) draws exactly the samples of a dataset without the setting.
        zoom_share: the share of items, in [0, 1], whose HR patch is a view of the image at a smaller size: a
            factor ``f`` drawn uniformly in ``zoom_range``, a square region of ``round(P / f)`` pixels (at most
            the image's shorter side) MATLAB-bicubic downscaled (antialiased) to ``P x P`` and clipped to
            [0, 1], as a scanner with larger pixels would record it. More edge widths and textures per pixel
            from the same few images; the LR is made from that HR patch as from any other. Taken before
            ``edge_share`` (a zoomed item's region is placed uniformly). 0 (default) draws exactly the samples
            of a dataset without the setting.
        zoom_range: ``(lowest, highest)`` zoom factors, ``0 < lowest <= highest <= 1`` (default (0.5, 1.0)).
    """

    def __init__(
        self,
        images: Sequence[np.ndarray],
        patch_size: int,
        scale: float,
        seed: int = 0,
        length: int = 1000,
        lr_bits: Sequence[int] | None = None,
        degradation: Randomizable | None = None,
        edge_share: float = 0.0,
        zoom_share: float = 0.0,
        zoom_range: Sequence[float] = (0.5, 1.0),
    ):
        if not images:
            raise ValueError("PairedPatchDataset needs at least one image.")
        share = _check_share(edge_share, "edge_share (edge_patch_share)")
        self.zoom_share = _check_share(zoom_share, "zoom_share (hr_zoom_share)")
        self.zoom_range = _check_zoom_range(zoom_range)
        self.images = [np.ascontiguousarray(img, dtype=np.float32) for img in images]
        channels = {img.shape[0] for img in self.images}
        if len(channels) != 1 or any(img.ndim != 3 for img in self.images):
            raise ValueError(f"images must all be (C, H, W) with the same C, got shapes {[i.shape for i in images]}.")
        areas = np.array([img.shape[1] * img.shape[2] for img in self.images], dtype=np.float64)
        self.probabilities = areas / areas.sum()
        self.patch = RandPairedPatch(patch_size, scale)
        hr = self.patch.hr_size
        small = [img.shape[1:] for img in self.images if min(img.shape[1:]) < hr]
        if small:  # padded by RandPairedPatch: said in the log (the corpus's small MR images are, at x4)
            smallest = min(small, key=lambda shape: shape[0] * shape[1])
            logger.info(
                "%d of the %d training images are smaller than the %dx%d HR patch (--patch_size %d at x%g; the "
                "smallest %dx%d): their patches are mirror-padded to it.",
                len(small),
                len(self.images),
                hr,
                hr,
                patch_size,
                float(scale),
                smallest[1],
                smallest[0],
            )
        self.scale = float(scale)
        self.seed = int(seed)
        self.length = int(length)
        self.lr_bits = None if lr_bits is None else check_bit_range(lr_bits)
        self.degradation = degradation
        self.edge_share = share
        # per image, the cumulative edge weights of its EDGE_GRID x EDGE_GRID cells (computed once, shared
        # by the images a modality repeat lists twice: the same array)
        cumulative: dict[int, np.ndarray] = {}
        if self.edge_share > 0:
            for img in images:
                if id(img) not in cumulative:
                    cumulative[id(img)] = np.cumsum(edge_weights(img), dtype=np.float64)
        self.edge_cdfs = [cumulative[id(img)] for img in images] if self.edge_share > 0 else []

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | float]:
        rng = np.random.default_rng([self.seed, int(index)])
        which = int(rng.choice(len(self.images), p=self.probabilities))
        image = self.images[which]
        self.patch.set_random_state(seed=int(rng.integers(2**31)))
        if self.zoom_share > 0 and rng.random() < self.zoom_share:  # no extra draw at 0: earlier runs' samples
            hr, lr = self.patch(torch.from_numpy(self._zoomed_view(image, rng)))
        elif self.edge_share > 0 and rng.random() < self.edge_share:  # no extra draw at 0: earlier runs' samples
            self.patch.randomize(image.shape[1:], start=self._edge_crop_start(which, rng))
            hr, lr = self.patch(torch.from_numpy(image), randomize=False)
        else:
            hr, lr = self.patch(torch.from_numpy(image))
        bits = None if self.lr_bits is None else int(rng.integers(self.lr_bits[0], self.lr_bits[1] + 1))
        if self.degradation is not None:  # drawn after the bit depth: a sample keeps it, degraded or not
            self.degradation.set_random_state(seed=int(rng.integers(2**31)))
            degraded = self.degradation(torch.as_tensor(hr))
            if tuple(degraded.shape) != tuple(lr.shape):
                raise ValueError(
                    f"the degradation made an LR patch of shape {tuple(degraded.shape)} from the HR patch "
                    f"{tuple(hr.shape)}; the pair needs {tuple(lr.shape)} (scale {self.scale:g})."
                )
            lr = degraded
        item = {"hr": torch.as_tensor(hr).float(), "lr": torch.as_tensor(lr).float(), "scale": self.scale}
        if bits is not None:
            item["lr_bits"] = bits
        return item

    def _zoomed_view(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A random square region of ``image`` downscaled to the HR patch size by a factor drawn in ``zoom_range``
        (the image's shorter side bounds the region: a small image is zoomed less), clipped to [0, 1]; an image
        whose shorter side is no longer than the patch is returned whole, to be cropped (and padded) as usual."""
        factor = float(rng.uniform(*self.zoom_range))
        size = self.patch.hr_size
        height, width = image.shape[1:]
        region = min(round(size / factor), height, width)
        if region <= size:
            return image
        top, left = int(rng.integers(height - region + 1)), int(rng.integers(width - region + 1))
        view = image[:, top : top + region, left : left + region]
        return np.clip(imresize(view, output_size=size), 0.0, 1.0)

    def _edge_crop_start(self, which: int, rng: np.random.Generator) -> tuple[int, int]:
        """The HR crop's top-left corner for a crop centred on a pixel drawn by edge weight in image ``which``."""
        cdf = self.edge_cdfs[which]
        cell = min(int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right")), len(cdf) - 1)
        height, width = self.images[which].shape[1:]
        columns = -(-width // EDGE_GRID)
        row = (cell // columns) * EDGE_GRID + int(rng.integers(EDGE_GRID))
        column = (cell % columns) * EDGE_GRID + int(rng.integers(EDGE_GRID))
        half = self.patch.hr_size // 2
        return min(row, height - 1) - half, min(column, width - 1) - half


def _check_share(value: Any, name: str) -> float:
    """``value`` as a float in [0, 1] (a share of the training items); else a ValueError naming ``name``."""
    try:
        share = float(value)
    except (TypeError, ValueError):
        share = math.nan
    if isinstance(value, bool) or not 0.0 <= share <= 1.0:  # also False for NaN
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}.")
    return share


def _check_zoom_range(value: Any) -> tuple[float, float]:
    """``(lowest, highest)`` zoom factors with ``0 < lowest <= highest <= 1``; else a ValueError naming the value."""
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        low = high = math.nan
    if not 0.0 < low <= high <= 1.0:  # also False for NaN
        raise ValueError(f"zoom_range (hr_zoom_range) must be two factors 0 < lowest <= highest <= 1, got {value!r}.")
    return low, high


#: The cell size, in HR pixels, on which :func:`edge_weights` sums the gradient (the centre of an edge crop is
#: drawn per cell, then uniformly inside it).
EDGE_GRID = 4


def edge_weights(image: np.ndarray) -> np.ndarray:
    """The gradient magnitude of a (C, H, W) image (Sobel, on the mean of its channels), summed over cells of
    :data:`EDGE_GRID` x :data:`EDGE_GRID` pixels: a flat (row-major) array of ``ceil(H/4) * ceil(W/4)``
    non-negative weights. A flat image gets equal weights (then an edge crop is a uniform one)."""
    grey = np.asarray(image, dtype=np.float32).mean(axis=0)
    magnitude = np.hypot(ndimage.sobel(grey, axis=0), ndimage.sobel(grey, axis=1))
    height, width = magnitude.shape
    padded = np.zeros((-(-height // EDGE_GRID) * EDGE_GRID, -(-width // EDGE_GRID) * EDGE_GRID), np.float32)
    padded[:height, :width] = magnitude
    cells = padded.reshape(padded.shape[0] // EDGE_GRID, EDGE_GRID, -1, EDGE_GRID).sum(axis=(1, 3)).ravel()
    return cells if cells.sum() > 0 else np.ones_like(cells)


class EpochSampler(Sampler[int]):
    """Yields ``epoch * length + k`` for ``k < length``, one epoch per ``iter()`` call.

    With a :class:`PairedPatchDataset` every epoch draws fresh samples, and the sequence is a
    function of the epoch number alone: call :meth:`set_epoch` with the number of completed
    epochs after resuming from a checkpoint to continue exactly where the run stopped.

    For distributed training, process ``rank`` of ``num_replicas`` takes every
    ``num_replicas``-th index starting at ``rank``: the ranks share the epoch's ``length``
    samples without overlap (``length`` must be a multiple of ``num_replicas``).
    """

    def __init__(self, length: int, num_replicas: int = 1, rank: int = 0):
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f"need 0 <= rank < num_replicas, got rank={rank}, num_replicas={num_replicas}.")
        if length % num_replicas:
            raise ValueError(f"length {length} is not a multiple of num_replicas {num_replicas}.")
        self.total = int(length)
        self.length = self.total // num_replicas
        self.num_replicas, self.rank = num_replicas, rank
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[int]:
        start = self.epoch * self.total
        self.epoch += 1
        return iter(range(start + self.rank, start + self.total, self.num_replicas))
