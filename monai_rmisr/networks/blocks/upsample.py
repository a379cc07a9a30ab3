"""Upsamplers with one call signature, ``upsampler(features, scale)``, so a network can swap them."""

from __future__ import annotations

import torch
from monai.networks.blocks import SubpixelUpsample
from torch import nn

from .meta_upsample import MetaUpsample

__all__ = ["UPSAMPLERS", "SubpixelUpsampler", "build_upsampler"]

UPSAMPLERS = ("subpixel", "meta")


class SubpixelUpsampler(nn.Module):
    """Sub-pixel upsampler of RMISR (paper section 4.3, Fig. 5a): conv3x3 then pixel shuffle.

    This is the plain ESPCN/IMDN layer, MONAI's :class:`~monai.networks.blocks.SubpixelUpsample`
    with ``apply_pad_pool=False``: the paper describes no pad-and-average step (Aitken et al.),
    and MONAI's ICNR initialisation already starts the layer free of checkerboard artefacts.

    Args:
        spatial_dims: number of spatial dimensions (1-3).
        in_channels: feature channels.
        out_channels: output channels.
        scale: integer up-sampling factor, fixed at construction.
    """

    def __init__(self, spatial_dims: int, in_channels: int, out_channels: int, scale: float):
        super().__init__()
        if int(scale) != scale or scale < 1:
            raise ValueError(f"the sub-pixel upsampler needs an integer scale >= 1, got {scale}.")
        self.scale = int(scale)
        self.shuffle = SubpixelUpsample(
            spatial_dims, in_channels, out_channels, scale_factor=self.scale, apply_pad_pool=False
        )

    def forward(self, x: torch.Tensor, scale: float) -> torch.Tensor:
        """Args: x: (B, in_channels, *spatial); scale: must equal the constructed scale.

        Returns (B, out_channels, *(spatial * scale)).
        """
        if scale != self.scale:
            raise ValueError(
                f"this sub-pixel network was built for x{self.scale} and cannot run at x{scale}; "
                "use upsampler='meta' for arbitrary scales."
            )
        return self.shuffle(x)


def build_upsampler(
    kind: str, spatial_dims: int, in_channels: int, out_channels: int, scale: float, **meta_kwargs
) -> nn.Module:
    """Make a ``"subpixel"`` (:class:`SubpixelUpsampler`) or ``"meta"`` (:class:`MetaUpsample`) upsampler."""
    if kind == "subpixel":
        return SubpixelUpsampler(spatial_dims, in_channels, out_channels, scale)
    if kind == "meta":
        return MetaUpsample(spatial_dims, in_channels, out_channels, **meta_kwargs)
    raise ValueError(f"upsampler must be one of {UPSAMPLERS}, got {kind!r}.")
