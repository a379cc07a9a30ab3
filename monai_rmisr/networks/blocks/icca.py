"""Information-entropy contrast-aware channel attention (ICCA, paper formula 14)."""

from __future__ import annotations

import torch
from monai.networks.layers.factories import Conv
from torch import nn

__all__ = ["ICCA"]


def _spatial_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean over the spatial dims of (B, C, *spatial), kept as size-1 dims.

    torch's ``mean`` of a bfloat16 CPU tensor first copies the whole tensor to float32 (3.1 ms for 64 x 256 x 256 on
    one core, against 0.2 ms for ``sum``, which accumulates in float32 without the copy;
    ``benchmarks/cpu_kernels.py``). bfloat16 has float32's range, so its sum cannot overflow; float16 (whose sum
    could) and float32 keep ``mean``.
    """
    spatial = list(range(2, x.dim()))
    if x.dtype == torch.bfloat16:
        positions = 1
        for size in x.shape[2:]:  # (a loop, not math.prod: TorchScript compiles this)
            positions *= size
        return x.sum(dim=spatial, keepdim=True) / positions
    return x.mean(dim=spatial, keepdim=True)


class ICCA(nn.Module):
    """Channel attention driven by per-channel entropy, standard deviation and mean.

    The statistic of channel ``c`` replaces global average pooling (formula 14)::

        s_c = E_c + std(x_c) + mean(x_c),   E_c = mean_{ij} q log2 q,  q = max(|x_c^{ij}|, eps)

    and is mapped to a weight in (0, 1) by ``sigmoid(conv1x1(relu(conv1x1(s))))``; the input
    is multiplied channel-wise by that weight.

    Two deliberate departures from the literal formula, both needed for a usable network:

    * ``x log x`` is undefined for the negative activations a convolution produces and has
      an infinite slope at 0. We evaluate it on ``q = max(|x|, eps)``: ``q log q -> 0`` as
      ``q -> 0`` so clamping at ``eps`` is the continuous extension (its value there is below
      ``eps * 20`` in magnitude), the gradient stays bounded by ``|log2 eps| + 1.5``, and a
      negative activation contributes by magnitude instead of producing NaN.
    * The paper normalises the entropy sum by ``N = 256``. A fixed constant makes the
      statistic grow with the image area, so the attention weights of a 48x48 training patch
      and a 512x512 test image would differ wildly. We divide by the number of positions
      (a mean), like the other two terms.

    With ``use_entropy=False`` this is exactly IMDN's contrast-aware channel attention
    (std + mean), which the IMDN comparison network reuses.

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        channels: input = output channels.
        reduction: channel reduction of the squeeze-excitation bottleneck (IMDN uses 16).
        use_entropy: include the information-entropy term.
        eps: clamp for the entropy term and added under the square root of the variance.
    """

    def __init__(
        self, spatial_dims: int, channels: int, reduction: int = 16, use_entropy: bool = True, eps: float = 1e-6
    ):
        super().__init__()
        if channels < reduction:
            raise ValueError(f"ICCA needs channels >= reduction, got channels={channels}, reduction={reduction}.")
        conv_type = Conv[Conv.CONV, spatial_dims]
        self.use_entropy = use_entropy
        self.eps = eps
        self.excite = nn.Sequential(
            conv_type(channels, channels // reduction, kernel_size=1),
            nn.ReLU(inplace=True),
            conv_type(channels // reduction, channels, kernel_size=1),
            nn.Sigmoid(),
        )

    def channel_statistics(self, x: torch.Tensor) -> torch.Tensor:
        """Formula 14 per channel. x: (B, C, *spatial) -> (B, C, 1, ...) with ``x.dim()`` dims."""
        mean = _spatial_mean(x)
        std = (_spatial_mean((x - mean).pow(2)) + self.eps).sqrt()
        stats = mean + std
        if self.use_entropy:
            magnitude = x.abs().clamp_min(self.eps)
            stats = stats + _spatial_mean(magnitude * torch.log2(magnitude))
        return stats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (B, channels, *spatial). Returns the re-weighted tensor of the same shape."""
        return x * self.excite(self.channel_statistics(x))
