"""RMISR-BL: the single-branch baseline of the RMISR paper (sections 3.2 and 4.2)."""

from __future__ import annotations

import torch
from torch import nn

from ..blocks.trunk import PFMDBTrunk
from ..blocks.upsample import build_upsampler
from ..utils import DEFAULT_MAX_SCALE, check_network_io, check_scale, upsample_image, zero_output_layer

__all__ = ["RMISR"]


class RMISR(nn.Module):
    """RMISR-BL: conv3x3, 4 PFMDB, concatenation, 1x1, 3x3, global residual, upsampler.

    Paper: "Realistic medical image super-resolution with pyramidal feature multi-distillation
    networks for intelligent healthcare systems", sections 3.2 (Fig. 1), 4.2 and 4.3. The
    layer-by-layer choices the paper leaves open are listed in ``docs/architecture.md``.

    Args:
        spatial_dims: 2 for images, 3 for volumes (3-D needs ``upsampler="subpixel"`` or
            ``"meta"``; both work).
        in_channels: 1 for grayscale medical images, 3 for RGB.
        out_channels: defaults to ``in_channels``.
        scale: the up-sampling factor. Fixed for ``upsampler="subpixel"`` (an integer);
            for ``"meta"`` it is only the default used when ``forward`` gets no scale.
        features: trunk width (64 in the paper), a multiple of 32.
        num_blocks: number of PFMDBs (4 in RMISR-BL).
        distillation_channels: channels kept per distillation step inside a PFMDB.
        upsampler: ``"subpixel"`` (conv + pixel shuffle) or ``"meta"`` (arbitrary scale).
        image_residual: add the bicubic (2-D) / trilinear (3-D) interpolation of the input to the
            output, so the network predicts only the missing detail. Not in the paper (our
            addition; it trains much faster on CPU, see ``docs/architecture.md``). The output
            layer then starts at zero: an untrained network is exactly that interpolation. Every shipped model
            was trained with it (``True``; its weights load without it too, the flag holding no parameters, and then
            give a wrong image: build it as ``bundles/rmisr/models/model.json`` says, or use ``load_pretrained``).
        meta_hidden_channels: width of the meta upsampler's weight-prediction MLP.
        max_scale: largest scale accepted by the meta upsampler.

    Shapes and ranges: input (B, in_channels, H, W[, D]) in the units the network was trained
    on (``[0, 1]`` for the shipped models); output (B, out_channels, round(H*s), round(W*s)[, ...]),
    not clipped.
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 1,
        out_channels: int | None = None,
        scale: float = 4,
        features: int = 64,
        num_blocks: int = 4,
        distillation_channels: int = 16,
        upsampler: str = "subpixel",
        image_residual: bool = False,
        meta_hidden_channels: int = 256,
        max_scale: float = DEFAULT_MAX_SCALE,
    ):
        super().__init__()
        out_channels = check_network_io("RMISR", spatial_dims, in_channels, out_channels, image_residual)
        self.scale = check_scale(scale, max_scale, allow_one=True)
        self.upsampler_kind = upsampler
        self.image_residual = image_residual
        self.trunk = PFMDBTrunk(spatial_dims, in_channels, features, num_blocks, distillation_channels)
        self.upsample = build_upsampler(
            upsampler,
            spatial_dims,
            features,
            out_channels,
            self.scale,
            hidden_channels=meta_hidden_channels,
            max_scale=max_scale,
        )
        if image_residual:
            zero_output_layer(self.upsample)

    def forward(self, x: torch.Tensor, scale: float | None = None) -> torch.Tensor:
        """Args:
            x: (B, in_channels, *spatial) low-resolution image.
            scale: up-sampling factor; defaults to the constructed ``scale``.

        Returns:
            (B, out_channels, *round(spatial * scale)) super-resolved image.
        """
        s = self.scale if scale is None else scale
        features, _ = self.trunk(x)
        out = self.upsample(features, s)
        if self.image_residual:
            out = out + upsample_image(x, s)
        return out
