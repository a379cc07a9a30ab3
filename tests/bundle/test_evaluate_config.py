"""``configs/evaluate.json``: the shipped weights scored on the TEST split or on a user folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser
from PIL import Image

from monai_rmisr.data import validation_pairs
from monai_rmisr.metrics.protocol import BICUBIC_REFERENCE, bicubic_upscale, image_scores

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "bundles" / "rmisr" / "configs"


def _parser(tmp_path: Path, **overrides) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config([str(CONFIGS / "train.json"), str(CONFIGS / "evaluate.json")])
    parser.update({"bundle_root": str(ROOT / "bundles" / "rmisr"), "output_dir": str(tmp_path / "eval"), **overrides})
    return parser


def _smooth_image(seed: int, size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    image = sum(
        rng.random() * np.cos(2 * np.pi * (rng.integers(1, 6) * xx + rng.integers(1, 6) * yy)) for _ in range(5)
    )
    return ((image - image.min()) / (image.max() - image.min()) * 255).astype(np.uint8)


def test_evaluate_on_a_user_folder_beats_bicubic(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for seed in range(2):
        Image.fromarray(_smooth_image(seed)).save(folder / f"{seed}.png")
    parser = _parser(tmp_path, dataset_dir=str(folder))
    assert len(parser.get_parsed_content("validate#images")) == 2
    parser.get_parsed_content("evaluating")
    metrics = parser.get_parsed_content("validate#evaluator").state.metrics
    assert set(metrics) == {"val_psnr", "val_ssim", "val_lr_consistency"}
    assert 0 < metrics["val_ssim"] <= 1 and metrics["val_lr_consistency"] > 0
    pairs = validation_pairs(parser.get_parsed_content("validate#images"), 2)
    bicubic = np.mean([image_scores(np.clip(bicubic_upscale(2)(p["lr"]), 0, 1), p["hr"], 2).psnr for p in pairs])
    assert metrics["val_psnr"] > bicubic + 0.1


@pytest.mark.slow
def test_evaluate_on_the_test_split_beats_bicubic(tmp_path):
    parser = _parser(tmp_path)
    parser.get_parsed_content("evaluating")
    metrics = parser.get_parsed_content("validate#evaluator").state.metrics
    assert metrics["val_psnr"] > BICUBIC_REFERENCE[2] + 1.0


def test_evaluate_reads_a_training_checkpoint_like_its_state_dict(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(_smooth_image(0)).save(folder / "0.png")
    weights = ROOT / "bundles" / "rmisr" / "models" / "rmisr_bl_x2.pt"
    checkpoint = tmp_path / "checkpoint_epoch=3.pt"  # as the trainer writes it, with the optimiser
    torch.save({"network": torch.load(weights, weights_only=True), "optimizer": {}, "ema": {}}, checkpoint)
    scores = []
    for path in (weights, checkpoint):
        parser = _parser(tmp_path / path.stem, dataset_dir=str(folder), ckpt_path=str(path))
        parser.get_parsed_content("evaluating")
        scores.append(parser.get_parsed_content("validate#evaluator").state.metrics["val_psnr"])
    assert scores[0] == scores[1]


def test_evaluation_preflight_leaves_the_training_output_alone(tmp_path):
    """An evaluation writes nothing: no output_dir made, and one that holds a run's checkpoints is no obstacle."""
    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(_smooth_image(0)).save(folder / "0.png")
    parser = _parser(tmp_path, dataset_dir=str(folder))
    parser.get_parsed_content("initialize")
    assert not (tmp_path / "eval").exists()
    (tmp_path / "eval" / "checkpoints").mkdir(parents=True)
    torch.save({}, tmp_path / "eval" / "checkpoints" / "checkpoint_epoch=1.pt")
    parser = _parser(tmp_path, dataset_dir=str(folder))
    parser.get_parsed_content("initialize")
    assert sorted(p.name for p in (tmp_path / "eval").rglob("*")) == ["checkpoint_epoch=1.pt", "checkpoints"]


@pytest.mark.parametrize(
    "ckpt_path, error, words",
    [
        ("missing.pt", FileNotFoundError, "--ckpt_path: no such file"),
        ("null", ValueError, "--ckpt_path: this run needs a file"),
        (
            str(ROOT / "bundles" / "rmisr" / "models" / "rmisr_bl_x4.pt"),
            ValueError,
            "is a fixed x4 network, it cannot run at x2; give --scale 4",
        ),
    ],
)
def test_evaluation_preflight_names_a_bad_ckpt_path(tmp_path, ckpt_path, error, words):
    """A missing file, none, or weights of another scale (x4 weights, the default --scale 2) stop the evaluation
    before it reads any image, naming --ckpt_path."""
    parser = _parser(tmp_path, ckpt_path=ckpt_path, dataset_dir=str(tmp_path / "no images here"))
    with pytest.raises(RuntimeError) as caught:
        parser.get_parsed_content("initialize")
    cause = caught.value
    while cause.__cause__ is not None:
        cause = cause.__cause__
    assert isinstance(cause, error) and words in str(cause)


def test_evaluation_preflight_refuses_val_scales_a_fixed_scale_network_cannot_run(tmp_path):
    # it scored x2, then failed with a traceback at the first x3 pair
    parser = _parser(tmp_path, val_scales=[2.0, 3.0], dataset_dir=str(tmp_path / "no images here"))
    with pytest.raises(RuntimeError) as caught:
        parser.get_parsed_content("initialize")
    assert str(caught.value.__cause__).startswith("--val_scales [2.0, 3.0]: --ckpt_path '")
    assert "is a fixed x2 network, it cannot run at x3; give --val_scales null" in str(caught.value.__cause__)


def test_evaluate_builds_the_network_its_checkpoint_says(tmp_path):
    """A checkpoint with an architecture file (a run's model.json beside model.pt, an IMDN run's or RMISR-VP's)
    is scored in its own network, without merging the variant config (it was refused as not fitting RMISR);
    without one, the run's network_def as before."""
    import json

    from monai_rmisr.networks.nets import IMDN, RMISR, RMISRVP

    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(_smooth_image(0)).save(folder / "0.png")
    run = tmp_path / "imdn_run"
    run.mkdir()
    call = {"_target_": "IMDN", "in_channels": 1, "scale": 2}
    (run / "model.json").write_text(json.dumps(call))
    torch.save(IMDN(in_channels=1, scale=2).state_dict(), run / "model.pt")
    vp = ROOT / "bundles" / "rmisr" / "models" / "rmisr_vp_x4.pt"
    meta = ROOT / "bundles" / "rmisr" / "models" / "rmisr_meta.pt"  # at x2.5, which train.json's RMISR refuses
    cases = ((run / "model.pt", 2, IMDN, 0.0), (vp, 4, RMISRVP, 25.0), (meta, 2.5, RMISR, 25.0))  # IMDN untrained
    for path, scale, kind, least in cases:
        parser = _parser(tmp_path / path.parent.name, dataset_dir=str(folder), ckpt_path=str(path), scale=scale)
        parser.get_parsed_content("evaluating")
        assert isinstance(parser.get_parsed_content("network"), kind)
        assert parser.get_parsed_content("validate#evaluator").state.metrics["val_psnr"] > least
