"""``make demo``: a smoke run of the RMISR networks on a real CT image shipped with pydicom.

It loads ``CT_small.dcm`` (a 128x128 CT slice of the TRAIN split in ``../shared/DATA.md``),
applies the DICOM modality LUT, normalises to [0, 1], degrades it with the MATLAB-compatible
bicubic operator, runs RMISR-BL, RMISR-VP and the arbitrary-scale RMISR on the low-resolution
image and writes a figure. The networks are freshly initialised: this demonstrates the
pipeline and its shapes and speed, not image quality (trained weights come with the bundle).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch

from .networks import RMISR, RMISRVP, laplacian_gradient
from .transforms import imresize

__all__ = ["load_demo_image", "main"]

DEMO_FILE = "CT_small.dcm"


def load_demo_image() -> np.ndarray:
    """The demo CT slice as a (1, H, W) float32 array in [0, 1] (modality LUT, then min-max)."""
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.pixels import apply_modality_lut

    dataset = pydicom.dcmread(get_testdata_file(DEMO_FILE))
    hounsfield = apply_modality_lut(dataset.pixel_array, dataset).astype(np.float32)
    low, high = float(hounsfield.min()), float(hounsfield.max())
    return ((hounsfield - low) / (high - low))[None]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * math.log10(1.0 / np.mean((a - b) ** 2)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default="runs/demo", help="where the figure goes (default: runs/demo)")
    parser.add_argument("--scale", type=int, default=4, choices=(2, 3, 4))
    args = parser.parse_args(argv)
    torch.manual_seed(0)

    hr = load_demo_image()
    s = args.scale
    hr = hr[:, : hr.shape[1] // s * s, : hr.shape[2] // s * s]
    lr = imresize(hr, 1.0 / s)
    bicubic = imresize(lr, float(s))
    print(f"{DEMO_FILE}: HR {hr.shape[1:]} -> LR {lr.shape[1:]} (MATLAB bicubic, x{s})")
    print(f"bicubic up-sampling: PSNR {_psnr(np.clip(bicubic, 0, 1), hr):.2f} dB")

    lr_batch = torch.from_numpy(lr)[None]
    networks = {
        f"RMISR-BL x{s}": (RMISR(2, 1, scale=s), float(s)),
        f"RMISR-VP x{s}": (RMISRVP(2, 1, scale=s), float(s)),
        "RMISR meta x2.5": (RMISR(2, 1, upsampler="meta"), 2.5),
    }
    outputs = {}
    for name, (net, scale) in networks.items():
        net.eval()
        start = time.perf_counter()
        with torch.no_grad():
            sr = net(lr_batch, scale)
        elapsed = time.perf_counter() - start
        if not torch.isfinite(sr).all():
            raise RuntimeError(f"{name} produced non-finite values")
        params = sum(p.numel() for p in net.parameters())
        print(
            f"{name:<16} {params:>10,} parameters  LR {tuple(lr.shape[1:])} -> SR {tuple(sr.shape[2:])}"
            f"  {elapsed * 1000:7.1f} ms (untrained)"
        )
        outputs[name] = sr[0, 0].numpy()

    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    figure_path = output_dir / "demo.png"
    _save_figure(hr[0], lr[0], bicubic[0], figure_path)
    print(f"figure: {figure_path}")
    return 0


def _save_figure(hr: np.ndarray, lr: np.ndarray, bicubic: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    laplacian = laplacian_gradient(torch.from_numpy(hr)[None, None])[0, 0].numpy()
    panels = [
        ("HR (CT_small, pydicom)", hr, "gray"),
        (f"LR ({lr.shape[0]}x{lr.shape[1]}, MATLAB bicubic)", lr, "gray"),
        ("bicubic up-sampling", np.clip(bicubic, 0, 1), "gray"),
        ("Laplacian map of HR (RMISR-VP target)", laplacian, "RdBu_r"),
    ]
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.8))
    for ax, (title, image, cmap) in zip(axes, panels):
        limit = float(np.abs(image).max()) if cmap == "RdBu_r" else None
        ax.imshow(image, cmap=cmap, vmin=-limit if limit else 0, vmax=limit if limit else 1, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
