"""Per-image PSNR of models on the training bundle's validation images, one pass and self-ensembled.

``python benchmarks/validation_scores.py --model rmisr_bl_x4 runs/x4/model.pt --scale 4 --val-aperture-images 1
--val-ct-phantom-images 1 --self-ensemble``

The images are ``train.json``'s ``validate#images`` on the corpus (``val_names``, ``--val-synthetic-images``
display frames, ``--val-aperture-images`` fields of view, ``--val-ct-phantom-images`` CT slices), made into the
realistic protocol's pairs at ``--scale`` (LR clipped), scored as the run's ``val_psnr`` is (PSNR on luma, the
output clipped to [0, 1], the protocol's border cut). One line per model (and per self-ensemble): the mean, which
is the run's ``val_psnr`` for those weights, then each image's PSNR, named. Which images move a validation score:
the procedural ones weigh as much as the corpus's real ones.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from monai_rmisr.benchmark import machine_description
from monai_rmisr.data.datasets import validation_images, validation_pairs, validation_sources
from monai_rmisr.inference.self_ensemble import self_ensemble_forward
from monai_rmisr.inference.super_resolve import resolve_model
from monai_rmisr.metrics import psnr
from monai_rmisr.metrics.protocol import protocol_border
from monai_rmisr.networks.utils import forward_at_scale

CONFIG = Path(__file__).resolve().parents[1] / "bundles" / "rmisr" / "configs" / "train.json"


def image_names(val_names: list[str], synthetic: int, aperture: int, ct_phantoms: int) -> list[str]:
    """The names of :func:`~monai_rmisr.data.datasets.validation_images`' images, in its order."""
    names = [source.name for source in validation_sources(val_names)]
    names += [f"display frame {k}" for k in range(synthetic)]
    names += [f"field of view {k}" for k in range(aperture)]
    return names + [f"CT phantom {k}" for k in range(ct_phantoms)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", required=True, help="registry names or a run's model.pt (+ .json)")
    parser.add_argument("--scale", type=float, required=True)
    parser.add_argument("--val-synthetic-images", type=int, default=1, help="as the bundle's setting (1)")
    parser.add_argument("--val-aperture-images", type=int, default=0, help="as the bundle's setting (0)")
    parser.add_argument("--val-ct-phantom-images", type=int, default=0, help="as the bundle's setting (0)")
    parser.add_argument("--self-ensemble", action="store_true", help="also score the 8-pass self-ensemble")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    val_names = json.loads(CONFIG.read_text())["val_names"]
    synthetic, aperture, ct_phantoms = args.val_synthetic_images, args.val_aperture_images, args.val_ct_phantom_images
    images = validation_images(val_names, synthetic, aperture=aperture, ct_phantoms=ct_phantoms)
    pairs = validation_pairs(images, args.scale)
    names = image_names(val_names, synthetic, aperture, ct_phantoms)
    print(machine_description())
    print("images: " + ", ".join(names))
    for model in args.model:
        network, run_scale, _ = resolve_model(model, args.scale)
        network.eval()
        for ensemble in (False, True) if args.self_ensemble else (False,):
            forward = self_ensemble_forward if ensemble else forward_at_scale
            scores = []
            with torch.no_grad():
                for pair in pairs:
                    lr, hr = torch.from_numpy(pair["lr"])[None], torch.from_numpy(pair["hr"])
                    sr = forward(network, lr, run_scale).clamp(0, 1)[0]
                    scores.append(float(psnr(sr, hr, data_range=1.0, crop_border=protocol_border(args.scale))))
            label = f"{model}{' self-ensemble' if ensemble else ''}"
            cells = "; ".join(f"{name} {score:.3f}" for name, score in zip(names, scores))
            print(f"{label}: mean {sum(scores) / len(scores):.4f}; {cells}", flush=True)


if __name__ == "__main__":
    main()
