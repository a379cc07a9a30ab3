"""FSRCNN (Dong et al. 2016), a comparison network of the paper (Table 1)."""

from __future__ import annotations

import torch
from monai.networks.layers.factories import Conv
from monai.networks.layers.utils import get_act_layer
from torch import nn

from ..utils import check_integer_scale, check_network_io

__all__ = ["FSRCNN"]

_DECONV_KERNEL_SIZE = 9  # the paper's 9x9 deconvolution


class FSRCNN(nn.Module):
    """FSRCNN: feature extraction, shrinking, mapping, expanding and a strided deconvolution.

    Dong et al., "Accelerating the Super-Resolution Convolutional Neural Network", ECCV 2016
    (Fig. 2), FSRCNN(d, s, m) with the paper's d=56, s=12, m=4 and channel-wise PReLU::

        conv5x5(in -> d), PReLU           feature extraction
        conv1x1(d -> s),  PReLU           shrinking
        m x [conv3x3(s -> s), PReLU]      mapping
        conv1x1(s -> d),  PReLU           expanding
        deconv9x9(d -> out, stride=scale) deconvolution

    It works on the low-resolution image directly. The deconvolution's padding ``p`` and
    output padding ``op`` are chosen so that the output is exactly ``scale`` times the input:
    ``(n - 1) * scale - 2p + 9 + op = n * scale``, i.e. ``p = ceil((9 - scale) / 2)``,
    ``op = 2p - (9 - scale)`` (x2: p=4, op=1; x3: p=3, op=0; x4: p=3, op=1). The paper's
    Gaussian initialisation is not reproduced (PyTorch's default is used).

    Args:
        spatial_dims: 2 for images, 3 for volumes.
        in_channels: input channels (1 for grayscale medical images, 3 for RGB).
        out_channels: output channels; defaults to ``in_channels``.
        scale: integer up-sampling factor in [1, 8], the stride of the deconvolution.
        features: d, the width of the feature extraction and expanding layers (56).
        shrink_features: s, the width of the mapping layers (12).
        num_mapping_layers: m, the number of 3x3 mapping layers (4).

    Shapes and ranges: input (B, in_channels, *spatial), typically normalised to ``[0, 1]``;
    output (B, out_channels, *(spatial * scale)), not clipped.
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 1,
        out_channels: int | None = None,
        scale: int = 4,
        features: int = 56,
        shrink_features: int = 12,
        num_mapping_layers: int = 4,
    ):
        super().__init__()
        out_channels = check_network_io("FSRCNN", spatial_dims, in_channels, out_channels)
        if features < 1 or shrink_features < 1 or num_mapping_layers < 0:
            raise ValueError(
                "FSRCNN needs features, shrink_features >= 1 and num_mapping_layers >= 0, got "
                f"{features}, {shrink_features}, {num_mapping_layers}."
            )
        self.scale = check_integer_scale("FSRCNN", scale, why="the deconvolution stride")
        conv_type = Conv[Conv.CONV, spatial_dims]
        deconv_type = Conv[Conv.CONVTRANS, spatial_dims]

        def prelu(channels: int) -> nn.Module:
            return get_act_layer(("prelu", {"num_parameters": channels}))

        layers: list[nn.Module] = [
            conv_type(in_channels, features, kernel_size=5, padding=2),
            prelu(features),
            conv_type(features, shrink_features, kernel_size=1),
            prelu(shrink_features),
        ]
        for _ in range(num_mapping_layers):
            layers += [conv_type(shrink_features, shrink_features, kernel_size=3, padding=1), prelu(shrink_features)]
        layers += [conv_type(shrink_features, features, kernel_size=1), prelu(features)]
        self.body = nn.Sequential(*layers)
        k = _DECONV_KERNEL_SIZE
        padding = (k - self.scale + 1) // 2
        self.deconv = deconv_type(
            features,
            out_channels,
            kernel_size=k,
            stride=self.scale,
            padding=padding,
            output_padding=2 * padding - (k - self.scale),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args:
            x: (B, in_channels, *spatial) low-resolution image.

        Returns:
            (B, out_channels, *(spatial * scale)) super-resolved image.
        """
        return self.deconv(self.body(x))
