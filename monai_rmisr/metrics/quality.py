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
module adds the SR conventions around them: the border crop, an image, a multi-channel image or a batch of them
as numpy or torch, one float for one image; volumes with ``spatial_dims=3``. PSNR is computed in float64; MONAI
computes SSIM in float32 (within 6e-6 of a float64 SSIM on the TEST split's images).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch
from monai.config import NdarrayOrTensor
from monai.metrics import PSNRMetric, SSIMMetric

__all__ = ["SSIM_WINDOW", "psnr", "ssim"]

#: SSIM's Gaussian window, pixels a side: the smallest image it scores
SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5
_K1, _K2 = 0.01, 0.03


def _shapes(spatial_dims: int) -> str:
    axes = "H, W" if spatial_dims == 2 else "H, W, D"
    return f"({axes}), (C, {axes}) or (B, C, {axes})"


def _to_batch(x: NdarrayOrTensor, name: str, spatial_dims: int) -> torch.Tensor:
    t = torch.from_numpy(np.asarray(x)) if not isinstance(x, torch.Tensor) else x.detach()
    if hasattr(t, "as_tensor"):
        t = t.as_tensor()  # MetaTensor -> plain tensor
    leading = t.ndim - spatial_dims
    if leading not in (0, 1, 2):
        raise ValueError(f"{name} must be {_shapes(spatial_dims)}, got shape {tuple(t.shape)}.")
    return t.reshape((1,) * (2 - leading) + tuple(t.shape)).to(torch.float64)


def _checked_data_range(data_range: Any) -> float:
    """``data_range`` as a float: any real number (a numpy scalar such as ``hr.max() - hr.min()``, a one-element
    tensor or array too), finite and > 0."""
    one_element = (isinstance(data_range, torch.Tensor) and data_range.numel() == 1) or (
        isinstance(data_range, np.ndarray) and data_range.size == 1
    )
    if one_element:
        value = float(data_range.reshape(-1)[0])
    elif isinstance(data_range, numbers.Real) and not isinstance(data_range, bool):
        value = float(data_range)
    else:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"data_range must be a finite number > 0, got {data_range!r}.")
    return value


def _prepare(
    sr: NdarrayOrTensor, hr: NdarrayOrTensor, data_range: Any, crop_border: int, spatial_dims: int
) -> tuple[torch.Tensor, torch.Tensor, float]:
    if spatial_dims not in (2, 3):
        raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}.")
    a, b = _to_batch(sr, "sr", spatial_dims), _to_batch(hr, "hr", spatial_dims)
    if a.shape != b.shape:
        raise ValueError(f"sr and hr must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}.")
    value_range = _checked_data_range(data_range)
    crop_border = int(crop_border)
    if crop_border < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}.")
    if crop_border:
        spatial = tuple(a.shape[2:])
        if min(spatial) <= 2 * crop_border:
            raise ValueError(f"crop_border={crop_border} leaves nothing of a {spatial} image.")
        region = (slice(None), slice(None)) + (slice(crop_border, -crop_border),) * spatial_dims
        a, b = a[region], b[region]
    b = b.to(a.device)
    return a, b, value_range


def _output(values: torch.Tensor, sr: NdarrayOrTensor, spatial_dims: int) -> float | np.ndarray | torch.Tensor:
    if sr.ndim < spatial_dims + 2:
        return float(values[0])
    return values if isinstance(sr, torch.Tensor) else values.cpu().numpy()


def psnr(
    sr: NdarrayOrTensor, hr: NdarrayOrTensor, data_range: float = 1.0, crop_border: int = 0, spatial_dims: int = 2
) -> float | np.ndarray | torch.Tensor:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range**2 / MSE)``.

    Args:
        sr: the estimate, ``(H, W)``, ``(C, H, W)`` or ``(B, C, H, W)`` (with ``spatial_dims=3``: ``(H, W, D)``,
            ``(C, H, W, D)`` or ``(B, C, H, W, D)``), numpy or torch, values in ``[0, data_range]`` (grey or the Y
            channel for the usual SR convention).
        hr: the reference, same shape.
        data_range: the value range (1 for images in ``[0, 1]``, 255 for 8-bit): a real number, a numpy scalar or
            a one-element tensor.
        crop_border: pixels removed from each side of every spatial axis before scoring (``scale`` in the
            SR literature).
        spatial_dims: 2 (images) or 3 (volumes: a 4-D input is then one multi-channel volume, not a batch).

    Returns:
        A float for a single image; for a batch, the per-image values, shape ``(B,)``, as a
        float64 tensor (torch input, on its device) or numpy array. Identical images give
        ``inf``. Computed in float64.

    Raises:
        ValueError: mismatched shapes, a bad ``data_range`` or a ``crop_border`` too large.
    """
    a, b, value_range = _prepare(sr, hr, data_range, crop_border, spatial_dims)
    values = PSNRMetric(max_val=value_range, reduction="none")(a, b)[:, 0]
    return _output(values, sr, spatial_dims)


def ssim(
    sr: NdarrayOrTensor, hr: NdarrayOrTensor, data_range: float = 1.0, crop_border: int = 0, spatial_dims: int = 2
) -> float | np.ndarray | torch.Tensor:
    """Structural similarity (Wang et al., IEEE TIP 2004, eq. 13), mean over the SSIM map.

    11x11 Gaussian window (sigma 1.5), ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2`` with
    ``L = data_range``, population statistics, 'valid' filtering (the map is 10 pixels smaller
    than the image in H and W); multi-channel images average the per-channel means.

    Args:
        sr: the estimate, ``(H, W)``, ``(C, H, W)`` or ``(B, C, H, W)`` (with ``spatial_dims=3``: ``(H, W, D)``,
            ``(C, H, W, D)`` or ``(B, C, H, W, D)``), numpy or torch, values in ``[0, data_range]``.
        hr: the reference, same shape.
        data_range: the value range (1 for images in ``[0, 1]``), as for :func:`psnr`.
        crop_border: pixels removed from each side of every spatial axis before scoring.
        spatial_dims: 2 (images) or 3 (volumes: an 11x11x11 window, the map 10 voxels smaller along each axis).

    Returns:
        A float for a single image, else per-image values ``(B,)`` (float64 tensor or numpy
        array, following the input type).

    Raises:
        ValueError: mismatched shapes, a bad ``data_range`` or an image smaller than 11x11 (11x11x11) after
            the crop.
    """
    a, b, value_range = _prepare(sr, hr, data_range, crop_border, spatial_dims)
    if min(a.shape[2:]) < SSIM_WINDOW:
        window = "x".join([str(SSIM_WINDOW)] * spatial_dims)
        raise ValueError(f"ssim needs at least {window} pixels, got {tuple(a.shape[2:])}.")
    metric = SSIMMetric(
        spatial_dims=spatial_dims,
        data_range=value_range,
        win_size=SSIM_WINDOW,
        kernel_sigma=_SSIM_SIGMA,
        k1=_K1,
        k2=_K2,
    )
    values = metric(a, b)[:, 0].to(torch.float64)
    return _output(values, sr, spatial_dims)
