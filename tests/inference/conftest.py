"""Shared set-up of the inference tests."""

import json

import pytest
import torch

from tests.helpers import one_thread_fixture

from .test_super_resolve import small_rmisr

# the architecture of small_rmisr(), as a checkpoint sidecar names it
TINY = {"_target_": "RMISR", "spatial_dims": 2, "in_channels": 1, "scale": 2, "features": 32, "num_blocks": 1}
TINY.update(distillation_channels=8, meta_hidden_channels=16, image_residual=True)


_one_thread = one_thread_fixture()


@pytest.fixture
def tiny_checkpoint(tmp_path):
    """A checkpoint file plus its architecture sidecar, as a user's fine-tuned model would be."""
    path = tmp_path / "models" / "tiny.pt"
    path.parent.mkdir()
    torch.save(small_rmisr().state_dict(), path)
    path.with_suffix(".json").write_text(json.dumps(TINY))
    return path
