"""Full-reference image quality: PSNR and SSIM with the conventions of the SR literature.

Convention (state it whenever you report a number): images are grey (or the Y channel),
scaled to ``[0, data_range]`` with ``data_range = 1`` by default, and ``crop_border`` pixels are
removed from every side before scoring (the protocol's border is
:func:`~monai_rmisr.metrics.protocol.protocol_border`). PSNR is ``10 log10(data_range**2 / MSE)`` with
the MSE over all channels and pixels of an image. SSIM is Wang et al. (2004): an 11x11 Gaussian window
with sigma 1.5, ``K1 = 0.01``, ``K2 = 0.03``, population (biased) variances, filtered in 'valid' mode (no
padding) and averaged over the map and the channels, as MATLAB's ``ssim_index`` and
``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
data_range=data_range)``.

The values come from MONAI's metrics (``monai.metrics.PSNRMetric``, ``monai.metrics.SSIMMetric``); this
module adds the SR conventions around them: the border crop, 2-D / 3-D / 4-D numpy or torch inputs, one
float for one image. PSNR is computed in float64; MONAI computes SSIM in float32 (within 6e-6 of a float64
SSIM on the TEST split's images).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from monai.config import NdarrayOrTensor
from monai.metrics import PSNRMetric, SSIMMetric

__all__ = ["SSIM_WINDOW", "psnr", "ssim"]

#: SSIM's Gaussian window, pixels a side: the smallest image it scores
SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5
_K1, _K2 = 0.01, 0.03


def _to_batch(x: NdarrayOrTensor, name: str) -> torch.Tensor:
    t = torch.from_numpy(np.asarray(x)) if not isinstance(x, torch.Tensor) else x.detach()
    if hasattr(t, "as_tensor"):
        t = t.as_tensor()  # MetaTensor -> plain tensor
    if t.ndim == 2:
        t = t[None, None]
    elif t.ndim == 3:
        t = t[None]
    elif t.ndim != 4:
        raise ValueError(f"{name} must be (H, W), (C, H, W) or (B, C, H, W), got shape {tuple(t.shape)}.")
    return t.to(torch.float64)


def _prepare(sr: NdarrayOrTensor, hr: NdarrayOrTensor, data_range: float, crop_border: int):
    a, b = _to_batch(sr, "sr"), _to_batch(hr, "hr")
    if a.shape != b.shape:
        raise ValueError(f"sr and hr must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}.")
    if not (isinstance(data_range, (int, float)) and math.isfinite(data_range) and data_range > 0):
        raise ValueError(f"data_range must be a finite number > 0, got {data_range}.")
    crop_border = int(crop_border)
    if crop_border < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}.")
    if crop_border:
        if min(a.shape[-2:]) <= 2 * crop_border:
            raise ValueError(f"crop_border={crop_border} leaves nothing of a {tuple(a.shape[-2:])} image.")
        a = a[..., crop_border:-crop_border, crop_border:-crop_border]
        b = b[..., crop_border:-crop_border, crop_border:-crop_border]
    b = b.to(a.device)
    return a, b


def _output(values: torch.Tensor, sr: NdarrayOrTensor) -> float | np.ndarray | torch.Tensor:
    if sr.ndim < 4:
        return float(values[0])
    return values if isinstance(sr, torch.Tensor) else values.cpu().numpy()


def psnr(
    sr: NdarrayOrTensor, hr: NdarrayOrTensor, data_range: float = 1.0, crop_border: int = 0
) -> float | np.ndarray | torch.Tensor:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range**2 / MSE)``.

    Args:
        sr: the estimate, ``(H, W)``, ``(C, H, W)`` or ``(B, C, H, W)``, numpy or torch, values in
            ``[0, data_range]`` (grey or the Y channel for the usual SR convention).
        hr: the reference, same shape.
        data_range: the value range (1 for images in ``[0, 1]``, 255 for 8-bit).
        crop_border: pixels removed from each side of H and W before scoring (``scale`` in the
            SR literature).

    Returns:
        A float for a single image; for a batch, the per-image values, shape ``(B,)``, as a
        float64 tensor (torch input, on its device) or numpy array. Identical images give
        ``inf``. Computed in float64.

    Raises:
        ValueError: mismatched shapes, a bad ``data_range`` or a ``crop_border`` too large.
    """
    a, b = _prepare(sr, hr, data_range, crop_border)
    values = PSNRMetric(max_val=float(data_range), reduction="none")(a, b)[:, 0]
    return _output(values, sr)


def ssim(
    sr: NdarrayOrTensor, hr: NdarrayOrTensor, data_range: float = 1.0, crop_border: int = 0
) -> float | np.ndarray | torch.Tensor:
    """Structural similarity (Wang et al., IEEE TIP 2004, eq. 13), mean over the SSIM map.

    11x11 Gaussian window (sigma 1.5), ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2`` with
    ``L = data_range``, population statistics, 'valid' filtering (the map is 10 pixels smaller
    than the image in H and W); multi-channel images average the per-channel means.

    Args:
        sr: the estimate, ``(H, W)``, ``(C, H, W)`` or ``(B, C, H, W)``, numpy or torch, values in
            ``[0, data_range]``.
        hr: the reference, same shape.
        data_range: the value range (1 for images in ``[0, 1]``).
        crop_border: pixels removed from each side of H and W before scoring.

    Returns:
        A float for a single image, else per-image values ``(B,)`` (float64 tensor or numpy
        array, following the input type).

    Raises:
        ValueError: mismatched shapes, a bad ``data_range`` or an image smaller than 11x11 after
            the crop.
    """
    a, b = _prepare(sr, hr, data_range, crop_border)
    if min(a.shape[-2:]) < SSIM_WINDOW:
        raise ValueError(f"ssim needs at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, got {tuple(a.shape[-2:])}.")
    metric = SSIMMetric(
        spatial_dims=2, data_range=float(data_range), win_size=SSIM_WINDOW, kernel_sigma=_SSIM_SIGMA, k1=_K1, k2=_K2
    )
    values = metric(a, b)[:, 0].to(torch.float64)
    return _output(values, sr)
