"""Inference time of our models on CPU, through every inference path we offer, as ratios to IMDN.

Run: ``python benchmarks/cpu_inference.py [--size 512] [--repeats 5] [--threads 1] [--compile]``

Each model (RMISR-BL x2 / x3 / x4, RMISR-VP x4, the arbitrary-scale model at x2.5, and our IMDN
at x2 / x3 / x4 with random weights as the yardstick) runs a ``size`` x ``size`` grey input through:

* ``eager``: the network as loaded (float32, contiguous memory);
* ``channels_last``: network and input in the channels-last memory format;
* ``cpu_form``: the network as the inference API runs it on the CPU
  (:func:`monai_rmisr.networks.regroup.cpu_inference_network`: PyConv-3's 7x7 and 5x5 branches in one grouped
  convolution, each SRB's 3x3 convolution and the pyramid 3x3 branch that reads the same input in one, 1x1
  convolutions as matrix products, exactly, in contiguous memory; a network without grouped convolutions in
  channels-last memory; in float32, the 3x3 / 5x5 / 7x7 convolutions of 16 or more input channels per group through
  NNPACK, :mod:`monai_rmisr.networks.nnpack`);
* ``super_resolve``: the public API with its defaults (what ``rmisr upscale`` runs);
* ``torchscript``: traced, frozen and ``optimize_for_inference`` (conv + activation fusion);
* ``onnxruntime``: exported with :func:`monai_rmisr.networks.export.export_onnx`, one session thread per
  ``--threads`` (skipped without onnxruntime);
* ``bfloat16``: the CPU form for bfloat16 (``cpu_inference_network(network, torch.bfloat16)``: as ``cpu_form``, but
  in channels-last memory where the CPU has AMX) under ``torch.autocast("cpu", torch.bfloat16)``, only where the
  CPU has native bfloat16 (:func:`monai_rmisr.hardware.cpu_has_native_bfloat16`); elsewhere it is emulated and not
  timed;
* ``super_resolve_bf16``: the public API with ``precision="bfloat16"`` (``rmisr upscale --precision bfloat16``),
  under the same condition;
* ``compile``: ``torch.compile`` of ``cpu_form`` (inductor's defaults; with ``--compile``; 15-40 s of compilation
  per model).

The paths of all models are timed interleaved (one forward of each, round after round), so a busy
machine slows every path alike; the table gives the median of ``--repeats`` rounds in ms and its
ratio to IMDN eager float32 at the same integer scale (x2.5 against IMDN x3). ``max |d|`` is the
largest output difference from ``eager`` and ``dPSNR`` the PSNR change against the HR, both on the
central 96x96 LR crop of each of the six TEST images (realistic protocol: LR clipped to [0, 1]).
The machine (``get_cpu_capability()``, core count, threads, torch version) is printed first.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from monai_rmisr import load_pretrained, super_resolve
from monai_rmisr.data import load_corpus
from monai_rmisr.hardware import cpu_has_amx, cpu_has_native_bfloat16
from monai_rmisr.metrics import protocol_border, protocol_pair, psnr
from monai_rmisr.networks.nets import IMDN
from monai_rmisr.networks.regroup import cpu_inference_network
from monai_rmisr.networks.utils import forward_at_scale

MODELS = [
    ("IMDN x2", None, 2.0),
    ("IMDN x3", None, 3.0),
    ("IMDN x4", None, 4.0),
    ("RMISR-BL x2", "rmisr_bl_x2", 2.0),
    ("RMISR-BL x3", "rmisr_bl_x3", 3.0),
    ("RMISR-BL x4", "rmisr_bl_x4", 4.0),
    ("RMISR-VP x4", "rmisr_vp_x4", 4.0),
    ("RMISR meta x2.5", "rmisr_meta", 2.5),
]


def build_paths(network: torch.nn.Module, scale: float, size: int, args: argparse.Namespace) -> dict[str, Callable]:
    """name -> callable(x (1, 1, h, w) float32) -> (1, 1, h*s, w*s)."""
    network = network.eval()
    paths: dict[str, Callable] = {"eager": lambda x: forward_at_scale(network, x, scale)}
    last = load_copy(network).to(memory_format=torch.channels_last)
    paths["channels_last"] = lambda x: forward_at_scale(last, x, scale, channels_last=True)
    cpu_form, cpu_form_channels_last = cpu_inference_network(load_copy(network))
    paths["cpu_form"] = lambda x: forward_at_scale(cpu_form, x, scale, channels_last=cpu_form_channels_last)
    paths["super_resolve"] = lambda x: super_resolve(x[0], scale, model=load_copy(network)).unsqueeze(0)
    example = torch.rand(1, 1, size, size)
    fixed_scale = torch.jit.trace(_AtScale(load_copy(network), scale), example, check_trace=False)
    scripted = torch.jit.optimize_for_inference(torch.jit.freeze(fixed_scale.eval()))
    paths["torchscript"] = scripted
    try:
        import onnxruntime

        from monai_rmisr.networks.export import export_onnx

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = 1
        with tempfile.TemporaryDirectory(prefix="rmisr-bench-") as scratch:  # the session holds the model once made
            exported = Path(scratch) / "model.onnx"
            export_onnx(_AtScale(load_copy(network), scale), exported, in_channels=1)
            session = onnxruntime.InferenceSession(str(exported), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        paths["onnxruntime"] = lambda x: torch.from_numpy(session.run(None, {name: x.numpy()})[0])
    except ImportError:
        pass
    if cpu_has_native_bfloat16():
        bf16_form, bf16_channels_last = cpu_inference_network(load_copy(network), torch.bfloat16)

        def bf16(x: torch.Tensor) -> torch.Tensor:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return forward_at_scale(bf16_form, x, scale, channels_last=bf16_channels_last).float()

        paths["bfloat16"] = bf16
        paths["super_resolve_bf16"] = lambda x: super_resolve(
            x[0], scale, model=load_copy(network), precision="bfloat16"
        ).unsqueeze(0)
    if args.compile:
        compiled_form, compiled_channels_last = cpu_inference_network(load_copy(network))
        compiled = torch.compile(compiled_form)
        paths["compile"] = lambda x: forward_at_scale(compiled, x, scale, channels_last=compiled_channels_last)
    return paths


class _AtScale(torch.nn.Module):
    """A network with its scale fixed, for tracing (RMISR's forward takes the scale as an argument)."""

    def __init__(self, network: torch.nn.Module, scale: float) -> None:
        super().__init__()
        self.network, self.scale = network, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return forward_at_scale(self.network, x, self.scale)


def load_copy(network: torch.nn.Module) -> torch.nn.Module:
    import copy

    return copy.deepcopy(network).eval()


def quality(paths: dict[str, Callable], scale: float, crops: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, str]:
    """path -> "max |d| / dPSNR" against eager on the TEST crops."""
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
    with torch.inference_mode():
        for hr, lr in crops:
            x = torch.from_numpy(lr)[None]
            reference = paths["eager"](x).clamp(0, 1)
            base = float(psnr(reference[0].numpy(), hr, crop_border=protocol_border(scale)))
            for name, path in paths.items():
                try:
                    out = path(x).float().clamp(0, 1)
                except RuntimeError:  # a trace of the meta upsampler indexes for the traced size only
                    out = reference.new_empty(0)
                if out.shape != reference.shape:  # ... or returns the traced output size
                    results[name].append((float("nan"), float("nan")))
                    continue
                results[name].append(
                    (
                        float((out - reference).abs().max()),
                        float(psnr(out[0].numpy(), hr, crop_border=protocol_border(scale))) - base,
                    )
                )
    return {
        name: "n/a (output size fixed at the traced input size)"
        if any(np.isnan(d) for d, _ in values)
        else f"{max(d for d, _ in values):.1e} / {statistics.mean(p for _, p in values):+.4f}"
        for name, values in results.items()
    }


def test_crops(scale: float, size: int = 96) -> list[tuple[np.ndarray, np.ndarray]]:
    crops = []
    for image in load_corpus("test"):
        hr_full, lr_full = protocol_pair(image.array, scale)
        h, w = lr_full.shape[1:]
        top, left = max((h - size) // 2, 0), max((w - size) // 2, 0)
        lr = lr_full[:, top : top + size, left : left + size]
        rows, cols = round(lr.shape[1] * scale), round(lr.shape[2] * scale)
        hr_top, hr_left = round(top * scale), round(left * scale)
        crops.append((hr_full[:, hr_top : hr_top + rows, hr_left : hr_left + cols], np.ascontiguousarray(lr)))
    return crops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=512, help="LR input size (default 512)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (median; default 5)")
    parser.add_argument("--threads", type=int, default=1, help="torch / onnxruntime threads (default 1)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (slow to compile)")
    parser.add_argument("--models", nargs="+", default=[m[0] for m in MODELS], help="a subset of the rows")
    parser.add_argument("--no-quality", action="store_true", help="skip the TEST-crop output comparison")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(
        f"CPU {platform.processor() or platform.machine()}, capability {torch.backends.cpu.get_cpu_capability()}, "
        f"{os.cpu_count()} cores, {args.threads} thread(s), native bfloat16 {cpu_has_native_bfloat16()}, "
        f"AMX {cpu_has_amx()}, torch {torch.__version__}"
    )
    x = torch.rand(1, 1, args.size, args.size)
    rows = []
    for label, name, scale in MODELS:
        if label not in args.models:
            continue
        network = IMDN(2, 1, 1, scale=int(scale)) if name is None else load_pretrained(name)
        rows.append((label, scale, build_paths(network, scale, args.size, args)))
    times: dict[tuple[str, str], list[float]] = {}
    with torch.inference_mode():
        for _label, _, paths in rows:  # warm-up (oneDNN primitive caches, ONNX Runtime allocations)
            for path in paths.values():
                path(x)
        for _ in range(args.repeats):
            for label, _, paths in rows:
                for path_name, path in paths.items():
                    start = time.perf_counter()
                    path(x)
                    times.setdefault((label, path_name), []).append(time.perf_counter() - start)
    yardstick = {
        scale: statistics.median(times[(f"IMDN x{int(scale)}", "eager")])
        for scale in (2.0, 3.0, 4.0)
        if (f"IMDN x{int(scale)}", "eager") in times
    }
    print(f"\n{args.size}x{args.size} grey input, median of {args.repeats} interleaved rounds")
    print("| model | path | ms | / IMDN eager | max abs diff / dPSNR on TEST crops |")
    print("|---|---|---|---|---|")
    for label, scale, paths in rows:
        checks = {} if args.no_quality else quality(paths, scale, test_crops(scale))
        reference = yardstick.get(float(np.ceil(scale)))
        for path_name in paths:
            median = statistics.median(times[(label, path_name)])
            ratio = f"{median / reference:.2f}x" if reference else "-"
            print(f"| {label} | {path_name} | {median * 1000:.0f} | {ratio} | {checks.get(path_name, '-')} |")


if __name__ == "__main__":
    main()
