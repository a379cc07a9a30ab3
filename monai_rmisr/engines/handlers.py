"""Ignite handlers of the SR training workflow: metrics CSV, epoch-exact resume, progress bar, model sidecar,
the data summary, the validation of the initial weights and a Ctrl-C that says how to go on."""

from __future__ import annotations

import csv
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ignite.engine import Engine, Events

from ..config import INTERRUPTED_EXIT, TERMINATED_EXIT, TrainingTerminated, bundle_cli_process, hand_ctrl_c_to_python
from ..data.datasets import validation_sources
from ..data.patches import EpochSampler
from ..io.output import atomic_output

__all__ = [
    "DataSummaryHandler",
    "EpochSamplerHandler",
    "InitialValidationHandler",
    "InterruptedRunHandler",
    "MetricsCSVHandler",
    "ModelConfigSaver",
    "ProgressBarHandler",
]


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


#: The table of a training run's epochs in its ``output_dir`` (:class:`MetricsCSVHandler`).
METRICS_NAME = "metrics.csv"


class MetricsCSVHandler:
    """Writes one row per epoch to ``<output_dir>/metrics.csv``.

    Columns: ``epoch, iteration, seconds, lr, loss`` (the epoch's mean training loss) and every validation
    metric of ``evaluator`` (if given), filled on the rows of the epochs it scored and empty on the others
    (``--val_interval`` above 1). When the evaluator has scored the starting weights before the first epoch
    (:class:`InitialValidationHandler`, attached before this handler), the file starts with that score as epoch
    0 (iteration 0, no time or loss). A run that starts from epoch 1 replaces the file, so old rows never mix
    with new; a resumed run keeps the rows of the epochs it resumes after and drops any of later epochs (a run
    killed after writing a row but before its checkpoint runs that epoch again). A column that appears after
    the first row (the first validation of a run that does not validate every epoch) is added to the header,
    the file rewritten, so every row has the header's columns. On a resumed run the evaluator's best key metric
    (and its epoch) are taken from the rows, so its log does not call the first score after the restart a new
    best.

    Args:
        output_dir: folder of the CSV file (created if needed).
        evaluator: the validation engine whose ``state.metrics`` go into the row.
        filename: name of the CSV file.
    """

    def __init__(self, output_dir: str | os.PathLike, evaluator: Engine | None = None, filename: str = METRICS_NAME):
        self.path = Path(output_dir) / filename
        self.evaluator = evaluator
        self._losses: list[float] = []
        self._start = time.perf_counter()
        self._scored = False  # the evaluator has scored since the last row
        self._first_epoch = True  # of this process: where a fresh run starts the file, a resumed one trims it

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._write)
        if self.evaluator is not None:
            self.evaluator.add_event_handler(Events.STARTED, self._restore_best)
            self.evaluator.add_event_handler(Events.COMPLETED, self._mark_scored)

    def _mark_scored(self, evaluator: Engine) -> None:
        self._scored = True

    def _restore_best(self, evaluator: Engine) -> None:
        """On a resumed run, give the evaluator the best key metric of the rows written before (the evaluator's
        own record starts empty, so its first score would be logged as a new best, however low)."""
        state = evaluator.state
        name = getattr(state, "key_metric_name", None)
        if getattr(state, "best_metric_epoch", 0) != -1 or name is None or not self.path.exists():
            return
        scored = [(float(row[name]), int(row["epoch"])) for row in self._read()[1] if row.get(name)]
        if scored:
            compare = getattr(evaluator, "metric_cmp_fn", lambda current, best: current > best)
            best, epoch = scored[0]
            for value, at in scored[1:]:
                if compare(value, best):
                    best, epoch = value, at
            state.best_metric, state.best_metric_epoch = best, epoch

    def _reset(self, engine: Engine) -> None:
        if self._first_epoch:
            self._first_epoch = False
            if engine.state.epoch == 1:
                if self.path.exists():
                    self.path.unlink()
                if self.evaluator is not None and self._scored:  # the starting weights' score
                    self._append(self._row(engine, epoch=0, iteration=0, seconds="", loss=""))
            elif self.path.exists():  # resumed: the rows of the epochs to run again go; the header gets all columns
                header, rows = self._read()
                kept = [row for row in rows if int(row["epoch"]) < engine.state.epoch]
                if len(kept) < len(rows) or header != self._file_header():
                    self._rewrite(header, kept)  # from here on every row of the file has its header's columns
        self._losses = []
        self._start = time.perf_counter()

    def _collect(self, engine: Engine) -> None:
        output: Any = engine.state.output
        if isinstance(output, dict) and "loss" in output:
            self._losses.append(float(output["loss"]))

    def _write(self, engine: Engine) -> None:
        self._append(
            self._row(
                engine,
                epoch=engine.state.epoch,
                iteration=engine.state.iteration,
                seconds=round(time.perf_counter() - self._start, 3),
                loss=sum(self._losses) / len(self._losses) if self._losses else "",
            )
        )

    def _row(
        self, engine: Engine, epoch: int, iteration: int, seconds: float | str, loss: float | str
    ) -> dict[str, Any]:
        """A row: the columns given, the optimiser's learning rate and the evaluator's metrics if it scored since
        the last row."""
        row: dict[str, Any] = {
            "epoch": epoch,
            "iteration": iteration,
            "seconds": seconds,
            "lr": engine.optimizer.param_groups[0]["lr"] if hasattr(engine, "optimizer") else "",
            "loss": loss,
        }
        if self.evaluator is not None and self._scored:
            row.update({k: v for k, v in self.evaluator.state.metrics.items() if isinstance(v, (int, float))})
        self._scored = False
        return row

    def _read(self) -> tuple[list[str], list[dict[str, str]]]:
        """The file's header and rows. A row longer than the header (a file written before bundle 0.34.0 with
        ``--val_interval`` above 1: its header had no score columns) has its extra cells under the evaluator's
        metric names, in the order the rows were written with, and the header returned is longer than the file's
        (so the caller rewrites it)."""
        with open(self.path, newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            header = list(reader.fieldnames or [])
        extra = max((len(row.get(None) or []) for row in rows), default=0)  # type: ignore[call-overload]
        if extra:
            metrics = [name for name in self._metric_names() if name not in header][:extra]
            metrics += [f"column_{len(header) + k + 1}" for k in range(len(metrics), extra)]
            for row in rows:
                row.update(zip(metrics, row.pop(None, None) or []))  # type: ignore[call-overload]
            header += metrics
        return header, rows

    def _file_header(self) -> list[str]:
        """The file's first line, as written."""
        with open(self.path, newline="") as f:
            return next(csv.reader(f), [])

    def _metric_names(self) -> list[str]:
        """The evaluator's metric names in the order of its rows (its key metric first)."""
        if self.evaluator is None:
            return []
        names = list(getattr(self.evaluator.state, "metrics", {}) or {})
        key = getattr(self.evaluator.state, "key_metric_name", None)
        return ([key] if key else []) + [name for name in names if name != key]

    def _rewrite(self, header: list[str], rows: list[dict[str, Any]]) -> None:
        """The whole file anew (atomically: a reader never sees half of it)."""
        with atomic_output(self.path) as temporary, open(temporary, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)

    def _append(self, row: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            self._rewrite(list(row), [row])
            return
        header = self._file_header()  # the rows fit it (a resumed run's first epoch made sure): only a new column
        if any(key not in header for key in row):  # rewrites the file, every row with the column
            header, rows = self._read()
            self._rewrite(header + [key for key in row if key not in header], [*rows, row])
            return
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=header, extrasaction="ignore").writerow(row)


class ProgressBarHandler:
    """A tqdm progress bar over the epoch showing the loss and iterations per second."""

    def __init__(self, persist: bool = False):
        self.persist = persist

    def attach(self, engine: Engine) -> None:
        from ignite.handlers import ProgressBar

        ProgressBar(persist=self.persist).attach(
            engine, output_transform=lambda output: {"loss": output["loss"]} if isinstance(output, dict) else {}
        )


class ModelConfigSaver:
    """Writes the architecture sidecar of the model a run saves: ``model.json`` next to ``model.pt``.

    With it, :func:`~monai_rmisr.inference.load_checkpoint`, ``rmisr upscale --model`` and
    ``super_resolve(model=...)`` rebuild the network from the checkpoint alone. The file is written
    atomically when the engine it is attached to starts (the validation engine, so before the first
    ``model.pt``), and again on a resumed run.

    Args:
        save_dir: the folder of the saved model (the bundle's ``output_dir``).
        network_def: the network's constructor call, ``{"_target_": "RMISR", **arguments}`` (in the
            bundle: ``$monai_rmisr.config.config_call('network_def')``).
        checkpoint_name: the saved model's file name; the sidecar is named after it.

    Raises:
        ValueError: ``network_def`` has no ``_target_`` or is not JSON, before any file is written.
    """

    def __init__(self, save_dir: str | os.PathLike, network_def: Mapping[str, Any], checkpoint_name: str = "model.pt"):
        from ..inference.pretrained import sidecar_path, sidecar_text  # inference imports the networks only

        self.checkpoint = Path(save_dir) / checkpoint_name
        self.network_def = dict(network_def)
        sidecar_text(self.network_def)  # a bad network_def fails here, before the run trains
        self.path = sidecar_path(self.checkpoint)
        self._written = False

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.STARTED, self)

    def __call__(self, engine: Engine) -> None:
        from ..inference.pretrained import save_sidecar

        if not self._written:
            save_sidecar(self.checkpoint, self.network_def)
            self._written = True


class DataSummaryHandler:
    """Logs, when training starts, how many images it trains and validates on, and which validate.

    Args:
        train_images: the training images (the bundle's ``train#images``).
        val_images: the validation pairs (``validate#dataloader#dataset``).
        val_names: the corpus name prefixes held out for validation (``val_names``) when the run trains on
            the embedded corpus: the validation images' names are then logged too; None for a user data set.
    """

    def __init__(self, train_images: Sequence[Any], val_images: Sequence[Any], val_names: Sequence[str] | None = None):
        self.train_count = len({id(image) for image in train_images})  # an image listed twice (modality_repeats) once
        self.train_listed = len(train_images)
        scales = sorted({float(pair["scale"]) for pair in val_images if isinstance(pair, dict) and "scale" in pair})
        self.val_count = len(val_images) // max(len(scales), 1)
        self.val_scales = scales
        self.val_names = None if val_names is None else tuple(val_names)
        self.logger = logging.getLogger(__name__)

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.STARTED, self)

    def __call__(self, engine: Engine) -> None:
        repeats = f" ({self.train_listed} with modality_repeats)" if self.train_listed != self.train_count else ""
        scales = f" at x{', x'.join(f'{s:g}' for s in self.val_scales)}" if len(self.val_scales) > 1 else ""
        names = ""
        if self.val_names is not None:
            corpus = [source.name for source in validation_sources(self.val_names)]
            names = f" (corpus: {', '.join(corpus)})"
        self.logger.info(
            f"data: {self.train_count} training{repeats} and {self.val_count} validation images{scales}{names}"
        )


class InitialValidationHandler:
    """Validates once before the first training iteration, as epoch 0: the score of the starting weights.

    For fine-tuning (the bundle's ``init_weights``), so the log shows the score before fine-tuning next to
    the scores after each epoch. It runs when the first epoch starts, after the ``STARTED`` handlers have
    loaded the weights (:class:`~monai_rmisr.engines.InitialWeightsLoader`, the weight average); a resumed
    run starts at a later epoch and does not run it. The validator's handlers run as after any epoch (so
    the best-model saver may save the starting weights, if no epoch beats them).

    Args:
        validator: the validation engine (``validate#evaluator``).
    """

    def __init__(self, validator: Engine):
        self.validator = validator

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED(once=1), self)

    def __call__(self, engine: Engine) -> None:
        self.validator.run(0)


class InterruptedRunHandler:
    """Ends a training run stopped by Ctrl-C (``KeyboardInterrupt``) with one line saying how to go on, exit 130; by
    SIGTERM (:class:`~monai_rmisr.config.TrainingTerminated`: ``kill``, ``timeout``, a job scheduler), the same
    line, exit 143 (it ended without a word).

    It printed ignite's and Python's traceback (about 140 lines; MONAI's ``StatsHandler`` logs one more of a stop
    while validating) and nothing of the checkpoint to resume from. Now: ``training stopped by Ctrl-C in epoch 3
    (iteration 37); its newest checkpoint is runs/x/checkpoints/checkpoint_epoch=2.pt: add --resume true to the same
    command to go on (epoch 3 runs again from its start)``. Outside the bundle's command line (a script, a notebook,
    a REPL: :func:`~monai_rmisr.config.bundle_cli_process`) the line is logged and the ``KeyboardInterrupt`` raised on.
    Any other exception is raised as before. Attach it to the trainer, and to the validator before its other handlers
    (``validating=True``).

    Args:
        checkpoint_dir: where the run's epoch checkpoints are (the bundle's ``ckpt_dir``).
        validating: attached to the validator, whose epoch is the trainer's (the line says "while validating").
    """

    def __init__(self, checkpoint_dir: str | os.PathLike[str], validating: bool = False):
        self.checkpoint_dir = checkpoint_dir
        self.validating = validating

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EXCEPTION_RAISED, self)
        engine.add_event_handler(Events.STARTED, hand_ctrl_c_to_python)  # exit_on_ctrl_c's part is over

    def __call__(self, engine: Engine, error: BaseException) -> None:
        if not isinstance(error, KeyboardInterrupt):
            raise error
        from .checkpoint import latest_checkpoint  # checkpoint.py imports this module

        epoch = engine.state.epoch
        when = (
            f"while validating epoch {epoch}"
            if self.validating
            else f"in epoch {epoch} (iteration {engine.state.iteration})"
        )
        newest = latest_checkpoint(self.checkpoint_dir)
        where = f"its newest checkpoint is {newest}" if newest else "it has saved no checkpoint yet"
        again = "add --resume true to the same command to go on" if newest else "run the command again to start it"
        terminated = isinstance(error, TrainingTerminated)  # SIGTERM: kill, timeout, a job scheduler's cancel
        logging.getLogger("monai_rmisr").error(
            "training stopped by %s %s; %s: %s (epoch %d runs again from its start).",
            "SIGTERM" if terminated else "Ctrl-C",
            when,
            where,
            again,
            epoch,
        )
        if not bundle_cli_process():  # a script, a notebook, a REPL: Python's KeyboardInterrupt, to catch or not
            raise error
        raise SystemExit(TERMINATED_EXIT if terminated else INTERRUPTED_EXIT) from None
