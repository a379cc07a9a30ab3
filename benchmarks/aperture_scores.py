"""PSNR of weights on the bundle's procedural validation fields of view (realistic protocol: LR clipped).

``python benchmarks/aperture_scores.py --scale 3 --count 3 bundles/rmisr/models/rmisr_bl_x3.pt IMDN_x3.pth``

Each weights file (a shipped model, a training checkpoint's weight average, or the IMDN authors' checkpoint:
a name containing ``IMDN`` is scored as our IMDN network) runs on the first ``--count`` images of
:func:`monai_rmisr.data.datasets.validation_synthetic_images` ``(0, count)``: 384x384 fields of view on black with
soft rims (``--val_aperture_images``), which training never draws. One line per file: the PSNR of each image.
"""

from __future__ import annotations

import argparse

import torch

from monai_rmisr.benchmark import benchmark_network, network_scores
from monai_rmisr.data.corpus import CorpusImage
from monai_rmisr.data.datasets import validation_synthetic_images
from monai_rmisr.inference.pretrained import load_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", nargs="+", help="weights files (IMDN in the name: the IMDN network)")
    parser.add_argument("--scale", type=int, required=True)
    parser.add_argument("--count", type=int, default=3, help="fields of view (default 3)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    arrays = validation_synthetic_images(0, args.count)
    images = [CorpusImage(f"aperture_{k}", "synthetic", "monai_rmisr.data.synthetic", a) for k, a in enumerate(arrays)]
    for path in args.weights:
        network = benchmark_network("IMDN" if "IMDN" in path else "RMISR", args.scale)
        load_checkpoint(path, network)
        scores = network_scores(network, args.scale, images)
        print(path, " ".join(f"{name} {score.psnr:.2f}" for name, score in scores.items()), flush=True)


if __name__ == "__main__":
    main()
