"""The whole image's channel-attention statistics for tiled inference.

RMISR's ICCA (and IMDN's contrast-aware attention) weights each feature channel by statistics of the whole
feature map: its mean, spread and entropy. Run on a tile, an attention module sees the tile only, so the same
pixel is weighted differently in two tiles and in the whole image: on a 128 x 128 crop of scikit-image's
``camera`` at x2 with tiles of 48, that moved pixels by up to 0.055 from the whole-image result, while the same
tiles given the whole image's statistics stay within 0.002 (the rest is the tiles' zero padding, which the blend
weights hide).

:func:`image_statistics` gathers those statistics tile by tile. An attention module's input depends on the
weights of the modules before it, so the gathering repeats: each pass runs every window of the image through the
network, every attention module weighting its features with the statistics of the previous pass (in the first, the
window's own) and adding its input at the positions the window owns (disjoint regions covering the image, each
window's the part nearer its centre than any other window's) to a
:class:`~monai_rmisr.networks.blocks.PooledChannelStatistics`. After pass ``k`` the first ``k`` modules of a chain
have exactly the whole image's statistics (so as many passes as modules is exact), and the later ones converge fast:
on that crop, with :data:`GATHER_PASSES` = 2, the tiles of ``rmisr_bl_x2`` (4 modules), ``rmisr_meta`` at x2.5 (4)
and ``rmisr_vp_x4`` (9) came within 7e-5, 8e-6 and 1.6e-4 of the exact result (one pass: 6.5e-3, 4.5e-4, 2.5e-3;
``python benchmarks/tile_agreement.py --passes``).
:func:`with_statistics` then runs the tiles themselves with them: about 2.6x the time of tiles that use their own
statistics (``camera``'s top-left 224 x 224 at x2 in tiles of 112, one thread: 4.3 s against 1.6-1.7 s).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from ..networks.blocks.icca import ICCA, PooledChannelStatistics, attention_override

__all__ = [
    "GATHER_PASSES",
    "TileStatisticsError",
    "attention_modules",
    "extent_statistics",
    "image_statistics",
    "window_layout",
    "with_statistics",
]

#: Passes over the image that :func:`image_statistics` gathers the statistics in (see the module's description).
GATHER_PASSES = 2


class TileStatisticsError(RuntimeError):
    """The network's attention statistics cannot be gathered tile by tile (a module called twice in one forward
    pass, at another resolution than the input, or not reached); :func:`~monai_rmisr.inference.tiling.tiled_forward`
    then lets each tile use its own, with a warning."""


class _WindowDone(Exception):  # noqa: N818 (a signal that ends a forward pass early, not an error)
    """Raised by the last attention module of a window: the rest of the forward pass is not needed."""


def _attend(module: ICCA, x: torch.Tensor, statistics: torch.Tensor | None) -> torch.Tensor:
    """``module``'s forward with ``statistics`` ((1, C, 1, ...), moved to ``x``'s device and dtype), or with its
    input's own when None."""
    if statistics is None:
        return module.attend(x, module.channel_statistics(x))
    return module.attend(x, statistics.to(device=x.device, dtype=x.dtype))


class _Pass:
    """One pass of :func:`image_statistics`: the attention modules' forward during it, which weights the features
    with the previous pass's statistics (the first pass: the window's own) and adds the window's owned positions."""

    def __init__(self, modules: Sequence[ICCA], previous: dict[ICCA, torch.Tensor], window: Sequence[int]):
        self.previous = previous
        self.window = list(window)
        self.pooled = {module: PooledChannelStatistics(module) for module in modules}
        self.owned: tuple[slice, ...] = ()  # the current window's owned positions, relative to the window
        self.reached: list[ICCA] = []  # the modules the current window's forward pass has reached, in order
        self.last: ICCA | None = None  # the last module a whole forward pass reached (known after one window)

    def start_window(self, owned: tuple[slice, ...]) -> None:
        self.owned, self.reached = owned, []

    def end_window(self, completed: bool) -> None:
        """After a window's forward pass (``completed``: it ran to the end, not stopped at the last module)."""
        if completed and self.reached:
            self.last = self.reached[-1]
        if not self.reached:
            raise TileStatisticsError(
                "the network's attention modules were not reached in its forward pass (a compiled or scripted copy?)"
            )

    def forward(self, module: ICCA, features: torch.Tensor) -> torch.Tensor:
        """An attention module's forward during the pass (its :func:`attention_override`)."""
        if module not in self.pooled:  # not the network's (another network called inside): its own statistics
            return _attend(module, features, None)
        if module in self.reached:
            raise TileStatisticsError("an attention module runs twice in one forward pass")
        if list(features.shape[2:]) != self.window:
            raise TileStatisticsError(
                f"an attention module runs on {list(features.shape[2:])} features for a {self.window} window, not at "
                "the input's resolution"
            )
        self.reached.append(module)
        self.pooled[module].add(features[(slice(None), slice(None), *self.owned)])
        if module is self.last:
            raise _WindowDone
        return _attend(module, features, self.previous.get(module))  # the first pass: the window's own

    def statistics(self, dtype: torch.dtype) -> dict[ICCA, torch.Tensor]:
        """The pooled statistics of every module the pass reached."""
        return {module: pooled.statistics(dtype) for module, pooled in self.pooled.items() if pooled.count}


def attention_modules(network: nn.Module) -> list[ICCA]:
    """The channel-attention modules of ``network`` whose statistics depend on the input's extent (its ICCAs)."""
    return [module for module in network.modules() if isinstance(module, ICCA)]


def window_layout(length: int, window: int, overlap: float) -> list[tuple[int, int, int]]:
    """The windows along one axis and the positions each owns: ``(start, owned_from, owned_to)``.

    Windows of ``window`` positions start every ``int(window * (1 - overlap))`` positions (at least 1), the last one
    flush with the end (the layout of MONAI's sliding window; the tiles themselves are laid out on the image folded by
    the scale's period, :func:`~monai_rmisr.inference.tiling.tiled_forward`, so at a fractional scale these windows
    are not exactly theirs, which the statistics do not need). Each window owns the positions nearer its own centre
    than its neighbours' (the boundary between two windows lies halfway through their overlap); the owned ranges are
    disjoint and cover ``[0, length)``.
    """
    if window >= length:
        return [(0, 0, length)]
    interval = max(int(window * (1 - overlap)), 1)
    starts = sorted({min(i * interval, length - window) for i in range(math.ceil((length - window) / interval) + 1)})
    bounds = [0] + [(start + window + following) // 2 for start, following in itertools.pairwise(starts)] + [length]
    return [(start, bounds[i], bounds[i + 1]) for i, start in enumerate(starts)]


@contextmanager
def with_statistics(statistics: dict[ICCA, torch.Tensor]) -> Iterator[None]:
    """Within the block, in this thread, each attention module of ``statistics`` uses the statistics given
    ((1, C, 1, ...), as :func:`image_statistics` returns) instead of its input's; other ICCAs compute their own."""

    with attention_override(lambda module, x: _attend(module, x, statistics.get(module))):
        yield


@contextmanager
def extent_statistics(extent: Sequence[int]) -> Iterator[None]:
    """Within the block, in this thread, every ICCA takes its statistics over the first ``extent`` positions of its
    input only (a single window over an image padded at its far side: the image's statistics, in one pass)."""

    def attend(module: ICCA, x: torch.Tensor) -> torch.Tensor:
        region = x[(slice(None), slice(None), *(slice(0, n) for n in extent))]
        return module.attend(x, module.channel_statistics(region))

    with attention_override(attend):
        yield


def image_statistics(
    forward: Callable[[torch.Tensor], torch.Tensor],
    network: nn.Module,
    x: torch.Tensor,
    window: Sequence[int],
    overlap: float,
    extent: Sequence[int] | None = None,
    passes: int = GATHER_PASSES,
    progress: bool = False,
) -> dict[ICCA, torch.Tensor]:
    """The statistics each attention module of ``network`` computes when ``forward`` runs on the whole of ``x``,
    gathered window by window in ``passes`` passes (see the module's description).

    Args:
        forward: runs the network on one window, (1, C, *window) -> its output (e.g. ``forward_at_scale``).
        network: the network ``forward`` runs (its attention modules are found in it).
        x: (1, C, *spatial) LR image.
        window: the window size per spatial axis (each at most the axis).
        overlap: the windows' overlap fraction, in ``[0, 1)``.
        extent: the part of ``x`` that is image (the rest is padding, left out of the statistics); default all.
        passes: passes over the windows, at least 1.
        progress: a tqdm bar of the windows of all passes on stderr.

    Returns:
        ``{module: (1, C, 1, ...) statistics}`` for every attention module the forward pass reaches, in ``x``'s
        dtype; empty for a network without attention modules.

    Raises:
        TileStatisticsError: a module runs at another resolution than the image or twice in one forward pass, or
            the forward pass reaches none (a compiled copy of ``network``): such a network cannot be tiled with the
            image's statistics.
    """
    modules = attention_modules(network)
    if not modules:
        return {}
    spatial = [int(n) for n in x.shape[2:]]
    extent = spatial if extent is None else [int(n) for n in extent]
    windows = list(itertools.product(*(window_layout(n, w, overlap) for n, w in zip(spatial, window))))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(windows) * passes, unit="window", desc="attention statistics", leave=False)
    statistics: dict[ICCA, torch.Tensor] = {}
    try:
        for _ in range(passes):
            gathering = _Pass(modules, statistics, window)
            with attention_override(gathering.forward):
                for layout in windows:
                    box = tuple(slice(start, start + w) for (start, _, _), w in zip(layout, window))
                    # image positions only, not the padding
                    gathering.start_window(
                        tuple(slice(lo - start, min(hi, n) - start) for (start, lo, hi), n in zip(layout, extent))
                    )
                    try:
                        forward(x[(slice(None), slice(None), *box)].contiguous())
                        completed = True
                    except _WindowDone:
                        completed = False
                    gathering.end_window(completed)
                    if bar is not None:
                        bar.update(1)
            statistics = gathering.statistics(x.dtype)
        return statistics
    finally:
        if bar is not None:
            bar.close()
