"""Information-entropy contrast-aware channel attention (ICCA, paper formula 14)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Optional

import torch
from monai.networks.layers.factories import Conv
from torch import nn

__all__ = ["ICCA", "PooledChannelStatistics", "attention_override"]

#: What runs in place of every ICCA's own forward in this thread (or asyncio task), if set: ``override(module, x)``.
#: Set only through :func:`attention_override`; a context variable, so a server running other requests on the same
#: network in other threads is not affected.
_OVERRIDE: ContextVar[Callable[[ICCA, torch.Tensor], torch.Tensor] | None] = ContextVar("icca_override", default=None)


@contextmanager
def attention_override(override: Callable[[ICCA, torch.Tensor], torch.Tensor]) -> Iterator[None]:
    """Within the block, in this thread, every ICCA's forward is ``override(module, x)`` (tiled inference gives the
    attention the whole image's statistics this way: :mod:`monai_rmisr.inference.tile_statistics`); an inner block
    replaces an outer one's until it ends. Not inside ``torch.compile`` or an export, which trace the network."""
    token = _OVERRIDE.set(override)
    try:
        yield
    finally:
        _OVERRIDE.reset(token)


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

    def attend(self, x: torch.Tensor, statistics: torch.Tensor) -> torch.Tensor:
        """``x`` re-weighted channel-wise by the attention of ``statistics`` ((B, C, 1, ...), as
        :meth:`channel_statistics` returns; tiled inference passes the whole image's: :class:`PooledChannelStatistics`).
        """
        return x * self.excite(statistics)

    @torch.jit.unused
    def _overridden(self, x: torch.Tensor) -> Optional[torch.Tensor]:  # noqa: UP045 (TorchScript's spelling)
        if torch.compiler.is_compiling():  # an export or torch.compile traces the network itself
            return None
        override = _OVERRIDE.get()
        return None if override is None else override(self, x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (B, channels, *spatial). Returns the re-weighted tensor of the same shape (its statistics, or
        what an :func:`attention_override` of this thread gives)."""
        if not torch.jit.is_scripting():
            overridden = self._overridden(x)
            if overridden is not None:
                return overridden
        return self.attend(x, self.channel_statistics(x))


class PooledChannelStatistics:
    """:meth:`ICCA.channel_statistics` of an input seen region by region: the statistics of the union of the regions.

    Tiled inference runs the network on overlapping windows of an image; an ICCA in a window would compute its
    statistics over that window alone. Each window adds the features of the positions it owns (disjoint regions that
    together cover the image) with :meth:`add`; :meth:`statistics` then gives what ``channel_statistics`` gives on the
    whole feature map. The regions' means and squared deviations are pooled in float64 (Chan et al.'s parallel
    variance), so the result matches the whole-image statistic to float32 rounding, however many regions.

    Args:
        attention: the ICCA whose input is gathered (its ``eps`` and ``use_entropy`` apply).
    """

    def __init__(self, attention: ICCA):
        self.attention = attention
        self.count = 0
        self.spatial_dims = 0
        # per (B, C), float64: the mean, the sum of squared deviations from it, the sum of q log2 q
        self.mean = self.squared_deviations = self.entropy_sum = torch.zeros(0, dtype=torch.float64)

    def add(self, x: torch.Tensor) -> None:
        """Adds a region of the ICCA's input. x: (B, C, *region) in any float dtype; an empty region adds nothing."""
        count = x[0, 0].numel()
        if count == 0:
            return
        spatial = list(range(2, x.dim()))
        # reduced in float32 where the features are (MPS has no float64), pooled in float64 on the CPU
        region = x.float()
        mean = region.mean(dim=spatial, keepdim=True)
        squared_deviations = (region - mean).pow(2).sum(dim=spatial).cpu().double()
        magnitude = region.abs().clamp_min(self.attention.eps)
        entropy_sum = (magnitude * torch.log2(magnitude)).sum(dim=spatial).cpu().double()
        mean = mean.flatten(2)[..., 0].cpu().double()
        self.spatial_dims = len(spatial)
        if self.count == 0:
            self.count, self.mean, self.squared_deviations, self.entropy_sum = (
                count, mean, squared_deviations, entropy_sum
            )  # fmt: skip
            return
        total = self.count + count
        delta = mean - self.mean
        self.squared_deviations = (
            self.squared_deviations + squared_deviations + delta.pow(2) * (self.count * count / total)
        )
        self.mean = self.mean + delta * (count / total)
        self.entropy_sum = self.entropy_sum + entropy_sum
        self.count = total

    def statistics(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The pooled statistic, (B, C, 1, ...) in ``dtype``, as :meth:`ICCA.channel_statistics` of the whole input.

        Raises:
            RuntimeError: nothing was added.
        """
        if self.count == 0:
            raise RuntimeError("no region was added to the pooled ICCA statistics.")
        std = (self.squared_deviations / self.count + self.attention.eps).sqrt()
        stats = self.mean + std
        if self.attention.use_entropy:
            stats = stats + self.entropy_sum / self.count
        return stats.to(dtype).reshape(list(stats.shape) + [1] * self.spatial_dims)
