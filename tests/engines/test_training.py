import csv
import json
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from ignite.engine import Events
from PIL import Image

from monai_rmisr import IMDN, RMISR, RMISRVP
from monai_rmisr.__main__ import main
from monai_rmisr.engines import (
    InitialWeightsLoader,
    SRTrainer,
    autocast_dtype,
    latest_checkpoint,
    prepare_sr_batch,
    random_scale_batch,
)
from monai_rmisr.inference import load_checkpoint
from monai_rmisr.losses import TwoBranchLoss
from monai_rmisr.transforms import imresize

from .bundle_helpers import run_training, training_parser, weights


def test_bundle_training_writes_checkpoints_metrics_and_best_model(tmp_path):
    trainer = run_training(training_parser(tmp_path, max_epochs=3))
    assert trainer.state.epoch == 3 and trainer.state.iteration == 9
    assert math.isfinite(trainer.state.output["loss"])
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "checkpoint_epoch=2.pt",
        "checkpoint_epoch=3.pt",
    ]
    assert (tmp_path / "model.pt").is_file()
    assert list((tmp_path / "tensorboard").iterdir())
    with open(tmp_path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    for row in rows:
        assert 0 < float(row["val_psnr"]) < 100 and 0 < float(row["val_ssim"]) <= 1
        assert float(row["val_lr_consistency"]) > 0 and float(row["loss"]) > 0
    best = torch.load(tmp_path / "model.pt", weights_only=True)
    assert set(best) == set(RMISR(2, 1, scale=2, num_blocks=1).state_dict())


def test_the_saved_model_has_its_architecture_next_to_it_for_load_checkpoint_and_rmisr_upscale(tmp_path):
    # `rmisr upscale --model runs/mine/model.pt` used to ask for a hand-written model.json
    run_training(training_parser(tmp_path / "run"))
    model = tmp_path / "run" / "model.pt"
    call = {"_target_": "RMISR", "spatial_dims": 2, "in_channels": 1, "scale": 2, "image_residual": True}
    assert json.loads((tmp_path / "run" / "model.json").read_text()) == {**call, "num_blocks": 1}
    assert not [p.name for p in (tmp_path / "run").iterdir() if ".tmp-" in p.name]  # written atomically
    network = load_checkpoint(model)
    assert type(network) is RMISR and network.scale == 2 and len(network.trunk.blocks) == 1
    saved = torch.load(model, weights_only=True)  # one entry in save_dict: the state dict itself
    assert all(torch.equal(network.state_dict()[k], v) for k, v in saved.items())
    Image.fromarray(np.linspace(0, 255, 24 * 20, dtype=np.uint8).reshape(24, 20)).save(tmp_path / "in.png")
    code = main(
        ["upscale", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--scale", "2", "--model", str(model)]
    )
    assert code == 0 and Image.open(tmp_path / "out.png").size == (40, 48)


@pytest.mark.parametrize(
    "variant,settings",
    [
        ("vp", {"scale": 4, "patch_size": 6, "network_def#sr_blocks": 2, "network_def#guidance_blocks": [1, 2]}),
        ("meta", {"scale": 2.5, "patch_size": 6, "epoch_length": 2}),
    ],
)
def test_a_variant_saves_its_own_network_def(tmp_path, variant, settings):
    parser = training_parser(tmp_path, variant, max_epochs=1, **settings)
    run_training(parser)
    call = json.loads((tmp_path / "model.json").read_text())
    assert call["_target_"] == parser["network_def"]["_target_"] and call["scale"] == settings["scale"]
    assert call.get("guidance_blocks") == settings.get("network_def#guidance_blocks")
    assert type(load_checkpoint(tmp_path / "model.pt")).__name__ == call["_target_"]


def test_training_reduces_the_loss(tmp_path):
    trainer = run_training(training_parser(tmp_path, max_epochs=6, epoch_length=5, learning_rate=1e-3))
    with open(tmp_path / "metrics.csv") as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f)]
    assert losses[-1] < 0.6 * losses[0], losses
    assert trainer.state.epoch == 6


def test_amp_on_cpu_trains_in_bfloat16_without_a_gradient_scaler(tmp_path, recwarn):
    parser = training_parser(tmp_path, max_epochs=6, epoch_length=5, learning_rate=1e-3, amp="true")
    network = parser.get_parsed_content("network")
    head, body_conv = [m for m in network.modules() if isinstance(m, torch.nn.Conv2d)][:2]
    assert head is network.trunk.head
    dtypes, head_dtypes = set(), set()
    body_conv.register_forward_hook(lambda module, args, out: dtypes.add(out.dtype) if module.training else None)
    head.register_forward_hook(lambda module, args, out: head_dtypes.add(out.dtype) if module.training else None)
    trainer = run_training(parser)
    assert trainer.amp and trainer.scaler is None and dtypes == {torch.bfloat16}
    assert head_dtypes == {torch.float32}  # the image enters in float32 (PFMDBTrunk's head)
    assert not [w for w in recwarn if "GradScaler" in str(w.message)]
    with open(tmp_path / "metrics.csv") as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f)]
    assert losses[-1] < 0.6 * losses[0], losses
    assert all(value.dtype == torch.float32 for value in network.state_dict().values())


@pytest.mark.parametrize(
    ("amp_dtype", "device", "expected"),
    [
        ("auto", "cpu", torch.bfloat16),
        ("auto", "cuda", torch.float16),
        ("bfloat16", "cuda", torch.bfloat16),
        ("float16", "cpu", torch.float16),
        (torch.bfloat16, "cuda:0", torch.bfloat16),
    ],
)
def test_autocast_dtype_is_float16_on_gpus_unless_chosen(amp_dtype, device, expected):
    assert autocast_dtype(amp_dtype, device) == expected


@pytest.mark.parametrize("amp_dtype", ["fp16", "float32", torch.float32, None])
def test_autocast_dtype_names_the_setting_for_anything_else(amp_dtype):
    with pytest.raises(ValueError, match=r"^--amp_dtype must be one of \('auto', 'float16', 'bfloat16'\), got "):
        autocast_dtype(amp_dtype, "cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
@pytest.mark.parametrize(
    ("amp_dtype", "dtype", "scaled"), [("auto", torch.float16, True), ("bfloat16", torch.bfloat16, False)]
)
def test_amp_on_a_gpu_scales_gradients_only_in_float16(tmp_path, amp_dtype, dtype, scaled):
    parser = training_parser(tmp_path, max_epochs=2, epoch_length=3, amp="true", amp_dtype=amp_dtype, device="cuda")
    network = parser.get_parsed_content("network")
    first_conv = next(m for m in network.modules() if isinstance(m, torch.nn.Conv2d))
    dtypes = set()
    first_conv.register_forward_hook(lambda module, args, out: dtypes.add(out.dtype) if module.training else None)
    trainer = run_training(parser)
    assert dtypes == {dtype} and (trainer.scaler is not None) is scaled


def test_resume_continues_exactly(tmp_path):
    straight = training_parser(tmp_path / "straight", max_epochs=4)
    run_training(straight)
    first = training_parser(tmp_path / "resumed", max_epochs=2)
    run_training(first)
    assert latest_checkpoint(tmp_path / "resumed" / "checkpoints").endswith("checkpoint_epoch=2.pt")
    second = training_parser(tmp_path / "resumed", max_epochs=4, resume=True)
    trainer = run_training(second)
    assert trainer.state.epoch == 4 and trainer.state.iteration == 12
    expected, got = weights(straight), weights(second)
    assert all(torch.equal(expected[k], got[k]) for k in expected)


@pytest.mark.parametrize(
    "setting, value, was",
    [("learning_rate", 0.001, 0.0005), ("lr_halving_iterations", 10, 200000), ("epoch_length", 5, 3)],
)
def test_a_resume_with_settings_its_checkpoint_overrides_is_refused(tmp_path, setting, value, was):
    # the optimiser and schedule state (and ignite's epoch length) came back from the checkpoint: the new value was
    # ignored without a word (and the sampler skipped samples at another epoch length)
    run_training(training_parser(tmp_path / "run", max_epochs=1))
    files = sorted(p.name for p in (tmp_path / "run").rglob("*"))
    with pytest.raises(RuntimeError) as failure:
        training_parser(tmp_path / "run", max_epochs=2, resume=True, **{setting: value}).get_parsed_content(
            "initialize"
        )
    checkpoint = tmp_path / "run" / "checkpoints" / "checkpoint_epoch=1.pt"
    assert str(failure.value.__cause__) == (
        f"--{setting} {value!r}: the run --resume true continues ('{checkpoint}') has --{setting} {was!r}, which its "
        f"checkpoint restores: resume it with --{setting} {was!r}, or to go on with other values, branch the run: a "
        f"new --output_dir with --init_weights '{checkpoint}' (its weights; the optimiser, the learning-rate "
        "schedule and the epoch count start afresh)."
    )
    assert sorted(p.name for p in (tmp_path / "run").rglob("*")) == files


def test_a_resume_with_fewer_epochs_than_the_run_has_trained_is_one_message(tmp_path, caplog):
    # it was ignite's "Epoch count (2) in checkpoint is larger than the `engine.state.max_epochs` (1)" traceback
    run_training(training_parser(tmp_path / "run", max_epochs=2))
    with pytest.raises(RuntimeError) as failure:
        training_parser(tmp_path / "run", max_epochs=1, resume=True).get_parsed_content("initialize")
    checkpoint = tmp_path / "run" / "checkpoints" / "checkpoint_epoch=2.pt"
    assert str(failure.value.__cause__) == (
        f"--max_epochs 1: the run --resume true continues ('{checkpoint}') has trained 2 epochs already; give "
        "--max_epochs 3 or more to train it further."
    )
    with caplog.at_level(logging.WARNING):  # its own value: nothing to train, and it says so (a requeued job: exit 0)
        trainer = run_training(training_parser(tmp_path / "run", max_epochs=2, resume=True))
    assert trainer.state.epoch == 2
    assert "has trained all 2 epochs already, so there is nothing to train; give --max_epochs 3 or more" in caplog.text


def test_a_resumed_run_keeps_its_validation_split_when_files_are_added(tmp_path):
    # the split was a seeded shuffle of the files found: one file more reshuffled it, so the run trained on its
    # earlier validation image and chose model.pt on another validation set
    from monai.bundle import ConfigParser

    from monai_rmisr.data.user_datasets import load_dataset

    from .bundle_helpers import CONFIGS, synthetic_images

    folder, run = tmp_path / "images", tmp_path / "run"
    folder.mkdir()
    images = synthetic_images(15, size=32)
    for k in range(15):
        Image.fromarray((images[k][0] * 255).astype(np.uint8)).save(tmp_path / f"img{k:02d}.png")
    for k in range(10):
        (tmp_path / f"img{k:02d}.png").rename(folder / f"img{k:02d}.png")

    def held_out() -> list[str]:  # the split made afresh of the files there now
        return [os.path.relpath(image.source, folder) for image in load_dataset(folder, "folder", "val")]

    def parser(**overrides):
        parser = ConfigParser()
        parser.read_config(str(CONFIGS / "train.json"))
        settings = {"dataset_dir": str(folder), "output_dir": str(run), "epoch_length": 2, "batch_size": 2}
        parser.update({**settings, "patch_size": 8, "network_def#num_blocks": 1, **overrides})
        return parser

    first = held_out()
    run_training(parser(max_epochs=1))
    for k in range(10, 15):
        (tmp_path / f"img{k:02d}.png").rename(folder / f"img{k:02d}.png")
    assert held_out() != first  # made afresh, the split has changed
    resumed = parser(max_epochs=2, resume="true")
    trainer = run_training(resumed)
    assert trainer.state.epoch == 2
    assert len(resumed.get_parsed_content("train#images")) == 14  # the new files are trained on, not the first's
    (validated,) = resumed.get_parsed_content("validate#images")
    assert np.array_equal(validated, load_dataset(folder, "folder", "val", val_items=first)[0].array)
    record = json.loads((run / "validation_split.json").read_text())
    assert record == {"dataset_dir": str(folder), "dataset_preset": "folder", "validation": first}
    # resumed without --dataset_dir (the corpus), on another folder, or with another preset: it went on without a word,
    # validating on other images and replacing model.pt on their score
    other = tmp_path / "other"
    other.mkdir()
    for overrides, given in (
        ({"dataset_dir": None}, "resumed on the package's corpus (no --dataset_dir) with --dataset_preset folder"),
        ({"dataset_dir": str(other)}, f"resumed on '{other}' with --dataset_preset folder"),
        ({"dataset_preset": "dermoscopy"}, f"resumed on '{folder}' with --dataset_preset dermoscopy"),
    ):
        with pytest.raises(RuntimeError) as failure:
            parser(max_epochs=3, resume="true", **overrides).get_parsed_content("initialize")
        said = str(failure.value.__cause__)
        assert (
            said.startswith(f"this run began on --dataset_dir '{folder}' with --dataset_preset folder")
            and given in said
        )
    (folder / first[0]).unlink()
    with pytest.raises(RuntimeError) as failure:
        parser(max_epochs=3, resume="true").get_parsed_content("initialize")
    assert str(failure.value.__cause__).startswith(
        f"1 of the 1 validation item(s) this run recorded in its validation_split.json are no longer in '{folder}' "
        f"('{first[0]}'): a run keeps its validation split"
    )


def test_a_new_run_over_an_earlier_runs_checkpoints_is_refused_before_it_writes(tmp_path):
    run_training(training_parser(tmp_path / "run", max_epochs=1))
    before = {
        p.name: p.read_bytes()
        for p in [*(tmp_path / "run" / "checkpoints").iterdir(), tmp_path / "run" / "metrics.csv"]
    }
    with pytest.raises(RuntimeError) as failure:  # MONAI's config error, caused by ours
        training_parser(tmp_path / "run", max_epochs=2).get_parsed_content("initialize")
    assert str(failure.value.__cause__) == (
        f"output_dir '{tmp_path / 'run'}' already holds a run's checkpoints (checkpoint_epoch=1.pt, ...); "
        "pass --resume true to continue that run, or choose a new --output_dir."
    )
    after = {
        p.name: p.read_bytes()
        for p in [*(tmp_path / "run" / "checkpoints").iterdir(), tmp_path / "run" / "metrics.csv"]
    }
    assert after == before
    trainer = run_training(training_parser(tmp_path / "run", max_epochs=2, resume=True))
    assert trainer.state.epoch == 2


def test_a_finished_run_s_model_is_not_overwritten_without_its_checkpoints(tmp_path, caplog):
    """Its checkpoints deleted (to save space), a finished run still holds its best model.pt: a new run into that
    folder is refused, with or without --resume true (nothing to resume); an empty folder with --resume true
    starts a new run, and says so."""
    run_training(training_parser(tmp_path / "run", max_epochs=1))
    shutil.rmtree(tmp_path / "run" / "checkpoints")
    model = (tmp_path / "run" / "model.pt").read_bytes()
    for resume in (False, True):
        with pytest.raises(RuntimeError) as failure:
            training_parser(tmp_path / "run", max_epochs=1, resume=resume).get_parsed_content("initialize")
        assert "already holds a trained model.pt and no checkpoint to resume from" in str(failure.value.__cause__)
    assert (tmp_path / "run" / "model.pt").read_bytes() == model
    with caplog.at_level("WARNING"):
        run_training(training_parser(tmp_path / "fresh", max_epochs=1, resume=True))
    assert any("no checkpoint in" in r.getMessage() and "a new run starts" in r.getMessage() for r in caplog.records)


def test_a_finished_run_s_record_is_not_overwritten_once_its_model_is_moved_away(tmp_path):
    """Its checkpoints deleted and its model.pt moved away (shipped), a run still leaves its metrics.csv, run.json,
    validation split and TensorBoard logs: a new run into that folder wrote over them (and mixed the logs)."""
    run_training(training_parser(tmp_path / "run", max_epochs=2))
    shutil.rmtree(tmp_path / "run" / "checkpoints")
    (tmp_path / "run" / "model.pt").rename(tmp_path / "shipped.pt")
    metrics = (tmp_path / "run" / "metrics.csv").read_text()
    for resume in (False, True):
        with pytest.raises(RuntimeError) as failure:
            training_parser(tmp_path / "run", max_epochs=1, resume=resume).get_parsed_content("initialize")
        assert str(failure.value.__cause__) == (
            f"output_dir '{tmp_path / 'run'}' holds a run's metrics.csv (trained to epoch 2) but no checkpoint to "
            "resume from and no model.pt (moved away?); a new run would write over that run's record: choose a new "
            "--output_dir (or move metrics.csv away)."
        )
    assert (tmp_path / "run" / "metrics.csv").read_text() == metrics


def test_a_run_from_init_weights_stopped_in_its_first_epoch_can_start_again_in_its_folder(tmp_path, caplog):
    """The epoch-0 validation of --init_weights writes model.pt (the starting weights, the best so far) before any
    training; a run stopped then (killed, Ctrl-C) left no checkpoint, and both a new run and --resume true were
    refused as if model.pt were a result. Now they start over it, saying so; a trained model.pt stays refused."""
    start = RMISR(2, 1, scale=2, num_blocks=1, image_residual=True)
    torch.save(start.state_dict(), tmp_path / "start.pt")
    init = {"max_epochs": 1, "init_weights": str(tmp_path / "start.pt")}

    def stopped_in_its_first_epoch(run):
        parser = training_parser(run, **init)
        parser.get_parsed_content("initialize")

        def stop(engine):
            raise KeyboardInterrupt

        parser.get_parsed_content("train#trainer").add_event_handler(Events.ITERATION_STARTED, stop)
        # Ctrl-C: InterruptedRunHandler's line, then (outside python -m monai.bundle) Python's KeyboardInterrupt
        with pytest.raises(KeyboardInterrupt):
            parser.get_parsed_content("training")  # stopped after the epoch-0 validation, before a training step
        assert (run / "model.pt").exists() and not list((run / "checkpoints").glob("checkpoint_*.pt"))
        assert [row["epoch"] for row in csv.DictReader((run / "metrics.csv").open())] == ["0"]

    stopped_later = tmp_path / "stopped_later"  # between the first epoch's new best model.pt and its row: trained
    stopped_in_its_first_epoch(stopped_later)
    row_written = (stopped_later / "metrics.csv").stat().st_mtime_ns
    os.utime(stopped_later / "model.pt", ns=(row_written + 10**9, row_written + 10**9))
    with pytest.raises(RuntimeError) as failure:
        training_parser(stopped_later, resume=True, **init).get_parsed_content("initialize")
    assert "already holds a trained model.pt" in str(failure.value.__cause__)
    for resume in (True, False):
        run = tmp_path / f"run_{resume}"
        stopped_in_its_first_epoch(run)
        caplog.clear()
        with caplog.at_level("WARNING"):
            trainer = run_training(training_parser(run, resume=resume, **init))
        assert trainer.state.epoch == 1 and (run / "checkpoints" / "checkpoint_epoch=1.pt").exists()
        assert any("holds the starting weights only" in r.getMessage() for r in caplog.records)
    shutil.rmtree(run / "checkpoints")  # a trained model.pt (metrics.csv has epoch 1) without checkpoints: refused
    with pytest.raises(RuntimeError) as failure:
        training_parser(run, max_epochs=1).get_parsed_content("initialize")
    assert "already holds a trained model.pt" in str(failure.value.__cause__)


def test_init_weights_of_another_scale_are_refused_before_the_run_writes(tmp_path):
    x4 = RMISR(2, 1, scale=4, num_blocks=1, image_residual=True)
    torch.save(x4.state_dict(), tmp_path / "x4.pt")
    parser = training_parser(tmp_path / "run", max_epochs=1, init_weights=str(tmp_path / "x4.pt"))
    with pytest.raises(RuntimeError) as failure:
        parser.get_parsed_content("initialize")
    message = str(failure.value.__cause__)
    assert message.startswith(f"--init_weights '{tmp_path / 'x4.pt'}' does not fit this run's RMISR: tensors: ")
    assert "2 of other shapes (e.g. upsample.shuffle.conv_block.bias: (16,) in the file, (4,) here)" in message
    assert "--init_strict false" in message and not (tmp_path / "run").exists()


def test_a_run_resumed_in_a_new_folder_or_without_its_model_writes_the_next_best_model(tmp_path, caplog):
    # branching a run (its checkpoint copied into a new folder) or moving model.pt away to ship it: the best-model
    # saver's state names a model.pt that is not there; the next best one must be written, not stop the run
    run_training(training_parser(tmp_path / "run", max_epochs=2))
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "checkpoint_epoch=2.pt", weights_only=True)
    checkpoint["best_model_saver"]["_saved"] = [(-1.0, "model_key_metric=-1.0000.pt")]  # the next epoch is a best
    (tmp_path / "branch" / "checkpoints").mkdir(parents=True)
    torch.save(checkpoint, tmp_path / "branch" / "checkpoints" / "checkpoint_epoch=2.pt")
    with caplog.at_level(logging.WARNING):
        trainer = run_training(training_parser(tmp_path / "branch", max_epochs=3, resume=True))
    assert trainer.state.epoch == 3
    best = torch.load(tmp_path / "branch" / "model.pt", weights_only=True)
    assert set(best) == set(checkpoint["network"])
    assert f"{tmp_path / 'branch' / 'model.pt'} was already gone (moved or deleted)" in caplog.text


@pytest.mark.parametrize("first_keep", [2, None])
def test_keep_checkpoints_holds_across_resumes(tmp_path, first_keep):
    folder = tmp_path / "checkpoints"
    run_training(training_parser(tmp_path, max_epochs=3, keep_checkpoints=first_keep))
    kept_first = (
        ["checkpoint_epoch=2.pt", "checkpoint_epoch=3.pt"]
        if first_keep
        else [f"checkpoint_epoch={n}.pt" for n in (1, 2, 3)]
    )
    assert sorted(p.name for p in folder.iterdir()) == kept_first
    run_training(training_parser(tmp_path, max_epochs=5, keep_checkpoints=2, resume=True))
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint_epoch=4.pt", "checkpoint_epoch=5.pt"]


_KILLABLE_RUN = """
import sys, time
from ignite.engine import Events
sys.path.insert(0, {root!r})
from tests.engines.bundle_helpers import training_parser
parser = training_parser(__import__("pathlib").Path({out!r}), max_epochs=4, resume={resume})
parser.get_parsed_content("initialize")  # seeds before the network is built, as `monai.bundle run` does
trainer = parser.get_parsed_content("train#trainer")
trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: time.sleep({delay}))
parser.get_parsed_content("training")
"""


def _script(out, resume, delay):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return _KILLABLE_RUN.format(root=root, out=str(out), resume=resume, delay=delay)


@pytest.mark.integration
def test_a_run_killed_with_sigkill_resumes_from_its_last_checkpoint(tmp_path):
    out = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-c", _script(out, False, 0.4)], stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while latest_checkpoint(out / "checkpoints") is None and time.time() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    saved = latest_checkpoint(out / "checkpoints")
    assert saved is not None and "epoch=4" not in saved
    subprocess.run([sys.executable, "-c", _script(out, True, 0)], check=True, stderr=subprocess.DEVNULL)
    # the reference runs in a subprocess too, so both see the same thread set-up
    straight = tmp_path / "straight"
    subprocess.run([sys.executable, "-c", _script(straight, False, 0)], check=True, stderr=subprocess.DEVNULL)
    resumed = torch.load(latest_checkpoint(out / "checkpoints"), weights_only=True)
    expected = torch.load(latest_checkpoint(straight / "checkpoints"), weights_only=True)
    assert resumed["trainer"]["iteration"] == expected["trainer"]["iteration"] == 12  # 4 epochs of 3
    assert all(torch.equal(expected["network"][k], resumed["network"][k]) for k in expected["network"])


def test_a_checkpoint_truncated_by_a_kill_is_skipped_and_the_run_resumes_before_it(tmp_path, caplog):
    # MONAI's CheckpointSaver writes in place: a kill during the save leaves a truncated newest file
    run_training(training_parser(tmp_path / "run", max_epochs=2))
    folder = tmp_path / "run" / "checkpoints"
    newest = folder / "checkpoint_epoch=2.pt"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    with caplog.at_level("WARNING"):
        assert latest_checkpoint(folder) == str(folder / "checkpoint_epoch=1.pt")
    assert "checkpoint_epoch=2.pt: incomplete" in caplog.text
    trainer = run_training(training_parser(tmp_path / "run", max_epochs=3, resume=True))
    assert trainer.state.iteration == 9 and latest_checkpoint(folder).endswith("checkpoint_epoch=3.pt")
    assert torch.load(newest, weights_only=True)["trainer"]["iteration"] == 6  # rewritten whole
    newest.unlink()
    (folder / "checkpoint_epoch=1.pt").write_bytes(b"")
    (folder / "checkpoint_epoch=3.pt").write_bytes(b"PK")
    assert latest_checkpoint(folder) is None  # nothing complete: a fresh start


def test_vp_variant_trains_both_branches(tmp_path):
    trainer = run_training(
        training_parser(
            tmp_path,
            "vp",
            scale=4,
            max_epochs=1,
            patch_size=6,
            **{"network_def#sr_blocks": 2, "network_def#guidance_blocks": [1, 2]},
        )
    )
    output = trainer.state.output
    assert {"l1", "laplacian_l1", "laplacian_cx", "loss"} <= set(output)
    assert output["pred"].shape == (2, 1, 24, 24)


def test_meta_variant_draws_a_scale_per_batch(tmp_path):
    parser = training_parser(tmp_path, "meta", scale=2.5, max_epochs=1, patch_size=6, epoch_length=4)
    scales = []
    trainer = parser.get_parsed_content("train#trainer")
    from ignite.engine import Events

    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: scales.append(e.state.output["scale"]))
    run_training(parser)
    assert len(set(scales)) == 4 and all(1.1 <= s <= 4.0 for s in scales)


def test_meta_variant_draws_whole_number_scales_as_often_as_asked(tmp_path):
    parser = training_parser(
        tmp_path, "meta", scale=2.5, max_epochs=1, patch_size=6, epoch_length=6, integer_scale_probability=1.0
    )
    scales = []
    trainer = parser.get_parsed_content("train#trainer")
    from ignite.engine import Events

    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: scales.append(e.state.output["scale"]))
    run_training(parser)
    assert len(scales) == 6 and set(scales) <= {2.0, 3.0, 4.0}  # meta.json's range 1.1-4.0
    assert len(set(scales)) > 1


def test_meta_variant_validates_at_each_of_its_val_scales(tmp_path):
    from monai.bundle import ConfigParser

    from monai_rmisr.metrics import psnr

    from .bundle_helpers import CONFIGS, synthetic_images

    parser = training_parser(tmp_path, "meta", scale=2.5, max_epochs=1, patch_size=6, epoch_length=1)
    train_config = ConfigParser.load_config_file(CONFIGS / "train.json")
    parser.update(
        {  # the configs' own validation data set, on one small image (the helper replaces the data set)
            "validate#dataloader#dataset": train_config["validate"]["dataloader"]["dataset"],
            "validate#images": [synthetic_images(1, size=40)[0]],
        }
    )
    evaluator = parser.get_parsed_content("validate#evaluator")
    seen = []

    def record(engine):
        out = engine.state.output
        border = math.ceil(out["scale"])
        seen.append((out["scale"], float(psnr(out["pred"].clamp(0, 1)[0], out["label"][0], crop_border=border))))

    evaluator.add_event_handler(Events.ITERATION_COMPLETED, record)
    run_training(parser)
    assert [scale for scale, _ in seen] == [2.0, 3.0, 4.0]  # meta.json's val_scales, one pair each
    assert evaluator.state.output["pred"].shape[-1] == 40  # x4 of a 10-pixel LR
    assert math.isclose(evaluator.state.metrics["val_psnr"], np.mean([value for _, value in seen]), rel_tol=1e-6)


def test_integer_scale_probability_is_checked():
    net = RMISR(2, 1, scale=2, num_blocks=1, upsampler="meta")
    optimizer = torch.optim.Adam(net.parameters())

    def make_trainer(scale_range, probability):
        return SRTrainer(
            "cpu", 1, [], net, optimizer, TwoBranchLoss(), scale_range=scale_range,
            integer_scale_probability=probability, epoch_length=1,
        )  # fmt: skip

    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        make_trainer((1.1, 4), 1.5)
    with pytest.raises(ValueError, match="needs a whole number"):
        make_trainer((2.2, 2.8), 0.5)
    trainer = make_trainer((1.5, 4.5), 0.5)
    assert list(trainer.integer_scales) == [2, 3, 4]


def test_comparison_network_through_network_def(tmp_path):
    trainer = run_training(
        training_parser(tmp_path, max_epochs=1, **{"network_def": {"_target_": "IMDN", "in_channels": 1, "scale": 2}})
    )
    assert isinstance(trainer.network, IMDN)


def test_a_network_that_names_no_scale_is_measured_on_a_tiny_input():
    # a network_def of another package, without a scale attribute: run once on 8x8, its output's size tells
    from monai_rmisr.engines import check_network_scales

    network = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.PixelShuffle(2), torch.nn.BatchNorm2d(1)
    )
    check_network_scales(network, 2, [2.0])
    assert network.training and int(network[2].num_batches_tracked) == 0  # no batch statistics kept
    with pytest.raises(ValueError, match=r"^--scale 3: the run's Sequential \(--network_def\) is a fixed x2 network"):
        check_network_scales(network, 3)


def test_random_scale_batch_makes_exact_pairs():
    hr = torch.rand(2, 1, 40, 40)
    crop, lr = random_scale_batch(hr, 10, 2.5, np.random.default_rng(0))
    assert crop.shape == (2, 1, 25, 25) and lr.shape == (2, 1, 10, 10)
    assert torch.allclose(lr[1], torch.as_tensor(imresize(crop[1], output_size=(10, 10))), atol=1e-6)
    with pytest.raises(ValueError, match="too small"):
        random_scale_batch(hr, 20, 3.0, np.random.default_rng(0))


def test_fixed_scale_network_cannot_train_arbitrary_scales():
    net = IMDN(2, 1, scale=2)
    with pytest.raises(ValueError, match="IMDN has a fixed scale"):
        SRTrainer(
            "cpu", 1, [], net, torch.optim.Adam(net.parameters()), TwoBranchLoss(), scale_range=(1.1, 4), epoch_length=1
        )


def test_release_distributed_frees_the_ddp_wrapper_before_the_group_is_destroyed(tmp_path):
    import weakref

    import torch.distributed as dist

    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        net = RMISR(2, 1, scale=2, num_blocks=1)
        trainer = SRTrainer(
            "cpu", 1, [], net, torch.optim.Adam(net.parameters()), TwoBranchLoss(), distributed=True, epoch_length=1
        )
        wrapper = weakref.ref(trainer.training_forward)
        assert isinstance(wrapper(), torch.nn.parallel.DistributedDataParallel)
        trainer.release_distributed()
        assert wrapper() is None  # collected: nothing holds the process group any more
        assert trainer.training_forward.network is net
        trainer.release_distributed()  # a second call (or a non-distributed trainer) does nothing
    finally:
        dist.destroy_process_group()


def test_init_weights_start_training_from_a_saved_model(tmp_path):
    torch.manual_seed(123)
    start = RMISR(2, 1, scale=2, num_blocks=1, image_residual=True)
    torch.nn.init.normal_(start.upsample.shuffle.conv_block.weight, std=0.01)
    torch.save(start.state_dict(), tmp_path / "start.pt")
    parser = training_parser(tmp_path / "run", max_epochs=1, learning_rate=0.0, init_weights=str(tmp_path / "start.pt"))
    run_training(parser)
    trained = weights(parser)
    assert all(torch.equal(trained[k], v) for k, v in start.state_dict().items())


def _run_recording_validation(parser) -> list[tuple[int, float]]:
    """Run the bundle's training; return (epoch, val_psnr) of every validation, in order."""
    parser.get_parsed_content("initialize")
    scores = []
    evaluator = parser.get_parsed_content("validate#evaluator")
    evaluator.add_event_handler(
        Events.COMPLETED, lambda engine: scores.append((engine.state.epoch, engine.state.metrics["val_psnr"]))
    )
    parser.get_parsed_content("training")
    return scores


def test_fine_tuning_validates_the_initial_weights_first_and_logs_its_data(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    torch.manual_seed(123)
    start = RMISR(2, 1, scale=2, num_blocks=1, image_residual=True)
    torch.nn.init.normal_(start.upsample.shuffle.conv_block.weight, std=0.01)
    torch.save(start.state_dict(), tmp_path / "start.pt")
    # learning rate 0: epoch 1 validates the initial weights too, so epoch 0 must score the same
    parser = training_parser(tmp_path / "run", max_epochs=1, learning_rate=0.0, init_weights=str(tmp_path / "start.pt"))
    scores = _run_recording_validation(parser)
    assert [epoch for epoch, _ in scores] == [0, 1] and scores[0][1] == scores[1][1]
    # from scratch: no validation before the first epoch; the network's random start scores differently
    scratch = _run_recording_validation(training_parser(tmp_path / "scratch", max_epochs=1, learning_rate=0.0))
    assert [epoch for epoch, _ in scratch] == [1] and scratch[0][1] != scores[0][1]
    messages = [r.getMessage() for r in caplog.records if r.name == "monai_rmisr.engines.handlers"]
    # the helper trains on 3 synthetic images and validates on 1 pair; val_names names corpus images
    # (an ultrasound validation image is shown whole: its full frame)
    expected = "data: 3 training and 1 validation images (corpus: CT_small, MR_small, OBXXXX1A_frame, microaneurysms)"
    assert expected in messages


def test_init_weights_transfer_x2_to_x4_keeps_the_new_output_layer(tmp_path, caplog):
    torch.manual_seed(123)
    start = RMISR(2, 1, scale=2, num_blocks=1, image_residual=True)
    torch.save({"network": start.state_dict()}, tmp_path / "x2.pt")  # a training checkpoint layout
    parser = training_parser(
        tmp_path / "run", max_epochs=1, learning_rate=0.0, scale=4, init_weights=str(tmp_path / "x2.pt")
    )
    parser["scale"] = 4
    with pytest.raises(RuntimeError):  # strict by default: the x4 output layer has another shape
        run_training(parser)
    parser = training_parser(
        tmp_path / "run2",
        max_epochs=1,
        learning_rate=0.0,
        scale=4,
        init_weights=str(tmp_path / "x2.pt"),
        init_strict=False,
    )
    parser["scale"] = 4
    with caplog.at_level("INFO"):
        run_training(parser)
    trained = weights(parser)
    shared = {k: v for k, v in start.state_dict().items() if not k.startswith("upsample.")}
    assert shared and all(torch.equal(trained[k], v) for k, v in shared.items())
    assert trained["upsample.shuffle.conv_block.weight"].shape[0] == 16
    assert not trained["upsample.shuffle.conv_block.weight"].any()  # still the zero (bicubic) start
    assert any("kept the initialisation of ['upsample" in r.getMessage() for r in caplog.records)


def test_init_weights_from_an_unrelated_file_is_an_error(tmp_path):
    torch.save({"other.weight": torch.zeros(3)}, tmp_path / "other.pt")
    parser = training_parser(tmp_path / "run", max_epochs=1, init_weights=str(tmp_path / "other.pt"), init_strict=False)
    with pytest.raises(RuntimeError) as caught:
        run_training(parser)
    assert "shares no tensor" in repr(caught.value) + repr(caught.value.__cause__)


def test_init_rename_starts_the_vp_sr_branch_from_baseline_weights(tmp_path, caplog):
    torch.manual_seed(0)
    baseline = RMISR(2, 1, scale=4, num_blocks=2, image_residual=True)
    torch.save(baseline.state_dict(), tmp_path / "bl.pt")
    vp = RMISRVP(2, 1, scale=4, sr_blocks=3, guidance_blocks=(1, 3), image_residual=True)
    loader = InitialWeightsLoader(tmp_path / "bl.pt", vp, strict=False, rename={"trunk.": "sr_trunk."})
    with caplog.at_level("INFO"):
        loader()
    loaded = vp.state_dict()
    block_keys = [k for k in baseline.state_dict() if k.startswith("trunk.blocks.")]
    assert block_keys and all(torch.equal(loaded["sr_" + k], baseline.state_dict()[k]) for k in block_keys)
    assert torch.equal(loaded["sr_trunk.head.weight"], baseline.state_dict()["trunk.head.weight"])
    assert any("laplacian_trunk" in r.getMessage() for r in caplog.records)  # kept its own start
    # without the rename nothing matches: an error, not a silent no-op
    with pytest.raises(ValueError, match="shares no tensor"):
        InitialWeightsLoader(tmp_path / "bl.pt", vp, strict=False)()


@pytest.mark.parametrize("variant", [None, "meta"])
def test_clip_lr_keeps_the_network_input_in_range(tmp_path, variant):
    """The protocol's bicubic LR overshoots [0, 1] at edges; with clip_lr the network never sees that."""
    edges = (np.indices((48, 48)).sum(0) // 5 % 2).astype(np.float32)[None]  # 0/1 stripes: sharp edges
    seen = {}
    for clip in ("false", "true"):
        extra = {"scale": 2.5, "patch_size": 6} if variant == "meta" else {}
        names = (variant,) if variant else ()
        bits = {"lr_bits": "null"} if clip == "false" else {}
        parser = training_parser(tmp_path / clip, *names, max_epochs=1, epoch_length=4, clip_lr=clip, **bits, **extra)
        parser["train#images"] = [edges]
        network = parser.get_parsed_content("network")
        inputs: list[torch.Tensor] = []

        def record(module, args, inputs=inputs):
            if module.training:
                inputs.append(args[0])

        network.register_forward_pre_hook(record)
        run_training(parser)
        values = torch.cat([x.flatten() for x in inputs])
        seen[clip] = (values.min().item(), values.max().item())
    assert seen["false"][0] < 0.0 or seen["false"][1] > 1.0, seen
    assert seen["true"][0] >= 0.0 and seen["true"][1] <= 1.0, seen


def test_the_bundle_quantises_each_training_lr_to_a_random_bit_depth_by_default(tmp_path):
    """Realistic training input: every LR image the network sees is clipped and on a 2**b grid, b in 8..16."""
    ramp = np.linspace(0.0, 1.0, 48 * 48, dtype=np.float32).reshape(1, 48, 48)
    parser = training_parser(tmp_path, max_epochs=1, epoch_length=6, batch_size=4)
    parser["train#images"] = [ramp]
    network = parser.get_parsed_content("network")
    inputs: list[torch.Tensor] = []
    network.register_forward_pre_hook(lambda module, args: inputs.append(args[0]) if module.training else None)
    run_training(parser)
    depths = []
    for image in torch.cat(inputs).double():
        assert image.min() >= 0.0 and image.max() <= 1.0
        fits = [b for b in range(8, 17) if torch.allclose(image * (2**b - 1), (image * (2**b - 1)).round(), atol=1e-3)]
        assert fits, "an LR image that is not quantised to 8-16 bits"
        depths.append(fits[0])
    assert len(set(depths)) > 2  # drawn per image, not one depth for the run


@pytest.mark.parametrize("native", [True, False])
def test_bfloat16_amp_on_a_cpu_without_bfloat16_instructions_warns(monkeypatch, native):
    import warnings

    from monai_rmisr.engines import trainer as trainer_module

    monkeypatch.setattr(trainer_module, "cpu_has_native_bfloat16", lambda: native)
    net = RMISR(2, 1, scale=2, num_blocks=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        SRTrainer("cpu", 1, [], net, torch.optim.Adam(net.parameters()), TwoBranchLoss(), amp=True, epoch_length=1)
        SRTrainer("cpu", 1, [], net, torch.optim.Adam(net.parameters()), TwoBranchLoss(), amp=False, epoch_length=1)
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert sum("no bfloat16 instructions" in m for m in messages) == (0 if native else 1)
    assert isinstance(trainer_module.cpu_has_native_bfloat16(), bool)


def test_the_vp_iteration_keeps_monais_contract_and_leaves_the_global_generator_alone(tmp_path):
    """prepare_batch, IterationEvents in order, and the contextual loss drawing from the trainer's own
    generator (reseeded per iteration), not from a reseeded global one."""
    from monai.engines import IterationEvents

    parser = training_parser(
        tmp_path, "vp", scale=4, max_epochs=1, patch_size=6, epoch_length=2,
        **{"network_def#sr_blocks": 2, "network_def#guidance_blocks": [1, 2], "loss#contextual#max_positions": 4},
    )  # fmt: skip
    trainer = parser.get_parsed_content("train#trainer")
    fired, prepared = [], []
    for event in IterationEvents:
        trainer.add_event_handler(event, lambda e, name=event.name: fired.append(name))
    default_prepare = trainer.prepare_batch

    def prepare(batch, device, non_blocking, **kwargs):
        prepared.append(sorted(batch))
        return default_prepare(batch, device, non_blocking, **kwargs)

    trainer.prepare_batch = prepare
    run_training(parser)
    iteration = ["FORWARD_COMPLETED", "LOSS_COMPLETED", "BACKWARD_COMPLETED", "MODEL_COMPLETED"]
    assert fired == iteration * 2 and len(prepared) == 2 and all({"hr", "lr", "lr_bits"} <= set(b) for b in prepared)
    iteration_seeds = [int(np.random.default_rng([0, k]).integers(2**62)) for k in (1, 2)]
    assert trainer.generator.initial_seed() == iteration_seeds[1]  # the trainer's own, seeded for iteration 2
    # the global generator keeps the bundle's set_determinism(seed=0): the trainer never reseeds it
    assert torch.initial_seed() == 0


def test_prepare_sr_batch_names_what_a_batch_needs():
    lr, hr, args, kwargs = prepare_sr_batch({"lr": torch.zeros(1, 1, 2, 2), "hr": torch.ones(1, 1, 4, 4)}, "cpu")
    assert lr.shape == (1, 1, 2, 2) and hr.shape == (1, 1, 4, 4) and args == () and kwargs == {}
    with pytest.raises(ValueError, match=r"'lr' and 'hr' tensors, got \['image', 'label'\]"):
        prepare_sr_batch({"image": torch.zeros(1), "label": torch.zeros(1)})
