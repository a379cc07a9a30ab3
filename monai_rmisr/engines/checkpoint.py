"""Finding the checkpoint to resume from, refusing to restart over another run's checkpoints,
keeping a run's checkpoint count across resumes, starting a run from another run's weights, and
averaging the weights of several checkpoints of one run."""

from __future__ import annotations

import csv
import logging
import math
import numbers
import os
import platform
import re
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Engine, Events
from ignite.handlers import DiskSaver
from monai.handlers import CheckpointSaver
from torch import nn

from ..networks.utils import accepts_scale
from .handlers import METRICS_NAME

__all__ = [
    "RUN_LOCK_NAME",
    "InitialWeightsLoader",
    "ResumableCheckpointSaver",
    "average_checkpoints",
    "check_fresh_start",
    "check_network_scales",
    "check_resume_settings",
    "claim_output_dir",
    "latest_checkpoint",
    "release_output_dir",
]

_PATTERN = re.compile(r"^checkpoint_(epoch|iteration)=(\d+)\.pt$")


def _checkpoint_files(folder: str | os.PathLike, unit: str | None = None) -> list[tuple[int, Path]]:
    """``(N, path)`` of every ``checkpoint_<unit>=N.pt`` in ``folder`` (any unit when None), oldest first."""
    directory = Path(folder)
    if not directory.is_dir():
        return []
    found = [(m.group(1), int(m.group(2)), p) for p in directory.iterdir() if (m := _PATTERN.match(p.name))]
    return sorted((n, p) for kind, n, p in found if unit in (None, kind))


#: The best model a training run writes into its ``output_dir`` (``train.json``'s ``best_model_saver``).
BEST_MODEL_NAME = "model.pt"


def _recorded_epochs(metrics: Path) -> list[str] | None:
    """The ``epoch`` column of a run's ``metrics`` (``metrics.csv``), a row each ("" where a row has none); None
    without the file or where it cannot be read."""
    try:
        with metrics.open(newline="") as stream:
            return [row.get("epoch") or "" for row in csv.DictReader(stream)]
    except (OSError, csv.Error, UnicodeDecodeError):
        return None


def _starting_weights_only(best: Path, metrics: Path) -> bool:
    """Whether ``best`` (a run's ``model.pt``) holds the starting weights only: the run's ``metrics`` has the score
    of its starting weights alone (epoch 0, ``--init_weights``'s validation before training, a row written as the
    first epoch starts, after ``model.pt``), and ``model.pt`` is not newer (a run stopped between its first epoch's
    new best ``model.pt`` and that epoch's row holds trained weights). False without the file."""
    epochs = _recorded_epochs(metrics)
    try:
        newer = best.stat().st_mtime_ns > metrics.stat().st_mtime_ns
    except OSError:
        return False
    return bool(epochs) and all(epoch == "0" for epoch in epochs) and not newer


def _trained_epochs(metrics: Path) -> int:
    """The newest epoch a run's ``metrics`` (``metrics.csv``) has a row for; 0 without the file or a trained epoch
    (epoch 0 scores the starting weights)."""
    return max((int(epoch) for epoch in _recorded_epochs(metrics) or [] if epoch.isdigit()), default=0)


def _check_output_folder(output_dir: str | os.PathLike) -> None:
    """Refuse an ``output_dir`` that is a file, lies under a file or under a folder this process cannot write in."""
    path = Path(output_dir)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"--output_dir '{output_dir}' is a file; a run writes into a folder: choose another.")
    existing = next(folder for folder in [path, *path.absolute().parents] if folder.exists())
    if not existing.is_dir():
        raise NotADirectoryError(
            f"--output_dir '{output_dir}': '{existing}' is a file, so no folder can be made under it; choose another."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"--output_dir '{output_dir}': '{existing}' is not writable; choose another.")


#: The file in a run's ``output_dir`` that :func:`claim_output_dir` locks while the run goes on.
RUN_LOCK_NAME = ".run.lock"

#: The output folders this process holds (their real paths), each with its locked file: held to the process's end.
_CLAIMED: dict[str, Any] = {}


def claim_output_dir(output_dir: str | os.PathLike, make: bool = True) -> Path | None:
    """Hold ``output_dir`` for this run (``train.json``'s last preflight step; the first process of a multi-process
    run): the folder is made, and its :data:`RUN_LOCK_NAME` locked (``flock``) until the process ends, so that a
    second run into it (``--resume true`` while the first still runs, from a ``nohup`` job or another terminal) is
    refused; the two wrote the same checkpoints, deleted each other's and listed epochs twice in ``metrics.csv``. A
    run lets go of it when it ends (``finalize``: :func:`release_output_dir`), or when its process ends (killed
    too). Within one process a folder is held once (a script running the config's steps again without its
    ``finalize``). Where the system has no ``flock`` (Windows) nothing is locked.

    ``make`` False: only a folder that is there is held (the preflight's first steps: a run in progress is named
    before a check of its checkpoints, which it may be rotating, fails on a missing file; a new run's folder is
    made only once every check has passed).

    Returns:
        the lock file (None where the folder is not there and ``make`` is False).

    Raises:
        BlockingIOError: another process holds the folder, naming it and that run's process ID and start.
    """
    folder = Path(output_dir)
    if not make and not folder.is_dir():
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RUN_LOCK_NAME
    key = os.path.realpath(folder)
    if key in _CLAIMED:
        return path
    try:
        import fcntl
    except ImportError:
        return path
    handle = open(path, "a+")  # noqa: SIM115 - held, locked, for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        handle.seek(0)
        holder = handle.read().strip() or "a process"
        handle.close()
        raise BlockingIOError(
            f"--output_dir '{output_dir}' is in use by another training run ({holder}); wait for it to end (or stop "
            "it) before resuming it, or choose another --output_dir."
        ) from err
    handle.seek(0)
    handle.truncate()
    handle.write(
        f"process {os.getpid()} on {platform.node() or 'this machine'}, since {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
    )
    handle.flush()
    _CLAIMED[key] = handle
    return path


def release_output_dir(output_dir: str | os.PathLike) -> None:
    """Let go of ``output_dir`` (:func:`claim_output_dir`; ``train.json``'s ``finalize``): a process that goes on
    after its run (a notebook) no longer keeps other runs out of it. Nothing happens where it is not held."""
    handle = _CLAIMED.pop(os.path.realpath(Path(output_dir)), None)
    if handle is not None:
        handle.close()  # closing the file releases its lock


def check_fresh_start(output_dir: str | os.PathLike, checkpoint_dir: str | os.PathLike, resume: bool) -> None:
    """Refuse to start a new run over another one's results (``train.json``'s ``preflight``).

    Without ``resume`` a run would overwrite the earlier run's checkpoints and ``metrics.csv`` (a killed run's
    progress, lost), recognised by a ``checkpoint_epoch=N.pt`` / ``checkpoint_iteration=N.pt`` file in
    ``checkpoint_dir``, or its best model (``model.pt``, kept after its checkpoints were deleted). With ``resume``
    and no checkpoint a new run starts (logged), unless a ``model.pt`` is there: nothing to resume from, and a new
    run would write over it. A ``model.pt`` that holds only the starting weights (a run from ``--init_weights``
    stopped in its first epoch: its ``metrics.csv`` has the epoch-0 score and no other) is no result: a new run
    starts over it (logged), with or without ``resume``.

    ``output_dir`` must be a folder or a path where one can be made: not a file, not under a file, under a folder
    this process may write in.

    Raises:
        FileExistsError: naming the folder, what it holds and the ways on (``--resume true`` or a new
            ``--output_dir``).
        NotADirectoryError, PermissionError: no folder can be made at ``output_dir``, naming it.
    """
    _check_output_folder(output_dir)
    found = _checkpoint_files(checkpoint_dir)
    if found and not resume:
        raise FileExistsError(
            f"output_dir '{output_dir}' already holds a run's checkpoints ({found[-1][1].name}, ...); "
            "pass --resume true to continue that run, or choose a new --output_dir."
        )
    if found:
        return
    best = Path(output_dir) / BEST_MODEL_NAME
    if not best.exists() and (trained := _trained_epochs(Path(output_dir) / METRICS_NAME)):
        raise FileExistsError(
            f"output_dir '{output_dir}' holds a run's {METRICS_NAME} (trained to epoch {trained}) but no checkpoint to "
            f"resume from and no {BEST_MODEL_NAME} (moved away?); a new run would write over that run's record: choose "
            f"a new --output_dir (or move {METRICS_NAME} away)."
        )
    if best.exists():
        if not _starting_weights_only(best, Path(output_dir) / METRICS_NAME):
            raise FileExistsError(
                f"output_dir '{output_dir}' already holds a trained {BEST_MODEL_NAME} and no checkpoint to resume "
                f"from; a new run would write over it: choose a new --output_dir (or move {BEST_MODEL_NAME} away)."
            )
        logging.getLogger(__name__).warning(
            f"'{best}' holds the starting weights only (a run stopped in its first epoch, {METRICS_NAME} has no "
            "trained epoch): a new run starts and writes over it."
        )
        return
    if resume:
        logging.getLogger(__name__).warning(
            f"--resume true: no checkpoint in '{checkpoint_dir}', so a new run starts in '{output_dir}'."
        )


def check_resume_settings(
    checkpoint: str | os.PathLike,
    learning_rate: float,
    lr_halving_iterations: int,
    epoch_length: int,
    max_epochs: int,
) -> None:
    """Refuse to resume ``checkpoint`` (the one ``--resume true`` continues from) with settings its state overrides
    or cannot take (``train.json``'s ``preflight``).

    The checkpoint restores the optimiser and the learning-rate schedule (their base rate, ``learning_rate``, and
    step, ``lr_halving_iterations``) and the trainer's state (its ``epoch_length``), so another value given on the
    command line would be ignored (and another ``epoch_length`` would make the sampler skip or repeat samples); a
    ``max_epochs`` below the epochs the run has trained cannot be resumed at all. Values read as the preflight has
    checked them (numbers); a checkpoint without one of these states (not written by ``train.json``) is not compared
    on it.

    Raises:
        ValueError: naming the setting, the run's value and the given one, and how to branch the run instead (a new
            ``--output_dir`` with ``--init_weights``: its weights, a fresh optimiser and schedule).
    """
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    trainer, schedule = state.get("trainer") or {}, state.get("lr_scheduler") or {}
    branch = (
        f"to go on with other values, branch the run: a new --output_dir with --init_weights '{checkpoint}' (its "
        "weights; the optimiser, the learning-rate schedule and the epoch count start afresh)"
    )
    recorded = {
        "learning_rate": (schedule.get("base_lrs") or [None])[0],
        "lr_halving_iterations": schedule.get("step_size"),
        "epoch_length": trainer.get("epoch_length"),
    }
    given = {
        "learning_rate": learning_rate,
        "lr_halving_iterations": lr_halving_iterations,
        "epoch_length": epoch_length,
    }
    for name, was in recorded.items():
        if was is not None and not math.isclose(float(given[name]), float(was), rel_tol=1e-9, abs_tol=0):
            raise ValueError(
                f"--{name} {given[name]!r}: the run --resume true continues ('{checkpoint}') has --{name} {was!r}, "
                f"which its checkpoint restores: resume it with --{name} {was!r}, or {branch}."
            )
    length = trainer.get("epoch_length")
    trained = trainer["iteration"] // length if length and "iteration" in trainer else trainer.get("epoch")
    if trained is not None and max_epochs < trained:
        raise ValueError(
            f"--max_epochs {max_epochs}: the run --resume true continues ('{checkpoint}') has trained {trained} "
            f"epochs already; give --max_epochs {trained + 1} or more to train it further."
        )
    if trained is not None and max_epochs == trained:
        logging.getLogger(__name__).warning(
            f"--max_epochs {max_epochs}: the run --resume true continues ('{checkpoint}') has trained all {trained} "
            f"epochs already, so there is nothing to train; give --max_epochs {trained + 1} or more to train it "
            "further."
        )


class ResumableCheckpointSaver(CheckpointSaver):
    """MONAI's ``CheckpointSaver`` whose ``n_saved`` counts the checkpoints a resumed run finds.

    MONAI's saver knows only the files it wrote itself, so a run resumed with ``n_saved=2``
    kept the killed run's two checkpoints beside its own two. This one adopts the interval
    checkpoints already in ``save_dir`` when attached, and after each save removes the oldest
    until at most ``n_saved`` are left (also when a resumed run keeps fewer than before). A
    truncated newest file (a run killed while saving) is adopted too and rewritten at its epoch.
    A file the saver would replace that is gone (a best ``model.pt`` moved away to ship it, a checkpoint copied
    into a new folder to branch a run, whose state names the old run's files) is logged, not an error that stops
    the run. Same arguments as ``monai.handlers.CheckpointSaver``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for checkpoint in (self._final_checkpoint, self._key_metric_checkpoint, self._interval_checkpoint):
            if checkpoint is not None:
                checkpoint.save_handler.remove = _remove_if_present(checkpoint.save_handler, self)

    def attach(self, engine: Engine) -> None:
        super().attach(engine)
        if self._interval_checkpoint is not None:
            unit = "epoch" if self.epoch_level else "iteration"
            found = [(n, path.name) for n, path in _checkpoint_files(self.save_dir, unit)]
            self._interval_checkpoint.load_state_dict({"_saved": found})

    def interval_completed(self, engine: Engine) -> None:
        super().interval_completed(engine)
        checkpoint = self._interval_checkpoint
        if checkpoint is None or checkpoint.n_saved is None:
            return
        while len(checkpoint._saved) > checkpoint.n_saved:
            checkpoint.save_handler.remove(checkpoint._saved.pop(0).filename)


def _remove_if_present(save_handler: DiskSaver, saver: CheckpointSaver) -> Callable[[str], None]:
    """``save_handler.remove`` (a saver's delete of its earlier file) that logs a file already gone on the saver's
    logger (the engine's, once attached) instead of raising. MONAI's handler of a fixed file name (``model.pt``)
    removes that name whatever it is given."""
    remove = save_handler.remove

    def remove_if_present(filename: str) -> None:
        try:
            remove(filename)
        except FileNotFoundError:
            path = Path(save_handler.dirname) / (getattr(save_handler, "filename", None) or filename)
            saver.logger.warning(f"{path} was already gone (moved or deleted); the new file is written all the same")

    return remove_if_present


def latest_checkpoint(folder: str | os.PathLike) -> str | None:
    """The newest complete ``checkpoint_epoch=N.pt`` (MONAI ``CheckpointSaver`` interval file; or
    ``checkpoint_iteration=N.pt`` of a saver at iteration level: a run writes one kind) in ``folder``.

    Returns its path, or None when the folder is missing or holds none (a fresh start).
    MONAI's saver writes the file in place (not atomically), so a run killed while saving leaves
    a truncated newest file; that file is skipped (with a warning) and the run resumes from the
    previous complete checkpoint. A complete file is a whole zip archive, the format of
    ``torch.save``: its central directory, written last, is present.
    """
    for _, path in reversed(_checkpoint_files(folder)):
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
    ``{"trunk.": "sr_trunk."}`` starts RMISR-VP's SR branch from RMISR-BL weights. ``setting`` is the bundle
    setting that named the file, for the errors (``init_weights``; ``ckpt_path`` in ``evaluate.json``).
    """

    def __init__(
        self,
        load_path: str | os.PathLike,
        network: nn.Module,
        strict: bool = True,
        rename: dict[str, str] | None = None,
        setting: str = "init_weights",
    ):
        self.load_path = load_path
        self.setting = setting
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

    def matched_weights(self) -> dict[str, torch.Tensor]:
        """The tensors of the file that will be loaded (renamed), checked against the network: all of them with
        ``strict``, else those of the network's names and shapes. The bundle calls this before a run writes
        anything.

        Raises:
            ValueError: naming the setting (``--init_weights``): with ``strict`` a tensor missing, unknown or of
                another shape (weights of another scale or network); without it, no tensor in common.
        """
        from ..inference.pretrained import load_state_dict, state_dict_misfit  # it imports the networks only

        device = next(self.network.parameters()).device
        source = {self._renamed(k): v for k, v in load_state_dict(self.load_path, map_location=device).items()}
        target = self.network.state_dict()
        matched = {k: v for k, v in source.items() if k in target and target[k].shape == v.shape}
        network = type(self.network).__name__
        misfit = state_dict_misfit(source, target)
        if self.strict and misfit is not None:
            hint = {
                "init_weights": "Weights of another scale or network? Give the run the weights' --scale (and "
                "network), or --init_strict false to copy only the tensors that fit.",
                "resume": "The run in --output_dir was made with other settings: resume it with its own --scale (and "
                "network), or give this run another --output_dir.",
            }.get(self.setting, "Weights of another scale or network? Give the run the weights' --scale (and network).")
            what = f"--{self.setting} '{self.load_path}'"
            if self.setting == "resume":
                what = f"the checkpoint --resume true continues from, '{self.load_path}',"
            raise ValueError(f"{what} does not fit this run's {network}: {misfit}. {hint}")
        if not matched:
            raise ValueError(
                f"--{self.setting} '{self.load_path}' shares no tensor (same name and shape) with {network}: "
                "is it a checkpoint of another network?"
            )
        return matched

    def __call__(self, engine: Engine | None = None) -> None:
        matched = self.matched_weights()
        if self.strict:
            self.network.load_state_dict(matched)
            self.logger.info(f"initial weights: all {len(matched)} tensors from {self.load_path}")
            return
        self.network.load_state_dict(matched, strict=False)
        target = self.network.state_dict()
        skipped = sorted(set(target) - set(matched))
        self.logger.info(
            f"initial weights: {len(matched)} of {len(target)} tensors from {self.load_path}; "
            f"kept the initialisation of {skipped}"
        )


def check_network_scales(
    network: nn.Module, scale: float, val_scales: float | Sequence[float] | None = None, what: str | None = None
) -> None:
    """Refuse a network that cannot run at the run's ``scale`` (the setting ``--scale``) or at one of its
    ``val_scales`` (``--val_scales``; None: validated at ``scale``), before a run writes anything.

    A fixed-scale network runs at its own scale only, an arbitrary-scale one (``meta.json``) up to its upsampler's
    largest (:func:`~monai_rmisr.inference.settings.model_scale_limits`, which reads the network's ``scale``
    attribute, as every network of this package has). A network that names no scale (a ``network_def`` of another
    package) is run once on an 8x8 input of zeros and its output's width divided by 8 is taken as its fixed scale.

    Args:
        network: the built network.
        scale: the scale the run trains (or scores) at.
        val_scales: the scales it validates at, a number or a list of numbers; None for ``scale`` alone.
        what: the network as the message names it; default ``"the run's IMDN (--network_def)"`` (its class).

    Raises:
        ValueError: naming the setting, its value and the network's scale.
    """
    from ..inference.settings import (  # the inference package is lazy here
        check_model_scale,
        model_in_channels,
        model_scale_limits,
    )

    what = what or f"the run's {type(network).__name__} (--network_def)"
    fixed, max_scale = model_scale_limits(network)
    if fixed is None and math.isinf(max_scale) and not accepts_scale(network):
        device = next((p.device for p in network.parameters()), None)
        x = torch.zeros(1, model_in_channels(network) or 1, 8, 8, device=device)
        training = network.training
        with torch.no_grad():  # in eval mode: no batch statistics of this input kept
            fixed = network.eval()(x).shape[-1] / 8
        network.train(training)
    listed = [] if val_scales is None else [val_scales] if isinstance(val_scales, numbers.Real) else list(val_scales)
    for setting, value, scales in (("scale", scale, [scale]), ("val_scales", val_scales, listed)):
        for s in scales:
            try:  # the rule every entry point follows; said here in the bundle's settings
                check_model_scale(float(s), fixed, max_scale, what)
            except ValueError:
                if fixed is None:
                    raise ValueError(
                        f"--{setting} {value!r}: {what} takes scales up to x{max_scale:g}, not x{float(s):g}."
                    ) from None
                hint = (
                    f"give --scale {fixed:g}"
                    if setting == "scale"
                    else "give --val_scales null (validation at --scale), or an arbitrary-scale network (meta.json)"
                )
                raise ValueError(
                    f"--{setting} {value!r}: {what} is a fixed x{fixed:g} network, it cannot run at x{float(s):g}; "
                    f"{hint}."
                ) from None


def evaluation_network(
    checkpoint: str | os.PathLike,
    network_def: Mapping[str, Any],
    scale: float,
    device: str | torch.device = "cpu",
    val_scales: float | Sequence[float] | None = None,
) -> nn.Module:
    """The network ``evaluate.json`` loads ``checkpoint`` into, on ``device``: the architecture the checkpoint says
    (its sidecar, its run's ``model.json`` or a shipped model's name: :func:`~monai_rmisr.inference.network_def_of`),
    else ``network_def``, the run's constructor call (``{"_target_": ..., **arguments}``: ``--scale``, a merged
    variant config; built only then, so that a setting of a network the run does not use cannot fail it).

    Raises:
        ValueError: the network cannot run at ``scale`` (the protocol's) or at one of ``val_scales``
            (:func:`check_network_scales`); a sidecar that is no valid constructor call (naming it).
    """
    from ..inference.pretrained import build_network, network_def_of, untrained_network  # they import the networks

    if network_def_of(checkpoint) is None:
        network = build_network(network_def)
        what = f"the run's {type(network).__name__} (--network_def, a variant config)"
    else:
        network = untrained_network(checkpoint)
        what = f"--ckpt_path '{checkpoint}' (a {type(network).__name__}, as its architecture file or name says)"
    check_network_scales(network, scale, val_scales, what)
    return network.to(device)


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
