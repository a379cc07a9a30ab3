"""Shallow residual block (SRB), from RFDN (Liu et al. 2020), reference 30 of the paper."""

from __future__ import annotations

import torch
from monai.networks.layers.factories import Conv
from monai.networks.layers.utils import get_act_layer
from torch import nn

__all__ = ["ShallowResidualBlock"]


class ShallowResidualBlock(nn.Module):
    """SRB: ``act(conv3x3(x) + x)`` (paper section 4.2, Fig. 3c).

    A single 3x3 convolution with an identity shortcut, followed by the activation. The
    shortcut costs no parameters and lets the cascade of three SRBs in a PFMDB learn residual
    detail.

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        channels: input = output channels.
        act: activation after the addition; ReLU as the paper states.
    """

    def __init__(self, spatial_dims: int, channels: int, act: str | tuple = "relu"):
        super().__init__()
        self.conv = Conv[Conv.CONV, spatial_dims](channels, channels, kernel_size=3, padding=1)
        self.act = get_act_layer(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (B, channels, *spatial). Returns the same shape."""
        return self.act(self.conv(x) + x)
