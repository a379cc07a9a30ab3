"""Float32 convolutions through NNPACK: fewer multiplications than the direct kernels, the same function.

PyTorch's CPU builds include NNPACK (``torch.backends.nnpack.is_available()``), but its convolution dispatch picks
oneDNN here (``benchmarks/cpu_profile.py --path contiguous`` lists ``mkldnn_convolution``). Called directly, its fast
convolution algorithms do the work of a 3x3 convolution in fewer multiplications (Winograd
F(6x6, 3x3): 64 products for 36 outputs where the direct sum takes 324) and of a 5x5 or 7x7 one in the Fourier
domain. On one thread of an AMD EPYC with AVX-512 (torch 2.13, 64 x 128 x 128 input) a 3x3 convolution of 64 -> 64
channels took 5.6 ms against oneDNN's 11.6 in contiguous memory and 10.5 in channels-last, and RMISR's merged
pyramid convolution (7x7, 4 groups of 16 -> 8, one NNPACK call per group) 2.9 against 8.0 ms
(``python benchmarks/cpu_kernels.py --size 128``).

The same sums in another order: Winograd's transforms round differently, about 1.5e-5 absolute on a unit-scale
3x3 output against oneDNN's 1e-6 (the Fourier path 1.4e-6), well inside the 1e-4 the inference paths promise
(``tests/networks/test_nnpack.py`` checks a shipped model on a CT crop). Float32 only: bfloat16, float16 or an
active CPU autocast (which would run the convolution in bfloat16) take ``F.conv2d`` as before, so the inference
paths' ``precision="bfloat16"`` is unchanged; so does ``torch.compile``, which has no NNPACK kernel to trace.
NNPACK's thread pool takes torch's thread count at its first call (a later ``torch.set_num_threads`` does not
change it).

:func:`nnpack_convolutions` rewrites a network's 2-D convolutions that NNPACK speeds up, for the CPU inference
form (:func:`~monai_rmisr.networks.regroup.cpu_inference_network`); training keeps ``nn.Conv2d``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .utils import copied_parameter, rewritten_copy

__all__ = [
    "MIN_NNPACK_IN_CHANNELS",
    "NNPACK_BAND_PIXELS",
    "NNPACK_KERNEL_SIZES",
    "NNPACKConv2d",
    "nnpack_available",
    "nnpack_convolutions",
]

#: The fewest input channels (per group) a convolution needs to go through NNPACK. Below it the transforms cost
#: more than they save: the head's 3x3 convolution of 1 -> 64 channels took 1.13 ms in NNPACK against 0.41 in
#: oneDNN, 16 -> 16 0.73 against 0.82 (``benchmarks/cpu_kernels.py --size 128``).
MIN_NNPACK_IN_CHANNELS = 16

#: About the most pixels (per image) one NNPACK call computes: a taller input runs in bands of rows (at least 12).
#: NNPACK transforms its whole input and output into a workspace it keeps for the thread's lifetime; in bands of
#: 2^15 pixels the forward pass's memory stays near oneDNN's (``super_resolve`` of 384 x 384: 3.25 KB per LR pixel
#: without NNPACK, 3.4-3.7 with these bands: ``python benchmarks/cpu_memory.py [--no-nnpack]``).
#: ``benchmarks/cpu_kernels.py --size 256`` times one call against bands.
NNPACK_BAND_PIXELS = 2**15

#: The kernel sizes (square) NNPACK's fast algorithms serve here: Winograd for 3, Fourier transforms for 5 and 7.
NNPACK_KERNEL_SIZES = (3, 5, 7)


def nnpack_available() -> bool:
    """Whether this torch build has NNPACK and it initialised on this CPU (the first call initialises it;
    ``torch._nnpack_spatial_convolution`` fails until then)."""
    return bool(torch.backends.nnpack.is_available())


class NNPACKConv2d(nn.Module):
    """A 2-D convolution (stride 1, no dilation, zero "same" padding) that runs through NNPACK in float32.

    Each group is one NNPACK call (the call has no groups), the outputs concatenated in group order; an input taller
    than about :data:`NNPACK_BAND_PIXELS` pixels' worth of rows runs in bands of rows, each with the rows around it
    it reads. Any other input (not float32, not on the CPU, not 4-D, under a CPU autocast, ``torch.compile`` or
    ``torch.jit.trace``), and every input where NNPACK is not
    available, goes through ``F.conv2d`` with the same weights. Made from a convolution by
    :func:`nnpack_convolutions`; same output up to float rounding (see the
    module docstring).

    Args:
        conv: a plain ``nn.Conv2d`` with stride 1, dilation 1, zero padding of half its odd square kernel; its
            weights are copied.

    Raises:
        ValueError: ``conv`` has another layout (a stride, a dilation, other padding, a subclass).
    """

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        if not _nnpack_layout(conv):
            raise ValueError(
                "NNPACKConv2d: needs a plain nn.Conv2d with a square odd kernel, stride 1, dilation 1 and zero padding "
                f"of half the kernel, got {conv}."
            )
        self.in_channels, self.out_channels, self.groups = conv.in_channels, conv.out_channels, conv.groups
        self.padding = [int(p) for p in conv.padding]
        self.nnpack = nnpack_available()  # also initialises NNPACK, which fails every call until then
        self.band_pixels = NNPACK_BAND_PIXELS
        self.weight = copied_parameter(conv.weight)
        self.bias = None
        if conv.bias is not None:
            self.bias = copied_parameter(conv.bias)
        self.train(conv.training)

    def extra_repr(self) -> str:
        kernel = tuple(self.weight.shape[2:])
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={kernel}, padding={self.padding}, "
            f"groups={self.groups}"
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (B, in_channels, H, W). Returns (B, out_channels, H, W)."""
        # under a CPU autocast the convolution belongs in bfloat16; torch.compile has no NNPACK kernel to trace
        direct = False
        if not torch.jit.is_scripting():
            # tracing would fix the bands to the traced size
            direct = torch.is_autocast_enabled("cpu") or torch.compiler.is_compiling() or torch.jit.is_tracing()
        if direct or not self.nnpack or x.dtype != torch.float32 or x.device.type != "cpu" or x.dim() != 4:
            return F.conv2d(x, self.weight, self.bias, padding=self.padding, groups=self.groups)
        height, width = x.shape[2], x.shape[3]
        band = max(12, self.band_pixels // max(width, 1) // 6 * 6)  # a multiple of 6 rows (Winograd's output tile)
        if height <= band:
            return self._grouped(x)
        # bands of rows, each read with its halo: output row r needs input rows r - pad ... r + pad, which the band
        # holds or which lie outside the image (NNPACK's zero padding stands for those)
        pad = self.padding[0]
        outputs: list[torch.Tensor] = []
        for start in range(0, height, band):
            stop = min(start + band, height)
            first, last = max(0, start - pad), min(height, stop + pad)
            outputs.append(self._grouped(x[:, :, first:last])[:, :, start - first : stop - first])
        return torch.cat(outputs, dim=2)

    def _grouped(self, x: torch.Tensor) -> torch.Tensor:
        """The convolution of ``x`` (float32, CPU, 4-D) through NNPACK, one call per group."""
        if self.groups == 1:
            return torch._nnpack_spatial_convolution(x, self.weight, self.bias, self.padding)
        in_per_group, out_per_group = self.in_channels // self.groups, self.out_channels // self.groups
        outputs: list[torch.Tensor] = []
        for group in range(self.groups):
            rows = slice(group * out_per_group, (group + 1) * out_per_group)
            bias = None if self.bias is None else self.bias[rows]
            group_input = x[:, group * in_per_group : (group + 1) * in_per_group]
            outputs.append(torch._nnpack_spatial_convolution(group_input, self.weight[rows], bias, self.padding))
        return torch.cat(outputs, dim=1)


def _nnpack_layout(conv: nn.Module) -> bool:
    """Whether ``conv`` is a convolution :class:`NNPACKConv2d` computes: a plain ``nn.Conv2d`` with a square odd
    kernel, stride 1, dilation 1 and zero "same" padding."""
    if type(conv) is not nn.Conv2d or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
        return False
    size = conv.kernel_size[0]
    return (
        conv.kernel_size == (size, size)
        and size % 2 == 1
        and conv.stride == (1, 1)
        and conv.dilation == (1, 1)
        and tuple(conv.padding) == (size // 2, size // 2)
    )


def _nnpack_served(conv: nn.Module) -> bool:
    """Whether NNPACK speeds ``conv`` up: :func:`_nnpack_layout`, a kernel size in :data:`NNPACK_KERNEL_SIZES` and at
    least :data:`MIN_NNPACK_IN_CHANNELS` input channels per group (no depthwise groups)."""
    return (
        _nnpack_layout(conv)
        and conv.kernel_size[0] in NNPACK_KERNEL_SIZES
        and conv.in_channels // conv.groups >= MIN_NNPACK_IN_CHANNELS
    )


def nnpack_convolutions(network: nn.Module) -> nn.Module:
    """``network`` with every plain 2-D convolution NNPACK speeds up an :class:`NNPACKConv2d`: kernel 3, 5 or 7
    (:data:`NNPACK_KERNEL_SIZES`), stride 1, no dilation, zero "same" padding, at least
    :data:`MIN_NNPACK_IN_CHANNELS` input channels per group.

    Args:
        network: any module; it is not changed.

    Returns:
        ``network`` itself when NNPACK is not available in this torch build or on this CPU, or when nothing
        qualifies (so a second call is free); else a rewritten copy. Same outputs up to float rounding; its
        ``state_dict`` keeps the names and shapes, but save the original.
    """
    if not nnpack_available():
        return network
    return rewritten_copy(network, lambda module: NNPACKConv2d if _nnpack_served(module) else None)
