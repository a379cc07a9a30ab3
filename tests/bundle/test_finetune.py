"""The fine-tuning configs (lung CT, dermoscopy, retina): a few iterations on a fake folder in each
layout, starting from saved weights."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from monai_rmisr import RMISR

from ..data.test_user_datasets import make_drive_folder, make_isic_folder, make_lidc_tree

CONFIGS = Path(__file__).resolve().parents[2] / "bundles" / "rmisr" / "configs"
# name -> (builder of the fake layout, number of train / val images it gives with the config's split)
LAYOUTS = {
    "lung_ct": (make_lidc_tree, 3, 4),  # seed 0 holds out patient 1 (4 slices), trains on patient 2 (3)
    "dermoscopy": (make_isic_folder, 3, 1),
    "retina": (make_drive_folder, 2, 1),
}


def _parser(name: str, **overrides) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config([str(CONFIGS / "train.json"), str(CONFIGS / f"finetune_{name}.json")])
    parser.update(overrides)
    return parser


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_finetune_config_defaults(name):
    parser = _parser(name)
    assert parser.get_parsed_content("dataset_preset") == name
    assert parser.get_parsed_content("output_dir") == f"runs/finetune_{name}"
    assert parser.get_parsed_content("learning_rate") == pytest.approx(1e-4)
    # bundle_root: outside a running workflow, the bundle of the checkout this package is imported from
    assert Path(parser.get_parsed_content("init_weights")) == CONFIGS.parent / "models" / "rmisr_bl_x2.pt"
    assert parser.get_parsed_content("dataset_dir")  # a placeholder the user overrides


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_init_weights_null_starts_a_finetune_config_from_scratch(tmp_path, name):
    LAYOUTS[name][0](tmp_path)

    def loaders(**overrides) -> list[str]:
        # the loaders reach the trainer and its TensorBoard writer: keep its folder out of the checkout
        parser = _parser(name, dataset_dir=str(tmp_path), output_dir=str(tmp_path / "run"), **overrides)
        return [type(loader).__name__ for loader in parser.get_parsed_content("train#resume_loaders")]

    assert "InitialWeightsLoader" in loaders()
    # what --init_weights null hands the config (Python's None typed there never arrives)
    assert "InitialWeightsLoader" not in loaders(init_weights="null")
    assert _parser(name, init_weights="null").get_parsed_content("init_weights_file") is None


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_finetune_runs_from_init_weights_on_a_fake_folder(tmp_path, name):
    build, n_train, n_val = LAYOUTS[name]
    data = tmp_path / "data"
    data.mkdir()
    build(data)
    torch.manual_seed(123)
    start = RMISR(2, 1, scale=2, image_residual=True, num_blocks=1)
    with torch.no_grad():
        for p in start.parameters():
            p.add_(0.01 * torch.randn_like(p))  # nothing like a fresh initialisation
    torch.save(start.state_dict(), tmp_path / "start.pt")
    parser = _parser(
        name,
        init_weights=str(tmp_path / "start.pt"),
        dataset_dir=str(data),
        output_dir=str(tmp_path / "run"),
        max_epochs=1,
        epoch_length=2,
        batch_size=2,
        patch_size=8,
        learning_rate=0.0,
        **{"network_def#num_blocks": 1},
    )
    parser.get_parsed_content("initialize")
    parser.get_parsed_content("training")
    trainer = parser.get_parsed_content("train#trainer")
    assert trainer.state.epoch == 1 and trainer.state.iteration == 2
    assert len(parser.get_parsed_content("train#images")) == n_train
    assert len(parser.get_parsed_content("validate#images")) == n_val
    assert (tmp_path / "run" / "checkpoints" / "checkpoint_epoch=1.pt").is_file()
    assert (tmp_path / "run" / "model.pt").is_file()
    # metrics.csv starts with the starting weights' score (epoch 0); at learning rate 0 epoch 1 scores the same
    with open(tmp_path / "run" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(row["epoch"], row["iteration"], row["loss"] == "") for row in rows] == [
        ("0", "0", True),
        ("1", "2", False),
    ]
    assert float(rows[0]["val_psnr"]) == pytest.approx(float(rows[1]["val_psnr"]))
    trained = parser.get_parsed_content("network").state_dict()
    assert all(torch.equal(trained[k].cpu(), v) for k, v in start.state_dict().items())
    # TensorBoard holds the training loss of each iteration (a tuple output was once dropped with a warning)
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    assert [event.step for event in events.Scalars("train_loss")] == [1, 2]


def _causes(error: BaseException | None) -> str:
    """The messages of an error and of those it was raised from (MONAI's config parser wraps the component's)."""
    messages = []
    while error is not None:
        messages.append(str(error))
        error = error.__cause__
    return "\n".join(messages)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_finetune_configs_take_the_validation_settings_of_train_json(tmp_path, name):
    # each config replaced validate#images with a call that had no procedural images and no val_names check:
    # --val_synthetic_images 3 --val_ct_phantom_images 2 ran without them, --val_names ran without a word
    build, _, n_val = LAYOUTS[name]
    build(tmp_path)

    def validation(**overrides) -> list:
        return _parser(name, dataset_dir=str(tmp_path), **overrides).get_parsed_content("validate#images")

    assert len(validation()) == n_val
    assert len(validation(val_synthetic_images=3, val_ct_phantom_images=2)) == n_val + 5
    assert len(validation(val_max_images=1)) == 1
    with pytest.raises(Exception) as err:
        validation(val_names=["CT_small"])
    assert "names corpus images" in _causes(err.value)


def test_val_max_images_is_refused_on_the_corpus():
    parser = ConfigParser()
    parser.read_config(str(CONFIGS / "train.json"))
    parser.update({"val_max_images": 4})
    with pytest.raises(Exception) as err:
        parser.get_parsed_content("validate#images")
    assert "--val_max_images 4 limits a --dataset_dir run" in _causes(err.value)
