"""The bundle's own checks, run the way users run them: ``python -m monai.bundle ...``."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from monai_rmisr import RMISR

# the second tier (processes, servers, whole runs): `make test-integration`; .ci/run runs both
pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "bundles" / "rmisr" / "configs"


def _bundle(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "monai.bundle", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_verify_metadata_offline_with_the_local_schema():
    result = _bundle(
        "verify_metadata",
        "--meta_file",
        str(CONFIGS / "metadata.json"),
        "--filepath",
        str(CONFIGS / "meta_schema.json"),
    )
    assert result.returncode == 0, result.stderr
    assert "metadata is verified with no error" in result.stdout + result.stderr


def test_the_local_schema_rejects_incomplete_metadata(tmp_path):
    import json

    metadata = json.loads((CONFIGS / "metadata.json").read_text())
    del metadata["network_data_format"]["inputs"]["image"]["num_channels"]
    broken = tmp_path / "metadata.json"
    broken.write_text(json.dumps(metadata))
    result = _bundle("verify_metadata", "--meta_file", str(broken), "--filepath", str(CONFIGS / "meta_schema.json"))
    assert result.returncode != 0
    assert "num_channels" in result.stderr


@pytest.mark.parametrize("variant", [[], ["vp.json"], ["meta.json"]])
def test_verify_net_in_out(variant):
    files = [str(CONFIGS / "train.json"), *(str(CONFIGS / v) for v in variant)]
    result = _bundle(
        "verify_net_in_out",
        "network_def",
        "--meta_file",
        str(CONFIGS / "metadata.json"),
        "--config_file",
        str(files) if variant else files[0],
    )
    assert result.returncode == 0, result.stderr
    assert "data shape of network is verified with no error" in result.stdout + result.stderr


def test_ckpt_export_to_torchscript(tmp_path):
    torch.manual_seed(0)
    net = RMISR(2, 1, scale=2, image_residual=True)
    checkpoint = tmp_path / "model.pt"
    torch.save(net.state_dict(), checkpoint)
    exported = tmp_path / "model.ts"
    result = _bundle(
        "ckpt_export",
        "network_def",
        "--filepath",
        str(exported),
        "--ckpt_file",
        str(checkpoint),
        "--meta_file",
        str(CONFIGS / "metadata.json"),
        "--config_file",
        str(CONFIGS / "train.json"),
    )
    assert result.returncode == 0, result.stderr
    scripted = torch.jit.load(str(exported))
    x = torch.rand(1, 1, 12, 10)
    with torch.no_grad():
        assert torch.allclose(scripted(x), net.eval()(x), atol=1e-5)


@pytest.mark.parametrize(
    "config, settings, message",
    [
        ("train.json", ["--natural_images", "flase"], "error: --natural_images must be true or false, got 'flase'."),
        ("inference.json", ["--scale", "7"], "error: RMISR is a fixed x2 network, got scale=7;"),
        ("inference.json", ["--device", "foo"], "error: device 'foo' is not a device; use cpu, cuda or cuda:N."),
    ],
)
def test_a_bad_setting_ends_the_run_with_one_line_and_exit_code_2(tmp_path, config, settings, message):
    """A failed preflight under the bundle CLI: `error: ...` on stderr (no traceback), exit code 2, nothing made;
    RMISR_TRACEBACK=1 shows the traceback (exit code 1, Python's own)."""
    output_dir = tmp_path / "run"
    command = ["run", "--config_file", str(CONFIGS / config), "--output_dir", str(output_dir), *settings]
    result = _bundle(*command)
    assert result.returncode == 2, result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith(message)
    assert "Traceback" not in result.stderr and not output_dir.exists()
    shown = subprocess.run(
        [sys.executable, "-m", "monai.bundle", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "RMISR_TRACEBACK": "1"},
    )
    assert shown.returncode == 1 and "Traceback" in shown.stderr and "PreflightError" in shown.stderr


def test_failed_inputs_end_an_inference_run_with_its_summary_and_exit_code_1(tmp_path):
    """The summary names each failure; the run ends with one line, not a traceback repeating the summary."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "broken.png").write_bytes(b"\x89PNG garbage")
    result = _bundle(
        "run", "--config_file", str(CONFIGS / "inference.json"), "--input_dir", str(folder), "--output_dir",
        str(tmp_path / "out"),
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "FAILED " in result.stdout and "broken.png" in result.stdout and result.stdout.count("0 written") == 1
    assert result.stderr.rstrip().splitlines()[-1] == "error: 1 of 1 input(s) failed (listed above)."
    assert "Traceback" not in result.stderr


def test_ctrl_c_ends_an_inference_run_with_one_line_and_exit_130(tmp_path):
    """Under ``python -m monai.bundle`` (what ``config.bundle_cli_process`` tells) a Ctrl-C printed about 100 lines
    of MONAI's and Python's tracebacks; the outputs written before it are whole and kept."""
    import signal
    import time

    import numpy as np
    from PIL import Image

    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(40):  # enough that the run is still going when the first output appears
        Image.fromarray((rng.random((256, 256)) * 255).astype(np.uint8)).save(folder / f"im{k:02d}.png")
    command = [sys.executable, "-m", "monai.bundle", "run", "--config_file", str(CONFIGS / "inference.json")]
    command += ["--input_dir", str(folder), "--output_dir", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # Ctrl-C as a terminal delivers it: a test session started in the background (CI under nohup, `make test &`)
    # hands its children an ignored SIGINT, which the bundle run rightly keeps ignored
    run = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 300
        while not (out.is_dir() and any(not path.name.startswith(".") for path in out.glob("*.png"))):  # not a temp
            assert run.poll() is None and time.monotonic() < deadline, run.communicate()[1][-3000:]
            time.sleep(0.05)
        run.send_signal(signal.SIGINT)
        said, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 130, err[-3000:]
    assert "inference stopped by Ctrl-C: the outputs written so far are whole and kept" in said + err  # MONAI's log
    assert "Traceback" not in said + err
    assert sorted(path.name for path in out.iterdir() if path.name.startswith(".")) == []  # nothing half-written
    written = sorted(out.glob("*.png"))
    assert 1 <= len(written) < 40 and all(Image.open(path).size == (512, 512) for path in written)


def test_sigterm_ends_a_training_run_naming_its_checkpoint_and_lets_go_of_its_folder(tmp_path):
    """kill, timeout or a job scheduler's cancel ended a training run with exit 143 and not a word; now the line a
    Ctrl-C gives (the checkpoint to resume from), exit 143, the session left without an end in run.json, and the
    output folder free for the resume."""
    import json
    import signal
    import time

    output = tmp_path / "run"
    settings = ["--config_file", str(CONFIGS / "train.json"), "--output_dir", str(output), "--epoch_length", "2"]
    settings += ["--batch_size", "2", "--patch_size", "8", "--network_def#num_blocks", "1"]
    command = [sys.executable, "-m", "monai.bundle", "run", "training", *settings, "--max_epochs", "1000"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not any((output / "checkpoints").glob("checkpoint_epoch=*.pt")):
            assert run.poll() is None and time.monotonic() < deadline, run.communicate()[1][-3000:]
            time.sleep(0.1)
        time.sleep(0.5)  # into a later epoch
        run.send_signal(signal.SIGTERM)
        said, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 143, err[-3000:]
    assert "training stopped by SIGTERM" in said + err  # MONAI's log
    assert "add --resume true to the same command to go on" in said + err and "Traceback" not in said + err
    (session,) = json.loads((output / "run.json").read_text())["sessions"]
    assert "ended" not in session  # stopped, not finished
    trained = max(int(p.stem.split("=")[1]) for p in (output / "checkpoints").glob("checkpoint_epoch=*.pt"))
    resumed = _bundle("run", "training", *settings, "--max_epochs", str(trained + 1), "--resume", "true")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    sessions = json.loads((output / "run.json").read_text())["sessions"]
    assert len(sessions) == 2 and sessions[1]["epochs"] == trained + 1
