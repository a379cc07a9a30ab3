"""Inference time of our models on a CUDA GPU, through each precision and memory-format path, as ratios to IMDN.

Run on a machine with a GPU: ``python benchmarks/gpu_inference.py [--size 512] [--repeats 20] [--compile]
[--quality-images DATASET_JSON]``.

Each model (RMISR-BL x2 / x3 / x4, RMISR-VP x4, the arbitrary-scale model at x2.5, and our IMDN at x4 with
random weights as the yardstick) runs a ``size`` x ``size`` grey input (batch 1, already on the GPU) through:

* ``float32``: the network as loaded; PyTorch runs CUDA convolutions in TF32 by default (its
  ``torch.backends.cudnn.allow_tf32``), so this is the TF32 path;
* ``float32_strict``: TF32 switched off (true float32 products, what the CPU computes);
* ``channels_last``: network and input in the channels-last memory format, TF32;
* ``float16`` / ``bfloat16``: ``torch.autocast("cuda", dtype)`` over the channels-last network (the rows of
  docs/inference.md's 2026-12-04 table); ``float16_contiguous`` / ``bfloat16_contiguous``: the same over the
  network in contiguous memory (channels-last was the slower layout in float32 on an H200);
* ``regrouped`` / ``regrouped_float16``: the network through
  :func:`monai_rmisr.networks.regroup.regroup_convolutions` (for RMISR what ``super_resolve`` runs on the CPU:
  PyConv-3's 7x7 and 5x5 branches in one grouped convolution, 1x1 convolutions as matrix products; for IMDN the
  1x1 convolutions only), in contiguous memory, float32 (TF32) / float16 autocast: whether that helps cuDNN too;
* ``compile``: ``torch.compile`` of the channels-last network, run under the float16 autocast (with
  ``--compile``; seconds to minutes of compilation). No path converts the weights to float16: the first
  convolution reads the image in float32 by design (``monai_rmisr.networks.blocks.trunk``);
* ``super_resolve`` / ``super_resolve_bf16``: the public API on ``device="cuda"`` with ``precision="float32"`` /
  ``"bfloat16"`` (the latter where the device has native bfloat16), from a CPU array to a CPU tensor
  (transfers, tiling decision and bicubic checks included).

Times are CUDA-synchronised wall clock, the paths of all models interleaved round after round (so a busy
GPU slows every path alike); the table gives the median of ``--repeats`` rounds after 3 warm-ups and the
ratio to IMDN x4 ``float32``. ``max |d|`` is the largest output difference from ``float32_strict`` and
``dPSNR`` the mean PSNR change against the HR (realistic protocol: LR clipped to [0, 1]; border
ceil(scale)), both over ``--quality-images``: a MONAI datalist (``rmisr export-corpus`` writes one; its
``validation`` images are scored) or, without it, the corpus TEST split where the corpus is installed.
The machine (GPU, torch, CUDA) is printed first.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from monai_rmisr import load_pretrained, super_resolve
from monai_rmisr.hardware import native_bfloat16
from monai_rmisr.io.output import atomic_output
from monai_rmisr.metrics import protocol_border, protocol_pair, psnr
from monai_rmisr.networks.nets import IMDN
from monai_rmisr.networks.regroup import regroup_convolutions
from monai_rmisr.networks.utils import forward_at_scale

MODELS = [
    ("IMDN x4", None, 4.0),
    ("RMISR-BL x2", "rmisr_bl_x2", 2.0),
    ("RMISR-BL x3", "rmisr_bl_x3", 3.0),
    ("RMISR-BL x4", "rmisr_bl_x4", 4.0),
    ("RMISR-VP x4", "rmisr_vp_x4", 4.0),
    ("RMISR meta x2.5", "rmisr_meta", 2.5),
]
YARDSTICK = ("IMDN x4", "float32")

Path_ = Callable[[torch.Tensor], torch.Tensor]


class StrictFloat32:
    """A context in which CUDA convolutions and matrix products do not use TF32."""

    def __enter__(self) -> None:
        self.saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False

    def __exit__(self, *exc: object) -> None:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = self.saved


def build_paths(network: torch.nn.Module, scale: float, with_compile: bool, device: torch.device) -> dict[str, Path_]:
    """path name -> callable(x: (1, 1, h, w) float32 tensor on ``device``) -> (1, 1, h*s, w*s) on ``device``."""
    network = network.to(device).eval()
    last = copy.deepcopy(network).to(memory_format=torch.channels_last)
    regrouped = regroup_convolutions(network)

    def strict(x: torch.Tensor) -> torch.Tensor:
        with StrictFloat32():
            return forward_at_scale(network, x, scale)

    def autocast(dtype: torch.dtype, module: torch.nn.Module = last, channels_last: bool = True) -> Path_:
        def run(x: torch.Tensor) -> torch.Tensor:
            with torch.autocast(device.type, dtype=dtype):
                return forward_at_scale(module, x, scale, channels_last=channels_last).float()

        return run

    paths: dict[str, Path_] = {
        "float32": lambda x: forward_at_scale(network, x, scale),
        "float32_strict": strict,
        "channels_last": lambda x: forward_at_scale(last, x, scale, channels_last=True),
        "float16": autocast(torch.float16),
        "bfloat16": autocast(torch.bfloat16),
        "float16_contiguous": autocast(torch.float16, network, channels_last=False),
        "bfloat16_contiguous": autocast(torch.bfloat16, network, channels_last=False),
        "regrouped": lambda x: forward_at_scale(regrouped, x, scale),
        "regrouped_float16": autocast(torch.float16, regrouped, channels_last=False),
    }
    if with_compile:
        paths["compile"] = autocast(torch.float16, torch.compile(copy.deepcopy(last)))
    if not isinstance(network, IMDN):
        paths["super_resolve"] = _public_api(network, scale, "float32", device)
        if native_bfloat16(device):  # super_resolve refuses bfloat16 where it would be emulated
            paths["super_resolve_bf16"] = _public_api(network, scale, "bfloat16", device)
    return paths


def _public_api(network: torch.nn.Module, scale: float, precision: str, device: torch.device) -> Path_:
    def run(x: torch.Tensor) -> torch.Tensor:
        out = super_resolve(x[0].cpu(), scale, model=network, device=device, precision=precision)
        return torch.as_tensor(out)[None].to(device)

    return run


def quality_images(datalist: str | None) -> list[np.ndarray]:
    """(1, H, W) float32 images in [0, 1]: a datalist's ``validation`` list, or the corpus TEST split."""
    if datalist is None:
        from monai_rmisr.data import load_corpus

        return [image.array for image in load_corpus("test")]
    from monai_rmisr.data import dataset_images

    return dataset_images(datalist, "datalist", "val")


def quality(
    paths: dict[str, Path_], scale: float, images: list[np.ndarray], device: torch.device
) -> dict[str, tuple[float, float]]:
    """path -> (largest |output - float32_strict output|, mean PSNR change against float32_strict)."""
    found: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
    border = protocol_border(scale)
    with torch.inference_mode():
        for image in images:
            hr, lr = protocol_pair(image, scale)
            x = torch.from_numpy(np.ascontiguousarray(lr))[None].to(device)
            reference = paths["float32_strict"](x).clamp(0, 1)
            base = float(psnr(reference[0].cpu().numpy(), hr, crop_border=border))
            for name, path in paths.items():
                out = path(x).float().clamp(0, 1)
                change = float(psnr(out[0].cpu().numpy(), hr, crop_border=border)) - base
                found[name].append((float((out - reference).abs().max()), change))
    return {name: (max(d for d, _ in values), statistics.mean(p for _, p in values)) for name, values in found.items()}


def timed(path: Path_, x: torch.Tensor) -> float:
    """Seconds of one call, the device synchronised before and after."""
    if x.is_cuda:
        torch.cuda.synchronize(x.device)
    start = time.perf_counter()
    path(x)
    if x.is_cuda:
        torch.cuda.synchronize(x.device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=512, help="LR input size (default 512)")
    parser.add_argument("--repeats", type=int, default=20, help="timed rounds (median; default 20)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (float16 autocast)")
    parser.add_argument("--models", nargs="+", default=[m[0] for m in MODELS], help="a subset of the rows")
    parser.add_argument("--quality-images", help="a MONAI datalist whose 'validation' images are scored")
    parser.add_argument("--no-quality", action="store_true", help="skip the output comparison")
    parser.add_argument("--json", help="also write the table as JSON to this file")
    parser.add_argument("--device", default="cuda", help="default cuda; cpu only to try the script itself")
    args = parser.parse_args()
    unknown = sorted(set(args.models) - {label for label, _, _ in MODELS})
    if unknown:
        parser.error(f"--models: unknown {unknown}; the rows are {[label for label, _, _ in MODELS]}.")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("no CUDA GPU is visible to PyTorch.")
    torch.manual_seed(0)
    machine = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"{machine}, torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}",
        flush=True,
    )
    x = torch.rand(1, 1, args.size, args.size, device=device)
    rows = []
    for label, name, scale in MODELS:
        if label in args.models:
            network = IMDN(2, 1, 1, scale=int(scale)) if name is None else load_pretrained(name)
            rows.append((label, scale, build_paths(network, scale, args.compile, device)))
    times: dict[tuple[str, str], list[float]] = {}
    with torch.inference_mode():
        for label, _, paths in rows:  # warm-up: cuDNN algorithm choice, compilation, allocator
            for path_name, path in paths.items():
                start = time.perf_counter()
                for _ in range(3):
                    timed(path, x)
                print(f"warm-up {label} {path_name}: {time.perf_counter() - start:.1f} s", flush=True)
        for _ in range(args.repeats):
            for label, _, paths in rows:
                for path_name, path in paths.items():
                    times.setdefault((label, path_name), []).append(timed(path, x))
    images = [] if args.no_quality else quality_images(args.quality_images)
    reference = statistics.median(times[YARDSTICK]) if YARDSTICK in times else None
    print(f"\n{args.size}x{args.size} grey input, batch 1, median of {args.repeats} interleaved rounds")
    print(f"| model | path | ms | / {' '.join(YARDSTICK)} | max abs diff / dPSNR ({len(images)} images) |")
    print("|---|---|---|---|---|")
    table = []
    for label, scale, paths in rows:
        checks = quality(paths, scale, images, device) if images else {}
        for path_name in paths:
            median = statistics.median(times[(label, path_name)]) * 1000
            ratio = median / (reference * 1000) if reference else None
            check = checks.get(path_name)
            shown = f"{check[0]:.1e} / {check[1]:+.4f}" if check else "-"
            print(f"| {label} | {path_name} | {median:.2f} | {f'{ratio:.2f}x' if ratio else '-'} | {shown} |")
            table.append({"model": label, "path": path_name, "ms": median, "ratio": ratio, "check": check})
    if args.json:
        with atomic_output(args.json) as temporary:  # a whole file or none
            temporary.write_text(json.dumps({"machine": machine, "torch": torch.__version__, "rows": table}, indent=1))


if __name__ == "__main__":
    main()
