"""ESPCN (Shi et al. 2016), a comparison network of the paper (Table 1)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.layers.factories import Conv
from monai.networks.layers.utils import get_act_layer
from torch import nn

from ..blocks.upsample import SubpixelUpsampler
from ..utils import check_integer_scale, check_network_io

__all__ = ["ESPCN"]


class ESPCN(nn.Module):
    """ESPCN: two tanh convolutions in low resolution, then an efficient sub-pixel convolution layer.

    Shi et al., "Real-Time Single Image and Video Super-Resolution Using an Efficient
    Sub-Pixel Convolutional Neural Network", CVPR 2016 (Fig. 1, section 3.2: l=3,
    (f1, n1) = (5, 64), (f2, n2) = (3, 32), f3 = 3, tanh)::

        y = PS(conv3x3(tanh(conv3x3(tanh(conv5x5(x))))))    # in -> 64 -> 32 -> out * scale^dims

    The last layer is :class:`~monai_rmisr.networks.blocks.SubpixelUpsampler` (plain pixel
    shuffle as in the paper, no pad-and-pool, ICNR initialisation) and has no activation.

    Args:
        spatial_dims: 2 for images, 3 for volumes.
        in_channels: input channels (1 for grayscale medical images, 3 for RGB).
        out_channels: output channels; defaults to ``in_channels``.
        scale: integer up-sampling factor in [1, 8].
        features: widths of the two hidden layers (64, 32).
        act: activation of the hidden layers (tanh in the paper).

    Shapes and ranges: input (B, in_channels, *spatial), typically normalised to ``[0, 1]``;
    output (B, out_channels, *(spatial * scale)), not clipped.
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 1,
        out_channels: int | None = None,
        scale: int = 4,
        features: Sequence[int] = (64, 32),
        act: str | tuple = "tanh",
    ):
        super().__init__()
        out_channels = check_network_io("ESPCN", spatial_dims, in_channels, out_channels)
        if len(features) != 2 or min(features) < 1:
            raise ValueError(f"ESPCN needs two positive feature counts, got features={tuple(features)}.")
        self.scale = check_integer_scale("ESPCN", scale, why="pixel shuffle")
        conv_type = Conv[Conv.CONV, spatial_dims]
        f1, f2 = features
        self.body = nn.Sequential(
            conv_type(in_channels, f1, kernel_size=5, padding=2),
            get_act_layer(act),
            conv_type(f1, f2, kernel_size=3, padding=1),
            get_act_layer(act),
        )
        self.upsample = SubpixelUpsampler(spatial_dims, f2, out_channels, self.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args:
            x: (B, in_channels, *spatial) low-resolution image.

        Returns:
            (B, out_channels, *(spatial * scale)) super-resolved image.
        """
        return self.upsample(self.body(x), float(self.scale))
