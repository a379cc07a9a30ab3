"""Geometric self-ensemble: a network's outputs averaged over the eight flips and quarter turns.

An SR network is not exactly equivariant to flips and 90-degree rotations, so running it on the
eight dihedral transforms of the input, transforming each output back and averaging, removes
part of its error (EDSR's "self-ensemble"; +0.07 dB for ``rmisr_bl_x4`` on the benchmark
protocol) at eight times the inference cost. Nothing is learned or changed: the same weights see
the same pixels in other orientations, which keeps the result faithful to the input.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..networks.utils import forward_at_scale

__all__ = ["DIHEDRAL_TRANSFORMS", "dihedral_mean", "dihedral_mean_forward", "self_ensemble_forward"]

#: ``(quarter turns, mirrored)`` of the eight symmetries of a square, identity first.
DIHEDRAL_TRANSFORMS: tuple[tuple[int, bool], ...] = tuple((k, mirror) for k in range(4) for mirror in (False, True))


def _apply(x: torch.Tensor, quarter_turns: int, mirror: bool) -> torch.Tensor:
    x = torch.rot90(x, quarter_turns, dims=(-2, -1))
    return x.flip(-1) if mirror else x


def _undo(y: torch.Tensor, quarter_turns: int, mirror: bool) -> torch.Tensor:
    y = y.flip(-1) if mirror else y
    return torch.rot90(y, -quarter_turns, dims=(-2, -1))


def dihedral_mean_forward(
    network: nn.Module,
    x: torch.Tensor,
    scale: float | None,
    transforms: Sequence[tuple[int, bool]],
    channels_last: bool = False,
) -> torch.Tensor:
    """The mean of :func:`~monai_rmisr.networks.utils.forward_at_scale` over ``transforms``, some of the
    :data:`DIHEDRAL_TRANSFORMS` of the last two (in-plane) axes, each output turned back first.

    Args:
        network: an SR network in eval mode, fully convolutional in its last two axes (every
            network of this package): a turned input must give the turned output's size.
        x: (B, C, H, W) or (B, C, D, H, W) LR batch.
        scale: the up-sampling factor, passed on to networks whose ``forward`` takes one.
        transforms: ``(quarter turns, mirrored)`` pairs, at least one (all eight: :func:`self_ensemble_forward`;
            a random few: an unbiased estimate of it, e.g. a distillation target averaged over iterations).
        channels_last: pass 4-D inputs in channels-last memory format (see ``forward_at_scale``).

    Returns:
        (B, C_out, *round(spatial * scale)), like one forward pass; not clipped. The mean is taken in ``x``'s dtype,
        also when the network runs under a bfloat16 autocast.
    """
    return dihedral_mean(
        lambda turned, _transform: forward_at_scale(network, turned, scale, channels_last), x, transforms
    )


def dihedral_mean(
    function: Callable[[torch.Tensor, tuple[int, bool]], torch.Tensor],
    x: torch.Tensor,
    transforms: Sequence[tuple[int, bool]] = DIHEDRAL_TRANSFORMS,
) -> torch.Tensor:
    """The mean of ``function`` over ``transforms`` of ``x``'s last two axes, each output turned back first.

    Args:
        function: called as ``function(turned x, (quarter turns, mirrored))``; maps an image to one whose last two axes
            turn with it (an SR image, a tiled SR image).
        x: (B, C, *spatial) tensor.
        transforms: some of the :data:`DIHEDRAL_TRANSFORMS`, at least one.

    Returns:
        The mean in ``x``'s dtype.
    """
    transforms = list(transforms)
    if not transforms or any(t not in DIHEDRAL_TRANSFORMS for t in transforms):
        raise ValueError(f"transforms must be one or more of {DIHEDRAL_TRANSFORMS}, got {transforms}.")
    outputs = (
        _undo(function(_apply(x, turns, mirror), (turns, mirror)), turns, mirror).to(x.dtype)
        for turns, mirror in transforms
    )
    return sum(outputs) / len(transforms)


def self_ensemble_forward(
    network: nn.Module, x: torch.Tensor, scale: float | None, channels_last: bool = False
) -> torch.Tensor:
    """The mean of :func:`~monai_rmisr.networks.utils.forward_at_scale` over the eight
    flips / quarter turns of the last two (in-plane) axes, each output turned back first
    (:func:`dihedral_mean_forward` over all :data:`DIHEDRAL_TRANSFORMS`).

    Args:
        network: an SR network in eval mode, fully convolutional in its last two axes (every
            network of this package): a turned input must give the turned output's size.
        x: (B, C, H, W) or (B, C, D, H, W) LR batch.
        scale: the up-sampling factor, passed on to networks whose ``forward`` takes one.
        channels_last: pass 4-D inputs in channels-last memory format (see ``forward_at_scale``).

    Returns:
        (B, C_out, *round(spatial * scale)), like one forward pass; not clipped. The mean is taken in ``x``'s dtype,
        also when the network runs under a bfloat16 autocast.
    """
    return dihedral_mean_forward(network, x, scale, DIHEDRAL_TRANSFORMS, channels_last)
