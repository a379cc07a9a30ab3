"""Information multi-distillation block (IMDB) of IMDN, the comparison network of the paper."""

from __future__ import annotations

import torch
from monai.networks.layers.factories import Conv
from monai.networks.layers.utils import get_act_layer
from torch import nn

from .icca import ICCA

__all__ = ["IMDB"]


class IMDB(nn.Module):
    """IMDB: progressive channel-split distillation, contrast-aware channel attention, 1x1 fusion.

    Hui et al., "Lightweight Image Super-Resolution with Information Multi-distillation
    Network", ACM MM 2019 (Fig. 2). With ``channels=64`` and ``distillation_channels=16``
    (the paper's 1:3 split)::

        d1, r1 = split(act(conv3x3(x)),  16, 48)      # 64 -> 64
        d2, r2 = split(act(conv3x3(r1)), 16, 48)      # 48 -> 64
        d3, r3 = split(act(conv3x3(r2)), 16, 48)      # 48 -> 64
        d4     = conv3x3(r3)                          # 48 -> 16, no activation
        out    = x + conv1x1(CCA(concat(d1, d2, d3, d4)))

    The contrast-aware channel attention (CCA, std + mean statistic) is
    :class:`~monai_rmisr.networks.blocks.ICCA` with ``use_entropy=False``. PFMDB, the block of
    RMISR, replaces the channel split by full-width cascades and pyramidal distillation.

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        channels: input = output channels (64 in IMDN).
        distillation_channels: channels kept at each of the four distillation steps (16 in
            IMDN); must be smaller than ``channels``. The attention works on
            ``4 * distillation_channels`` channels.
        reduction: CCA bottleneck reduction (16 in IMDN), capped at ``4 * distillation_channels``.
        act: activation after the first three convolutions (LeakyReLU, slope 0.05, in IMDN).

    Shapes: input (B, channels, *spatial), output the same shape; values are unbounded features.
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
        if not 0 < distillation_channels < channels:
            raise ValueError(
                f"IMDB needs 0 < distillation_channels < channels, got distillation_channels={distillation_channels}, "
                f"channels={channels}."
            )
        if reduction < 1:
            raise ValueError(f"IMDB needs reduction >= 1, got {reduction}.")
        conv_type = Conv[Conv.CONV, spatial_dims]
        self.distilled = distillation_channels
        self.remaining = channels - distillation_channels
        self.conv1 = conv_type(channels, channels, kernel_size=3, padding=1)
        self.conv2 = conv_type(self.remaining, channels, kernel_size=3, padding=1)
        self.conv3 = conv_type(self.remaining, channels, kernel_size=3, padding=1)
        self.conv4 = conv_type(self.remaining, distillation_channels, kernel_size=3, padding=1)
        self.act1 = get_act_layer(act)
        self.act2 = get_act_layer(act)
        self.act3 = get_act_layer(act)
        fused = 4 * distillation_channels
        self.attention = ICCA(spatial_dims, fused, reduction=min(reduction, fused), use_entropy=False)
        self.fuse = conv_type(fused, channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (B, channels, *spatial). Returns the same shape."""
        d1, r1 = torch.split(self.act1(self.conv1(x)), [self.distilled, self.remaining], dim=1)
        d2, r2 = torch.split(self.act2(self.conv2(r1)), [self.distilled, self.remaining], dim=1)
        d3, r3 = torch.split(self.act3(self.conv3(r2)), [self.distilled, self.remaining], dim=1)
        d4 = self.conv4(r3)
        return x + self.fuse(self.attention(torch.cat([d1, d2, d3, d4], dim=1)))
