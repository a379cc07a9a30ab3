"""Exponential moving average of a network's weights during training (BasicSR's ``ema_decay``).

The average itself is ignite's :class:`~ignite.handlers.EMAHandler` (momentum ``1 - decay``, buffers
copied); this module adds what a resumable bundle run needs around it: where the average starts (the
loaded network, or the average a resumed checkpoint kept) and its entry in the checkpoints.
"""

from __future__ import annotations

import logging
import math
import os

import torch
from ignite.engine import Engine, Events
from ignite.handlers import EMAHandler
from torch import nn

__all__ = ["WeightEMA"]


class WeightEMA:
    """Keeps ``averaged = decay * averaged + (1 - decay) * network`` after every training iteration.

    The averaged copy is what a run with ``ema_decay > 0`` validates and saves as ``model.pt``;
    every epoch checkpoint holds it under ``"ema"`` next to the trained weights (``"network"``),
    which the optimiser keeps training. Buffers are not averaged: the average holds the network's own
    buffer tensors (ignite's ``handle_buffers="copy"``; the networks here register none). ``decay=0`` switches
    it off: :attr:`evaluated` is then the network itself and the checkpoints hold an empty
    ``"ema"`` entry.

    Attach it after the checkpoint and initial-weights loaders: when the trainer starts, the
    average starts from the network's (loaded) weights, or, when ``resume_from`` is a
    checkpoint of a run that kept an average, continues from that average.

    Args:
        network: the trained network (not a ``DistributedDataParallel`` wrapper).
        decay: 0 (off) or in (0, 1); 0.999 is BasicSR's usual value (an average over the last
            thousand or so iterations).
        resume_from: the checkpoint the run resumes from, or None.
    """

    def __init__(self, network: nn.Module, decay: float = 0.0, resume_from: str | os.PathLike | None = None):
        given = decay
        try:
            decay = float(decay)
        except (TypeError, ValueError):
            decay = math.nan
        if isinstance(given, bool) or not 0.0 <= decay < 1.0:
            raise ValueError(f"--ema_decay must be 0 (off) or in (0, 1), got {given!r}.")
        self.network = network
        self.decay = decay
        self.resume_from = resume_from
        self._handler = EMAHandler(network, momentum=1.0 - decay, handle_buffers="copy") if decay > 0 else None
        self.averaged: nn.Module | None = None if self._handler is None else self._handler.ema_model
        self.logger = logging.getLogger(__name__)

    @property
    def evaluated(self) -> nn.Module:
        """The network to validate and to save as the run's model: the average when on."""
        return self.network if self.averaged is None else self.averaged

    def attach(self, engine: Engine) -> None:
        """Start the average when ``engine`` starts, update it after every iteration (ignite's ``EMAHandler``)."""
        if self._handler is None:
            return
        engine.add_event_handler(Events.STARTED, self.start)
        self._handler.attach(engine, name="ema_momentum", warn_if_exists=False)

    def start(self, engine: Engine | None = None) -> None:
        """Start the average from the resumed checkpoint's average, else from the network."""
        if self.averaged is None:
            return
        if self.resume_from is not None:
            saved = torch.load(self.resume_from, map_location="cpu", weights_only=True).get("ema") or {}
            if saved:
                self.load_state_dict(saved)
                return
            self.logger.warning(
                f"{self.resume_from} holds no weight average (the run kept none so far): it starts from the network"
            )
        self.averaged.load_state_dict(self.network.state_dict())

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {} if self.averaged is None else self.averaged.state_dict()

    def load_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        if self.averaged is None:
            raise ValueError("this run keeps no weight average (ema_decay is 0): there is nothing to load into.")
        self.averaged.load_state_dict(state_dict)
