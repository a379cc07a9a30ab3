"""Validation for super-resolution: PSNR, SSIM and LR consistency as Ignite metrics."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from ignite.metrics import Metric
from monai.engines import SupervisedEvaluator
from monai.utils import CommonKeys
from torch import nn

from ..inference.inferer import SuperResolutionInferer
from ..metrics.protocol import protocol_border
from ..metrics.quality import psnr, ssim
from ..networks.utils import forward_at_scale, in_channels_last
from ..transforms.intensity import LUMA_WEIGHTS
from ..transforms.resize import imresize
from .batch import prepare_sr_batch

__all__ = ["SREvaluator", "SRImageQuality", "to_luma"]


def to_luma(image: torch.Tensor) -> torch.Tensor:
    """(B, 3, *spatial) RGB -> (B, 1, *spatial) luma ``0.299 R + 0.587 G + 0.114 B``; other channel counts
    unchanged."""
    if image.shape[1] != 3:
        return image
    weights = image.new_tensor(LUMA_WEIGHTS).view([1, 3] + [1] * (image.dim() - 2))
    return (image * weights).sum(dim=1, keepdim=True)


class SRImageQuality(Metric):
    """Mean image quality of SR outputs over a validation run, one number per image averaged.

    Conventions (the benchmark protocol's, :mod:`monai_rmisr.metrics.protocol`): images in [0, 1]
    (the prediction is clipped to [0, 1]); RGB scored on its luma (0.299/0.587/0.114); the
    protocol's border (:func:`~monai_rmisr.metrics.protocol.protocol_border`, ``ceil(scale)``
    pixels) removed on every side for PSNR / SSIM, :attr:`LR_CONSISTENCY_BORDER` LR pixels for
    ``lr_consistency``; data range 1.

    * ``"psnr"`` and ``"ssim"`` (11x11 Gaussian window, sigma 1.5) compare SR with HR;
    * ``"lr_consistency"`` degrades the SR output with the same MATLAB-bicubic operator that
      made the LR input and reports the PSNR against the input. A network that invents
      structure the LR image does not support scores low here, whatever its PSNR against HR.

    Expects ``output_transform`` to return ``(pred, label, image)`` batches, or ``(pred, label, image,
    scale)`` where the batch's scale may differ from ``scale`` (validation at several scales: the border is
    then the batch's); use ``monai.handlers.from_engine(["pred", "label", "image", "scale"])`` with
    :class:`SREvaluator`.
    """

    KINDS = ("psnr", "ssim", "lr_consistency")
    #: LR pixels cut from every side of the LR-consistency comparison (where the degradation's kernel
    #: reaches past the image).
    LR_CONSISTENCY_BORDER = 2

    def __init__(
        self,
        kind: str,
        scale: float,
        output_transform: Callable = lambda x: x,
        device: str | torch.device = "cpu",
    ):
        """
        Args:
            kind: one of :attr:`KINDS`.
            scale: the SR factor of the images scored (decides the border cut), unless a batch names its own.
            output_transform, device: as for ignite's ``Metric``.
        """
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}, got {kind!r}.")
        self.kind = kind
        self.scale = scale
        self.crop_border()  # a bad scale fails here, not at the first validation
        super().__init__(output_transform=output_transform, device=device)

    def reset(self) -> None:
        self._sum = 0.0
        self._count = 0

    def crop_border(self, scale: float | None = None) -> int:
        """Pixels cut from every side: :attr:`LR_CONSISTENCY_BORDER` (LR pixels), else the protocol's
        border at ``scale`` (default: the metric's own)."""
        if self.kind == "lr_consistency":
            return self.LR_CONSISTENCY_BORDER
        return protocol_border(self.scale if scale is None else scale)

    def update(self, output: Any) -> None:
        preds, labels, inputs, *batch_scale = output
        scale = None if not batch_scale or batch_scale[0] is None else float(batch_scale[0])
        crop_border = self.crop_border(scale)
        for pred, label, lr in zip(preds, labels, inputs):
            pred = to_luma(pred.detach().float().clamp(0, 1)[None])[0].cpu()
            spatial_dims = pred.dim() - 1  # (C, H, W) or a volume's (C, H, W, D)
            if self.kind == "lr_consistency":
                lr_luma = to_luma(lr.detach().float()[None])[0].cpu()
                degraded = torch.as_tensor(imresize(pred, output_size=tuple(lr_luma.shape[1:])))
                value = psnr(degraded, lr_luma, data_range=1.0, crop_border=crop_border, spatial_dims=spatial_dims)
            else:
                label = to_luma(label.detach().float()[None])[0].cpu()
                fn = psnr if self.kind == "psnr" else ssim
                value = fn(pred, label, data_range=1.0, crop_border=crop_border, spatial_dims=spatial_dims)
            self._sum += float(value)
            self._count += 1

    def compute(self) -> float:
        if self._count == 0:
            raise RuntimeError("SRImageQuality needs at least one image before compute().")
        return self._sum / self._count


class SREvaluator(SupervisedEvaluator):
    """Runs a network on whole validation images ``{"lr": (1, C, h, w), "hr": (1, C, H, W)[, "scale": (1,)]}``.

    ``engine.state.output`` holds ``image`` (LR), ``label`` (HR), ``pred`` (SR, not clipped) and
    ``scale`` (the scale run: the batch's own where it has one, as
    :func:`~monai_rmisr.data.validation_pairs` gives for several ``val_scales``, else ``scale``); attach
    :class:`SRImageQuality` metrics through ``key_val_metric`` / ``additional_metrics``. For images too large
    for memory pass a :class:`~monai_rmisr.inference.SuperResolutionInferer` as ``inferer``: it is given the network
    itself and runs it whole or in seamless tiles, at its own scale (which must be the pairs'), in its own precision,
    its output clipped to [0, 1]; it takes LR in [0, 1], as the realistic protocol's pairs are (``validation_pairs``
    with ``clip_lr=False`` needs another inferer). Any other inferer is given a function of the LR batch (the
    network at the scale).

    Args:
        device, val_data_loader, network: as for ``SupervisedEvaluator``.
        scale: passed to networks whose ``forward`` takes a scale (RMISR, RMISR-VP); ``None``
            for fixed-scale comparison networks.
        channels_last: run 2-D networks in the channels-last memory format (a 3-D network runs as it is; much
            faster on CPU, see :class:`~monai_rmisr.engines.SRTrainer`).
        kwargs: passed to ``SupervisedEvaluator`` (``inferer``, ``key_val_metric``,
            ``additional_metrics``, ``val_handlers``, ``prepare_batch``: default
            :func:`~monai_rmisr.engines.batch.prepare_sr_batch`, ...).
    """

    def __init__(
        self,
        device: str | torch.device,
        val_data_loader: Any,
        network: nn.Module,
        scale: float | None = None,
        channels_last: bool = True,
        **kwargs: Any,
    ):
        kwargs.setdefault("prepare_batch", prepare_sr_batch)
        network, channels_last = in_channels_last(network, channels_last)
        super().__init__(device=torch.device(device), val_data_loader=val_data_loader, network=network, **kwargs)
        self.channels_last = channels_last
        self.forward_scale = scale

    def _iteration(self, engine: SREvaluator, batchdata: dict[str, torch.Tensor]) -> dict[str, Any]:
        if batchdata is None:
            raise ValueError("must provide batch data for current iteration.")
        batch = engine.prepare_batch(batchdata, engine.state.device, engine.non_blocking, **engine.to_kwargs)
        lr, hr = batch[0], batch[1]  # MONAI's contract: (inputs, targets) or (inputs, targets, args, kwargs)
        extra = batch[3] if len(batch) == 4 else {}
        scale = engine.forward_scale
        if "scale" in extra:  # pairs of one batch share their HR / LR shapes, so their scale
            if scale is None:
                raise ValueError(
                    "validation pairs at several scales (val_scales) need a network that takes a scale "
                    "(an arbitrary-scale one: meta.json); this one has a fixed scale: set val_scales to null."
                )
            scale = float(extra["scale"].flatten()[0])
        engine.network.eval()
        if isinstance(engine.inferer, SuperResolutionInferer):  # it takes the network, and runs it at its own scale
            if scale is not None and not math.isclose(float(engine.inferer.scale), scale):
                raise ValueError(
                    f"the SuperResolutionInferer runs at x{engine.inferer.scale:g}, these pairs are at x{scale:g}: "
                    "give it the evaluator's scale (validation at several scales needs another inferer)."
                )
            with torch.no_grad():
                pred = engine.inferer(lr, engine.network)
        else:
            forward = partial(forward_at_scale, engine.network, scale=scale, channels_last=engine.channels_last)
            with torch.no_grad(), torch.autocast(engine.state.device.type, enabled=engine.amp):
                pred = engine.inferer(lr, forward)
        return {CommonKeys.IMAGE: lr, CommonKeys.LABEL: hr, CommonKeys.PRED: pred.float(), "scale": scale}
