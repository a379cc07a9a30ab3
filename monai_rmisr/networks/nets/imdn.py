"""IMDN (Hui et al. 2019), a comparison network of the paper."""

from __future__ import annotations

import torch
from monai.networks.layers.factories import Conv
from monai.networks.layers.utils import get_act_layer
from torch import nn

from ..blocks.imdb import IMDB
from ..blocks.upsample import SubpixelUpsampler
from ..utils import check_integer_scale, check_network_io, upsample_image, zero_output_layer

__all__ = ["IMDN"]


class IMDN(nn.Module):
    """IMDN: conv3x3, cascaded IMDBs, 1x1 fusion of all block outputs, conv3x3, global skip, sub-pixel upsampler.

    Hui et al., "Lightweight Image Super-Resolution with Information Multi-distillation
    Network", ACM MM 2019 (Fig. 1; 715K parameters at x4 with RGB)::

        h  = conv3x3(x)
        b1 = IMDB(h), b2 = IMDB(b1), ..., b6 = IMDB(b5)
        y  = PS(conv3x3(h + conv3x3(lrelu(conv1x1(concat(b1, ..., b6))))))

    The block is :class:`~monai_rmisr.networks.blocks.IMDB`; its contrast-aware channel
    attention is :class:`~monai_rmisr.networks.blocks.ICCA` without the entropy term. RMISR-BL
    has the same outer layout with PFMDBs instead of IMDBs. The upsampler is
    :class:`~monai_rmisr.networks.blocks.SubpixelUpsampler` (plain pixel shuffle, as in IMDN).

    Args:
        spatial_dims: 2 for images, 3 for volumes.
        in_channels: input channels (1 for grayscale medical images, 3 for RGB).
        out_channels: output channels; defaults to ``in_channels``.
        scale: integer up-sampling factor in [1, 8].
        features: trunk width (64).
        num_blocks: number of IMDBs (6).
        distillation_channels: channels kept per distillation step in an IMDB (16: the 1:3 split).
        reduction: channel reduction of the contrast-aware channel attention (16).
        act: activation inside the IMDBs and after the 1x1 fusion (LeakyReLU, slope 0.05).
        image_residual: add the bicubic (2-D) / trilinear (3-D) interpolation of the input to the
            output, as :class:`~monai_rmisr.networks.nets.RMISR` can (not in IMDN; it lets the
            same-budget comparison differ only in the blocks).

    Shapes and ranges: input (B, in_channels, *spatial), typically normalised to ``[0, 1]``;
    output (B, out_channels, *(spatial * scale)), not clipped.
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 1,
        out_channels: int | None = None,
        scale: int = 4,
        features: int = 64,
        num_blocks: int = 6,
        distillation_channels: int = 16,
        reduction: int = 16,
        act: str | tuple = ("leakyrelu", {"negative_slope": 0.05}),
        image_residual: bool = False,
    ):
        super().__init__()
        out_channels = check_network_io("IMDN", spatial_dims, in_channels, out_channels)
        if num_blocks < 1:
            raise ValueError(f"IMDN needs num_blocks >= 1, got {num_blocks}.")
        self.scale = check_integer_scale("IMDN", scale, why="pixel shuffle")
        conv_type = Conv[Conv.CONV, spatial_dims]
        self.head = conv_type(in_channels, features, kernel_size=3, padding=1)
        self.blocks = nn.ModuleList(
            IMDB(spatial_dims, features, distillation_channels, reduction, act) for _ in range(num_blocks)
        )
        self.fuse = nn.Sequential(conv_type(num_blocks * features, features, kernel_size=1), get_act_layer(act))
        self.body_conv = conv_type(features, features, kernel_size=3, padding=1)
        self.upsample = SubpixelUpsampler(spatial_dims, features, out_channels, self.scale)
        self.image_residual = image_residual
        if image_residual:
            zero_output_layer(self.upsample)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args:
            x: (B, in_channels, *spatial) low-resolution image.

        Returns:
            (B, out_channels, *(spatial * scale)) super-resolved image.
        """
        h = self.head(x)
        outputs = []
        features = h
        for block in self.blocks:
            features = block(features)
            outputs.append(features)
        features = h + self.body_conv(self.fuse(torch.cat(outputs, dim=1)))
        out = self.upsample(features, float(self.scale))
        if self.image_residual:
            out = out + upsample_image(x, float(self.scale))
        return out
