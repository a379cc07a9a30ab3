"""VGG-19 feature extractor with torchvision-compatible parameter names (no torchvision needed)."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

__all__ = ["VGG19_LAYER_NAMES", "VGG19Features"]

# torchvision's vgg19 "E" configuration: channels per conv, "M" for max-pooling
_CONFIG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]


def _layer_names() -> list[str]:
    names, block, conv = [], 1, 1
    for item in _CONFIG:
        if item == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            conv += 1
    return names


VGG19_LAYER_NAMES: list[str] = _layer_names()
"""Names of ``features[i]`` in order: ``conv1_1, relu1_1, conv1_2, relu1_2, pool1, conv2_1, ...``."""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGG19Features(nn.Module):
    """The convolutional part of VGG-19 (Simonyan and Zisserman 2015), returning chosen layers.

    Parameter names match torchvision's ``vgg19().features`` (``features.0.weight``, ...), so a
    state dict saved from torchvision (``torch.save(vgg19(weights="IMAGENET1K_V1").state_dict(),
    "vgg19.pth")``) loads directly; ``classifier.*`` entries are ignored. Nothing is ever
    downloaded: pass ``weights_path`` to a local file, or leave it ``None`` for random weights
    (only useful for tests).

    Input: (B, C, H, W) images in [0, 1]; grayscale (C=1) is replicated to 3 channels, then
    ImageNet mean/std normalisation is applied. Output: a list with one feature map per
    requested layer, in the order of ``layers``. The network is frozen (no gradients to its
    weights; gradients still flow to the input).

    Args:
        layers: names from :data:`VGG19_LAYER_NAMES`, e.g. ``("relu3_4",)``.
        weights_path: a torchvision-format VGG-19 state dict (``.pth``).
        normalize_input: apply the ImageNet normalisation (turn off for inputs that are not
            images in [0, 1], such as Laplacian maps, if you prefer raw values).
    """

    def __init__(
        self,
        layers: tuple[str, ...] | list[str] = ("relu3_4",),
        weights_path: str | os.PathLike | None = None,
        normalize_input: bool = True,
    ):
        super().__init__()
        unknown = [name for name in layers if name not in VGG19_LAYER_NAMES]
        if unknown or not layers:
            raise ValueError(f"unknown VGG-19 layer(s) {unknown or layers}; choose from {VGG19_LAYER_NAMES}.")
        self.layer_indices = [VGG19_LAYER_NAMES.index(name) for name in layers]
        depth = max(self.layer_indices) + 1
        modules: list[nn.Module] = []
        in_channels = 3
        for item in _CONFIG:
            if item == "M":
                modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                modules += [nn.Conv2d(in_channels, int(item), kernel_size=3, padding=1), nn.ReLU(inplace=False)]
                in_channels = int(item)
        # keep the full layer list so indices match torchvision; unused tail layers cost nothing
        self.features = nn.Sequential(*modules[:depth])
        self.normalize_input = normalize_input
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        if weights_path is not None:
            self.load_weights(weights_path)
        self.requires_grad_(False)
        self.eval()

    def load_weights(self, weights_path: str | os.PathLike) -> None:
        """Load a torchvision-format VGG-19 state dict from a local file."""
        path = Path(weights_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"VGG-19 weights not found: {path}. The contextual loss with the 'vgg19' extractor needs the "
                "ImageNet VGG-19 weights as a local file (nothing is downloaded). Save them once on a machine "
                "with torchvision: torch.save(torchvision.models.vgg19(weights='IMAGENET1K_V1').state_dict(), "
                "'vgg19.pth'), then point the config's vgg_weights at that file; or use the weight-free "
                "'patches' extractor."
            )
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        own = self.state_dict()
        wanted = {k: v for k, v in state.items() if k in own}
        missing = sorted(set(own) - set(wanted))
        if missing:
            raise ValueError(f"{path} is not a torchvision VGG-19 state dict: missing {missing[:4]}...")
        bad = [k for k in wanted if wanted[k].shape != own[k].shape]
        if bad:
            raise ValueError(f"{path}: parameter shapes differ from VGG-19 for {bad[:4]}.")
        self.load_state_dict(wanted)

    def train(self, mode: bool = True) -> VGG19Features:
        # always frozen: dropout/BN-free, but keep eval semantics explicit
        return super().train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Args: x: (B, 1 or 3, H, W) in [0, 1]. Returns the requested feature maps."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        elif x.shape[1] != 3:
            raise ValueError(f"VGG-19 needs 1 or 3 input channels, got {x.shape[1]}.")
        if self.normalize_input:
            x = (x - self.mean) / self.std
        outputs = []
        wanted = set(self.layer_indices)
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in wanted:
                outputs.append(x)
        order = sorted(wanted)
        return [outputs[order.index(i)] for i in self.layer_indices]
