"""Finding the checkpoint to resume from, starting a run from another run's weights, and
averaging the weights of several checkpoints of one run."""

from __future__ import annotations

import logging
import os
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

import torch
from ignite.engine import Engine, Events
from torch import nn

__all__ = ["InitialWeightsLoader", "average_checkpoints", "latest_checkpoint"]

_PATTERN = re.compile(r"^checkpoint_(epoch|iteration)=(\d+)\.pt$")


def latest_checkpoint(folder: str | os.PathLike) -> str | None:
    """The newest complete ``checkpoint_epoch=N.pt`` (MONAI ``CheckpointSaver`` interval file) in ``folder``.

    Returns its path, or None when the folder is missing or holds none (a fresh start).
    MONAI's saver writes the file in place (not atomically), so a run killed while saving leaves
    a truncated newest file; that file is skipped (with a warning) and the run resumes from the
    previous complete checkpoint. A complete file is a whole zip archive, the format of
    ``torch.save``: its central directory, written last, is present.
    """
    directory = Path(folder)
    if not directory.is_dir():
        return None
    found = sorted(((int(m.group(2)), p) for p in directory.iterdir() if (m := _PATTERN.match(p.name))), reverse=True)
    for _, path in found:
        if zipfile.is_zipfile(path):
            return str(path)
        logging.getLogger(__name__).warning(f"skipping {path}: incomplete (the run was stopped while saving it)")
    return None


class InitialWeightsLoader:
    """Load a network's starting weights from a file when the trainer starts.

    Fine-tuning and transfer between scales (the IMDN authors' trick: initialise x3/x4 from
    x2) both go through here. The file is a plain ``state_dict`` or a checkpoint holding one
    under ``"model"``/``"ema"``/``"network"`` (the weight average first, when the run kept one),
    read with ``torch.load(..., weights_only=True)``.

    With ``strict=True`` every key and shape must match. With ``strict=False`` the tensors
    whose name and shape match are copied and the rest keep their initialisation (for an
    x2 -> x4 transfer: the sub-pixel output convolution); the skipped names are logged, and a
    file sharing no tensor with the network is an error, not a silent no-op.
    (MONAI's ``CheckpointLoader(strict_shape=False)`` loads nothing from a plain state dict.)

    ``rename`` maps name prefixes of the file to those of the network before matching, e.g.
    ``{"trunk.": "sr_trunk."}`` starts RMISR-VP's SR branch from RMISR-BL weights.
    """

    def __init__(
        self,
        load_path: str | os.PathLike,
        network: nn.Module,
        strict: bool = True,
        rename: dict[str, str] | None = None,
    ):
        self.load_path = load_path
        self.network = network
        self.strict = bool(strict)
        self.rename = dict(rename or {})
        self.logger = logging.getLogger(__name__)

    def _renamed(self, name: str) -> str:
        for old, new in self.rename.items():
            if name.startswith(old):
                return new + name[len(old) :]
        return name

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.STARTED, self)

    def __call__(self, engine: Engine | None = None) -> None:
        from ..inference.pretrained import load_state_dict  # the inference package imports the networks only

        device = next(self.network.parameters()).device
        source = {self._renamed(k): v for k, v in load_state_dict(self.load_path, map_location=device).items()}
        if self.strict:
            self.network.load_state_dict(source)
            self.logger.info(f"initial weights: all {len(source)} tensors from {self.load_path}")
            return
        target = self.network.state_dict()
        matched = {k: v for k, v in source.items() if k in target and target[k].shape == v.shape}
        if not matched:
            raise ValueError(
                f"{self.load_path} shares no tensor (same name and shape) with {type(self.network).__name__}: "
                "is it a checkpoint of another network?"
            )
        self.network.load_state_dict(matched, strict=False)
        skipped = sorted(set(target) - set(matched))
        self.logger.info(
            f"initial weights: {len(matched)} of {len(target)} tensors from {self.load_path}; "
            f"kept the initialisation of {skipped}"
        )


def average_checkpoints(paths: Sequence[str | os.PathLike]) -> dict[str, torch.Tensor]:
    """The uniform average of the network weights in ``paths`` (a state dict, on the CPU).

    Averaging the checkpoints of one run at a constant learning rate (stochastic weight
    averaging, done afterwards) smooths out the steps' noise; after a decay to almost zero the
    last checkpoint did as well (measured in ``docs/training.md``). The result loads like any
    of the inputs. Each file is a plain ``state_dict`` or a checkpoint holding one under
    ``"model"``/``"ema"``/``"network"`` (the weight average first, when the run kept one), read
    with ``torch.load(..., weights_only=True)``. Floating-point tensors are averaged in float64
    and returned in their own dtype; integer tensors must be equal in every file.

    Raises:
        ValueError: no paths, or files whose tensor names, shapes or integer values differ
            (checkpoints of different networks), naming the first file that differs.
        FileNotFoundError: a path that is not a file.
    """
    from ..inference.pretrained import load_state_dict  # the inference package imports the networks only

    if not paths:
        raise ValueError("no checkpoints to average.")
    first = load_state_dict(paths[0])
    sums = {k: v.double() if v.is_floating_point() else v.clone() for k, v in first.items()}
    for path in paths[1:]:
        weights = load_state_dict(path)
        if weights.keys() != sums.keys() or any(weights[k].shape != v.shape for k, v in sums.items()):
            raise ValueError(f"{path} does not hold the same network as {paths[0]} (tensor names or shapes differ).")
        for name, value in weights.items():
            if value.is_floating_point():
                sums[name] += value.double()
            elif not torch.equal(value, sums[name]):
                raise ValueError(f"{path}: the integer tensor {name!r} differs from {paths[0]}'s; cannot average it.")
    return {k: (v / len(paths)).to(first[k].dtype) if v.is_floating_point() else v for k, v in sums.items()}
