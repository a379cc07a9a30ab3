"""Every model shipped in ``bundles/rmisr/models`` beats bicubic on a held-out image."""

import numpy as np
import pytest
import torch

from monai_rmisr import list_pretrained, load_pretrained
from monai_rmisr.data import load_corpus
from monai_rmisr.inference.pretrained import PRETRAINED
from monai_rmisr.metrics import bicubic_upscale, fractional_pair, image_scores, protocol_pair

SHIPPED = list_pretrained(available_only=True)


def test_the_x2_baseline_is_shipped():
    assert "rmisr_bl_x2" in SHIPPED


def _ct_crop(rows: slice, cols: slice) -> np.ndarray:
    image = next(img for img in load_corpus("test") if img.name == "693_UNCR")  # CT head, never trained on
    return np.ascontiguousarray(image.array[:, rows, cols])


def _gain_over_bicubic(name: str, hr: np.ndarray, lr: np.ndarray, scale: float) -> float:
    """PSNR of the shipped model ``name`` minus bicubic's on one HR/LR pair (the protocol's scores)."""
    network = load_pretrained(name)
    with torch.no_grad():
        sr = network(torch.from_numpy(lr)[None], float(scale))[0].clamp(0, 1).numpy()
    bicubic = bicubic_upscale(scale)(lr)
    return image_scores(sr, hr, scale).psnr - image_scores(bicubic, hr, scale).psnr


def _scale(name: str) -> float:
    return 2.5 if name == "rmisr_meta" else float(PRETRAINED[name].kwargs["scale"])


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_beats_bicubic_on_a_test_image(name):
    scale = _scale(name)
    hr, lr = fractional_pair(_ct_crop(slice(96, 288), slice(160, 352)), scale)  # frontal bone and sinus
    gain = _gain_over_bicubic(name, hr, lr, scale)
    assert gain > 1.0, f"{name}: only {gain:.2f} dB above bicubic"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_beats_bicubic_on_a_realistic_ct_slice_with_black_air(name):
    """Realistic input: the LR clipped to [0, 1] and stored in 8 bits, next to air at exactly 0, the case
    where models that leaned on the bicubic overshoot fell behind (RMISR issue "Realistic quality")."""
    scale = _scale(name)
    crop = _ct_crop(slice(16, 208), slice(16, 208))  # skull and scalp against the air, 192x192
    assert (crop == 0).mean() > 0.2  # a fifth of it is air at exactly 0
    hr, lr = protocol_pair(crop, scale, lr_bits=8)
    assert len(np.unique(lr)) <= 256 and lr.min() >= 0 and lr.max() <= 1
    gain = _gain_over_bicubic(name, hr, lr, scale)
    assert gain > 3.0, f"{name}: only {gain:.2f} dB above bicubic on a clipped 8-bit CT slice"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_has_a_model_card(name):
    from pathlib import Path

    card = Path(__file__).resolve().parents[2] / "bundles" / "rmisr" / "docs" / f"{name}.md"
    assert card.is_file(), f"{name} ships without a model card at {card}"
    text = card.read_text()
    for section in ("Training data", "Iterations", "Hardware and wall time", "Command", "Results"):
        assert f"**{section}" in text, f"{card.name} has no '{section}' section"
    assert "python -m monai_rmisr.benchmark" in text
