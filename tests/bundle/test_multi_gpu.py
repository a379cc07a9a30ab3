"""``multi_gpu_train.json`` under ``torchrun`` (two CPU processes, gloo)."""

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from monai_rmisr.engines import latest_checkpoint, read_run_record

# the second tier (processes, servers, whole runs): `make test-integration`; .ci/run runs both
pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "bundles" / "rmisr" / "configs"
SMALL = ["--max_epochs", "1", "--epoch_length", "3", "--patch_size", "8", "--network_def#num_blocks", "1"]


def _run(launcher: list[str], config_files: list[str], output_dir: Path, batch_size: int) -> None:
    files = str([str(CONFIGS / name) for name in config_files])
    command = [*launcher, "-m", "monai.bundle", "run", "training", "--config_file", files]
    command += [*SMALL, "--batch_size", str(batch_size), "--output_dir", str(output_dir)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


def test_two_processes_train_like_one_process_with_the_combined_batch(tmp_path):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    _run(
        [torchrun, "--nproc_per_node", "2", "--master_port", "29533"],
        ["train.json", "multi_gpu_train.json"],
        tmp_path / "ddp",
        batch_size=2,
    )
    _run([sys.executable], ["train.json"], tmp_path / "single", batch_size=4)
    ddp = torch.load(latest_checkpoint(tmp_path / "ddp" / "checkpoints"), weights_only=True)
    single = torch.load(latest_checkpoint(tmp_path / "single" / "checkpoints"), weights_only=True)
    # rank 0 alone saves, with plain (unwrapped) parameter names
    assert sorted(p.name for p in (tmp_path / "ddp" / "checkpoints").iterdir()) == ["checkpoint_epoch=1.pt"]
    assert ddp["network"].keys() == single["network"].keys()
    assert not any(k.startswith("module.") for k in ddp["network"])
    # ranks 0 and 1 draw samples {0, 2, ..} and {1, 3, ..}: together the single run's batch of 4
    for name, value in single["network"].items():
        assert torch.allclose(ddp["network"][name], value, atol=1e-4), name
    # the run's record, written by the first process: its command (under torchrun a worker's: python -m
    # monai.bundle ...), how many processes trained
    for run, processes in (("ddp", 2), ("single", 1)):
        (session,) = read_run_record(tmp_path / run)["sessions"]
        assert session["processes"] == processes and session["device"].startswith("cpu")
        command = shlex.split(session["command"])
        assert command[command.index("-m") :][:4] == ["-m", "monai.bundle", "run", "training"]
        assert session["settings"]["batch_size"] == 4 // processes and session["settings"]["patch_size"] == 8
