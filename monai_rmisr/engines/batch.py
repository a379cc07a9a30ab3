"""The SR batch as MONAI's engines take it: ``prepare_batch`` for ``{"lr", "hr"[, "lr_bits"]}`` dictionaries."""

from __future__ import annotations

import torch

__all__ = ["prepare_sr_batch"]


def prepare_sr_batch(
    batchdata: dict[str, torch.Tensor], device: str | torch.device | None = None, non_blocking: bool = False, **kwargs
) -> tuple[torch.Tensor, torch.Tensor, tuple, dict[str, torch.Tensor]]:
    """MONAI's ``prepare_batch`` for SR batches: ``{"lr", "hr"[, "lr_bits"][, "scale"]}`` -> ``(lr, hr, (), extra)``,
    ``extra`` holding ``"lr_bits"`` and ``"scale"`` (a validation pair's own scale) where the batch has them.

    The trainer's and the evaluator's default (MONAI's default reads ``"image"`` / ``"label"``); a data
    set with other keys passes its own ``prepare_batch`` returning ``(lr, hr)`` or ``(lr, hr, args, kwargs)``
    (the trainer reads ``kwargs["lr_bits"]`` when there). ``kwargs`` (the engine's ``to_kwargs``) go to
    ``Tensor.to``.
    """
    if not isinstance(batchdata, dict) or "lr" not in batchdata or "hr" not in batchdata:
        found = sorted(batchdata) if isinstance(batchdata, dict) else type(batchdata).__name__
        raise ValueError(f"an SR batch is a dictionary with 'lr' and 'hr' tensors, got {found}.")
    lr, hr = (batchdata[key].to(device=device, non_blocking=non_blocking, **kwargs) for key in ("lr", "hr"))
    extra = {"lr_bits": batchdata["lr_bits"].to(device=device)} if "lr_bits" in batchdata else {}
    if "scale" in batchdata:  # read on the host (SREvaluator), never computed with
        extra["scale"] = torch.as_tensor(batchdata["scale"])
    return lr, hr, (), extra
