"""EDSR baseline (Lim et al. 2017), a comparison network of the paper."""

from __future__ import annotations

import math

import torch
from monai.networks.blocks import SubpixelUpsample
from monai.networks.layers.factories import Conv
from monai.networks.layers.utils import get_act_layer
from torch import nn

from ..utils import check_integer_scale, check_network_io

__all__ = ["EDSRBaseline", "EDSRResidualBlock"]

EDSR_SCALES = (2, 3, 4, 8)


class EDSRResidualBlock(nn.Module):
    """EDSR residual block: ``x + res_scale * conv3x3(relu(conv3x3(x)))``, no batch normalisation.

    Lim et al. 2017, Fig. 2c.

    Args:
        spatial_dims: 2 or 3.
        channels: input = output channels.
        res_scale: residual scaling (1 for the baseline, 0.1 for the large EDSR).
        act: activation between the two convolutions.
    """

    def __init__(self, spatial_dims: int, channels: int, res_scale: float = 1.0, act: str | tuple = "relu"):
        super().__init__()
        conv_type = Conv[Conv.CONV, spatial_dims]
        self.body = nn.Sequential(
            conv_type(channels, channels, kernel_size=3, padding=1),
            get_act_layer(act),
            conv_type(channels, channels, kernel_size=3, padding=1),
        )
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (B, channels, *spatial). Returns the same shape."""
        return x + self.body(x) * self.res_scale


class EDSRBaseline(nn.Module):
    """EDSR baseline: conv3x3, residual blocks without BN, conv3x3, global skip, sub-pixel upsampler, conv3x3.

    Lim et al., "Enhanced Deep Residual Networks for Single Image Super-Resolution", CVPRW
    2017 (Fig. 3; the baseline: 16 blocks, 64 features, residual scaling 1)::

        h = conv3x3(x)
        y = conv3x3(upsample(h + conv3x3(blocks(h))))

    The upsampler follows EDSR's code: one sub-pixel stage (conv3x3 to ``features * s^dims``
    channels, pixel shuffle) for x2 and x3, and ``log2(scale)`` x2 stages for x4 and x8,
    each MONAI's :class:`~monai.networks.blocks.SubpixelUpsample` without pad-and-pool.

    EDSR subtracts the DIV2K RGB mean at the input and adds it back at the output. That shift
    is left out here: medical images are normalised to ``[0, 1]`` beforehand and have no RGB
    mean; it has no parameters, so the count is unaffected.

    Args:
        spatial_dims: 2 for images, 3 for volumes.
        in_channels: input channels (1 for grayscale medical images, 3 for RGB).
        out_channels: output channels; defaults to ``in_channels``.
        scale: up-sampling factor, one of 2, 3, 4, 8.
        features: trunk width (64 in the baseline, 256 in EDSR).
        num_blocks: number of residual blocks (16 in the baseline, 32 in EDSR).
        res_scale: residual scaling inside the blocks (1 in the baseline, 0.1 in EDSR).
        act: activation inside the residual blocks (ReLU).

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
        num_blocks: int = 16,
        res_scale: float = 1.0,
        act: str | tuple = "relu",
    ):
        super().__init__()
        out_channels = check_network_io("EDSRBaseline", spatial_dims, in_channels, out_channels)
        if features < 1 or num_blocks < 0:
            raise ValueError(
                "EDSRBaseline needs features >= 1 and num_blocks >= 0, "
                f"got features={features}, num_blocks={num_blocks}."
            )
        self.scale = check_integer_scale("EDSRBaseline", scale, allowed=EDSR_SCALES)
        conv_type = Conv[Conv.CONV, spatial_dims]
        self.head = conv_type(in_channels, features, kernel_size=3, padding=1)
        self.body = nn.Sequential(
            *[EDSRResidualBlock(spatial_dims, features, res_scale, act) for _ in range(num_blocks)],
            conv_type(features, features, kernel_size=3, padding=1),
        )
        stage_scales = [3] if self.scale == 3 else [2] * round(math.log2(self.scale))
        self.upsample = nn.Sequential(
            *[SubpixelUpsample(spatial_dims, features, features, s, apply_pad_pool=False) for s in stage_scales]
        )
        self.tail = conv_type(features, out_channels, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args:
            x: (B, in_channels, *spatial) low-resolution image.

        Returns:
            (B, out_channels, *(spatial * scale)) super-resolved image.
        """
        h = self.head(x)
        return self.tail(self.upsample(h + self.body(h)))
