"""Assertions shared by the network tests."""

import torch
from torch import nn


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def assert_all_parameters_get_gradients(module: nn.Module, loss: torch.Tensor) -> None:
    module.zero_grad()
    loss.backward()
    missing = [name for name, p in module.named_parameters() if p.grad is None]
    assert not missing, f"no gradient reached: {missing}"
    dead = [name for name, p in module.named_parameters() if not torch.any(p.grad != 0)]
    assert not dead, f"gradient is identically zero for: {dead}"
