"""Where a model's CPU inference time goes: torch.profiler, operators grouped by kind and shape.

Run: ``python benchmarks/cpu_profile.py [--model rmisr_bl_x4] [--size 128] [--threads 1] [--path cpu_form]``

The model (a shipped name, or ``imdn`` for our IMDN with random weights at the model's scale) runs a
``size`` x ``size`` grey input, once to warm up, then once under ``torch.profiler``, along ``--path``:
``cpu_form`` (default), the network as ``super_resolve`` runs it on the CPU
(:func:`monai_rmisr.networks.regroup.cpu_inference_network`: PyConv-3's 7x7 and 5x5 branches in one grouped
convolution, each SRB's 3x3 and the pyramid's 3x3 branch in one, 1x1 convolutions as matrix products, contiguous
memory, float32 3x3 / 5x5 / 7x7 convolutions through NNPACK); ``channels_last`` or ``contiguous``, the
network with the paper's layout in that memory format. ``--precision bfloat16`` runs it under a bfloat16 autocast.
Printed: the machine, each operator kind's share of the time and, for every convolution shape, its calls,
milliseconds and multiply-accumulates per second (what the CPU achieves on that shape; for a merged convolution
its weights' shape counts the block-diagonal and zero-padded taps too; a 1x1 convolution run as a matrix product
shows as ``baddbmm``; a convolution run by NNPACK (:mod:`monai_rmisr.networks.nnpack`, one call per group) counts
the direct sum's multiply-adds, so its GMAC/s is the direct kernel's rate it equals, above what the CPU's
multipliers do). With ``--dense-equivalent``, each grouped convolution is also timed as the dense
convolution with block-diagonal weights that computes the same output: when both take the same time, the CPU
library computes the grouped one at the dense one's cost. The multiply-adds per LR pixel of the whole forward are
printed too.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from collections import defaultdict

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from monai_rmisr import load_pretrained
from monai_rmisr.inference.pretrained import PRETRAINED
from monai_rmisr.networks.nets import IMDN
from monai_rmisr.networks.regroup import cpu_inference_network

PATHS = ("cpu_form", "channels_last", "contiguous")
NNPACK = "aten::_nnpack_spatial_convolution"
CONVOLUTIONS = ("aten::mkldnn_convolution", "aten::_slow_conv2d_forward", NNPACK)  # the kernels (wrappers left out)


def build(model: str, reference_scale: float) -> torch.nn.Module:
    """The shipped model ``model``, or our IMDN (random weights) for ``"imdn"``."""
    if model == "imdn":
        return IMDN(2, 1, scale=int(reference_scale))
    return load_pretrained(model)


def dense_time(
    input_shape: list[int], weight_shape: list[int], channels_last: bool, dtype: torch.dtype, repeats: int = 3
) -> float:
    """Milliseconds of the dense convolution (block-diagonal weights) equal to a grouped one of these shapes."""
    channels = input_shape[1]
    out_channels, _, height, width = weight_shape
    x = torch.rand(input_shape, dtype=dtype)
    x = x.contiguous(memory_format=torch.channels_last) if channels_last else x
    weight = torch.rand(out_channels, channels, height, width, dtype=dtype)
    with torch.inference_mode():
        F.conv2d(x, weight, padding=height // 2)
        start = time.perf_counter()
        for _ in range(repeats):
            F.conv2d(x, weight, padding=height // 2)
    return (time.perf_counter() - start) / repeats * 1000


def multiply_adds(events) -> int:
    """Multiply-adds of the profiled forward: every 2-D convolution (the taps of its weights, zeros included, at
    every output position; stride 1 and "same" padding, as in these networks) and every ``baddbmm`` (1x1
    convolutions run as matrix products)."""
    total = 0
    for e in events:
        shapes = e.input_shapes
        if e.key in CONVOLUTIONS and len(shapes[0]) == 4 and len(shapes[1]) == 4:
            total += math.prod(shapes[0][2:]) * shapes[1][0] * math.prod(shapes[1][1:]) * e.count
        elif e.key == "aten::baddbmm" and len(shapes) >= 3 and len(shapes[1]) == 3 and len(shapes[2]) == 3:
            batch, rows, inner = shapes[1]
            total += batch * rows * inner * shapes[2][2] * e.count
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="rmisr_bl_x4", help="a shipped model name, or imdn (default rmisr_bl_x4)")
    parser.add_argument("--scale", type=float, default=4.0, help="the scale for imdn and rmisr_meta (default 4)")
    parser.add_argument("--size", type=int, default=128, help="LR input size (default 128)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--dense-equivalent", action="store_true", help="also time grouped convolutions as dense")
    parser.add_argument("--path", choices=PATHS, default="cpu_form", help="how the network runs (default cpu_form)")
    parser.add_argument(
        "--precision", choices=("float32", "bfloat16"), default="float32", help="bfloat16: under a bfloat16 autocast"
    )
    args = parser.parse_args()
    if args.model != "imdn" and args.model not in PRETRAINED:
        parser.error(f"--model: not a shipped model or imdn: {args.model}")
    torch.set_num_threads(args.threads)
    network = build(args.model, args.scale).eval()
    if args.path == "cpu_form":
        dtype = torch.bfloat16 if args.precision == "bfloat16" else torch.float32
        network, channels_last = cpu_inference_network(network, dtype)  # the form super_resolve runs in that dtype
    else:
        channels_last = args.path == "channels_last"
        network = network.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    x = torch.rand(1, 1, args.size, args.size)
    x = x.contiguous(memory_format=torch.channels_last) if channels_last else x
    forward_kwargs = {"scale": args.scale} if args.model == "rmisr_meta" else {}
    print(
        f"{args.model}, {args.size}x{args.size} LR, path {args.path} "
        f"({'channels-last' if channels_last else 'contiguous'} memory), {args.precision}; "
        f"{platform.processor() or platform.machine()} {os.cpu_count()} cores, "
        f"capability {torch.backends.cpu.get_cpu_capability()}, threads {args.threads}, torch {torch.__version__}"
    )
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bfloat16")
    with torch.inference_mode(), autocast:
        network(x, **forward_kwargs)
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            network(x, **forward_kwargs)
    events = prof.key_averages(group_by_input_shape=True)
    total = sum(e.self_cpu_time_total for e in events)
    by_kind: dict[str, float] = defaultdict(float)
    for e in events:
        kind = "convolution (NNPACK)" if e.key == NNPACK else "convolution" if e.key in CONVOLUTIONS else e.key
        by_kind[kind.removeprefix("aten::")] += e.self_cpu_time_total
    print(f"\ntotal {total / 1000:.1f} ms\n\n| operator | ms | share |\n|---|---|---|")
    for kind, value in sorted(by_kind.items(), key=lambda kv: -kv[1])[:8]:
        print(f"| {kind} | {value / 1000:.1f} | {value / total:.0%} |")
    header = "| convolution (input, weight) | groups | kernel | calls | ms | GMAC/s |"
    rule = "|---|---|---|---|---|---|"
    if args.dense_equivalent:
        header, rule = header + " same as dense, ms per call |", rule + "---|"
    print(f"\n{header}\n{rule}")
    convolutions = sorted((e for e in events if e.key in CONVOLUTIONS), key=lambda e: -e.self_cpu_time_total)
    for e in convolutions:
        input_shape, weight_shape = e.input_shapes[0], e.input_shapes[1]
        if len(input_shape) != 4 or len(weight_shape) != 4:
            continue
        groups = input_shape[1] // weight_shape[1]
        macs = math.prod(input_shape[2:]) * weight_shape[0] * math.prod(weight_shape[1:]) * e.count
        row = (
            f"| {input_shape} x {weight_shape} | {groups} | {'NNPACK' if e.key == NNPACK else 'oneDNN'} | {e.count} | "
            f"{e.self_cpu_time_total / 1000:.1f} | "
            f"{macs / e.self_cpu_time_total / 1000:.1f} |"
        )
        if args.dense_equivalent:
            dense = (
                f"{dense_time(input_shape, weight_shape, channels_last, getattr(torch, args.precision)):.1f}"
                if groups > 1
                else ""
            )
            row += f" {dense} |"
        print(row)
    print(
        f"\nmultiply-adds per LR pixel (convolutions and matrix products): {multiply_adds(events) / args.size**2:,.0f}"
    )


if __name__ == "__main__":
    main()
