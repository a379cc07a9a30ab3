"""The CPU kernel timings behind RMISR's CPU inference form (``monai_rmisr.networks.regroup``, ICCA's means).

Run: ``python benchmarks/cpu_kernels.py [--size 128] [--repeats 10] [--threads 1]``

On a (1, 64, size, size) input, float32 and bfloat16, each pair timed in the same process (mean of ``--repeats``
calls after one warm-up), contiguous memory:

* PyConv-3's 7x7 branch (regrouped to 4 groups) and 5x5 branch (4 groups) as two calls, against the one grouped
  7x7 convolution of 8 outputs per group that :func:`~monai_rmisr.networks.regroup.merge_pyramid_branches` makes;
* the SRB 3x3 (64 -> 64) and PyConv-3 3x3 (64 -> 32) convolutions, which read the same input, as two calls against
  one 64 -> 96 convolution (oneDNN; :func:`~monai_rmisr.networks.regroup.fuse_pfmdb_stages`, which pays through
  NNPACK, see its rows);
* 1x1 convolutions (64 -> 16, 64 -> 64, 256 -> 64) against the batched matrix product of
  :class:`~monai_rmisr.networks.regroup.PointwiseConv`;
* LeakyReLU out of place against in place (the in-place time counts a copy of the input, subtracted);
* the spatial mean of a tensor against its sum (what ICCA's statistics use for bfloat16);
* the arbitrary-scale up-sampler's gather of LR features along the innermost axis at x2.5, ``index_select``
  against an indexed view (:class:`~monai_rmisr.networks.blocks.MetaUpsample`);
* float32 only, where this torch has NNPACK: oneDNN's convolutions against
  :class:`~monai_rmisr.networks.nnpack.NNPACKConv2d` (3x3 of 64 -> 64 / 32 / 16 and 16 -> 16, the merged 7x7 of
  4 groups, one NNPACK call per group; the 64 -> 96 fusion again), the head's 1 -> 64 that is not rewritten, and
  the 64 -> 96 convolution in one NNPACK call against bands of rows (``NNPACK_BAND_PIXELS``; equal below that size).

The machine (``get_cpu_capability()``, cores, threads, torch) is printed first; one Markdown table follows.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import time
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from monai_rmisr.networks.nnpack import NNPACKConv2d, nnpack_available


def milliseconds(function: Callable[[], object], repeats: int) -> float:
    """Mean milliseconds of ``function()`` over ``repeats`` calls after one warm-up call."""
    function()
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats * 1000


def pointwise_row(cin: int, cout: int, size: int, dtype: torch.dtype, repeats: int) -> tuple[str, float, float]:
    """A 1x1 convolution against the batched matrix product of the same numbers."""
    source = torch.rand(1, cin, size, size, dtype=dtype)
    kernel, bias = torch.rand(cout, cin, 1, 1, dtype=dtype), torch.rand(cout, dtype=dtype)
    matrix = kernel.flatten(1)[None]
    return (
        f"1x1 convolution {cin}->{cout} -> matrix product",
        milliseconds(lambda: F.conv2d(source, kernel, bias), repeats),
        milliseconds(lambda: torch.baddbmm(bias[None, :, None], matrix, source.flatten(2)), repeats),
    )


def nnpack_rows(size: int, repeats: int) -> list[tuple[str, float, float]]:
    """float32 convolutions, oneDNN (contiguous memory) against NNPACK as the CPU inference form runs them."""
    result = []
    torch.manual_seed(0)
    for cin, cout, kernel, groups in ((64, 64, 3, 1), (64, 32, 3, 1), (64, 16, 3, 1), (16, 16, 3, 1),
                                      (64, 96, 3, 1), (64, 32, 7, 4), (1, 64, 3, 1)):  # fmt: skip
        conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2, groups=groups)
        fast = NNPACKConv2d(conv)
        source = torch.rand(1, cin, size, size)
        what = f"{kernel}x{kernel} {cin}->{cout}{f' ({groups} groups)' if groups > 1 else ''} -> NNPACK"
        before, after = milliseconds(partial(conv, source), repeats), milliseconds(partial(fast, source), repeats)
        result.append((what, before, after))
    source = torch.rand(1, 64, size, size)
    banded = NNPACKConv2d(nn.Conv2d(64, 96, 3, padding=1))
    whole = copy.deepcopy(banded)
    whole.band_pixels = size * size  # one call for the whole input
    result.append(
        (
            "3x3 64->96 NNPACK in one call -> in bands of NNPACK_BAND_PIXELS",
            milliseconds(partial(whole, source), repeats),
            milliseconds(partial(banded, source), repeats),
        )
    )
    source = torch.rand(1, 64, size, size).contiguous(memory_format=torch.channels_last)
    conv = nn.Conv2d(64, 64, 3, padding=1).to(memory_format=torch.channels_last)
    fast = NNPACKConv2d(conv)
    result.append(
        (
            "3x3 64->64 in channels-last -> NNPACK",
            milliseconds(lambda: conv(source), repeats),
            milliseconds(lambda: fast(source), repeats),
        )
    )
    return result


def rows(size: int, dtype: torch.dtype, repeats: int) -> list[tuple[str, float, float]]:
    """(what, ms of the first way, ms of the second way) for one dtype."""
    x = torch.rand(1, 64, size, size, dtype=dtype)

    def weight(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, dtype=dtype)

    large, middle, merged = weight(16, 16, 7, 7), weight(16, 16, 5, 5), weight(32, 16, 7, 7)
    srb, pyconv3, fused3 = weight(64, 64, 3, 3), weight(32, 64, 3, 3), weight(96, 64, 3, 3)
    result = [
        (
            "7x7 + 5x5 (4 groups each) -> one 7x7 of 4 groups",
            milliseconds(
                lambda: (F.conv2d(x, large, padding=3, groups=4), F.conv2d(x, middle, padding=2, groups=4)), repeats
            ),
            milliseconds(lambda: F.conv2d(x, merged, padding=3, groups=4), repeats),
        ),
        (
            "3x3 64->64 + 3x3 64->32 -> one 3x3 64->96",
            milliseconds(lambda: (F.conv2d(x, srb, padding=1), F.conv2d(x, pyconv3, padding=1)), repeats),
            milliseconds(lambda: F.conv2d(x, fused3, padding=1), repeats),
        ),
    ]
    result += [pointwise_row(cin, cout, size, dtype, repeats) for cin, cout in ((64, 16), (64, 64), (256, 64))]
    copy_time = milliseconds(lambda: x.clone(), repeats)
    result.append(
        (
            "LeakyReLU out of place -> in place",
            milliseconds(lambda: F.leaky_relu(x, 0.05), repeats),
            milliseconds(lambda: F.leaky_relu_(x.clone(), 0.05), repeats) - copy_time,
        )
    )
    result.append(
        (
            "spatial mean -> sum",
            milliseconds(lambda: x.mean(dim=(2, 3), keepdim=True), repeats),
            milliseconds(lambda: x.sum(dim=(2, 3), keepdim=True), repeats),
        )
    )
    # the arbitrary-scale up-sampler's gather of LR features at x2.5 along the innermost axis (meta_upsample.py)
    columns = (torch.arange(size * 5 // 2, dtype=torch.float32) / 2.5).floor().long()
    result.append(
        (
            "x2.5 column gather: index_select -> indexed view",
            milliseconds(lambda: x.index_select(3, columns), repeats),
            milliseconds(lambda: x[..., columns], repeats),
        )
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128, help="spatial size of the 64-channel input (default 128)")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per kernel (default 10)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"CPU {platform.processor() or platform.machine()}, capability {torch.backends.cpu.get_cpu_capability()}, "
        f"{os.cpu_count()} cores, {args.threads} thread(s), torch {torch.__version__}; input 1 x 64 x {args.size}^2"
    )
    print("| kernel | dtype | before, ms | after, ms |\n|---|---|---|---|")
    with torch.inference_mode():
        for dtype in (torch.float32, torch.bfloat16):
            for what, before, after in rows(args.size, dtype, args.repeats):
                print(f"| {what} | {str(dtype).removeprefix('torch.')} | {before:.2f} | {after:.2f} |")
        if nnpack_available():
            for what, before, after in nnpack_rows(args.size, args.repeats):
                print(f"| {what} | float32 | {before:.2f} | {after:.2f} |")
        else:
            print("(no NNPACK in this torch build or on this CPU: its rows are left out)")


if __name__ == "__main__":
    main()
