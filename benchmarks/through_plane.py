"""Adding slices (``rmisr upscale --axis z``, ``Upscaler.through_plane``): the network against bicubic along z.

``python benchmarks/through_plane.py [--scales 2 3 4]``

Two volumes in [0, 1], their slices the HR: a procedural one (96 x 96 x 96: forty overlapping ellipsoids of random
contrast, lightly smoothed, 1 % noise; made here, seed 0) and ``emri_small`` (pydicom-data's 64 x 64 x 10 MR head, a
training image of the corpus, not TEST: x2 only, 5 slices in). LR: the MATLAB-bicubic downscale along z alone,
clipped to [0, 1] (thick slices of the same planes); each method adds the slices back. PSNR (peak 1) over the
volume without ``s`` slices at either end, for ``--model bicubic`` (interpolation along z) and the dedicated
network of the scale (``rmisr_bl_xS``, through the two orthogonal passes). Then the machine.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import pydicom
import torch
from pydicom.data import get_testdata_file
from scipy import ndimage

from monai_rmisr.benchmark import machine_description
from monai_rmisr.inference.upscale import Upscaler
from monai_rmisr.transforms import imresize


def phantom(size: int = 96, seed: int = 0) -> np.ndarray:
    """(size, size, size) in [0, 1]: overlapping ellipsoids of random contrast, smoothed (sigma 0.7), 1 % noise."""
    rng = np.random.default_rng(seed)
    z, y, x = np.mgrid[:size, :size, :size] / size
    volume = np.zeros((size, size, size), np.float64)
    for _ in range(40):
        centre, radii = rng.uniform(0.2, 0.8, 3), rng.uniform(0.03, 0.25, 3)
        inside = (
            ((x - centre[0]) / radii[0]) ** 2 + ((y - centre[1]) / radii[1]) ** 2 + ((z - centre[2]) / radii[2]) ** 2
        )
        volume += rng.uniform(-0.3, 0.6) * (inside < 1)
    volume = ndimage.gaussian_filter(volume, 0.7) + 0.01 * rng.standard_normal(volume.shape)
    return ((volume - volume.min()) / (volume.max() - volume.min())).astype(np.float32)


def mr_head() -> np.ndarray:
    """pydicom-data's ``emri_small`` (10 slices of 64 x 64), (H, W, D) in [0, 1]."""
    volume = np.moveaxis(pydicom.dcmread(get_testdata_file("emri_small.dcm")).pixel_array.astype(np.float32), 0, -1)
    return (volume - volume.min()) / (volume.max() - volume.min())


def psnr(result: np.ndarray, hr: np.ndarray, border: int) -> float:
    error = result[..., border:-border].astype(np.float64) - hr[..., border:-border]
    return 10 * math.log10(1 / float(np.mean(error**2)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[2, 3, 4], choices=[2, 3, 4])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print("| volume | scale | slices in -> out | bicubic along z | rmisr_bl_xS (two passes) |")
    print("|---|---|---|---|---|")
    volumes = {"procedural (96^3)": (phantom(), args.scales), "emri_small (MR head)": (mr_head(), [2])}
    for name, (volume, scales) in volumes.items():
        for scale in [s for s in scales if s in args.scales]:
            hr = volume[None, ..., : volume.shape[-1] // scale * scale]
            lr = np.clip(imresize(hr, scale=1 / scale, spatial_axes=(2,)), 0, 1)
            scores = [
                psnr(Upscaler(scale, model=model, axis="z").through_plane(lr), hr, scale)
                for model in ("bicubic", f"rmisr_bl_x{scale}")
            ]
            print(f"| {name} | x{scale} | {lr.shape[-1]} -> {hr.shape[-1]} | {scores[0]:.2f} | {scores[1]:.2f} |")
    print(machine_description())


if __name__ == "__main__":
    main()
