"""Pyramidal feature multi-distillation block (PFMDB, paper section 4.2, formulas 9-13)."""

from __future__ import annotations

import torch
from monai.networks.layers.factories import Conv
from monai.networks.layers.utils import get_act_layer
from torch import nn

from .icca import ICCA
from .pyramid import PyramidBlock
from .shallow_residual import ShallowResidualBlock

__all__ = ["PFMDB"]


class PFMDB(nn.Module):
    """PFMDB: a cascade of shallow residual blocks whose every stage is distilled by a pyramidal block.

    Following formulas 9-13 and Fig. 3b (the RFDN layout with the distillation convolutions
    replaced by pyramidal blocks and the attention by ICCA)::

        d1 = PYB1(x)         r1 = SRB1(x)
        d2 = PYB2(r1)        r2 = SRB2(r1)
        d3 = PYB3(r2)        r3 = SRB3(r2)
        d4 = act(conv3x3(r3))                      # the cascade's closing Conv-3
        out = x + conv1x1(ICCA(concat(d1, d2, d3, d4)))

    The cascade keeps all ``channels`` feature maps (no channel split as in IMDB); each PYB
    reads a full copy and keeps ``distillation_channels`` of them.

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        channels: input = output channels (64 in the paper; divisible by 32 for PyConv-3).
        distillation_channels: channels kept by each distillation step (16: 4 x 16 = 64
            concatenated channels, IMDB's 1:3 ratio).
        reduction: ICCA bottleneck reduction.
        act: activation of the closing Conv-3 and inside the pyramidal blocks.
    """

    def __init__(
        self,
        spatial_dims: int,
        channels: int = 64,
        distillation_channels: int = 16,
        reduction: int = 16,
        act: str | tuple = ("leakyrelu", {"negative_slope": 0.05}),
    ):
        super().__init__()
        conv_type = Conv[Conv.CONV, spatial_dims]
        self.cascade = nn.ModuleList(ShallowResidualBlock(spatial_dims, channels) for _ in range(3))
        self.distill = nn.ModuleList(
            PyramidBlock(spatial_dims, channels, distillation_channels, act=act) for _ in range(3)
        )
        self.last_conv = conv_type(channels, distillation_channels, kernel_size=3, padding=1)
        self.last_act = get_act_layer(act)
        self.attention = ICCA(
            spatial_dims, 4 * distillation_channels, reduction=min(reduction, 4 * distillation_channels)
        )
        self.fuse = conv_type(4 * distillation_channels, channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (B, channels, *spatial). Returns the same shape."""
        distilled = []
        features = x
        for srb, pyb in zip(self.cascade, self.distill):
            distilled.append(pyb(features))
            features = srb(features)
        distilled.append(self.last_act(self.last_conv(features)))
        return x + self.fuse(self.attention(torch.cat(distilled, dim=1)))
