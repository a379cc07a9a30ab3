"""MATLAB-bicubic up-sampling as a module, the baseline every SR result is compared with."""

from __future__ import annotations

import torch
from torch import nn

from ..networks.utils import scaled_size
from ..transforms.resize import imresize

__all__ = ["BICUBIC", "BicubicUpsampler"]

#: The model name that :func:`~monai_rmisr.inference.resolve_model` (``--model``) reads as :class:`BicubicUpsampler`.
BICUBIC = "bicubic"


class BicubicUpsampler(nn.Module):
    """``imresize(x, scale)`` (MATLAB bicubic) with a network's interface: ``forward(x, scale)``.

    It has no weights and accepts any scale, so :func:`~monai_rmisr.inference.super_resolve`,
    ``rmisr upscale --model bicubic`` and the viewer treat it like a network: the same tiling,
    ROI context, intensity mapping and output files, with plain interpolation in place of SR.
    The output size is the networks' ``round(n * scale)`` (halves up), not MATLAB's ``ceil``.
    """

    def forward(self, x: torch.Tensor, scale: float) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, round(H * scale), round(W * scale)); values as interpolated (not clipped)."""
        batch, channels, *spatial = x.shape
        size = scaled_size(list(spatial), float(scale))
        out = imresize(x.reshape(batch * channels, *spatial), output_size=tuple(size))
        return out.reshape(batch, channels, *size)
