"""Seamless tiled inference and the memory budget that chooses tiles (MONAI ``SlidingWindowInferer``)."""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from monai.inferers import SlidingWindowInferer
from torch import nn

from ..networks.blocks.meta_upsample import AxisPlacement, has_meta_upsampler, placed_in
from ..networks.utils import forward_at_scale, scaled_size, unwrapped_network, upsample_image
from .bicubic import BicubicUpsampler
from .self_ensemble import dihedral_mean, self_ensemble_forward
from .settings import MIN_TILE, check_tile_statistics
from .tile_statistics import (
    TileStatisticsError,
    attention_modules,
    extent_statistics,
    image_statistics,
    with_statistics,
)

__all__ = [
    "TILE_MEMORY_BUDGET",
    "auto_tile",
    "blend_weights",
    "forward_bytes",
    "scale_period",
    "tile_memory_budget",
    "tiled_forward",
]

#: Largest tiling period ``q`` (LR pixels) searched by :func:`scale_period`.
MAX_PERIOD = 100
#: Minimum tile size, in periods of the scale (see :func:`tiled_forward`).
MIN_TILE_PERIODS = 4
#: Decay length, in LR pixels, of the default ``"edge"`` blending weights (see :func:`blend_weights`).
EDGE_DECAY = 16.0
#: Working memory (bytes) one forward pass may take under ``tile="auto"``: an image whose
#: :func:`forward_bytes` fit runs whole (a 512 x 512 image at x2-x4: 928-1024 MiB), a larger one in tiles.
#: RG1_UNCR (1955 x 1841) then runs in tiles of 496 at x2 and x4 (:func:`auto_tile`), within 2 GiB of peak resident
#: memory (see docs/inference.md; 1 GiB of an estimate 15 % lower once peaked at 2.16 GB with tiles of 560).
TILE_MEMORY_BUDGET = 1152 * 2**20
#: Share of a CUDA device's available memory that one forward pass may take under ``tile="auto"``: the
#: per-pixel estimates below were measured on the CPU; a quarter leaves room for cuDNN's workspaces.
#: On one H200 a 512 x 512 image at x4 ran in 4 tiles under the CPU budget of then (768 MiB): 202 ms, against 79 ms for
#: ``super_resolve`` of a whole image at x2 (docs/inference.md "On a GPU").
GPU_MEMORY_SHARE = 0.25
#: Peak working memory of a forward pass per LR pixel, bytes: measured as the growth of the peak
#: resident memory of a CPU process over ``super_resolve`` of a 384 x 384 image (float32, the CPU
#: inference form, 1 thread, 2026-12-05, ``python benchmarks/cpu_memory.py [--no-nnpack]``): rmisr_bl_x2
#: 3.44-3.61 KB, rmisr_bl_x4 3.46-3.68 KB (three runs; without NNPACK 3.25 KB, the form of 2026-12-04 about
#: 3.1 KB); this estimate, 3.5 KiB per LR pixel (the network body runs at the LR size) plus 32 B per SR pixel,
#: is an upper bound of those (4.1 KB at x4), not a fit.
LR_PIXEL_BYTES = 3584
#: Working memory per SR pixel of a fixed-scale network (see :data:`LR_PIXEL_BYTES`).
SR_PIXEL_BYTES = 32
#: Working memory per SR pixel of an arbitrary-scale (meta) network, whose up-sampler builds
#: per-pixel weights at the SR size: rmisr_meta at x2 on 256 x 256 took 14.5 KB per LR pixel.
META_SR_PIXEL_BYTES = 3584
#: Tiles chosen by :func:`auto_tile` are a multiple of this many LR pixels.
AUTO_TILE_STEP = 16


def scale_period(scale: float, max_period: int = MAX_PERIOD) -> tuple[int, int]:
    """The smallest ``q <= max_period`` with ``q * scale`` an integer ``r``; returns ``(q, r)``.

    Tiles whose LR offsets are multiples of ``q`` land on whole output pixels (``offset * scale``
    is an integer), so their outputs are exactly the corresponding part of the output grid. Integer
    scales have ``q = 1``; ``2.5 -> (2, 5)``, ``1.25 -> (4, 5)``, ``2.35 -> (20, 47)``, ``7/3 -> (3, 7)``.

    Raises:
        ValueError: no such ``q`` (e.g. ``scale = 2.345``): such a scale cannot be tiled exactly.
    """
    for q in range(1, max_period + 1):
        r = round(q * scale)
        if abs(q * scale - r) < 1e-6:
            return q, int(r)
    raise ValueError(
        f"tiled inference needs q * scale to be an integer for some q <= {max_period} (so that every tile starts "
        f"on a whole output pixel), got scale={scale}; use a scale with at most two decimals or tile=None."
    )


def _fold(x: torch.Tensor, q: int) -> torch.Tensor:
    """(B, C, *spatial) -> (B, C * q^d, *(spatial / q)): each q^d block of pixels becomes channels."""
    if q == 1:
        return x
    b, c, *spatial = x.shape
    d = len(spatial)
    split = [b, c] + [n for size in spatial for n in (size // q, q)]
    order = [0, 1] + [3 + 2 * i for i in range(d)] + [2 + 2 * i for i in range(d)]
    return x.reshape(split).permute(order).reshape([b, c * q**d] + [size // q for size in spatial])


def _unfold(x: torch.Tensor, q: int) -> torch.Tensor:
    """Inverse of :func:`_fold`."""
    if q == 1:
        return x
    b, cq, *coarse = x.shape
    d = len(coarse)
    c = cq // q**d
    x = x.reshape([b, c] + [q] * d + coarse)
    order = [0, 1] + [n for i in range(d) for n in (2 + d + i, 2 + i)]
    return x.permute(order).reshape([b, c] + [n * q for n in coarse])


def blend_weights(
    size: Sequence[int],
    scale: float = 1.0,
    mode: str = "edge",
    *,
    edge_decay: float = EDGE_DECAY,
    sigma_scale: float = 0.125,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Weights of the SR pixels of one LR window when overlapping SR windows are averaged.

    The map is separable, ``w = prod_axis f(pixel position along the axis)``, so in a blend the
    share of each window is the product of its 1-D shares. Per axis, with ``d`` the distance (in
    LR pixels) from the SR pixel's centre to the nearer window edge and ``u`` its offset from the
    window centre as a fraction of the window size:

    * ``"edge"`` (default): ``f = exp(-edge_decay / d)``. A window's output is wrong near its
      edges (zero padding, and interpolation taps clamped to the window), by an amount that falls
      off with ``d``; the blend therefore trusts each window by its distance to its own edge. A
      pixel at ``d = 1`` gets ~1e-7 of the weight of one at ``d >= 16`` and shares cross-fade
      smoothly across an overlap (over ~3 LR pixels for 8-pixel overlaps, wider for wider ones).
    * ``"gaussian"``: ``f = exp(-(u / sigma_scale)^2 / 2)``, MONAI's Gaussian importance map,
      but evaluated at every SR pixel and without MONAI's overall floor of 1e-3: with that floor,
      pixels near two edges of a window get the same weight 1e-3 in every window that covers
      them, so windows' worst pixels enter the blend with up to half the weight (errors of 0.1
      along tile borders for plain bicubic interpolation of noise, 0.014 on a smooth image).
    * ``"constant"``: ones (plain averaging; shows seams).

    Every factor is floored at 1e-6 so that no weight underflows to zero.

    Measured against the whole-image result (80 x 80 smooth image, 32-pixel tiles, overlap 0.25,
    RMISR with a random output layer, see ``tests/inference/test_tiled.py``): max error 0.001 with
    ``"edge"`` and 0.004-0.006 with ``"gaussian"``; where MONAI's layout puts the last window
    2 pixels from its neighbour (72 pixels, 40-pixel tiles) 0.001 and 0.036.

    Args:
        size: spatial size of the LR window.
        scale: the up-sampling factor; the map has ``round(size * scale)`` pixels per axis.
        mode: ``"edge"``, ``"gaussian"`` or ``"constant"``.
        edge_decay: decay length of ``"edge"``, in LR pixels.
        sigma_scale: Gaussian standard deviation as a fraction of the window size (``"gaussian"``).
        device: device of the map.

    Returns:
        (*round(size * scale)) float32 tensor with values in (0, 1].
    """
    out_size = scaled_size([int(n) for n in size], float(scale))
    if mode == "constant":
        return torch.ones(out_size, device=device)
    if mode not in ("edge", "gaussian"):
        raise ValueError(f"mode must be 'edge', 'gaussian' or 'constant', got {mode!r}.")
    if not (edge_decay > 0 and sigma_scale > 0):
        raise ValueError(f"edge_decay and sigma_scale must be > 0, got {edge_decay} and {sigma_scale}.")
    weights = torch.ones([], device=device)
    for axis, n in enumerate(out_size):
        centre = torch.arange(n, device=device, dtype=torch.float64) + 0.5  # in SR pixels
        if mode == "edge":
            d = torch.minimum(centre, n - centre) * (size[axis] / n)  # in LR pixels
            profile = torch.exp(-edge_decay / d)
        else:
            profile = torch.exp(-0.5 * ((centre / n - 0.5) / sigma_scale) ** 2)
        shape = [1] * len(out_size)
        shape[axis] = n
        weights = weights * profile.clamp_min(1e-6).float().view(shape)
    return weights


def tiled_forward(
    network: nn.Module,
    x: torch.Tensor,
    scale: float,
    tile: int | Sequence[int],
    overlap: float = 0.25,
    *,
    mode: str = "edge",
    sigma_scale: float = 0.125,
    sw_device: str | torch.device | None = None,
    channels_last: bool = False,
    self_ensemble: bool = False,
    statistics: str = "image",
    progress: bool = False,
) -> torch.Tensor:
    """Run an SR network on overlapping LR tiles and blend the SR tiles (MONAI ``SlidingWindowInferer``).

    ``SlidingWindowInferer`` handles networks whose output is larger than their input: it zooms
    every window's position by ``output window size / input window size``, using
    ``int(start * zoom)``. That is exact only when every window offset times the scale is an
    integer, so the tiles are laid out on a period ``q`` with ``q * scale = r`` an integer (see
    :func:`scale_period`; ``q = 1`` for integer scales): the LR image is padded (reflect) on the
    far side to a multiple of ``q`` and every ``q``-by-``q`` block is folded into channels, the
    inferer slides over that coarse grid with an exact integer zoom ``r``, and each window is
    unfolded before the network sees it. The extra padded output is cropped, so the result has
    ``round(spatial * scale)`` pixels per axis (halves rounded up), like the whole-image forward. Where
    ``spatial * scale`` is not whole that output's grid is ``round(n s) / n``, not ``s``: an arbitrary-scale
    up-sampler (:class:`~monai_rmisr.networks.blocks.MetaUpsample`) is told where each window lies and projects on
    it (:func:`~monai_rmisr.networks.blocks.meta_upsample.placed_in`; a window reaching into the padding runs on its
    part inside the image, whose far border its convolutions then see as the whole image's do), and a network's
    ``image_residual`` is swapped for the whole image's (:func:`~monai_rmisr.networks.utils.upsample_image`). Plain
    bicubic interpolation (:class:`~.bicubic.BicubicUpsampler`) runs on the whole image there instead: exact, in about
    the same memory.

    Seams: overlapping windows are averaged with weights that fall to ~0 towards each window's
    edges (:func:`blend_weights`, given to the inferer as its ``roi_weight_map`` at the output
    resolution), so every output pixel comes from the windows in whose interior it lies, and
    per-tile differences cross-fade over a few pixels instead of stepping.

    Channel attention: RMISR's ICCA (IMDN's contrast-aware attention) weights its features by statistics of the
    whole feature map. With ``statistics="image"`` (default) they are first gathered over the whole image, tile
    by tile (:func:`~monai_rmisr.inference.tile_statistics.image_statistics`: two more passes over the image,
    about 2.6x the time), and every tile runs with them: tiles then differ from the whole-image result only
    through the zero padding the convolutions see at tile borders (``camera`` at x2, tiles of 112: max 0.002).
    With ``"tile"`` each tile uses its own (one pass; max 0.106 there). Networks without attention run once
    either way; a network whose attention cannot be gathered so (a module called twice in one pass, or at another
    resolution than the input) falls back to each tile's own, with a warning. A ``torch.compile`` d network runs
    eagerly here (its ``_orig_mod``).

    Args:
        network: called as ``network(x, scale)`` if its ``forward`` takes a scale, else ``network(x)``;
            in eval mode, maps (1, C, *window) to (1, C_out, *round(window * scale)).
        x: (B, C, *spatial) LR batch, 2-D or 3-D spatial.
        scale: the up-sampling factor the network applies.
        tile: LR window size (int, or one per spatial axis). It is rounded down to a multiple of
            ``q`` (at least ``4 q``) and reduced to the (padded) image size where that is smaller;
            a tile at least as large as the image gives the whole-image result.
        overlap: fraction of a window shared with its neighbour, in ``[0, 1)``.
        mode: blending weights, ``"edge"`` (default), ``"gaussian"`` or ``"constant"``; see :func:`blend_weights`.
        sigma_scale: Gaussian standard deviation as a fraction of the window size (``mode="gaussian"``).
        sw_device: device running the windows (default: ``x.device``); the output is accumulated on ``x.device``.
        channels_last: pass 2-D windows in channels-last memory format (use with
            ``network.to(memory_format=torch.channels_last)``; the inference API decides with
            :func:`~monai_rmisr.networks.regroup.cpu_inference_network`).
        self_ensemble: the mean over the eight flips / quarter turns (8x the time): of the whole tiled image with
            ``statistics="image"`` or where the tiles are placed on the image's grid (above), of each tile
            (:func:`~monai_rmisr.inference.self_ensemble.self_ensemble_forward`) otherwise.
        statistics: ``"image"`` (default) or ``"tile"``: where channel attention takes its statistics (see above).
        progress: show a tqdm bar of the tiles on stderr (MONAI's).

    Returns:
        (B, C_out, *round(spatial * scale)) tensor on ``x.device``, not clipped.

    Raises:
        ValueError: bad ``tile``, ``overlap``, ``mode`` or ``statistics``, or a scale that cannot be tiled (see
            :func:`scale_period`).
    """
    check_tile_statistics(statistics)
    if x.dim() not in (4, 5):
        raise ValueError(f"tiled_forward expects a (B, C, H, W) or (B, C, D, H, W) tensor, got shape {tuple(x.shape)}.")
    spatial = [int(n) for n in x.shape[2:]]
    dims = len(spatial)
    tiles = [tile] * dims if isinstance(tile, numbers.Integral) else list(tile)
    if len(tiles) != dims or any(isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 1 for t in tiles):
        raise ValueError(f"tile must be a positive integer (or one per spatial axis), got {tile!r}.")
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}.")
    if all(t >= n for t, n in zip(tiles, spatial)):
        # one tile holds the image: the whole image, exactly (padded to the scale's period, as the windows are off
        # its grid, its far border would see the padding where the whole-image forward sees the zero padding), and at
        # any scale (one that no whole-pixel period tiles, x2.345, too)
        image = x.to(sw_device) if sw_device is not None else x
        forward = self_ensemble_forward if self_ensemble else forward_at_scale
        return forward(network, image, scale, channels_last).to(device=x.device, dtype=x.dtype)
    q, r = scale_period(float(scale))
    crop = scaled_size(spatial, float(scale))
    image_wide = statistics == "image" and bool(attention_modules(network))
    # n * scale not whole along an axis: the whole-image output grid is round(n s) / n there, not the tiles' s; an
    # arbitrary-scale up-sampler projects the tiles' output pixels on the image's grid instead (placed_in)
    off_grid = any(n * r % q for n in spatial)
    if off_grid and isinstance(network, BicubicUpsampler):
        # tiles would interpolate on the scale's grid, not the whole image's (up to 0.46 apart on noise): the whole
        # image at once, exact, in about the memory the tiled blend holds (the output, its weights, a window)
        image = x.to(sw_device) if sw_device is not None else x  # no tiles, so no tile bar either
        out = self_ensemble_forward(network, image, scale) if self_ensemble else network(image, scale)
        return out.to(x.device)
    scripted = isinstance(network, torch.jit.ScriptModule)  # its up-sampler cannot be told where a tile lies
    placed = off_grid and has_meta_upsampler(network) and not scripted
    if off_grid and scripted and has_meta_upsampler(network):
        warnings.warn(
            f"a TorchScript network's arbitrary-scale up-sampler cannot be told where a tile lies: at x{scale:g} on "
            f"{spatial} (size x scale not whole) its tiles project on the scale's grid, not the whole image's "
            "(differences of a few hundredths); run the eager network or the whole image (tile=None)",
            stacklevel=2,
        )
    if image_wide or placed:  # both given to the modules in eager mode: not through torch.compile's wrapper
        network = unwrapped_network(network)
    if self_ensemble and (image_wide or placed):  # turned tiles of one image, not each tile turned on its own

        def turned_forward(turned: torch.Tensor, transform: tuple[int, bool]) -> torch.Tensor:
            turned_tiles = tiles[:-2] + tiles[-2:][::-1] if transform[0] % 2 else tiles
            return tiled_forward(
                network, turned, scale, turned_tiles, overlap, mode=mode, sigma_scale=sigma_scale,
                sw_device=sw_device, channels_last=channels_last, statistics=statistics, progress=progress,
            )  # fmt: skip

        return dihedral_mean(turned_forward, x)

    unpadded = x
    padded = [math.ceil(n / q) * q for n in spatial]
    pad = [p - n for n, p in zip(spatial, padded)]
    if any(pad):
        # F.pad lists the last axis first; reflect needs pad < size
        pad_mode = "reflect" if all(p < n for p, n in zip(pad, spatial)) else "replicate"
        x = F.pad(x, [v for p in reversed(pad) for v in (0, p)], mode=pad_mode)
    roi = [_window_periods(int(t), p, q) for t, p in zip(tiles, padded)]
    window = [t * q for t in roi]

    def window_forward(window: torch.Tensor) -> torch.Tensor:
        return forward_at_scale(network, window, scale, channels_last)

    def predictor(window: torch.Tensor, location: list | None = None) -> torch.Tensor:  # the input's dtype out, also
        # under a bfloat16 autocast; location (MONAI's with_coord): the window's [batch, channel, *spatial] slices
        window = _unfold(window, q)
        if location is not None:  # sw_batch_size 1: one window; its folded start times q (LR) or r (output)
            folded = [axis.start for axis in location[0][2:]]
            starts = [a * q for a in folded]
            placement = [AxisPlacement(a * q, a * r, n, m) for a, n, m in zip(folded, spatial, crop)]
            with placed_in(placement):
                return _placed_window_forward(window_forward, window, starts, spatial, scale, network).to(window.dtype)
        out = self_ensemble_forward(network, window, scale, channels_last) if self_ensemble else window_forward(window)
        return out.to(window.dtype)

    sw_device = torch.device(sw_device) if sw_device is not None else x.device
    inferer = SlidingWindowInferer(
        roi_size=roi, sw_batch_size=1, overlap=overlap, sw_device=sw_device, device=x.device, progress=progress,
        with_coord=placed,
    )  # fmt: skip
    # the inferer's (cached) weight map, given at the output resolution, which MONAI uses as it is
    # (its own would be on the LR window, zoomed by nearest neighbour; see blend_weights)
    inferer.roi_weight_map = blend_weights(window, scale, mode, sigma_scale=sigma_scale, device=sw_device)
    if image_wide and window == padded and any(pad):  # one window, padded: statistics over the image part
        with extent_statistics(spatial):
            out = inferer(_fold(x, q), predictor)
    elif image_wide and window != padded:
        outputs = []
        for image in x.split(1):  # statistics are per image
            try:
                gathered = image_statistics(
                    window_forward, network, image.to(sw_device), window, overlap, extent=spatial, progress=progress
                )
            except TileStatisticsError as err:
                warnings.warn(
                    f"{err}: each tile uses its own attention statistics (tile_statistics='tile', --tile-statistics "
                    "tile, says so without this warning)",
                    stacklevel=2,
                )
                gathered = {}
            with with_statistics(gathered):
                outputs.append(inferer(_fold(image, q), predictor))
        out = torch.cat(outputs)
    else:  # no attention, each tile its own statistics, or one window over the unpadded image (the whole image)
        out = inferer(_fold(x, q), predictor)
    expected = [p // q * r for p in padded]
    if list(out.shape[2:]) != expected:
        raise RuntimeError(
            f"the network maps {[t * q for t in roi]} LR windows to {list(out.shape[2:])} for the padded image, "
            f"expected {expected} at scale {scale}: does it up-sample by exactly {scale}?"
        )
    if crop != expected:
        region = (slice(None), slice(None), *(slice(0, n) for n in crop))
        out = out[region]
        if placed and getattr(network, "image_residual", False):
            # the windows added their input's interpolation on the exact-scale grid of the padded image, the whole
            # image's forward adds it on the image's grid (upsample_image: round(n s) / n): swap the one for the other
            exact = upsample_image(x, float(scale))[region].to(out.device)
            out = out + (upsample_image(unpadded, float(scale)).to(out.device) - exact).to(out.dtype)
    return out


def _placed_window_forward(
    window_forward: Callable[[torch.Tensor], torch.Tensor],
    window: torch.Tensor,
    starts: Sequence[int],
    spatial: Sequence[int],
    scale: float,
    network: nn.Module,
) -> torch.Tensor:
    """The SR of a window placed in the image at LR ``starts``, cut at the image's far border where it reaches past it.

    The image was padded to the scale's period; a window over that padding saw a reflection where the whole image's
    convolutions see zero padding, and the difference reached the last output pixels through the network (up to 0.27
    on ``camera`` at x3.3 with ``rmisr_meta``). The part of the window inside the image runs instead: its placed
    output is exactly the image's last output pixels (``round(n s) - a s = round((n - a) s)``, ``a s`` whole), padded
    back to the window's output size (that padding is cropped with the image's). Its ``image_residual`` was added on
    the cut window's own grid: swapped for the full window's, which :func:`tiled_forward` swaps for the whole image's.
    """
    inside = [min(int(w), n - a) for w, a, n in zip(window.shape[2:], starts, spatial)]
    if inside == list(window.shape[2:]):
        return window_forward(window)
    cut = window[(slice(None), slice(None), *(slice(0, n) for n in inside))]
    out = window_forward(cut)
    if getattr(network, "image_residual", False):
        region = (slice(None), slice(None), *(slice(0, n) for n in out.shape[2:]))
        out = out + (upsample_image(window, scale)[region] - upsample_image(cut, scale)).to(out.dtype)
    full = scaled_size([int(n) for n in window.shape[2:]], scale)
    return F.pad(out, [v for n, m in zip(reversed(full), reversed(out.shape[2:])) for v in (0, n - m)])


def forward_bytes(network: nn.Module, spatial: Sequence[int], scale: float) -> int:
    """Estimated peak working memory (bytes) of one forward pass of ``network`` on a (1, 1, *spatial) LR image.

    ``LR_PIXEL_BYTES`` per LR pixel plus ``SR_PIXEL_BYTES`` (``META_SR_PIXEL_BYTES`` for an
    arbitrary-scale network) per SR pixel, measured on the shipped RMISR networks; other
    networks are assumed alike. Plain bicubic interpolation needs a few copies of the output.
    """
    lr_pixels = math.prod(int(n) for n in spatial)
    sr_pixels = lr_pixels * float(scale) ** len(spatial)
    if isinstance(network, BicubicUpsampler):
        return int(16 * sr_pixels)
    meta = has_meta_upsampler(network)
    return int(LR_PIXEL_BYTES * lr_pixels + (META_SR_PIXEL_BYTES if meta else SR_PIXEL_BYTES) * sr_pixels)


def tile_memory_budget(device: str | torch.device) -> int:
    """Bytes one forward pass may take under ``tile="auto"`` on ``device``.

    On the CPU :data:`TILE_MEMORY_BUDGET` (the process's resident memory); on a CUDA device
    :data:`GPU_MEMORY_SHARE` of the memory available to this process now (free on the device, plus what
    PyTorch's caching allocator holds but does not use), never less than :data:`TILE_MEMORY_BUDGET`. So on
    a GPU whether an image runs whole depends on what else holds the GPU's memory at the time.
    """
    device = torch.device(device)
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return max(TILE_MEMORY_BUDGET, int((free + cached) * GPU_MEMORY_SHARE))
    return TILE_MEMORY_BUDGET


def _window_periods(tile: int, length: int, period: int) -> int:
    """The window :func:`tiled_forward` runs along an axis of ``length`` LR pixels (padded to a multiple of
    ``period``) for tiles of ``tile``, in periods: at least :data:`MIN_TILE_PERIODS`, at most the axis."""
    return min(max(tile // period, MIN_TILE_PERIODS), math.ceil(length / period))


def _window_count(length: int, tile: int, overlap: float, period: int) -> int:
    """How many windows :func:`tiled_forward` (MONAI's sliding window on the image folded by ``period``) puts along
    an axis of ``length`` LR pixels with tiles of ``tile`` and ``overlap``."""
    folded, roi = math.ceil(length / period), _window_periods(tile, length, period)
    if folded <= roi:
        return 1
    return math.ceil((folded - roi) / max(int(roi * (1 - overlap)), 1)) + 1


def auto_tile(
    network: nn.Module,
    spatial: Sequence[int],
    scale: float,
    budget: int | None = None,
    device: str | torch.device = "cpu",
    overlap: float = 0.25,
) -> int | None:
    """The LR tile ``tile="auto"`` means for this network and image: ``None`` (whole image) if it fits ``budget``.

    Otherwise the smallest multiple of :data:`AUTO_TILE_STEP` (at least :data:`~.settings.MIN_TILE`) that needs no
    more windows along any axis than the largest one whose square tile's :func:`forward_bytes` fits ``budget``
    (with the CPU's budget ``rmisr_bl_x2`` 560, ``rmisr_bl_x4`` 528, ``rmisr_meta`` at x4 128): the same number of
    tiles, overlapping less.
    RG1_UNCR (1955 x 1841) at x2 and x4 runs in 5 x 5 tiles of 496; a 256 x 256 image for ``rmisr_meta`` at x2.5 in
    2 x 2 tiles of 160 (the largest that fits, 208, would run 2.6x the image's pixels, 160 runs 1.6x).

    Args:
        network: the network that will run.
        spatial: LR (H, W) of one image.
        scale: the up-sampling factor.
        budget: working memory of one forward pass, bytes (default: :func:`tile_memory_budget` of ``device``).
        device: the device the network runs on.
        overlap: the tiles' overlap in :func:`tiled_forward` (``super_resolve``'s default).
    """
    if budget is None:
        budget = tile_memory_budget(device)
    if forward_bytes(network, spatial, scale) <= budget:
        return None
    per_pixel = forward_bytes(network, [1] * len(spatial), scale) or 1
    largest = max(int(math.sqrt(budget / per_pixel)) // AUTO_TILE_STEP * AUTO_TILE_STEP, MIN_TILE)
    period = scale_period(float(scale))[0]
    counts = [_window_count(n, largest, overlap, period) for n in spatial]
    for side in range(MIN_TILE, largest, AUTO_TILE_STEP):
        if all(_window_count(n, side, overlap, period) <= c for n, c in zip(spatial, counts)):
            return side
    return largest
