"""SRResNet, the SRGAN generator (Ledig et al. 2017), a comparison network of the paper (Table 1)."""

from __future__ import annotations

import math

import torch
from monai.networks.blocks import SubpixelUpsample
from monai.networks.layers.factories import Conv, Norm
from monai.networks.layers.utils import get_act_layer
from torch import nn

from ..utils import check_integer_scale, check_network_io

__all__ = ["SRResNet", "SRResNetResidualBlock"]

SRRESNET_SCALES = (2, 3, 4, 8)


def _prelu(channels: int) -> nn.Module:
    return get_act_layer(("prelu", {"num_parameters": channels}))


class SRResNetResidualBlock(nn.Module):
    """SRResNet residual block: ``x + BN(conv3x3(PReLU(BN(conv3x3(x)))))``.

    Ledig et al. 2017, Fig. 4 ("k3n64s1"). The convolutions have no bias: the batch
    normalisation that follows removes it.

    Args:
        spatial_dims: 2 or 3.
        channels: input = output channels.
    """

    def __init__(self, spatial_dims: int, channels: int):
        super().__init__()
        conv_type = Conv[Conv.CONV, spatial_dims]
        norm_type = Norm[Norm.BATCH, spatial_dims]
        self.body = nn.Sequential(
            conv_type(channels, channels, kernel_size=3, padding=1, bias=False),
            norm_type(channels),
            _prelu(channels),
            conv_type(channels, channels, kernel_size=3, padding=1, bias=False),
            norm_type(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (B, channels, *spatial). Returns the same shape."""
        return x + self.body(x)


class SRResNet(nn.Module):
    """SRResNet: the generator of SRGAN, trained alone with an MSE/L1 loss or adversarially.

    Ledig et al., "Photo-Realistic Single Image Super-Resolution Using a Generative
    Adversarial Network", CVPR 2017 (Fig. 4)::

        h = PReLU(conv9x9(x))
        f = h + BN(conv3x3(residual_blocks(h)))          # 16 blocks with BN and PReLU
        y = conv9x9(upsample(f))                          # x2 stages: conv3x3, pixel shuffle, PReLU

    x4 and x8 use two and three x2 stages (the paper's two for x4); x3 uses one x3 stage.
    Each stage is MONAI's :class:`~monai.networks.blocks.SubpixelUpsample` without
    pad-and-pool, followed by a channel-wise PReLU. Convolutions followed by batch
    normalisation have no bias. Use ``model.eval()`` for inference (batch statistics).

    Args:
        spatial_dims: 2 for images, 3 for volumes.
        in_channels: input channels (1 for grayscale medical images, 3 for RGB).
        out_channels: output channels; defaults to ``in_channels``.
        scale: up-sampling factor, one of 2, 3, 4, 8.
        features: trunk width (64).
        num_blocks: number of residual blocks (16).

    Shapes and ranges: input (B, in_channels, *spatial), typically normalised to ``[0, 1]``;
    output (B, out_channels, *(spatial * scale)), not clipped (SRGAN's tanh output for
    ``[-1, 1]`` targets is left to the user).
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 1,
        out_channels: int | None = None,
        scale: int = 4,
        features: int = 64,
        num_blocks: int = 16,
    ):
        super().__init__()
        out_channels = check_network_io("SRResNet", spatial_dims, in_channels, out_channels)
        if features < 1 or num_blocks < 0:
            raise ValueError(
                f"SRResNet needs features >= 1 and num_blocks >= 0, got features={features}, num_blocks={num_blocks}."
            )
        self.scale = check_integer_scale("SRResNet", scale, allowed=SRRESNET_SCALES)
        conv_type = Conv[Conv.CONV, spatial_dims]
        norm_type = Norm[Norm.BATCH, spatial_dims]
        self.head = nn.Sequential(conv_type(in_channels, features, kernel_size=9, padding=4), _prelu(features))
        self.body = nn.Sequential(
            *[SRResNetResidualBlock(spatial_dims, features) for _ in range(num_blocks)],
            conv_type(features, features, kernel_size=3, padding=1, bias=False),
            norm_type(features),
        )
        stage_scales = [3] if self.scale == 3 else [2] * round(math.log2(self.scale))
        stages: list[nn.Module] = []
        for s in stage_scales:
            stages += [SubpixelUpsample(spatial_dims, features, features, s, apply_pad_pool=False), _prelu(features)]
        self.upsample = nn.Sequential(*stages)
        self.tail = conv_type(features, out_channels, kernel_size=9, padding=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args:
            x: (B, in_channels, *spatial) low-resolution image.

        Returns:
            (B, out_channels, *(spatial * scale)) super-resolved image.
        """
        h = self.head(x)
        return self.tail(self.upsample(h + self.body(h)))
