"""Arbitrary-scale upsampler with predicted filters (Meta-SR, Hu et al. 2019; paper section 4.3)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..utils import DEFAULT_MAX_SCALE, check_scale, is_module_of, scaled_size

__all__ = ["AxisPlacement", "MetaUpsample", "has_meta_upsampler", "placed_in"]


class AxisPlacement(NamedTuple):
    """Where an input lies in a larger image, along one axis: its LR pixel 0 is the image's LR pixel ``lr_start``, its
    output pixel 0 the image's output pixel ``out_start``; the image has ``lr_size`` LR and ``out_size`` output pixels.
    """

    lr_start: int
    out_start: int
    lr_size: int
    out_size: int


#: The placement of this thread's (or asyncio task's) inputs in their image, if set: see :func:`placed_in`.
_PLACEMENT: ContextVar[tuple[AxisPlacement, ...] | None] = ContextVar("meta_placement", default=None)


@contextmanager
def placed_in(placement: Sequence[AxisPlacement]) -> Iterator[None]:
    """Within the block, in this thread, every :class:`MetaUpsample` takes its input as a window of a larger image
    (one :class:`AxisPlacement` per spatial axis) and projects its output pixels on that image's grid: tiled inference
    gives the tiles the whole image's output grid this way where ``n * scale`` is not whole
    (:func:`~monai_rmisr.inference.tiled_forward`). Not inside ``torch.compile`` or an export."""
    token = _PLACEMENT.set(tuple(AxisPlacement(*(int(v) for v in axis)) for axis in placement))
    try:
        yield
    finally:
        _PLACEMENT.reset(token)


class MetaUpsample(nn.Module):
    """Meta-upscale module: position projection, weight prediction, feature mapping.

    For an output pixel ``p`` (per axis) the module

    1. projects it to the LR pixel ``q = floor(p / s)`` (formula 15),
    2. predicts a ``k x k`` filter from ``(p/s - floor(p/s)`` per axis, ``1/s)`` with a
       two-layer MLP (formula 16, Meta-SR's weight prediction network),
    3. applies that filter to the ``k x k`` LR feature neighbourhood of ``q`` (formula 17).

    The projection divides by the scale of the grid the output actually has, ``n_out / n`` per axis
    (``n_out = round(n s)``): that is ``s`` when ``n s`` is whole, and otherwise the grid of the image
    residual (:func:`~monai_rmisr.networks.utils.upsample_image`), of a training pair's HR patch and of the
    output's metadata. With ``p / s`` instead, the filters drift away from those by up to half an output
    pixel towards the far border (``rmisr_meta`` at x2.5 on a 101-pixel crop of ``camera``: 1.4 dB lower).
    Within :func:`placed_in` the input is a window of a larger image and the grid is that image's.

    Nothing loops over pixels. The MLP is linear after its hidden ReLU layer, so instead of
    predicting ``C_in * k^d * C_out`` filter taps per output pixel (Meta-SR's memory cost) we
    fold its second layer into a convolution evaluated once on the LR grid, gather that by the
    projection ``q`` and contract it with the hidden activations of each output pixel. The
    result is algebraically identical to Meta-SR's ``W(p) . F(q)`` and it exports to
    TorchScript/ONNX. Memory at the output resolution is ``out_channels * hidden_channels``
    floats per output pixel (use tiled inference for very large images).

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        in_channels: feature channels.
        out_channels: output channels.
        kernel_size: neighbourhood size ``k`` of the predicted filters (Meta-SR: 3).
        hidden_channels: width of the weight-prediction MLP (Meta-SR: 256).
        max_scale: largest accepted scale.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        hidden_channels: int = 256,
        max_scale: float = DEFAULT_MAX_SCALE,
    ):
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"MetaUpsample supports spatial_dims 2 or 3, got {spatial_dims}.")
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}.")
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.hidden_channels = hidden_channels
        self.max_scale = max_scale
        taps = in_channels * kernel_size**spatial_dims * out_channels
        # weight prediction network f(.; theta): (fractional offset per axis, 1/s) -> filter taps
        self.position_layer = nn.Linear(spatial_dims + 1, hidden_channels)
        self.weight_layer = nn.Linear(hidden_channels, taps)

    def _folded_kernels(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The MLP's output layer as convolution kernels: (C_out*hidden, C_in, k..) and (C_out, C_in, k..)."""
        k = [self.kernel_size] * self.spatial_dims
        weight = self.weight_layer.weight.view([self.out_channels, self.in_channels] + k + [self.hidden_channels])
        weight = weight.movedim(-1, 1).reshape([self.out_channels * self.hidden_channels, self.in_channels] + k)
        bias = self.weight_layer.bias.view([self.out_channels, self.in_channels] + k)
        return weight, bias

    @torch.jit.unused
    def _placement(self) -> Optional[list[list[int]]]:  # noqa: UP045 (TorchScript's spelling)
        if torch.compiler.is_compiling():  # an export or torch.compile traces the network itself
            return None
        placement = _PLACEMENT.get()
        if placement is None:
            return None
        if len(placement) != self.spatial_dims:
            raise ValueError(f"placed_in needs {self.spatial_dims} AxisPlacements (one per axis), got {len(placement)}")
        return [list(axis) for axis in placement]

    def forward(self, x: torch.Tensor, scale: float) -> torch.Tensor:
        """Args:
            x: (B, in_channels, *spatial) LR features.
            scale: float in [1, max_scale].

        Returns:
            (B, out_channels, *round(spatial * scale)) (halves rounded up).
        """
        scale = check_scale(scale, self.max_scale, allow_one=True)
        in_size = list(x.shape[2:])  # sizes as they are (symbolic in torch.export: int() would fix them)
        out_size = scaled_size(in_size, scale)
        weight, bias = self._folded_kernels()
        pad = self.kernel_size // 2
        # the kernels come from the MLP, hence functional convolutions
        if self.spatial_dims == 2:
            lr_hidden = F.conv2d(x, weight, padding=pad)  # (B, C_out*hidden, *in_size)
            lr_bias = F.conv2d(x, bias, padding=pad)  # (B, C_out, *in_size)
        else:
            lr_hidden = F.conv3d(x, weight, padding=pad)
            lr_bias = F.conv3d(x, bias, padding=pad)

        # position projection (formula 15) per axis and the hidden pre-activation, which is
        # a sum of per-axis terms because the MLP's first layer is linear
        first_w = self.position_layer.weight  # (hidden, spatial_dims + 1)
        pre = self.position_layer.bias + first_w[:, -1] / scale
        hidden_shape = [self.hidden_channels] + [1] * self.spatial_dims
        hidden = pre.view(hidden_shape)
        # positions in float32 at least: in bfloat16 (autocast) integers above 256 are not exact, so
        # output columns would read the wrong LR pixels (and the last one an index past the end)
        position_dtype = torch.promote_types(x.dtype, torch.float32)
        placement: Optional[list[list[int]]] = None  # noqa: UP045 (TorchScript's spelling)
        if not torch.jit.is_scripting():
            placement = self._placement()
        for axis, (n_in, n_out) in enumerate(zip(in_size, out_size)):
            # output pixel p sits at LR position p * lr_size / out_size of its image (this input, unless placed in
            # a larger one), in whole numbers: its pixel and the fraction
            lr_start, out_start, lr_size, image_out = 0, 0, n_in, n_out
            if placement is not None:
                lr_start, out_start, lr_size, image_out = placement[axis]
            # (on the CPU: int64 floor division is not exact on every device, e.g. MPS; n_out values, moved once)
            numerator = (torch.arange(n_out) + out_start) * lr_size - lr_start * image_out
            floor = torch.div(numerator, image_out, rounding_mode="floor")
            source = floor.clamp(0, n_in - 1).to(x.device)
            offset = ((numerator - floor * image_out).double() / image_out).to(device=x.device, dtype=position_dtype)
            shape = [1] * self.spatial_dims
            shape[axis] = n_out
            hidden = hidden + first_w[:, axis].view(hidden_shape) * offset.view([1] + shape)
            index = source.long()
            if axis == self.spatial_dims - 1:
                # along the innermost axis index_select copies one value at a time; an indexed view makes the same
                # copy 7x faster in float32, 4x in bfloat16 (64 x 128 x 128 at x2.5, one thread, Intel Xeon:
                # benchmarks/cpu_kernels.py --size 128, the "column gather" row)
                if self.spatial_dims == 2:  # (TorchScript takes no Ellipsis before a tensor index)
                    lr_hidden, lr_bias = lr_hidden[:, :, :, index], lr_bias[:, :, :, index]
                else:
                    lr_hidden, lr_bias = lr_hidden[:, :, :, :, index], lr_bias[:, :, :, :, index]
            else:
                lr_hidden = lr_hidden.index_select(2 + axis, index)
                lr_bias = lr_bias.index_select(2 + axis, index)
        hidden = torch.relu(hidden)  # (hidden, *out_size)

        b = x.shape[0]
        gathered = lr_hidden.view([b, self.out_channels, self.hidden_channels] + out_size)
        return (gathered * hidden.unsqueeze(0).unsqueeze(0)).sum(dim=2) + lr_bias

    def extra_repr(self) -> str:
        return f"in={self.in_channels}, out={self.out_channels}, k={self.kernel_size}, hidden={self.hidden_channels}"


def has_meta_upsampler(network: nn.Module) -> bool:
    """Whether ``network`` (or any of its modules) is a :class:`MetaUpsample`, a TorchScript one too
    (:func:`~monai_rmisr.networks.utils.is_module_of`): an arbitrary-scale network."""
    return any(is_module_of(module, MetaUpsample) for module in network.modules())
