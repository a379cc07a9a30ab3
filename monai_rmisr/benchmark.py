"""The benchmark protocol of the project: a network against bicubic on the TEST split.

``python -m monai_rmisr.benchmark --weights bundles/rmisr/models/rmisr_bl_x2.pt --scale 2``

Protocol (the "Train and ship the models" issue): the six TEST images of the embedded corpus,
one grey channel, min-max normalised to [0, 1]; HR cropped to fit the scale; LR = MATLAB-bicubic
downscale, float, not quantised; PSNR (peak 1) and SSIM (11x11 Gaussian, sigma 1.5) after
cropping ``ceil(scale)`` border pixels; mean over the six images. The network output is clipped
to [0, 1]; bicubic is scored unclipped, which reproduces the reference 37.42 / 34.68 / 33.06 dB.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .data.corpus import CorpusImage, load_corpus
from .data.datasets import fractional_pair
from .metrics import psnr, ssim
from .networks.utils import forward_at_scale, scaled_size
from .transforms import imresize

__all__ = ["machine_description", "network_scores", "protocol_scores"]


def protocol_scores(
    predict, scale: float, images: Sequence[CorpusImage] | None = None, clip: bool = True
) -> dict[str, tuple[float, float]]:
    """``{name: (psnr, ssim)}`` of ``predict(lr) -> sr`` ((1, h, w) -> (1, H, W) numpy) on the protocol."""
    images = load_corpus("test") if images is None else images
    border = math.ceil(scale)
    scores = {}
    for image in images:
        hr, lr = fractional_pair(np.asarray(image.array, dtype=np.float32), scale)
        sr = np.asarray(predict(np.asarray(lr, dtype=np.float32)), dtype=np.float64)
        if clip:
            sr = np.clip(sr, 0.0, 1.0)
        scores[image.name] = (psnr(sr, hr, 1.0, crop_border=border), ssim(sr, hr, 1.0, crop_border=border))
    return scores


def network_scores(
    network: nn.Module, scale: float, images: Sequence[CorpusImage] | None = None, device: str = "cpu"
) -> dict[str, tuple[float, float]]:
    """:func:`protocol_scores` of a network (eval mode, channels-last, no gradients)."""
    network = network.eval().to(device).to(memory_format=torch.channels_last)

    def predict(lr: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = forward_at_scale(network, torch.from_numpy(lr)[None].to(device), float(scale), channels_last=True)
        return out[0].float().cpu().numpy()

    return protocol_scores(predict, scale, images)


def machine_description() -> str:
    """One line naming the hardware and software the numbers were measured on."""
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU, {os.cpu_count()} cores"
    return f"{platform.machine()} {device}, torch {torch.__version__}, threads {torch.get_num_threads()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True, help="state dict of the network (e.g. a bundle model.pt)")
    parser.add_argument("--scale", type=float, required=True)
    parser.add_argument("--network", default="RMISR", help="class name in monai_rmisr.networks.nets (default RMISR)")
    parser.add_argument("--upsampler", default="subpixel", choices=("subpixel", "meta"))
    parser.add_argument("--no-image-residual", action="store_true", help="the network has no image-space skip")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    from .networks import nets

    if not os.path.isfile(args.weights):
        parser.error(f"weights file not found: {args.weights}")
    kwargs = {"spatial_dims": 2, "in_channels": 1, "scale": args.scale}
    if args.network in ("RMISR", "RMISRVP"):
        kwargs.update(upsampler=args.upsampler, image_residual=not args.no_image_residual)
    network = getattr(nets, args.network)(**kwargs)
    state = torch.load(args.weights, map_location="cpu", weights_only=True)
    network.load_state_dict(state.get("model", state.get("network", state)) if isinstance(state, dict) else state)

    images = load_corpus("test")
    start = time.perf_counter()
    scores = network_scores(network, args.scale, images, args.device)
    elapsed = time.perf_counter() - start
    bicubic = protocol_scores(
        lambda lr: imresize(lr, output_size=tuple(scaled_size(list(lr.shape[1:]), args.scale))),
        args.scale,
        images,
        clip=False,
    )
    print(f"x{args.scale:g} {args.network} ({args.weights}) on the TEST split; {machine_description()}")
    print("| image | bicubic PSNR / SSIM | network PSNR / SSIM |")
    print("|---|---|---|")
    for name in scores:
        b, n = bicubic[name], scores[name]
        print(f"| {name} | {b[0]:.2f} / {b[1]:.4f} | {n[0]:.2f} / {n[1]:.4f} |")
    mean_b = np.mean(list(bicubic.values()), axis=0)
    mean_n = np.mean(list(scores.values()), axis=0)
    print(f"| **mean** | **{mean_b[0]:.2f} / {mean_b[1]:.4f}** | **{mean_n[0]:.2f} / {mean_n[1]:.4f}** |")
    print(f"network inference on the six images: {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
