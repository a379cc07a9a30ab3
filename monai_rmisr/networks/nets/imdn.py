"""IMDN (Hui et al. 2019), a comparison network of the paper."""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from monai.networks.layers.factories import Conv
from monai.networks.layers.utils import get_act_layer
from torch import nn

from ..blocks.imdb import IMDB
from ..blocks.upsample import SubpixelUpsampler
from ..utils import check_integer_scale, check_network_io, upsample_image, zero_output_layer

__all__ = ["IMDN", "imdn_state_dict_from_authors", "is_authors_imdn_state_dict"]


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
        out_channels = check_network_io("IMDN", spatial_dims, in_channels, out_channels, image_residual)
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

    def adapt_state_dict(self, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``state`` in this network's parameter names: the IMDN authors' checkpoints are renamed and,
        for a grey network, folded to one channel (:func:`imdn_state_dict_from_authors`); any other
        state dict is returned as it is. :func:`~monai_rmisr.inference.load_checkpoint` calls this."""
        if not is_authors_imdn_state_dict(state):
            return dict(state)
        if self.image_residual:
            raise ValueError(
                "the IMDN authors' weights were trained without an image-space skip: use image_residual=False."
            )
        return imdn_state_dict_from_authors(state, in_channels=self.head.in_channels)


#: The authors' parameter names (``model/architecture.py`` and ``model/block.py`` of their
#: repository) -> ours, as (pattern, replacement) applied in order to each name.
_AUTHORS_NAMES = (
    (r"^module\.", ""),  # saved from a DataParallel wrapper
    (r"^fea_conv\.", "head."),
    (r"^IMDB(\d+)\.", lambda m: f"blocks.{int(m.group(1)) - 1}."),
    (r"\.c([1-4])\.", r".conv\1."),
    (r"\.c5\.", ".fuse."),
    (r"\.cca\.conv_du\.", ".attention.excite."),
    (r"^c\.0\.", "fuse.0."),
    (r"^LR_conv\.", "body_conv."),
    (r"^upsampler\.0\.", "upsample.shuffle.conv_block."),
)


def is_authors_imdn_state_dict(state: Mapping[str, object]) -> bool:
    """Whether ``state`` is in the layout of the IMDN authors' checkpoints (``IMDN_x{2,3,4}.pth``,
    with or without the ``module.`` prefix of their DataParallel wrapper)."""
    return any(re.match(r"^(module\.)?fea_conv\.weight$", name) for name in state)


def imdn_state_dict_from_authors(state: Mapping[str, torch.Tensor], in_channels: int = 1) -> dict[str, torch.Tensor]:
    """The IMDN authors' RGB weights as a state dict of :class:`IMDN` with ``in_channels`` channels.

    Hui et al. publish ``checkpoints/IMDN_x{2,3,4}.pth`` (RGB in and out, images in [0, 1], trained
    on DIV2K). The parameter names are mapped to ours. With ``in_channels=1`` the network is folded
    to grey exactly: feeding a grey image as three equal channels and averaging the three output
    channels is linear at both ends, so the first convolution's weights are summed over its input
    channels and the last one's are averaged over the colour of each sub-pixel output. The folded
    network gives the same output as the RGB one on ``x.expand(-1, 3, ...)``, averaged, up to float
    rounding.

    Args:
        state: the authors' state dict (``torch.load(path, weights_only=True)``).
        in_channels: 1 (grey, folded) or 3 (the RGB network as published).

    Raises:
        ValueError: ``state`` is not in the authors' layout, or ``in_channels`` is not 1 or 3.
    """
    if not is_authors_imdn_state_dict(state):
        raise ValueError("not an IMDN authors' checkpoint: it has no 'fea_conv.weight'.")
    if in_channels not in (1, 3):
        raise ValueError(f"the IMDN authors' weights fold to 1 channel or stay RGB (3), got in_channels={in_channels}.")
    renamed: dict[str, torch.Tensor] = {}
    for name, value in state.items():
        for pattern, replacement in _AUTHORS_NAMES:
            name = re.sub(pattern, replacement, name)
        renamed[name] = value
    if in_channels == 1:
        renamed["head.weight"] = renamed["head.weight"].sum(dim=1, keepdim=True)
        for key in ("upsample.shuffle.conv_block.weight", "upsample.shuffle.conv_block.bias"):
            value = renamed[key]  # pixel shuffle's channel order: colour-major, then sub-pixel
            renamed[key] = value.reshape(3, value.shape[0] // 3, *value.shape[1:]).mean(dim=0)
    return renamed
