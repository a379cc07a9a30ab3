"""A MONAI ``Inferer`` that super-resolves a batch with an SR network, whole or in tiles."""

from __future__ import annotations

from typing import Any

import torch
from monai.data import MetaTensor
from monai.data.utils import collate_meta_tensor
from monai.inferers import Inferer
from torch import nn

from .settings import AUTO_TILE, check_tile, check_tile_statistics
from .super_resolve import super_resolve

__all__ = ["SuperResolutionInferer"]


class SuperResolutionInferer(Inferer):
    """``inferer(images, network)``: every image of a batch through :func:`~monai_rmisr.inference.super_resolve`.

    The inferer of the bundle's ``configs/inference.json`` (its ``inferer``, the one the run uses through
    :class:`~monai_rmisr.inference.upscale.Upscaler`), and a drop-in for MONAI engines and evaluators that
    take an ``inferer``. Settings are checked where :func:`super_resolve` takes them, at the first call.

    Args:
        scale: the up-sampling factor handed to the network.
        tile: ``"auto"`` (default; tiles only where the whole image would exceed the memory budget),
            ``N`` (LR tiles of N x N pixels) or ``None`` (always the whole image); see :func:`super_resolve`.
        overlap: fraction of a tile shared with each neighbour.
        self_ensemble: average over the eight flips / quarter turns (8x the time).
        tile_statistics: where a tiled image's channel attention takes its statistics, ``"image"`` (default) or
            ``"tile"`` (see :func:`super_resolve`).
        progress: a tqdm bar of the tiles on stderr when an image is tiled.
        device: where the network runs; ``None``: the device of the network's parameters (CPU if it has none).
        precision: the network's compute dtype, ``"float32"``, ``"bfloat16"`` or ``"auto"`` (see :func:`super_resolve`).

    Call:
        ``inputs``: (B, C, H, W) float tensor in [0, 1], or (B, C, H, W, D) volumes (each slice super-resolved
        in-plane, as :func:`super_resolve`); ``network``: an ``nn.Module`` with its weights.
        Returns (B, C, round(H * scale), round(W * scale)[, D]) in [0, 1] (clipped), on the inputs' device; for a batch
        of MONAI ``MetaTensor`` s (a collated batch) a batch of them, each image's metadata its own with the affine
        moved to the SR grid (as :func:`super_resolve`), so ``decollate_batch`` and ``SaveImaged`` work on it.

    For inference only (evaluators, ``Upscaler``): it runs under ``torch.inference_mode()`` and clips its output, so
    no gradient flows; a trainer's inferer is MONAI's ``SimpleInferer``.
    """

    def __init__(
        self,
        scale: float,
        tile: int | str | None = AUTO_TILE,
        overlap: float = 0.25,
        self_ensemble: bool = False,
        tile_statistics: str = "image",
        progress: bool = False,
        device: str | torch.device | None = None,
        precision: str = "float32",
    ) -> None:
        super().__init__()
        self.scale = scale
        self.tile = check_tile(tile)  # refused when made (tile=32 was taken, and refused at the first call)
        self.overlap = overlap
        self.self_ensemble = self_ensemble
        self.tile_statistics = check_tile_statistics(tile_statistics)
        self.progress = progress
        self.device = device
        self.precision = precision

    def _device(self, network: nn.Module) -> torch.device:
        if self.device is not None:
            return torch.device(self.device)
        parameter = next(network.parameters(), None)
        return parameter.device if parameter is not None else torch.device("cpu")

    def __call__(self, inputs: torch.Tensor, network: nn.Module, *args: Any, **kwargs: Any) -> torch.Tensor:
        if not isinstance(inputs, torch.Tensor) or inputs.dim() not in (4, 5):
            shape = tuple(inputs.shape) if hasattr(inputs, "shape") else type(inputs).__name__
            raise ValueError(f"SuperResolutionInferer takes a (B, C, H, W) or (B, C, H, W, D) tensor, got {shape}.")
        device = self._device(network)
        outputs = [
            super_resolve(
                image,
                self.scale,
                model=network,
                tile=self.tile,
                device=device,
                overlap=self.overlap,
                self_ensemble=self.self_ensemble,
                tile_statistics=self.tile_statistics,
                progress=self.progress,
                precision=self.precision,
            )
            for image in inputs
        ]
        if isinstance(inputs, MetaTensor) and inputs.is_batch:
            return collate_meta_tensor(outputs)  # a batch again, each image with its own metadata
        return torch.stack(outputs)
