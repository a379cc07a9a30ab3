"""Scanner-like degradations (HR -> LR) for training SR models that hold up on real low-resolution scans.

Real scanners do not blur with a bicubic kernel: an MR image acquired at a lower resolution is a
truncated k-space, a thick CT / MR slice integrates the signal over its thickness, detectors add
noise and archives add JPEG artefacts. :class:`RandMedicalDegrade` simulates these on top of the
bicubic protocol. **Every option is off by default** and then the transform is exactly
:class:`~monai_rmisr.transforms.BicubicDegrade`; the paper's bicubic protocol stays the default
and the only benchmark protocol (:mod:`monai_rmisr.benchmark`).

The building blocks are public functions (:func:`kspace_truncate`, :func:`slab_resample`,
:func:`jpeg_roundtrip`) so a pipeline can use one of them deterministically.
"""

from __future__ import annotations

import io
import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.data import MetaTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms import MapTransform, RandomizableTransform
from monai.utils import TransformBackends, convert_to_tensor
from PIL import Image
from scipy.ndimage import gaussian_filter

from .degrade import check_sr_scale
from .resize import imresize, resized_affine, with_meta_of
from .utils import resolve_output_keys

__all__ = ["RandMedicalDegrade", "RandMedicalDegraded", "jpeg_roundtrip", "kspace_truncate", "slab_resample"]


def kspace_truncate(img: np.ndarray, scales: Sequence[float], axes: Sequence[int]) -> np.ndarray:
    """Keep the central ``1 / scale`` of k-space along ``axes`` and return the magnitude image (same grid).

    Simulates an MR acquisition at ``scale`` times lower resolution reconstructed by zero-filling:
    the FFT over ``axes`` keeps the integer frequencies ``|k| < n / (2 * scale)`` of an axis of
    length ``n`` (about ``n / scale`` central lines, strictly below the Nyquist frequency of the
    LR grid; the band is symmetric, so the complex result is real up to rounding) and sets the rest
    to zero; the inverse FFT's magnitude is returned, as MR magnitude images are (Gibbs ringing
    included; negative ringing lobes are rectified). Axes with ``scale <= 1`` are not truncated.

    Args:
        img: real array, any shape; float64 computation.
        scales: the SR factor of each axis in ``axes``.
        axes: absolute axes of ``img`` to truncate (e.g. ``(1, 2)`` for the in-plane axes of a
            channel-first image).

    Returns:
        float64 array of ``img``'s shape.
    """
    x = np.asarray(img, dtype=np.float64)
    axes = tuple(axes)
    kspace = np.fft.fftn(x, axes=axes)
    for axis, scale in zip(axes, scales):
        if scale <= 1:
            continue
        n = x.shape[axis]
        keep = np.abs(np.fft.fftfreq(n) * n) < n / (2.0 * scale)
        shape = [1] * x.ndim
        shape[axis] = n
        kspace = kspace * keep.reshape(shape)
    return np.abs(np.fft.ifftn(kspace, axes=axes))


def slab_resample(img: np.ndarray, axis: int, scale: float, thickness: float) -> np.ndarray:
    """Resample ``axis`` to the LR grid by integrating a slab of ``thickness`` input slices per output slice.

    Thick-slice CT / MR: LR slice ``j`` (0-based) sits at input position ``c = (j + 0.5) * scale - 0.5``
    (the grid of :func:`~monai_rmisr.transforms.imresize`) and is the mean of the input signal over
    ``[c - thickness / 2, c + thickness / 2]``, each input slice ``i`` covering ``[i - 0.5, i + 0.5]``
    and weighted by its overlap (a rectangular slice profile). With ``thickness == scale`` (an
    integer) and a length divisible by it, this is the mean of each block of ``scale`` slices;
    ``thickness > scale`` gives overlapping slabs, ``thickness < scale`` gaps. Positions outside
    the volume are mirrored with the edge slice repeated (MATLAB's ``symmetric``). The output
    length is ``ceil(n / scale)``, the bicubic protocol's.

    Args:
        img: array, any shape; float64 computation.
        axis: the absolute axis to resample.
        scale: the SR factor along ``axis`` (LR slice spacing in input slices), ``>= 1``.
        thickness: slab thickness in input slices, ``>= 1``.

    Returns:
        float64 array with ``axis`` of length ``ceil(n / scale)``.
    """
    x = np.asarray(img, dtype=np.float64)
    n = x.shape[axis]
    m = math.ceil(n * (1.0 / scale))
    centres = (np.arange(m, dtype=np.float64) + 0.5) * scale - 0.5
    lo, hi = centres - thickness / 2.0, centres + thickness / 2.0
    first = np.floor(lo + 0.5)  # the input slice that contains the slab's lower edge
    index = first[:, None] + np.arange(math.ceil(thickness) + 2, dtype=np.float64)[None, :]
    overlap = np.minimum(hi[:, None], index + 0.5) - np.maximum(lo[:, None], index - 0.5)
    weights = np.clip(overlap, 0.0, None) / thickness
    aux = np.concatenate([np.arange(n), np.arange(n)[::-1]])
    mirrored = aux[np.mod(index.astype(np.int64), 2 * n)]
    matrix = np.zeros((m, n), dtype=np.float64)
    np.add.at(matrix, (np.repeat(np.arange(m), index.shape[1]), mirrored.ravel()), weights.ravel())
    return np.moveaxis(np.tensordot(matrix, x, axes=([1], [axis])), 0, axis)


def jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode every 2-D image of a ``[0, 1]`` array as an 8-bit greyscale JPEG (Pillow).

    Quantisation: ``uint8(rint(clip(x, 0, 1) * 255))``, so values outside ``[0, 1]`` (bicubic
    overshoot, noise) are clipped first; the decoded grey levels are returned as ``level / 255``.
    Each channel (and each slice along the last axis of a ``(C, H, W, D)`` volume) is its own
    ``(H, W)`` JPEG; colour images are thus compressed per channel, without chroma subsampling.

    Args:
        img: ``(C, H, W)`` or ``(C, H, W, D)`` array with values meant to lie in ``[0, 1]``.
        quality: Pillow's JPEG quality, 1 (worst) .. 100.

    Returns:
        float64 array of ``img``'s shape with values in ``{0, 1/255, ..., 1}``.
    """
    x = np.asarray(img, dtype=np.float64)
    levels = np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)
    planes = levels.reshape(x.shape[0], x.shape[1], x.shape[2], -1)
    out = np.empty(planes.shape, dtype=np.float64)
    for c in range(planes.shape[0]):
        for z in range(planes.shape[3]):
            buffer = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(planes[c, :, :, z]), mode="L").save(
                buffer, format="JPEG", quality=int(quality)
            )
            buffer.seek(0)
            with Image.open(buffer) as decoded:
                out[c, :, :, z] = np.asarray(decoded, dtype=np.float64) / 255.0
    return out.reshape(x.shape)


def _probability(value: bool | float, name: str) -> float:
    p = float(value)
    if not 0.0 <= p <= 1.0:  # also rejects NaN
        raise ValueError(f"{name} must be a probability in [0, 1] (or a bool), got {value}.")
    return p


def _value_range(
    value: float | Sequence[float] | None, name: str, positive: bool = False
) -> tuple[float, float] | None:
    """``None`` / ``0`` -> off; a number ``v`` -> ``(v, v)``; ``(lo, hi)`` -> checked ``0 <= lo <= hi``."""
    if value is None:
        return None
    if isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, str):
        if len(value) != 2:
            raise ValueError(f"{name} must be a number or a range (low, high), got {value!r}.")
        lo, hi = float(value[0]), float(value[1])
    else:
        lo = hi = float(value)
        if lo == 0 and not positive:
            return None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo <= hi) or (positive and lo <= 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be finite, {bound} and ordered (low <= high), got {value!r}.")
    if hi == 0:
        return None
    return lo, hi


def _quality_range(value: int | Sequence[int] | None) -> tuple[int, int] | None:
    if value is None:
        return None
    pair = tuple(value) if isinstance(value, (Sequence, np.ndarray)) else (value, value)
    valid = len(pair) == 2 and all(not isinstance(q, bool) and int(q) == q and 1 <= q <= 100 for q in pair)
    if not valid or pair[0] > pair[1]:
        raise ValueError(f"jpeg_quality must be an integer in [1, 100] or a range (low, high) of them, got {value!r}.")
    return int(pair[0]), int(pair[1])


def _slice_thickness(value: Sequence[float] | None) -> tuple[int, float] | None:
    if value is None:
        return None
    if not isinstance(value, Sequence) or len(value) != 2 or isinstance(value[0], bool) or int(value[0]) != value[0]:
        raise ValueError(f"slice_thickness must be None or (spatial axis, thickness factor), got {value!r}.")
    factor = float(value[1])
    if not math.isfinite(factor) or factor < 1:
        raise ValueError(f"slice_thickness factor must be a finite number >= 1 (in HR slices), got {value[1]}.")
    return int(value[0]), factor


class RandMedicalDegrade(RandomizableTransform):
    """Produce the LR image of an SR pair with scanner-like degradations, ending with the protocol's resampling.

    Applied to an HR image ``(C, H, W)`` or ``(C, H, W, D)`` with values in ``[0, 1]``, in this
    order (each step only when enabled; all are off by default):

    1. **Gaussian blur** (a scanner's point-spread function) on the HR grid, ``sigma`` in HR
       pixels, drawn from ``blur_sigma``, on every spatial axis (``scipy.ndimage.gaussian_filter``,
       mirrored borders).
    2. **k-space truncation** (MR at lower resolution) on the HR grid, with probability
       ``kspace_truncation``: the 2-D FFT over spatial axes 0 and 1 (the in-plane axes; per slice
       of a volume) keeps the central ``1 / scale`` of the frequencies, magnitude of the inverse
       FFT (:func:`kspace_truncate`).
    3. **Resampling to the LR grid**, always: MATLAB bicubic ``imresize(x, 1 / scale)`` (the
       protocol, :class:`~monai_rmisr.transforms.BicubicDegrade`), except along the
       ``slice_thickness`` axis, which gets the **thick-slice** integration instead: each LR slice
       is the mean over a slab of ``factor`` HR slices centred on it (:func:`slab_resample`; block
       averaging of ``scale`` slices when ``factor == scale``). The LR shape is the bicubic one,
       ``ceil(n / scale)`` per axis.
    4. **Poisson noise** on the LR grid (quantum noise): ``Poisson(peak * clip(x, 0)) / peak``
       with ``peak`` (the count at intensity 1) drawn from ``poisson_peak``.
    5. **Gaussian noise** on the LR grid (electronic noise), ``std`` drawn from
       ``gaussian_noise_std``, in ``[0, 1]`` intensity units. Noise is not clipped.
    6. **JPEG compression** (archives, web data) with a quality drawn from ``jpeg_quality``: 8-bit
       quantisation ``rint(clip(x, 0, 1) * 255)`` and a Pillow JPEG per 2-D plane
       (:func:`jpeg_roundtrip`); the output holds ``level / 255``.

    With no option enabled, or when the ``prob`` draw fails, the output is exactly
    ``imresize(img, 1 / scale)``. Random parameters are drawn in :meth:`randomize` from the
    transform's ``R`` (seed it with ``set_random_state``); the noise comes from a generator seeded
    by a value drawn there, so the output is deterministic given the seed. The last draw is in
    :attr:`params`. Computation is float64 on the CPU; the result has the input's type and device
    and, as :func:`~monai_rmisr.transforms.imresize` gives them, its dtype (float32 / float64 kept, float16 /
    bfloat16 too, other dtypes give float32) and a MetaTensor's affine on the LR grid, whether or not a
    degradation fired.

    **Off by default**: the paper's bicubic degradation stays the default training protocol and the
    benchmark protocol; these options are for training models meant for real low-resolution scans.

    Args:
        scale: the SR factor (``>= 1``), one value or one per spatial axis, as in
            :class:`~monai_rmisr.transforms.BicubicDegrade`.
        prob: probability of applying the enabled degradations (steps 1, 2, 4-6 and the slab
            profile of step 3) to a sample; otherwise plain bicubic. Default 1.
        kspace_truncation: probability of the k-space truncation (``True`` = 1, ``False`` = 0, the default).
        slice_thickness: ``None`` (default) or ``(axis, factor)``: the 0-based spatial axis of the
            slices (``2``, or ``-1``, for the ``D`` axis of a ``(C, H, W, D)`` volume) and the slab
            thickness in HR slices (``>= 1``; ``factor == scale`` for contiguous thick slices).
        gaussian_noise_std: ``0`` (off, default), a fixed std or a range ``(low, high)`` to draw it
            from uniformly.
        poisson_peak: ``None`` (off, default), a fixed peak count ``> 0`` or a range ``(low, high)``;
            lower peaks are noisier (noise std ``sqrt(x / peak)``).
        blur_sigma: ``0`` (off, default), a fixed sigma or a range ``(low, high)``, in HR pixels.
        jpeg_quality: ``None`` (off, default), an integer quality in ``[1, 100]`` or a range
            ``(low, high)`` drawn as an integer, both ends included.

    Raises:
        ValueError: for an invalid argument (the message names the value); when called on an image
            that is not ``(C, H, W)`` / ``(C, H, W, D)``, whose spatial dims do not match a
            per-axis ``scale``, or whose ``slice_thickness`` axis does not exist.
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(
        self,
        scale: float | Sequence[float],
        prob: float = 1.0,
        kspace_truncation: bool | float = False,
        slice_thickness: Sequence[float] | None = None,
        gaussian_noise_std: float | Sequence[float] = 0.0,
        poisson_peak: float | Sequence[float] | None = None,
        blur_sigma: float | Sequence[float] = 0.0,
        jpeg_quality: int | Sequence[int] | None = None,
    ) -> None:
        RandomizableTransform.__init__(self, _probability(prob, "prob"))
        self.scale = check_sr_scale(scale)
        self.kspace_truncation = _probability(kspace_truncation, "kspace_truncation")
        self.slice_thickness = _slice_thickness(slice_thickness)
        self.gaussian_noise_std = _value_range(gaussian_noise_std, "gaussian_noise_std")
        self.poisson_peak = _value_range(poisson_peak, "poisson_peak", positive=True)
        self.blur_sigma = _value_range(blur_sigma, "blur_sigma")
        self.jpeg_quality = _quality_range(jpeg_quality)
        self.params: dict[str, Any] = {}

    def randomize(self, data: Any = None) -> None:
        """Draw whether to degrade and the parameters of this sample into :attr:`params`."""
        super().randomize(None)
        params: dict[str, Any] = {}
        if self._do_transform:
            if self.blur_sigma is not None:
                params["blur_sigma"] = float(self.R.uniform(*self.blur_sigma))
            if self.kspace_truncation > 0:
                params["kspace_truncation"] = bool(self.R.rand() < self.kspace_truncation)
            if self.slice_thickness is not None:
                params["slice_thickness"] = self.slice_thickness
            if self.poisson_peak is not None:
                params["poisson_peak"] = float(self.R.uniform(*self.poisson_peak))
            if self.gaussian_noise_std is not None:
                params["gaussian_noise_std"] = float(self.R.uniform(*self.gaussian_noise_std))
            if self.jpeg_quality is not None:
                params["jpeg_quality"] = int(self.R.randint(self.jpeg_quality[0], self.jpeg_quality[1] + 1))
            if self.poisson_peak is not None or self.gaussian_noise_std is not None:
                params["noise_seed"] = int(self.R.randint(0, 2**31 - 1))
        self.params = params

    def _scales(self, spatial_dims: int) -> tuple[float, ...]:
        if isinstance(self.scale, tuple):
            if len(self.scale) != spatial_dims:
                raise ValueError(f"scale has {len(self.scale)} entries but the image has {spatial_dims} spatial dims.")
            return self.scale
        return (self.scale,) * spatial_dims

    def __call__(self, img: NdarrayOrTensor, randomize: bool = True) -> NdarrayOrTensor:
        """Args: img: HR ``(C, H, W)`` / ``(C, H, W, D)`` in ``[0, 1]``; randomize: draw new parameters first.

        Returns the LR image, of the input's type, bicubic LR shape.
        """
        spatial_dims = img.ndim - 1
        if spatial_dims not in (2, 3):
            raise ValueError(f"expected a channel-first (C, H, W) or (C, H, W, D) image, got shape {tuple(img.shape)}.")
        scales = self._scales(spatial_dims)
        thick_axis = None
        if self.slice_thickness is not None:
            thick_axis = self.slice_thickness[0]
            if not -spatial_dims <= thick_axis < spatial_dims:
                raise ValueError(
                    f"slice_thickness axis {thick_axis} does not exist in an image with {spatial_dims} spatial dims."
                )
            thick_axis %= spatial_dims
        if randomize:
            self.randomize()
        p = self.params
        active = (
            p.get("blur_sigma", 0) > 0
            or p.get("kspace_truncation", False)
            or "slice_thickness" in p
            or "poisson_peak" in p
            or p.get("gaussian_noise_std", 0) > 0
            or "jpeg_quality" in p
        )
        inv = tuple(1.0 / s for s in self.scale) if isinstance(self.scale, tuple) else 1.0 / self.scale
        if not active:
            return imresize(img, scale=inv)

        x = convert_to_tensor(img, track_meta=False).detach().cpu().numpy().astype(np.float64)
        if p.get("blur_sigma", 0) > 0:
            x = gaussian_filter(x, sigma=(0.0,) + (p["blur_sigma"],) * spatial_dims, mode="reflect")
        if p.get("kspace_truncation", False):
            x = kspace_truncate(x, scales[:2], axes=(1, 2))
        if "slice_thickness" in p:
            others = [a for a in range(spatial_dims) if a != thick_axis]
            x = imresize(x, scale=[1.0 / scales[a] for a in others], spatial_axes=others)
            x = slab_resample(x, 1 + thick_axis, scales[thick_axis], p["slice_thickness"][1])
        else:
            x = imresize(x, scale=inv)
        rng = np.random.default_rng(p.get("noise_seed"))
        if "poisson_peak" in p:
            peak = p["poisson_peak"]
            x = rng.poisson(np.clip(x, 0.0, None) * peak) / peak
        if p.get("gaussian_noise_std", 0) > 0:
            x = x + rng.normal(0.0, p["gaussian_noise_std"], size=x.shape)
        if "jpeg_quality" in p:
            x = jpeg_roundtrip(x, p["jpeg_quality"])
        return self._restore(x, img, scales)

    @staticmethod
    def _restore(x: np.ndarray, img: NdarrayOrTensor, scales: Sequence[float]) -> NdarrayOrTensor:
        """``x`` in ``img``'s type, device and dtype rule (imresize's); a MetaTensor gets the LR affine."""
        if isinstance(img, np.ndarray):
            return x.astype(img.dtype if img.dtype in (np.float16, np.float32, np.float64) else np.float32)
        out_dtype = img.dtype if img.dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16) else None
        out = torch.from_numpy(x).to(device=img.device, dtype=out_dtype or torch.float32)
        if isinstance(img, MetaTensor) and get_track_meta():
            return with_meta_of(out, img, resized_affine(img.affine, range(len(scales)), [1.0 / s for s in scales]))
        return out


class RandMedicalDegraded(RandomizableTransform, MapTransform):
    """Dictionary-based wrapper of :py:class:`RandMedicalDegrade`, a drop-in for :py:class:`BicubicDegraded`.

    The LR image is written to new keys (by default ``f"{key}_lr"``); the HR input stays in the
    dictionary, unmodified, as the target. One draw of the random parameters per call is shared by
    all keys. Off by default (plain bicubic) like the array transform; see it for the steps.

    Args:
        keys: keys of the HR images to degrade. See also: :py:class:`monai.transforms.MapTransform`.
        scale, prob, kspace_truncation, slice_thickness, gaussian_noise_std, poisson_peak,
            blur_sigma, jpeg_quality: see :py:class:`RandMedicalDegrade`.
        output_keys: where to write the LR images, one per key (as in
            :py:class:`~monai_rmisr.transforms.BicubicDegraded`); ``None`` means ``f"{key}_lr"``.
        allow_missing_keys: don't raise an exception if a key is missing.
    """

    backend = RandMedicalDegrade.backend

    def __init__(
        self,
        keys: KeysCollection,
        scale: float | Sequence[float],
        prob: float = 1.0,
        kspace_truncation: bool | float = False,
        slice_thickness: Sequence[float] | None = None,
        gaussian_noise_std: float | Sequence[float] = 0.0,
        poisson_peak: float | Sequence[float] | None = None,
        blur_sigma: float | Sequence[float] = 0.0,
        jpeg_quality: int | Sequence[int] | None = None,
        output_keys: KeysCollection | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        self.degrader = RandMedicalDegrade(
            scale,
            prob=prob,
            kspace_truncation=kspace_truncation,
            slice_thickness=slice_thickness,
            gaussian_noise_std=gaussian_noise_std,
            poisson_peak=poisson_peak,
            blur_sigma=blur_sigma,
            jpeg_quality=jpeg_quality,
        )
        RandomizableTransform.__init__(self, self.degrader.prob)
        self.output_keys = resolve_output_keys(self.keys, output_keys, "_lr")

    def set_random_state(
        self, seed: int | None = None, state: np.random.RandomState | None = None
    ) -> RandMedicalDegraded:
        super().set_random_state(seed, state)
        self.degrader.set_random_state(seed, state)
        return self

    def randomize(self, data: Any = None) -> None:
        """Draw the parameters shared by all keys (see :py:meth:`RandMedicalDegrade.randomize`)."""
        self.degrader.randomize(data)
        self._do_transform = self.degrader._do_transform

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        self.randomize(None)
        for key, out_key in self.key_iterator(d, self.output_keys):
            d[out_key] = self.degrader(d[key], randomize=False)
        return d
