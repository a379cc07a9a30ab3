"""The feature trunk shared by RMISR-BL and both branches of RMISR-VP."""

from __future__ import annotations

import torch
from monai.networks.layers.factories import Conv
from monai.networks.layers.utils import get_act_layer
from torch import nn

from .pfmdb import PFMDB

__all__ = ["PFMDBTrunk"]


@torch.jit.unused
def _in_cpu_autocast_dtype(features: torch.Tensor) -> torch.Tensor:
    """``features`` in bfloat16 when they are on the CPU under a CPU bfloat16 autocast, else as they are.

    The trunk's blocks then read bfloat16 features: with the head's float32 ones every convolution cast its input
    again and every residual addition mixed dtypes (docs/inference.md, "Speed on CPU"), and CPU training with
    ``--amp`` runs them the same way. bfloat16 only, which has float32's range; a float16 autocast (CPU or CUDA)
    leaves the trunk as it was. (Left out of TorchScript, which does not script
    ``torch.is_autocast_enabled(device)``: a scripted trunk keeps the head's float32 features.)
    """
    if (
        features.device.type == "cpu"
        and torch.is_autocast_enabled("cpu")
        and torch.get_autocast_dtype("cpu") == torch.bfloat16
    ):
        return features.to(torch.bfloat16)
    return features


class PFMDBTrunk(nn.Module):
    """conv3x3 -> N x PFMDB -> concat -> conv1x1 -> conv3x3, plus a long skip from the first conv.

    This is RMISR-BL without its upsampler (paper section 3.2, Fig. 1): the outputs of all
    PFMDBs are concatenated ("connect the output of PFMDB of different depths"), reduced by a
    1x1 convolution and smoothed by a 3x3 convolution, and the shallow features of the first
    convolution are added back (IMDN's global feature residual).

    With ``guidance_channels > 0`` the trunk becomes RMISR-VP's Laplacian branch: before its
    ``i``-th PFMDB the running features are concatenated with ``guidance[i]`` (features of the
    SR branch, paper Fig. 2) and a 1x1 convolution brings them back to ``features`` channels.

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        in_channels: image channels.
        features: trunk width (64).
        num_blocks: number of PFMDBs.
        distillation_channels: see :class:`PFMDB`.
        guidance_channels: channels of each guidance tensor; 0 for an unguided trunk.
        act: activation after the 1x1 merge convolution.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        features: int = 64,
        num_blocks: int = 4,
        distillation_channels: int = 16,
        guidance_channels: int = 0,
        act: str | tuple = ("leakyrelu", {"negative_slope": 0.05}),
    ):
        super().__init__()
        if num_blocks < 1:
            raise ValueError(f"num_blocks must be >= 1, got {num_blocks}.")
        if features < 32 or features % 32:
            raise ValueError(
                f"features must be a positive multiple of 32 (PyConv-3 splits a block's channels 1/4, 1/4, 1/2 into "
                f"groups of 8), got {features}."
            )
        conv_type = Conv[Conv.CONV, spatial_dims]
        self.head = conv_type(in_channels, features, kernel_size=3, padding=1)
        self.blocks = nn.ModuleList(
            PFMDB(spatial_dims, features, distillation_channels, act=act) for _ in range(num_blocks)
        )
        self.guide_fusions = nn.ModuleList(
            conv_type(features + guidance_channels, features, kernel_size=1)
            for _ in range(num_blocks if guidance_channels > 0 else 0)
        )
        self.merge = nn.Sequential(conv_type(num_blocks * features, features, kernel_size=1), get_act_layer(act))
        self.smooth = conv_type(features, features, kernel_size=3, padding=1)

    def forward(
        self, x: torch.Tensor, guidance: list[torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Args:
            x: (B, in_channels, *spatial) image (or Laplacian map).
            guidance: for a guided trunk, one (B, guidance_channels, *spatial) tensor per block.

        Returns:
            the trunk features (B, features, *spatial) and the list of every PFMDB's output.
        """
        # the head sees the input in float32 also under a bfloat16 / float16 autocast: rounding the image itself
        # to 8 bits of mantissa cost RMISR-BL x2 0.06 dB on the TEST mean (0.2 dB on the retina), this one
        # convolution in float32 almost nothing (docs/inference.md, "bfloat16"); its output stays float32 for the
        # long skip below. A network converted as a whole (``.half()``, ``.bfloat16()``) runs its head in its own dtype.
        with torch.autocast("cpu", enabled=False), torch.autocast("cuda", enabled=False):
            shallow = self.head(x.to(torch.promote_types(x.dtype, self.head.weight.dtype)))
        h = shallow if torch.jit.is_scripting() else _in_cpu_autocast_dtype(shallow)
        block_outputs: list[torch.Tensor] = []
        if guidance is None:
            if len(self.guide_fusions) > 0:
                raise ValueError("this trunk is guided: pass one guidance tensor per PFMDB.")
            for block in self.blocks:
                h = block(h)
                block_outputs.append(h)
        else:
            if len(guidance) != len(self.guide_fusions):
                raise ValueError(f"expected {len(self.guide_fusions)} guidance tensors, got {len(guidance)}.")
            for i, (fusion, block) in enumerate(zip(self.guide_fusions, self.blocks)):
                h = block(fusion(torch.cat([h, guidance[i]], dim=1)))
                block_outputs.append(h)
        return self.smooth(self.merge(torch.cat(block_outputs, dim=1))) + shallow, block_outputs
