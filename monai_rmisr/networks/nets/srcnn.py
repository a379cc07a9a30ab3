"""SRCNN (Dong et al. 2014), a comparison network of the paper (Table 1)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.layers.factories import Conv
from monai.networks.layers.utils import get_act_layer
from torch import nn

from ..utils import DEFAULT_MAX_SCALE, check_network_io, check_scale, upsample_image

__all__ = ["SRCNN"]


class SRCNN(nn.Module):
    """SRCNN: patch extraction, non-linear mapping and reconstruction on the interpolated image.

    Dong et al., "Learning a Deep Convolutional Network for Image Super-Resolution", ECCV 2014
    (and TPAMI 2016). The default is the paper's base network 9-1-5 with 64/32 filters::

        y = conv5x5(relu(conv1x1(relu(conv9x9(upsample(x))))))     # in -> 64 -> 32 -> out

    ``kernel_sizes=(9, 5, 5)`` gives the larger 9-5-5 network whose 57,281 parameters
    (1 channel) are the "0.057 M" that the paper's Table 1 and most later papers quote; the
    9-1-5 default has 8,129 (1 channel).

    Departures from the original, both so that every comparison network maps the same
    low-resolution input to the same high-resolution size:

    * the network takes the low-resolution image and interpolates it itself with
      :func:`~monai_rmisr.networks.utils.upsample_image` (bicubic in 2-D, trilinear in 3-D);
    * the convolutions are zero-padded ("same"), where the original used valid convolutions
      and a smaller output.

    Args:
        spatial_dims: 2 for images, 3 for volumes.
        in_channels: input channels (1 for grayscale medical images, 3 for RGB).
        out_channels: output channels; defaults to ``in_channels``.
        scale: up-sampling factor in [1, 8]; any real value works because the network runs at
            the interpolated resolution.
        features: filters of the first two layers (64, 32 in the paper).
        kernel_sizes: odd kernel sizes of the three layers (9, 1, 5 in the base network).
        act: activation after the first two layers (ReLU in the paper).

    Shapes and ranges: input (B, in_channels, *spatial), typically normalised to ``[0, 1]``;
    output (B, out_channels, *round(spatial * scale)), not clipped.
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 1,
        out_channels: int | None = None,
        scale: float = 4,
        features: Sequence[int] = (64, 32),
        kernel_sizes: Sequence[int] = (9, 1, 5),
        act: str | tuple = "relu",
    ):
        super().__init__()
        out_channels = check_network_io("SRCNN", spatial_dims, in_channels, out_channels)
        if len(features) != 2 or min(features) < 1:
            raise ValueError(f"SRCNN needs two positive feature counts, got features={tuple(features)}.")
        if len(kernel_sizes) != 3 or any(k < 1 or k % 2 == 0 for k in kernel_sizes):
            raise ValueError(f"SRCNN needs three odd kernel sizes, got kernel_sizes={tuple(kernel_sizes)}.")
        self.scale = check_scale(scale, DEFAULT_MAX_SCALE, allow_one=True)
        conv_type = Conv[Conv.CONV, spatial_dims]
        f1, f2 = features
        k1, k2, k3 = kernel_sizes
        self.body = nn.Sequential(
            conv_type(in_channels, f1, kernel_size=k1, padding=k1 // 2),
            get_act_layer(act),
            conv_type(f1, f2, kernel_size=k2, padding=k2 // 2),
            get_act_layer(act),
            conv_type(f2, out_channels, kernel_size=k3, padding=k3 // 2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args:
            x: (B, in_channels, *spatial) low-resolution image.

        Returns:
            (B, out_channels, *round(spatial * scale)) super-resolved image.
        """
        return self.body(upsample_image(x, self.scale))
