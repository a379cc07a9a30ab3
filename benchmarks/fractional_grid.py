"""``rmisr_meta`` where an LR side times the scale is not whole (docs/inference.md, "Tiles").

``python benchmarks/fractional_grid.py``

An output of ``round(n s)`` pixels from ``n`` LR pixels lies on a grid of ``round(n s) / n``, not ``s``, wherever
``n s`` is not whole (a 101-pixel side at x2.5: 253 pixels). For crops of three scikit-image photographs (``camera``,
``coins``, ``moon``; training images of the NATURAL split, not TEST), HR the top-left ``round(n s)`` square, LR its
MATLAB-bicubic downscale to ``n`` (``imresize(output_size=n)``, the grid of a training pair) clipped to [0, 1]: the PSNR
(peak 1, 3 border pixels cut) of ``rmisr_meta``'s whole-image result and of its result in tiles of 64, at x2.5 for
``n`` = 100 (whole: the control) and 101, 103, and at x3.3 for ``n`` = 67. Then the machine.
"""

from __future__ import annotations

import math

import numpy as np
import skimage.data
import torch

from monai_rmisr import super_resolve
from monai_rmisr.benchmark import machine_description
from monai_rmisr.inference import load_pretrained
from monai_rmisr.transforms import imresize

CASES = ((2.5, 100), (2.5, 101), (2.5, 103), (3.3, 67))
TILE = 64


def psnr(sr: np.ndarray, hr: np.ndarray, border: int = 3) -> float:
    error = sr[border:-border, border:-border].astype(np.float64) - hr[border:-border, border:-border]
    return 10 * math.log10(1 / float(np.mean(error**2)))


def main() -> None:
    torch.set_num_threads(1)
    network = load_pretrained("rmisr_meta")
    print("| image | scale | LR side | HR side | whole image | tiles of 64 |")
    print("|---|---|---|---|---|---|")
    for name in ("camera", "coins", "moon"):
        image = getattr(skimage.data, name)().astype(np.float32) / 255
        for scale, side in CASES:
            size = math.floor(side * scale + 0.5)
            hr = image[:size, :size]
            lr = np.clip(imresize(hr[None], output_size=side)[0], 0, 1)
            whole = super_resolve(lr, scale, model=network, tile=None)
            tiled = super_resolve(lr, scale, model=network, tile=TILE)
            print(f"| {name} | x{scale:g} | {side} | {size} | {psnr(whole, hr):.2f} | {psnr(tiled, hr):.2f} |")
    print(machine_description())


if __name__ == "__main__":
    main()
