"""Overshoot of networks at pixel-hard LR edges (a step from one pixel to the next, as burned-in text or a mask has).

``python benchmarks/hard_edges.py --model rmisr_bl_x2 rmisr_meta bicubic /path/to/IMDN_x2.pth``

Two 64x64 images of 0.3 on 0, a disk (radius 14) and a square (24 pixels), super-resolved at x2 with
:func:`monai_rmisr.super_resolve`, and the disk blurred by a Gaussian of 0.5 pixels (an edge as a bicubic
downscale leaves it). One line per model: the largest output value of each, and the share of pixels above 0.35
(the input's largest value is 0.3). A path containing ``IMDN`` is loaded as the IMDN authors' checkpoint.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from monai_rmisr import super_resolve
from monai_rmisr.benchmark import benchmark_network, machine_description
from monai_rmisr.inference.pretrained import load_checkpoint


def hard_edge_images() -> dict[str, np.ndarray]:
    """The disk, the square and the blurred disk, (64, 64) float32 in [0, 0.3]."""
    rows, cols = np.mgrid[:64, :64]
    disk = ((np.hypot(rows - 32, cols - 32) < 14) * 0.3).astype(np.float32)
    square = np.zeros((64, 64), np.float32)
    square[20:44, 20:44] = 0.3
    return {"disk": disk, "square": square, "blurred disk": gaussian_filter(disk, 0.5).astype(np.float32)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", required=True, help="registry names, 'bicubic', or IMDN_x2.pth")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(machine_description())
    images = hard_edge_images()
    for model in args.model:
        network = load_checkpoint(model, benchmark_network("IMDN", 2)) if "IMDN" in model else model
        cells = []
        for name, image in images.items():
            out = super_resolve(image, 2, model=network)
            cells.append(f"{name} max {out.max():.3f}, > 0.35: {(out > 0.35).mean():.2%}")
        print(f"{model}: " + "; ".join(cells), flush=True)


if __name__ == "__main__":
    main()
