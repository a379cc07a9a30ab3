"""Shared test set-up: deterministic seeds and few threads (CI has 2 cores)."""

import signal
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture(autouse=True)
def _sigint_handler():
    """Each test leaves Ctrl-C as it found it (a bundle run's first ``initialize`` step takes it over:
    ``monai_rmisr.config.exit_on_ctrl_c``)."""
    kept = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, kept)


def _paths_under(folder: Path) -> set[str]:
    return {str(p) for p in folder.rglob("*")} if folder.is_dir() else set()


@pytest.fixture(scope="session", autouse=True)
def _no_run_output_in_the_checkout():
    """Tests write their runs under tmp_path: a config's default ``runs/...`` (relative to the working
    folder) must not gain files during the test session (it once collected TensorBoard event files)."""
    folders = {Path("runs").resolve(), Path(__file__).resolve().parents[1] / "runs"}
    before = {folder: _paths_under(folder) for folder in folders}
    yield
    new = sorted(path for folder in folders for path in _paths_under(folder) - before[folder])
    assert not new, f"tests wrote into the checkout's runs/ folder: {new[:5]}"
