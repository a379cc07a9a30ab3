"""RMISR-VP: the two-branch visual-perception model (paper section 4.1, Fig. 2)."""

from __future__ import annotations

import torch
from monai.networks.layers.factories import Conv
from monai.networks.layers.utils import get_act_layer
from torch import nn

from ..blocks.laplacian import LaplacianGradient
from ..blocks.trunk import PFMDBTrunk
from ..blocks.upsample import build_upsampler
from ..utils import DEFAULT_MAX_SCALE, check_network_io, check_scale, upsample_image, zero_output_layer

__all__ = ["RMISRVP"]


class RMISRVP(nn.Module):
    """RMISR-VP: an SR branch and a Laplacian gradient branch fused after upsampling.

    * SR branch: conv3x3, 6 PFMDB, concat, 1x1, 3x3 (+ shallow features), upsampled to
      ``fusion_channels`` feature maps at the output resolution.
    * Laplacian gradient branch: the four-neighbour Laplacian of the input (formulas 6-8),
      conv3x3, 3 PFMDB, where the ``i``-th one also reads the output of the SR branch's
      PFMDB number 2, 4 and 6 (``guidance_blocks``), concat, 1x1, 3x3, upsampled likewise.
      A 3x3 convolution turns its HR features into the SR Laplacian map (trained against the
      Laplacian of the HR image).
    * Fusion: the two HR feature sets are concatenated, reduced by a 1x1 convolution and a
      3x3 convolution reconstructs the SR image.

    ``forward`` returns the SR image only, so MONAI inferers and exporters work unchanged;
    :meth:`forward_with_laplacian` returns ``(sr_image, sr_laplacian)`` for training.

    Args:
        spatial_dims: 2 or 3.
        in_channels: 1 (grayscale) or 3 (RGB).
        out_channels: defaults to ``in_channels``; both outputs have this many channels.
        scale: see :class:`~monai_rmisr.networks.nets.RMISR`.
        features: trunk width of both branches (64).
        sr_blocks: PFMDBs in the SR branch (6).
        guidance_blocks: 1-based indices of the SR-branch PFMDBs fed to the Laplacian branch,
            one per Laplacian-branch PFMDB ((2, 4, 6)).
        distillation_channels: see :class:`~monai_rmisr.networks.blocks.PFMDB`.
        fusion_channels: feature maps per branch at the output resolution.
        upsampler: ``"subpixel"`` or ``"meta"``. The meta upsampler keeps
            ``fusion_channels * meta_hidden_channels`` floats per output pixel per branch.
        image_residual: add the interpolated input to the SR image (our addition, see RMISR).
        meta_hidden_channels: width of the meta upsampler's MLP.
        max_scale: largest scale for the meta upsampler.

    Shapes and ranges: input (B, in_channels, H, W[, D]) in the units the network was trained on
    (``[0, 1]`` for the shipped ``rmisr_vp_x4``); the SR image (B, out_channels, round(H*s), round(W*s)[, ...])
    in the same units, not clipped; the SR Laplacian map of the same shape, in Laplacian units (the
    four-neighbour Laplacian of a ``[0, 1]`` image lies in [-4, 4] in 2-D, [-6, 6] in 3-D).
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 1,
        out_channels: int | None = None,
        scale: float = 4,
        features: int = 64,
        sr_blocks: int = 6,
        guidance_blocks: tuple[int, ...] = (2, 4, 6),
        distillation_channels: int = 16,
        fusion_channels: int = 16,
        upsampler: str = "subpixel",
        image_residual: bool = False,
        meta_hidden_channels: int = 256,
        max_scale: float = DEFAULT_MAX_SCALE,
        act: str | tuple = ("leakyrelu", {"negative_slope": 0.05}),
    ):
        super().__init__()
        out_channels = check_network_io("RMISRVP", spatial_dims, in_channels, out_channels, image_residual)
        if not guidance_blocks or any(not 1 <= i <= sr_blocks for i in guidance_blocks):
            raise ValueError(f"guidance_blocks must be indices in [1, {sr_blocks}], got {guidance_blocks}.")
        self.scale = check_scale(scale, max_scale, allow_one=True)
        self.image_residual = image_residual
        self.guidance_indices = [i - 1 for i in guidance_blocks]
        conv_type = Conv[Conv.CONV, spatial_dims]
        upsampler_args = {"hidden_channels": meta_hidden_channels, "max_scale": max_scale}

        self.laplacian = LaplacianGradient()
        self.sr_trunk = PFMDBTrunk(spatial_dims, in_channels, features, sr_blocks, distillation_channels, act=act)
        self.laplacian_trunk = PFMDBTrunk(
            spatial_dims,
            in_channels,
            features,
            len(guidance_blocks),
            distillation_channels,
            guidance_channels=features,
            act=act,
        )
        self.sr_upsample = build_upsampler(
            upsampler, spatial_dims, features, fusion_channels, self.scale, **upsampler_args
        )
        self.laplacian_upsample = build_upsampler(
            upsampler, spatial_dims, features, fusion_channels, self.scale, **upsampler_args
        )
        self.laplacian_out = conv_type(fusion_channels, out_channels, kernel_size=3, padding=1)
        self.fusion = nn.Sequential(
            conv_type(2 * fusion_channels, fusion_channels, kernel_size=1),
            get_act_layer(act),
            conv_type(fusion_channels, out_channels, kernel_size=3, padding=1),
        )
        if image_residual:
            zero_output_layer(self.fusion)

    @torch.jit.export
    def forward_with_laplacian(self, x: torch.Tensor, scale: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Args:
            x: (B, in_channels, *spatial) low-resolution image.
            scale: up-sampling factor; defaults to the constructed ``scale``.

        Returns:
            ``(sr_image, sr_laplacian)``, each (B, out_channels, *round(spatial * scale)).
        """
        s = self.scale if scale is None else scale
        sr_features, sr_block_outputs = self.sr_trunk(x)
        guidance = [sr_block_outputs[i] for i in self.guidance_indices]
        laplacian_features, _ = self.laplacian_trunk(self.laplacian(x), guidance)
        sr_hr = self.sr_upsample(sr_features, s)
        laplacian_hr = self.laplacian_upsample(laplacian_features, s)
        sr_image = self.fusion(torch.cat([sr_hr, laplacian_hr], dim=1))
        if self.image_residual:
            sr_image = sr_image + upsample_image(x, s)
        return sr_image, self.laplacian_out(laplacian_hr)

    def forward(self, x: torch.Tensor, scale: float | None = None) -> torch.Tensor:
        """The SR image of :meth:`forward_with_laplacian`."""
        return self.forward_with_laplacian(x, scale)[0]
