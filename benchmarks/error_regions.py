"""Where on one TEST image does a model lose to a reference model? Squared error inside and outside a region.

``python benchmarks/error_regions.py --weights bundles/rmisr/models/rmisr_bl_x2.pt --reference IMDN_x2.pth
--scale 2 --image gdcm-US-ALOKA-16 --box 30,410,35,620``
``python benchmarks/error_regions.py --weights bundles/rmisr/models/rmisr_bl_x4.pt --reference IMDN_x4.pth
--scale 4 --image 693_UNCR --air-band 3``
``python benchmarks/error_regions.py --weights bundles/rmisr/models/rmisr_bl_x3.pt --reference IMDN_x3.pth
--scale 3 --image retina --rim-band 4``
``python benchmarks/error_regions.py --weights bundles/rmisr/models/rmisr_bl_x4.pt --reference IMDN_x4.pth
--scale 4 --split train --image J2K_pixelrep_mismatch --air-band 3`` (a TRAIN image: does the model fit
what it was trained on as well as the reference?)
``python benchmarks/error_regions.py --weights bundles/rmisr/models/rmisr_bl_x4.pt --reference IMDN_x4.pth
--scale 4 --image 693_UNCR --strongest-edges 1`` (the strongest edges: bone, air / skin)

Both models run on the realistic protocol's LR of the image (MATLAB bicubic, clipped to [0, 1]),
and the model once more on the unclipped LR (the overshoot kept); after the protocol's
``ceil(scale)`` border crop, the mean squared error of each is printed inside a region and outside
it, with the share of the model's excess squared error (over the reference's) that lies outside.
The region is ``--box row0,row1,col0,col1`` in HR pixels, half-open (for the ultrasound frame: the
scan area, so outside = the vendor's text and graphics), or ``--air-band N``: the pixels within N
pixels of the HR image's exact zeros (air in CT), the zeros themselves excluded, or ``--rim-band N``: the
pixels within N pixels of the rim of the HR image's field of view (where it crosses ``--rim-level``, default
0.06: a fundus image's black surround), or ``--strongest-edges P``: the P percent of the scored pixels with the
largest gradient magnitude of the HR image (Sobel). ``--weights`` is a
shipped model's file (architecture from its name or a sidecar), ``--reference`` a weights file of
``--reference-network`` (default IMDN: the authors' checkpoints load).
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch
from scipy.ndimage import binary_dilation, binary_erosion, sobel

from monai_rmisr.benchmark import benchmark_network
from monai_rmisr.data import load_corpus
from monai_rmisr.inference.pretrained import load_checkpoint
from monai_rmisr.metrics import protocol_border, protocol_pair
from monai_rmisr.networks.utils import forward_at_scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True)
    parser.add_argument("--reference", required=True)
    parser.add_argument("--reference-network", default="IMDN")
    parser.add_argument("--scale", type=int, required=True)
    parser.add_argument("--image", required=True, help="an image name of --split, e.g. gdcm-US-ALOKA-16")
    parser.add_argument(
        "--split", choices=("test", "train"), default="test", help="the corpus split of --image (default test)"
    )
    region = parser.add_mutually_exclusive_group(required=True)
    region.add_argument("--box", help="row0,row1,col0,col1 in HR pixels")
    region.add_argument("--air-band", type=int, metavar="N", help="pixels within N of the HR image's zeros")
    region.add_argument("--rim-band", type=int, metavar="N", help="pixels within N of the field of view's rim")
    region.add_argument(
        "--strongest-edges", type=float, metavar="P", help="the P %% of pixels with the largest HR gradient"
    )
    parser.add_argument("--rim-level", type=float, default=0.06, help="the field of view: HR above this (0.06)")
    args = parser.parse_args()
    for option, value in (("--air-band", args.air_band), ("--rim-band", args.rim_band)):
        if value is not None and value < 1:
            parser.error(f"{option} must be at least 1 pixel, got {value}")
    if args.strongest_edges is not None and not 0 < args.strongest_edges < 100:
        parser.error(f"--strongest-edges must be a percentage in (0, 100), got {args.strongest_edges}")
    images = {img.name: img for img in load_corpus(args.split)}
    if args.image not in images:
        parser.error(f"--image {args.image!r} is not in the {args.split} split; it has {', '.join(images)}")
    image = images[args.image]
    hr, lr = protocol_pair(image.array, args.scale)
    _, lr_unclipped = protocol_pair(image.array, args.scale, clip_lr=False)
    model = load_checkpoint(args.weights)
    runs = {
        "model": (model, lr),
        "reference": (load_checkpoint(args.reference, benchmark_network(args.reference_network, args.scale)), lr),
        "model, unclipped LR": (model, lr_unclipped),
    }
    border = protocol_border(args.scale)
    if args.box:
        row0, row1, col0, col1 = (int(v) for v in args.box.split(","))
        inside = np.zeros(hr.shape[1:], dtype=bool)
        inside[row0:row1, col0:col1] = True
        what = f"box {args.box}"
    elif args.rim_band is not None:
        field = hr[0] > args.rim_level
        band = args.rim_band
        inside = binary_dilation(field, iterations=band) & ~binary_erosion(field, iterations=band, border_value=1)
        what = f"band of {band} pixels either side of the field of view's rim (HR {args.rim_level:g})"
    elif args.strongest_edges is not None:
        gradient = np.hypot(sobel(hr[0], axis=0), sobel(hr[0], axis=1))[border:-border, border:-border]
        inside = np.zeros(hr.shape[1:], dtype=bool)
        inside[border:-border, border:-border] = gradient >= np.percentile(gradient, 100 - args.strongest_edges)
        what = f"the {args.strongest_edges:g} % of pixels with the largest HR gradient (Sobel)"
    else:
        air = hr[0] == 0
        inside = binary_dilation(air, iterations=args.air_band) & ~air
        what = f"band of {args.air_band} pixels next to air"
    inside = inside[border:-border, border:-border]
    errors = {}
    for name, (network, low_res) in runs.items():
        with torch.no_grad():
            sr = forward_at_scale(network, torch.from_numpy(low_res)[None], float(args.scale))[0].clamp(0, 1).numpy()
        errors[name] = ((sr - hr)[0, border:-border, border:-border].astype(np.float64)) ** 2
    print(f"{args.image} x{args.scale}, LR clipped; {what} = {inside.mean():.1%} of the scored pixels")
    for name, error in errors.items():
        psnr = -10 * math.log10(error.mean())
        print(
            f"  {name:<9} MSE inside {error[inside].mean():.3e}  outside {error[~inside].mean():.3e}  PSNR {psnr:.2f}"
        )
    excess = errors["model"] - errors["reference"]
    print(f"  share of the model's excess squared error outside: {excess[~inside].sum() / excess.sum():.0%}")


if __name__ == "__main__":
    main()
