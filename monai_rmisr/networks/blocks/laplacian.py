"""Four-neighbour Laplacian gradient map (paper formulas 6-8)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LaplacianGradient", "laplacian_gradient"]

_MODES = ("sum", "components")


def laplacian_gradient(x: torch.Tensor, mode: str = "sum") -> torch.Tensor:
    """Second differences of ``x`` along every spatial axis.

    For axis ``a``: ``I_a(p) = I(p + e_a) + I(p - e_a) - 2 I(p)`` (formulas 6 and 7, with the
    obvious fix of the paper's typo ``I(x+1, y) + I(x+1, y)``). Borders are replicated, so a
    constant image maps to zero everywhere and the output has the input's size.

    Args:
        x: (B, C, *spatial) tensor, 1 to 3 spatial dimensions, any value range.
        mode: ``"sum"`` returns the four-neighbour (six-neighbour in 3-D) Laplacian
            ``sum_a I_a``, shape (B, C, *spatial); ``"components"`` returns formula 8
            literally, the per-axis second differences, shape (B, C * spatial_dims, *spatial)
            with the components of one channel adjacent (axis order H, W[, D]).
    """
    if mode != "sum" and mode != "components":
        raise ValueError(f"mode must be 'sum' or 'components', got '{mode}'.")
    spatial_dims = x.dim() - 2
    if spatial_dims < 1 or spatial_dims > 3:
        raise ValueError(f"expected a (B, C, *spatial) tensor with 1-3 spatial dims, got {x.dim()} dims.")
    padded = F.pad(x, [1, 1] * spatial_dims, mode="replicate")
    # crop the one-pixel border on every axis but the one being differenced
    components = []
    for axis in range(2, 2 + spatial_dims):
        core = padded
        for other in range(2, 2 + spatial_dims):
            if other != axis:
                core = core.narrow(other, 1, core.shape[other] - 2)
        length = core.shape[axis] - 2
        before = core.narrow(axis, 0, length)
        centre = core.narrow(axis, 1, length)
        after = core.narrow(axis, 2, length)
        components.append(before + after - 2.0 * centre)
    if mode == "sum":
        out = components[0]
        for comp in components[1:]:
            out = out + comp
        return out
    stacked = torch.stack(components, dim=2)  # (B, C, spatial_dims, *spatial)
    return stacked.flatten(1, 2)


class LaplacianGradient(nn.Module):
    """The Laplacian gradient map ``Lap(.)`` of RMISR-VP (paper section 4.1, formulas 6-8).

    A parameter-free module so it can sit inside a network (RMISR-VP computes the LR map from
    its input) and be exported with it. See :func:`laplacian_gradient` for the definition.

    Args:
        mode: ``"sum"`` (default: the isotropic four-neighbour Laplacian, one channel per input
            channel) or ``"components"`` (per-axis second differences, formula 8).
    """

    def __init__(self, mode: str = "sum") -> None:
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}.")
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (B, C, *spatial). Returns the map, see :func:`laplacian_gradient`."""
        return laplacian_gradient(x, self.mode)
