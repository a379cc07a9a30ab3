"""Viewer tests draw with matplotlib's off-screen Agg backend: they open no window and need no screen."""

import matplotlib
import pytest
import torch

matplotlib.use("agg")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small regions: one thread is as fast as two, and far faster on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
