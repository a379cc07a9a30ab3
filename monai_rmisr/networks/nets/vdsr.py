"""VDSR (Kim et al. 2016), a comparison network of the paper (Table 1)."""

from __future__ import annotations

import torch
from monai.networks.layers.factories import Conv
from monai.networks.layers.utils import get_act_layer
from torch import nn

from ..utils import DEFAULT_MAX_SCALE, check_network_io, check_scale, upsample_image

__all__ = ["VDSR"]


class VDSR(nn.Module):
    """VDSR: a 20-layer plain 3x3 network predicting the residual of the interpolated image.

    Kim et al., "Accurate Image Super-Resolution Using Very Deep Convolutional Networks",
    CVPR 2016 (Fig. 2)::

        u = upsample(x)
        y = u + conv3x3(relu(conv3x3(... relu(conv3x3(u)))))    # depth layers, in -> 64 ... 64 -> out

    Weights use He (Kaiming normal) initialisation and zero biases as in the paper; its
    adjustable gradient clipping belongs to the training loop, not the network. The network
    takes the low-resolution image and interpolates it itself with
    :func:`~monai_rmisr.networks.utils.upsample_image` (bicubic in 2-D, trilinear in 3-D), so
    all comparison networks share one interface.

    Args:
        spatial_dims: 2 for images, 3 for volumes.
        in_channels: input channels (1 for grayscale medical images, 3 for RGB).
        out_channels: output channels; defaults to ``in_channels`` and must equal it (the
            global residual adds the interpolated input).
        scale: up-sampling factor in [1, 8]; any real value works because the network runs at
            the interpolated resolution.
        depth: number of convolution layers, first and last included (20 in the paper).
        features: width of the hidden layers (64).
        act: activation between the layers (ReLU).

    Shapes and ranges: input (B, in_channels, *spatial), typically normalised to ``[0, 1]``;
    output (B, out_channels, *round(spatial * scale)), not clipped.
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 1,
        out_channels: int | None = None,
        scale: float = 4,
        depth: int = 20,
        features: int = 64,
        act: str | tuple = "relu",
    ):
        super().__init__()
        out_channels = check_network_io("VDSR", spatial_dims, in_channels, out_channels, image_residual=True)
        if depth < 2 or features < 1:
            raise ValueError(f"VDSR needs depth >= 2 and features >= 1, got depth={depth}, features={features}.")
        self.scale = check_scale(scale, DEFAULT_MAX_SCALE, allow_one=True)
        conv_type = Conv[Conv.CONV, spatial_dims]
        layers: list[nn.Module] = [conv_type(in_channels, features, kernel_size=3, padding=1), get_act_layer(act)]
        for _ in range(depth - 2):
            layers += [conv_type(features, features, kernel_size=3, padding=1), get_act_layer(act)]
        layers.append(conv_type(features, out_channels, kernel_size=3, padding=1))
        self.body = nn.Sequential(*layers)
        for module in self.body.modules():
            if isinstance(module, conv_type):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args:
            x: (B, in_channels, *spatial) low-resolution image.

        Returns:
            (B, out_channels, *round(spatial * scale)) super-resolved image.
        """
        upsampled = upsample_image(x, self.scale)
        return upsampled + self.body(upsampled)
