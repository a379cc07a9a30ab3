"""A training run's record of how it was run (``run.json``): written at the start, a session added per resume."""

import json
import logging
import os
import shlex
import subprocess
import sys
from pathlib import Path

import monai
import pytest
import torch

from monai_rmisr import __version__
from monai_rmisr.engines import (
    RUN_LOCK_NAME,
    RUN_RECORD_NAME,
    claim_output_dir,
    read_run_record,
    record_run,
    release_output_dir,
    setting_changes,
)

from .bundle_helpers import CONFIGS, run_training, training_parser

RECORD_LOGGER = "monai_rmisr.engines.run_record"
ROOT = Path(__file__).resolve().parents[2]


def test_a_new_run_records_its_command_settings_versions_and_device(tmp_path, monkeypatch):
    command = ["python", "-m", "monai.bundle", "run", "training", "--batch_size", "2", "--loss#sr_criterion", "mse"]
    monkeypatch.setattr(sys, "orig_argv", command)
    run_training(training_parser(tmp_path, **{"loss#sr_criterion": "mse"}))
    record = json.loads((tmp_path / RUN_RECORD_NAME).read_text())
    assert record["format"] == 1 and len(record["sessions"]) == 1
    (session,) = record["sessions"]
    assert session["resumed_from"] is None
    assert shlex.split(session["command"]) == command
    metadata = json.loads((CONFIGS / "metadata.json").read_text())
    assert session["versions"] == {
        "monai_rmisr": __version__,
        "bundle": metadata["version"],
        "monai": monai.__version__,
        "torch": torch.__version__,
        "python": sys.version.split()[0],
    }
    assert session["device"].startswith(f"cpu ({torch.backends.cpu.get_cpu_capability()}")
    assert session["processes"] == 1 and session["cwd"] == os.getcwd()
    code = session["code"]  # this checkout's commit, and whether its files differ from it
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert code["commit"] == head and isinstance(code["changed"], bool)
    # the end: the run trained its epochs; model.pt holds the best validated epoch's weights
    assert session["epochs"] == 2 and session["ended"] >= session["started"]
    assert session["best"]["metric"] == "val_psnr" and 1 <= session["best"]["epoch"] <= 2
    settings = session["settings"]
    # the command line's values and the configs' defaults, by the path a command line gives them
    assert settings["batch_size"] == 2 and settings["patch_size"] == 8 and settings["scale"] == 2
    assert settings["loss#sr_criterion"] == "mse"
    assert settings["network_def#_target_"] == "RMISR" and settings["network_def#num_blocks"] == 1
    assert settings["lr_bits"] == [8, 16] and settings["val_names"][0] == "CT_small"
    # what is no literal is not a setting: expressions, references, the workflow's steps, the metadata
    assert not {"device", "ckpt_dir", "network", "preflight", "initialize", "flags#resume", "_meta_"} & set(settings)
    assert settings["train#images"] == "<list>"  # the test's arrays: not JSON, named by their type


def test_a_resume_adds_a_session_and_names_every_setting_that_changed(tmp_path, caplog):
    run_training(training_parser(tmp_path, max_epochs=1))
    first = read_run_record(tmp_path)["sessions"][0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=RECORD_LOGGER):
        run_training(training_parser(tmp_path, max_epochs=2, resume=True, batch_size=3, **{"loss#sr_criterion": "mse"}))
    sessions = read_run_record(tmp_path)["sessions"]
    assert len(sessions) == 2 and sessions[0] == first
    assert sessions[1]["resumed_from"] == "checkpoints/checkpoint_epoch=1.pt"
    assert sessions[1]["settings"]["batch_size"] == 3 and sessions[1]["settings"]["max_epochs"] == 2
    (warning,) = [r.getMessage() for r in caplog.records if r.name == RECORD_LOGGER]
    assert "loss#sr_criterion" not in first["settings"]  # the loss's own default: no config sets it
    # every change named, and only those: --max_epochs and --resume steer the run
    assert '): --batch_size 3 (was 2), --loss#sr_criterion "mse" (was not set). Its checkpoint' in warning


def test_a_resume_with_the_same_settings_says_nothing(tmp_path, caplog):
    run_training(training_parser(tmp_path, max_epochs=1))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=RECORD_LOGGER):
        run_training(training_parser(tmp_path, max_epochs=2, resume=True))
    said = [r.getMessage() for r in caplog.records if r.name == RECORD_LOGGER]
    assert len(said) == 1 and said[0].startswith("training finished after epoch 2")  # and not a word of settings
    assert [s["resumed_from"] for s in read_run_record(tmp_path)["sessions"]] == [
        None,
        "checkpoints/checkpoint_epoch=1.pt",
    ]


def test_a_resumed_run_without_a_record_starts_one_and_a_broken_record_is_moved_aside(tmp_path, caplog):
    run_training(training_parser(tmp_path, max_epochs=1))
    (tmp_path / RUN_RECORD_NAME).unlink()  # a run begun before records were kept
    with caplog.at_level(logging.INFO, logger=RECORD_LOGGER):
        run_training(training_parser(tmp_path, max_epochs=2, resume=True))
    assert "holds no run.json: a new record starts" in caplog.text
    assert [s["resumed_from"] for s in read_run_record(tmp_path)["sessions"]] == ["checkpoints/checkpoint_epoch=1.pt"]

    (tmp_path / RUN_RECORD_NAME).write_text('{"sessions": ')  # cut off
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=RECORD_LOGGER):
        trainer = run_training(training_parser(tmp_path, max_epochs=3, resume=True))
    assert trainer.state.epoch == 3  # the run is not stopped for its record
    assert (tmp_path / f"{RUN_RECORD_NAME}.unreadable").read_text() == '{"sessions": '
    assert "is no run record" in caplog.text and "run.json.unreadable" in caplog.text
    assert len(read_run_record(tmp_path)["sessions"]) == 1


def test_a_new_run_over_a_run_that_saved_nothing_starts_a_new_record(tmp_path):
    (tmp_path / RUN_RECORD_NAME).write_text(json.dumps({"format": 1, "sessions": [{"settings": {}}] * 3}))
    run_training(training_parser(tmp_path, max_epochs=1))
    assert len(read_run_record(tmp_path)["sessions"]) == 1


def test_setting_changes_names_added_and_dropped_settings_and_skips_those_that_steer_the_run():
    before = {"scale": 2, "max_epochs": 5, "teacher_weight": 0.5, "lr_bits": [8, 16]}
    now = {"scale": 2, "max_epochs": 9, "lr_bits": [12, 16], "edge_patch_share": 0.5}
    assert setting_changes(before, now) == [
        "--lr_bits [12, 16] (was [8, 16])",
        "--edge_patch_share 0.5 (was not set)",
        "--teacher_weight not set (was 0.5)",
    ]
    assert setting_changes(before, before) == []
    # the words a command line types are the values the configs read
    typed = {"amp": "True", "teacher": "null", "lr_bits": "none", "clip_lr": "false"}
    assert setting_changes({"amp": True, "teacher": None, "lr_bits": None, "clip_lr": False}, typed) == []
    assert setting_changes({"amp": False}, {"amp": "true"}) == ['--amp "true" (was false)']


def test_read_run_record_names_a_file_that_is_no_record(tmp_path):
    assert read_run_record(tmp_path) is None
    (tmp_path / RUN_RECORD_NAME).write_text('{"sessions": {}}')
    with pytest.raises(ValueError, match=r"run.json' is no run record: it has no list of sessions"):
        read_run_record(tmp_path)


def test_record_run_writes_whole_files_only(tmp_path):
    path = record_run(tmp_path, {"scale": 2}, None)
    assert [p.name for p in tmp_path.iterdir()] == [RUN_RECORD_NAME] and path == tmp_path / RUN_RECORD_NAME
    assert read_run_record(tmp_path)["sessions"][0]["versions"]["bundle"] is None  # no bundle_root given


def test_a_session_stopped_before_its_end_has_no_end_and_a_resume_names_what_model_pt_holds(tmp_path, caplog):
    run_training(training_parser(tmp_path, max_epochs=1))
    record = read_run_record(tmp_path)
    del record["sessions"][0]["ended"]  # as a killed session leaves it
    (tmp_path / RUN_RECORD_NAME).write_text(json.dumps(record))
    with caplog.at_level(logging.INFO, logger=RECORD_LOGGER):
        run_training(training_parser(tmp_path, max_epochs=2, resume=True))
    first, second = read_run_record(tmp_path)["sessions"]
    assert "ended" not in first and second["epochs"] == 2 and second["ended"]
    best = second["best"]
    assert (
        f"training finished after epoch 2: model.pt holds the weights of epoch {best['epoch']} (val_psnr" in caplog.text
    )


def test_a_fine_tuning_that_never_beat_its_starting_weights_says_so(tmp_path, caplog):
    # model.pt was the --init_weights file, tensor for tensor, and nothing said so
    start = tmp_path / "start.pt"
    run_training(training_parser(tmp_path / "first", max_epochs=1))
    start.write_bytes((tmp_path / "first" / "model.pt").read_bytes())
    (tmp_path / "start.json").write_text((tmp_path / "first" / "model.json").read_text())
    with caplog.at_level(logging.WARNING, logger=RECORD_LOGGER):
        run_training(training_parser(tmp_path / "tuned", max_epochs=1, init_weights=str(start), learning_rate=1.0))
    (session,) = read_run_record(tmp_path / "tuned")["sessions"]
    assert session["best"]["epoch"] == 0  # a rate of 1.0 ruins the weights: the starting ones stay the best
    assert "model.pt holds the starting weights (--init_weights, val_psnr" in caplog.text
    assert "no epoch of this run scored higher on validation" in caplog.text


def test_the_same_folder_written_another_way_is_no_change(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "link").symlink_to(data)
    monkeypatch.chdir(tmp_path)
    before = {"dataset_dir": str(data)}
    for same in ("data", "data/", "./data", str(tmp_path / "link"), "link/"):
        assert setting_changes(before, {"dataset_dir": same}) == [], same
    assert setting_changes(before, {"dataset_dir": "other"}) == ['--dataset_dir "other" (was "' + str(data) + '")']
    # a relative path of the earlier session is read from that session's folder
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert setting_changes({"dataset_dir": "data"}, {"dataset_dir": "../data"}, before_cwd=tmp_path) == []


def test_a_second_run_into_a_folder_in_use_is_refused_naming_the_first(tmp_path):
    import fcntl

    (tmp_path / "run").mkdir()
    with open(tmp_path / "run" / RUN_LOCK_NAME, "a+") as other:  # another process's run holds it
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        other.write("process 4242 on host, since 2026-12-08 00:00:00\n")
        other.flush()
        with pytest.raises(RuntimeError) as failure:
            training_parser(tmp_path / "run", max_epochs=1).get_parsed_content("initialize")
        assert str(failure.value.__cause__) == (
            f"--output_dir '{tmp_path / 'run'}' is in use by another training run (process 4242 on host, since "
            "2026-12-08 00:00:00); wait for it to end (or stop it) before resuming it, or choose another --output_dir."
        )
        assert sorted(path.name for path in (tmp_path / "run").iterdir()) == [RUN_LOCK_NAME]  # nothing written
    # once it is free, the run holds it, and lets go at its end (finalize)
    parser = training_parser(tmp_path / "run", max_epochs=1)
    run_training(parser)
    with open(tmp_path / "run" / RUN_LOCK_NAME) as lock, pytest.raises(BlockingIOError):
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert str(os.getpid()) in (tmp_path / "run" / RUN_LOCK_NAME).read_text()
    assert claim_output_dir(tmp_path / "run") == tmp_path / "run" / RUN_LOCK_NAME  # held once per process
    parser.get_parsed_content("finalize")
    with open(tmp_path / "run" / RUN_LOCK_NAME) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free
    release_output_dir(tmp_path / "run")  # not held: nothing happens


def test_a_resume_with_nothing_left_to_train_keeps_the_best_the_earlier_sessions_recorded(tmp_path, caplog):
    run_training(training_parser(tmp_path, max_epochs=2))
    (first,) = read_run_record(tmp_path)["sessions"]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=RECORD_LOGGER):
        run_training(training_parser(tmp_path, max_epochs=2, resume=True))  # it validates nothing
    second = read_run_record(tmp_path)["sessions"][1]
    assert second["best"] == first["best"] and second["epochs"] == 2 and second["ended"]
    assert "this session validated no epoch: model.pt is as the run's earlier sessions left it (epoch" in caplog.text
    assert "no model.pt was chosen" not in caplog.text


def test_a_word_that_names_a_file_in_one_session_s_folder_only_is_no_change(tmp_path, monkeypatch):
    (tmp_path / "mse").write_text("")  # a file of that name where this session runs
    monkeypatch.chdir(tmp_path)
    assert setting_changes({"loss#sr_criterion": "mse"}, {"loss#sr_criterion": "mse"}, before_cwd="/") == []
