"""A stand-in for the IMDN authors' published network (their ``model/architecture.py``), written here
from its description: the same module names, so its ``state_dict`` has the layout of their
``checkpoints/IMDN_x{2,3,4}.pth`` files (saved from a DataParallel wrapper, hence ``module.``).
Nothing is downloaded: the tests generate such checkpoints with random weights."""

from __future__ import annotations

import torch
from torch import nn


def _conv(cin: int, cout: int, k: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2)


class _ContrastChannelAttention(nn.Module):
    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.conv_du = nn.Sequential(
            _conv(channels, channels // reduction, 1),
            nn.ReLU(),
            _conv(channels // reduction, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x):
        mean = x.mean(dim=(2, 3), keepdim=True)
        std = (x - mean).pow(2).mean(dim=(2, 3), keepdim=True).sqrt()
        return x * self.conv_du(std + mean)


class _DistillationBlock(nn.Module):
    def __init__(self, channels: int = 64):
        super().__init__()
        self.kept, self.rest = channels // 4, channels - channels // 4
        self.c1, self.c2, self.c3 = (
            _conv(channels, channels, 3),
            _conv(self.rest, channels, 3),
            _conv(self.rest, channels, 3),
        )
        self.c4 = _conv(self.rest, self.kept, 3)
        self.c5 = _conv(channels, channels, 1)
        self.cca = _ContrastChannelAttention(channels)
        self.act = nn.LeakyReLU(0.05)

    def forward(self, x):
        d1, r1 = torch.split(self.act(self.c1(x)), (self.kept, self.rest), dim=1)
        d2, r2 = torch.split(self.act(self.c2(r1)), (self.kept, self.rest), dim=1)
        d3, r3 = torch.split(self.act(self.c3(r2)), (self.kept, self.rest), dim=1)
        return self.c5(self.cca(torch.cat([d1, d2, d3, self.c4(r3)], dim=1))) + x


class AuthorsIMDN(nn.Module):
    """RGB in, RGB out, six blocks, as published."""

    def __init__(self, scale: int, channels: int = 3, features: int = 64):
        super().__init__()
        self.fea_conv = _conv(channels, features, 3)
        for k in range(1, 7):
            setattr(self, f"IMDB{k}", _DistillationBlock(features))
        self.c = nn.Sequential(_conv(6 * features, features, 1), nn.LeakyReLU(0.05))
        self.LR_conv = _conv(features, features, 3)
        self.upsampler = nn.Sequential(_conv(features, channels * scale**2, 3), nn.PixelShuffle(scale))

    def forward(self, x):
        h = self.fea_conv(x)
        outputs, features = [], h
        for k in range(1, 7):
            features = getattr(self, f"IMDB{k}")(features)
            outputs.append(features)
        return self.upsampler(self.LR_conv(self.c(torch.cat(outputs, dim=1))) + h)


def authors_checkpoint(scale: int, seed: int = 0) -> tuple[AuthorsIMDN, dict[str, torch.Tensor]]:
    """A random :class:`AuthorsIMDN` and its state dict as the authors saved theirs (``module.`` names)."""
    torch.manual_seed(seed)
    network = AuthorsIMDN(scale).eval()
    return network, {f"module.{name}": value for name, value in network.state_dict().items()}
