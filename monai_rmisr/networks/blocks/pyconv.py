"""Pyramidal convolution with three kernel sizes (PyConv-3, Duta et al. 2020)."""

from __future__ import annotations

import torch
from monai.networks.layers.factories import Conv
from torch import nn

__all__ = ["PyConv3"]


class PyConv3(nn.Module):
    """PyConv-3 of the RMISR pyramidal block (paper section 4.2).

    Three parallel convolutions with kernel sizes 7, 5 and 3 and groups 8, 4 and 1 read the same
    input; their outputs (a quarter, a quarter and half of ``out_channels``) are concatenated.
    The large grouped kernels widen the receptive field at low cost: with 64 channels in and
    out (2-D) the three kernels hold 16*8*49 + 16*16*25 + 32*64*9 = 31,104 weights, against
    36,864 for one plain 3x3 convolution, exactly as the paper states.

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        in_channels: input channels; must be divisible by 8 (the largest group count).
        out_channels: output channels; must be divisible by 32, so every branch's output
            splits evenly into its groups. Defaults to ``in_channels``.
        bias: add a bias to each branch. Defaults to False: in RMISR a 1x1 convolution with
            its own bias always follows, so a bias here would be redundant.
    """

    kernel_sizes = (7, 5, 3)
    groups = (8, 4, 1)

    def __init__(self, spatial_dims: int, in_channels: int, out_channels: int | None = None, bias: bool = False):
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        if in_channels % 8 != 0:
            raise ValueError(f"PyConv3 needs in_channels divisible by 8 (groups 8/4/1), got {in_channels}.")
        if out_channels % 32 != 0:
            raise ValueError(f"PyConv3 needs out_channels divisible by 32 (split 1/4, 1/4, 1/2), got {out_channels}.")
        branch_channels = (out_channels // 4, out_channels // 4, out_channels // 2)
        conv_type = Conv[Conv.CONV, spatial_dims]
        self.branches = nn.ModuleList(
            conv_type(in_channels, c, kernel_size=k, padding=k // 2, groups=g, bias=bias)
            for c, k, g in zip(branch_channels, self.kernel_sizes, self.groups)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (B, in_channels, *spatial). Returns (B, out_channels, *spatial)."""
        return torch.cat([branch(x) for branch in self.branches], dim=1)
