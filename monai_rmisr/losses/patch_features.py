"""A weight-free feature extractor for the contextual loss: multi-scale raw patches."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PatchFeatures"]


class PatchFeatures(nn.Module):
    """Raw ``k x k`` neighbourhoods of the input at several scales, as feature vectors.

    At scale ``s`` the input is average-pooled by ``s`` and every pixel becomes the vector of
    its ``k x k`` neighbourhood (``C * k * k`` channels, zero padding). On a Laplacian map
    these vectors describe local edge and texture patterns, which is what the contextual loss
    compares; unlike VGG-19 they need no pretrained weights, so the embedded demo and tests
    can use them.

    Args:
        patch_size: ``k`` (odd).
        scales: average-pooling factors, one feature map per scale.

    Input (B, C, H, W), any value range; output a list of (B, C*k*k, H/s, W/s) tensors.
    """

    def __init__(self, patch_size: int = 5, scales: tuple[int, ...] | list[int] = (1, 2)):
        super().__init__()
        if patch_size < 1 or patch_size % 2 == 0:
            raise ValueError(f"patch_size must be odd and positive, got {patch_size}.")
        if not scales or any(int(s) < 1 for s in scales):
            raise ValueError(f"scales must be positive integers, got {scales}.")
        self.patch_size = patch_size
        self.scales = [int(s) for s in scales]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Args: x: (B, C, H, W). Returns one (B, C*k*k, H/s, W/s) map per scale."""
        outputs = []
        for s in self.scales:
            pooled = F.avg_pool2d(x, s) if s > 1 else x
            b, c, h, w = pooled.shape
            patches = F.unfold(pooled, self.patch_size, padding=self.patch_size // 2)
            outputs.append(patches.view(b, c * self.patch_size**2, h, w))
        return outputs
