"""Build the bundle's training workflow on small synthetic images (fast, no corpus needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from monai.bundle import ConfigParser

from monai_rmisr.data import validation_pairs

CONFIGS = Path(__file__).resolve().parents[2] / "bundles" / "rmisr" / "configs"


def synthetic_images(count: int = 3, size: int = 48) -> list[np.ndarray]:
    """Smooth random images in [0, 1] (sums of low-frequency cosines), so training has signal."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    images = []
    for _ in range(count):
        image = sum(
            rng.random() * np.cos(2 * np.pi * (rng.integers(1, 5) * xx + rng.integers(1, 5) * yy + rng.random()))
            for _ in range(4)
        )
        image = (image - image.min()) / (image.max() - image.min())
        images.append(image[None].astype(np.float32))
    return images


def training_parser(output_dir: Path, *extra: str, scale: float = 2, **overrides) -> ConfigParser:
    images = synthetic_images()
    hr = images[0][:, :36, :36]
    parser = ConfigParser()
    parser.read_config([str(CONFIGS / "train.json"), *(str(CONFIGS / f"{name}.json") for name in extra)])
    settings = {
        "train#images": images,
        "validate#dataloader#dataset": validation_pairs([hr], scale),
        "output_dir": str(output_dir),
        "max_epochs": 2,
        "epoch_length": 3,
        "batch_size": 2,
        "patch_size": 8,
    }
    if not extra:  # the variants replace network_def with their own small overrides
        settings["network_def#num_blocks"] = 1
    settings.update(overrides)
    parser.update(settings)
    return parser


def run_training(parser: ConfigParser):
    parser.get_parsed_content("initialize")
    parser.get_parsed_content("training")
    return parser.get_parsed_content("train#trainer")


def weights(parser: ConfigParser) -> dict:
    return {k: v.clone() for k, v in parser.get_parsed_content("network").state_dict().items()}
