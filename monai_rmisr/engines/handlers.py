"""Ignite handlers of the SR training workflow: metrics CSV, epoch-exact resume, progress bar."""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path
from typing import Any

from ignite.engine import Engine, Events

from ..data.patches import EpochSampler

__all__ = ["EpochSamplerHandler", "MetricsCSVHandler", "ProgressBarHandler"]


class EpochSamplerHandler:
    """Keeps an :class:`EpochSampler` in step with the trainer, so a resumed run is exact.

    Attach it after the checkpoint loader: at ``STARTED`` (when the loaded state already holds
    the completed epochs) it tells the sampler where to continue.
    """

    def __init__(self, sampler: EpochSampler):
        self.sampler = sampler

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.STARTED, self)

    def __call__(self, engine: Engine) -> None:
        self.sampler.set_epoch(engine.state.epoch)


class MetricsCSVHandler:
    """Appends one row per epoch to ``<output_dir>/metrics.csv``.

    Columns: ``epoch, iteration, seconds, lr, loss`` (the epoch's mean training loss) and the
    latest value of every validation metric of ``evaluator`` (if given). A resumed run appends
    to the file; a run that starts from epoch 1 replaces it, so old rows never mix with new.

    Args:
        output_dir: folder of the CSV file (created if needed).
        evaluator: the validation engine whose ``state.metrics`` go into the row.
        filename: name of the CSV file.
    """

    def __init__(self, output_dir: str | os.PathLike, evaluator: Engine | None = None, filename: str = "metrics.csv"):
        self.path = Path(output_dir) / filename
        self.evaluator = evaluator
        self._losses: list[float] = []
        self._start = time.perf_counter()

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._write)

    def _reset(self, engine: Engine) -> None:
        if engine.state.epoch == 1 and self.path.exists():
            self.path.unlink()
        self._losses = []
        self._start = time.perf_counter()

    def _collect(self, engine: Engine) -> None:
        output: Any = engine.state.output
        if isinstance(output, dict) and "loss" in output:
            self._losses.append(float(output["loss"]))

    def _write(self, engine: Engine) -> None:
        row: dict[str, Any] = {
            "epoch": engine.state.epoch,
            "iteration": engine.state.iteration,
            "seconds": round(time.perf_counter() - self._start, 3),
            "lr": engine.optimizer.param_groups[0]["lr"] if hasattr(engine, "optimizer") else "",
            "loss": sum(self._losses) / len(self._losses) if self._losses else "",
        }
        if self.evaluator is not None:
            row.update({k: v for k, v in self.evaluator.state.metrics.items() if isinstance(v, (int, float))})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new_file = not self.path.exists()
        fieldnames = list(row)
        if not new_file:
            with open(self.path, newline="") as f:
                header = next(csv.reader(f), None)
            if header:
                fieldnames = header + [k for k in row if k not in header]
        with open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fieldnames, extrasaction="ignore")
            if new_file:
                writer.writeheader()
            writer.writerow(row)


class ProgressBarHandler:
    """A tqdm progress bar over the epoch showing the loss and iterations per second."""

    def __init__(self, persist: bool = False):
        self.persist = persist

    def attach(self, engine: Engine) -> None:
        from ignite.handlers import ProgressBar

        ProgressBar(persist=self.persist).attach(
            engine, output_transform=lambda output: {"loss": output["loss"]} if isinstance(output, dict) else {}
        )
