"""Where on one TEST image does a model lose to a reference model? Squared error inside and outside a box.

``python benchmarks/error_regions.py --weights bundles/rmisr/models/rmisr_bl_x2.pt --reference IMDN_x2.pth
--scale 2 --image gdcm-US-ALOKA-16 --box 30,410,35,620``

Both models run on the realistic protocol's LR of the image (MATLAB bicubic, clipped to [0, 1]);
after the protocol's ``ceil(scale)`` border crop, the mean squared error of each is printed inside the
box (``row0,row1,col0,col1`` in HR pixels, half-open; for the ultrasound frame: the scan area) and
outside it (the vendor's text and graphics), with the share of the model's excess squared error
that lies outside. ``--weights`` is a shipped model's file (architecture from its name or a sidecar),
``--reference`` a weights file of ``--reference-network`` (default IMDN: the authors' checkpoints load).
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch

from monai_rmisr.benchmark import benchmark_network
from monai_rmisr.data import load_corpus, protocol_pair
from monai_rmisr.inference.pretrained import load_checkpoint
from monai_rmisr.networks.utils import forward_at_scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True)
    parser.add_argument("--reference", required=True)
    parser.add_argument("--reference-network", default="IMDN")
    parser.add_argument("--scale", type=int, required=True)
    parser.add_argument("--image", required=True, help="a TEST image name, e.g. gdcm-US-ALOKA-16")
    parser.add_argument("--box", required=True, help="row0,row1,col0,col1 in HR pixels")
    args = parser.parse_args()
    row0, row1, col0, col1 = (int(v) for v in args.box.split(","))
    image = next(img for img in load_corpus("test") if img.name == args.image)
    hr, lr = protocol_pair(image.array, args.scale)
    models = {
        "model": load_checkpoint(args.weights),
        "reference": load_checkpoint(args.reference, benchmark_network(args.reference_network, args.scale)),
    }
    border = math.ceil(args.scale)
    inside = np.zeros(hr.shape[1:], dtype=bool)
    inside[row0:row1, col0:col1] = True
    inside = inside[border:-border, border:-border]
    errors = {}
    for name, network in models.items():
        with torch.no_grad():
            sr = forward_at_scale(network, torch.from_numpy(lr)[None], float(args.scale))[0].clamp(0, 1).numpy()
        errors[name] = ((sr - hr)[0, border:-border, border:-border].astype(np.float64)) ** 2
    print(f"{args.image} x{args.scale}, LR clipped; box {args.box} = {inside.mean():.1%} of the scored pixels")
    for name, error in errors.items():
        psnr = -10 * math.log10(error.mean())
        print(
            f"  {name:<9} MSE inside {error[inside].mean():.3e}  outside {error[~inside].mean():.3e}  PSNR {psnr:.2f}"
        )
    excess = errors["model"] - errors["reference"]
    print(f"  share of the model's excess squared error outside the box: {excess[~inside].sum() / excess.sum():.0%}")


if __name__ == "__main__":
    main()
