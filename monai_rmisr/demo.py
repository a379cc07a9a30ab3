"""``make demo``: RMISR on real medical images shipped with pydicom, end to end.

Run after the bundle's default short training (``make demo`` does both), it takes a held-out
CT slice of the TEST split (``693_UNCR``, never trained on), makes its x2 low-resolution version
with the MATLAB-bicubic operator, clipped to [0, 1] as a stored scan is (the realistic protocol),
super-resolves it with the model the training just saved (``runs/rmisr/model.pt``) and reports
PSNR/SSIM against bicubic interpolation; then it runs RMISR-VP and the arbitrary-scale RMISR
(untrained) to show their shapes and speed, and writes a figure. Without trained weights it still
runs, with a freshly initialised RMISR-BL.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from .config import default_bundle_root
from .data import load_corpus
from .inference import list_pretrained, load_checkpoint, load_pretrained
from .metrics import bicubic_upscale, image_scores, protocol_pair
from .networks import RMISR, RMISRVP, laplacian_gradient

__all__ = ["main"]

DEMO_IMAGE = "693_UNCR"
#: What the bundle's default training run (``make demo``'s) saves, relative to the folder it runs in.
DEFAULT_WEIGHTS = Path("runs/rmisr/model.pt")


def _bundle_network() -> torch.nn.Module:
    """The bundle's ``network_def`` (so the demo always matches what the training built), from the bundle of the
    running folder or of the checkout (:func:`~monai_rmisr.config.default_bundle_root`), from any folder."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(Path(default_bundle_root()) / "configs" / "train.json"))
    return parser.get_parsed_content("network_def")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--weights",
        type=Path,
        help=f"trained RMISR-BL x2 weights (default {DEFAULT_WEIGHTS}, the bundle's default run; without it, an "
        "untrained network)",
    )
    parser.add_argument("--output-dir", default="runs/demo", help="where the figure goes (default: runs/demo)")
    args = parser.parse_args(argv)
    if args.weights is not None and not args.weights.is_file():  # a typo must not fall back to an untrained network
        parser.error(f"--weights: no such file: {args.weights}")
    torch.manual_seed(0)
    scale = 2

    image = next(img for img in load_corpus("test") if img.name == DEMO_IMAGE)
    hr, lr = protocol_pair(image.array, scale)
    bicubic = bicubic_upscale(scale)(lr)
    print(
        f"{DEMO_IMAGE} (CT head, TEST split): HR {hr.shape[1:]} -> LR {lr.shape[1:]} "
        f"(MATLAB bicubic, x{scale}, clipped to [0, 1])"
    )

    network = _bundle_network().eval()
    weights = args.weights or DEFAULT_WEIGHTS
    if weights.is_file():
        try:
            load_checkpoint(weights, network)
        except ValueError as e:  # not a checkpoint, or another network's
            parser.error(f"--weights: {e}")
        label = f"RMISR-BL x{scale} ({weights})"
    else:
        label = f"RMISR-BL x{scale} (untrained: {weights} not found)"
    start = time.perf_counter()
    with torch.no_grad():
        sr = network(torch.from_numpy(lr)[None].contiguous(memory_format=torch.channels_last)).clamp(0, 1)
    elapsed = time.perf_counter() - start
    sr = sr[0].numpy()
    estimates = [("bicubic", np.clip(bicubic, 0, 1)), (label, sr)]
    if "rmisr_bl_x2" in list_pretrained(available_only=True):
        with torch.no_grad():
            shipped = load_pretrained("rmisr_bl_x2")(torch.from_numpy(lr)[None]).clamp(0, 1)[0].numpy()
        estimates.append(("shipped rmisr_bl_x2 (bundles/rmisr/models)", shipped))
    scores = {name: image_scores(estimate, hr, scale) for name, estimate in estimates}
    for name, score in scores.items():
        print(f"  {name:<48} PSNR {score.psnr:6.2f} dB  SSIM {score.ssim:.4f}")
    print(f"  RMISR-BL inference: {elapsed * 1000:.0f} ms on CPU")

    x = torch.from_numpy(lr[:, :64, :64])[None]
    for name, net, s in (
        ("RMISR-VP x2", RMISRVP(2, 1, scale=2), 2.0),
        ("RMISR meta x2.5", RMISR(2, 1, upsampler="meta"), 2.5),
    ):
        with torch.no_grad():
            out = net.eval()(x, s)
        params = sum(p.numel() for p in net.parameters())
        print(f"  {name:<16} {params:>10,} parameters  {tuple(x.shape[2:])} -> {tuple(out.shape[2:])} (untrained)")

    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    figure_path = output_dir / "demo.png"
    psnrs = (scores["bicubic"].psnr, scores[label].psnr)
    _save_figure(hr[0], np.clip(bicubic[0], 0, 1), sr[0], label, figure_path, psnrs)
    print(f"figure: {figure_path}")
    return 0


def _save_figure(
    hr: np.ndarray, bicubic: np.ndarray, sr: np.ndarray, label: str, path: Path, psnrs: tuple[float, float]
) -> None:
    """The figure: (H, W) HR, bicubic and SR images with ``psnrs`` (bicubic's, the network's) in the titles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, cols = slice(100, 260), slice(170, 330)  # frontal bone and sinus
    laplacian = laplacian_gradient(torch.from_numpy(hr)[None, None])[0, 0].numpy()
    panels = [
        (f"HR ({DEMO_IMAGE}, detail)", hr[rows, cols], "gray"),
        (f"bicubic x2  {psnrs[0]:.2f} dB", bicubic[rows, cols], "gray"),
        (f"RMISR-BL x2  {psnrs[1]:.2f} dB", sr[rows, cols], "gray"),
        ("Laplacian map of HR (RMISR-VP target)", laplacian[rows, cols], "RdBu_r"),
    ]
    # one display window for the three images (the crop's 0.5-99.5 percentiles of HR)
    low, high = (float(v) for v in np.percentile(hr[rows, cols], [0.5, 99.5]))
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.9))
    for ax, (title, image, cmap) in zip(axes, panels):
        if cmap == "RdBu_r":
            limit = float(np.abs(image).max())
            low_, high_ = -limit, limit
        else:
            low_, high_ = low, high
        ax.imshow(image, cmap=cmap, vmin=low_, vmax=high_, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.suptitle(label, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
