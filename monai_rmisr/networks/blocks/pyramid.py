"""Pyramidal block (PYB): PyConv-3 followed by a 1x1 distillation convolution."""

from __future__ import annotations

import torch
from monai.networks.layers.factories import Conv
from monai.networks.layers.utils import get_act_layer
from torch import nn

from .pyconv import PyConv3

__all__ = ["PyramidBlock"]


class PyramidBlock(nn.Module):
    """PYB (paper section 4.2, Fig. 3d): ``conv1x1(act(PyConv3(x)))``.

    It "distils" a copy of the cascade features: PyConv-3 looks at a 7x7 / 5x5 / 3x3
    neighbourhood, the 1x1 convolution narrows the result to ``out_channels`` distilled
    channels. The output is left linear because it is concatenated and re-weighted by the
    channel attention before the next non-linearity.

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        in_channels: channels of the copied cascade features (divisible by 32).
        out_channels: distilled channels (16 in RMISR, IMDN's 1:3 split of 64).
        act: activation between PyConv-3 and the 1x1 convolution.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        act: str | tuple = ("leakyrelu", {"negative_slope": 0.05}),
    ):
        super().__init__()
        self.pyconv = PyConv3(spatial_dims, in_channels, in_channels)
        self.act = get_act_layer(act)
        self.project = Conv[Conv.CONV, spatial_dims](in_channels, out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (B, in_channels, *spatial). Returns (B, out_channels, *spatial)."""
        return self.project(self.act(self.pyconv(x)))
