"""Shared set-up of the inference tests."""

import json

import pytest
import torch

from .test_super_resolve import small_rmisr

# the architecture of small_rmisr(), as a checkpoint sidecar names it
TINY = {"_target_": "RMISR", "spatial_dims": 2, "in_channels": 1, "scale": 2, "features": 32, "num_blocks": 1}
TINY.update(distillation_channels=8, meta_hidden_channels=16, image_residual=True)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The networks and images here are tiny: one thread is as fast as two, and far faster on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_checkpoint(tmp_path):
    """A checkpoint file plus its architecture sidecar, as a user's fine-tuned model would be."""
    path = tmp_path / "models" / "tiny.pt"
    path.parent.mkdir()
    torch.save(small_rmisr().state_dict(), path)
    path.with_suffix(".json").write_text(json.dumps(TINY))
    return path
