"""The record a training run keeps of how it was run: ``run.json`` in its output folder.

A model file says nothing of the run that made it: the command, the settings (the configs' and the command
line's), the package, bundle, MONAI and PyTorch versions, the device. ``train.json`` writes them into
``OUTPUT_DIR/run.json`` when a run starts (:func:`record_run`), as its first *session*, and adds a session each time
``--resume true`` continues the run, so a model card can quote what made the weights and a reader can tell a run
that went on with other settings from an uninterrupted one.

A resumed run goes on with the settings it is given; where they differ from the previous session's (another
``--batch_size`` on a smaller machine, another loss), it says so, once, naming each: the checkpoint carries the
weights, optimiser and schedule, not the rest of the settings. Settings that the checkpoint decides
(``--learning_rate``, ``--lr_halving_iterations``, ``--epoch_length``) are refused before this, in
:func:`~monai_rmisr.engines.check_resume_settings`; those that only steer the run (:data:`STEERING_SETTINGS`:
how long it goes on, the loader's workers, what it keeps, ``--init_weights``, which a resume does not read) are
recorded and not compared.

The file is JSON, ``{"format": 1, "sessions": [SESSION, ...]}``, each session::

    {"started": "2026-12-08T00:14:38+00:00", "resumed_from": null or "checkpoints/checkpoint_epoch=12.pt",
     "command": "python -m monai.bundle run training --config_file ... --batch_size 16",
     "versions": {"monai_rmisr": ..., "bundle": ..., "monai": ..., "torch": ..., "python": ...},
     "device": "cpu (AVX512, x86_64)" or "cuda:0 (NVIDIA H100 80GB HBM3)", "processes": 1,
     "settings": {"scale": 4, "batch_size": 16, "loss#sr_criterion": "mse", ...}}

``settings`` is :func:`monai_rmisr.config.config_values`: every literal value of the running config.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import monai
import torch
from ignite.engine import Engine, Events

from ..io.output import atomic_output

__all__ = [
    "RUN_RECORD_NAME",
    "STEERING_SETTINGS",
    "RunEndRecorder",
    "read_run_record",
    "record_run",
    "setting_changes",
]

#: The record's file name in the run's output folder.
RUN_RECORD_NAME = "run.json"

#: Settings that steer a run without changing what it learns: not compared when it is resumed.
STEERING_SETTINGS = frozenset(
    {
        "resume",
        "max_epochs",
        "num_workers",
        "keep_checkpoints",
        "val_interval",
        "logging_rank",
        "output_dir",
        "init_weights",
        "init_strict",
        "init_rename",
    }
)

_FORMAT = 1

logger = logging.getLogger(__name__)


def read_run_record(output_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The run record in ``output_dir``, or None where there is none.

    Raises:
        ValueError: the file is there but no run record (not JSON, or without its sessions), naming it.
    """
    path = Path(output_dir) / RUN_RECORD_NAME
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"'{path}' is no run record: {e}") from e
    sessions = record.get("sessions") if isinstance(record, dict) else None
    if not isinstance(sessions, list) or not all(isinstance(session, dict) for session in sessions):
        raise ValueError(f"'{path}' is no run record: it has no list of sessions.")
    return record


def setting_changes(
    before: Mapping[str, Any], now: Mapping[str, Any], before_cwd: str | os.PathLike[str] | None = None
) -> list[str]:
    """The settings that differ between two sessions' ``settings``, as ``--NAME VALUE (was VALUE)``, in ``now``'s
    order then ``before``'s; :data:`STEERING_SETTINGS` (and the values under them) left out. A word the command line
    typed for an on/off or optional setting is its value (``"true"`` is ``true``, ``"null"`` is ``null``, any case),
    as the configs read it; two paths of one existing file or folder are one value (``data/`` and ``./data``, a
    link), ``before``'s read from ``before_cwd`` (that session's folder; default the current one), ``now``'s from
    the current folder."""
    changes = []
    for name in [*now, *(name for name in before if name not in now)]:
        was, given = before.get(name, _UNSET), now.get(name, _UNSET)
        if (
            name.split("#")[0] in STEERING_SETTINGS
            or was == given
            or _canonical(was, before_cwd) == _canonical(given, None)
        ):
            continue
        changes.append(f"--{name} {_shown(given)} (was {_shown(was)})")
    return changes


def record_run(
    output_dir: str | os.PathLike[str],
    settings: Mapping[str, Any],
    resume_checkpoint: str | os.PathLike[str] | None,
    device: torch.device | str = "cpu",
    bundle_root: str | os.PathLike[str] | None = None,
) -> Path:
    """Write this session into ``output_dir``'s :data:`RUN_RECORD_NAME` (``train.json``'s ``initialize``).

    A new run (``resume_checkpoint`` None) starts the record, over any left by a run that never saved a checkpoint; a
    resumed one adds its session and logs one warning naming every setting that differs from the previous
    session's (:func:`setting_changes`). A resumed run without a record (begun before monai-rmisr 0.2.8, or a
    checkpoint copied on its own) starts one, logged; an unreadable record is moved aside to ``run.json.unreadable``
    (logged) and a new one started: the run is not stopped for its record. Written whole or not at all.

    Args:
        output_dir: the run's folder (made before this is called).
        settings: :func:`monai_rmisr.config.config_values` of the running config.
        resume_checkpoint: the checkpoint ``--resume true`` continues from, None for a new run.
        device: where the run trains.
        bundle_root: the bundle folder, for its version (``configs/metadata.json``); None or unreadable: not given.

    Returns:
        the record's path.
    """
    path = Path(output_dir) / RUN_RECORD_NAME
    session = {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "resumed_from": None if resume_checkpoint is None else _relative(resume_checkpoint, output_dir),
        "command": shlex.join(getattr(sys, "orig_argv", sys.argv)),
        "cwd": os.getcwd(),
        "code": _code_version(),
        "versions": _versions(bundle_root),
        "device": _device_name(device),
        "processes": torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1,
        "settings": dict(settings),
    }
    sessions: list[dict[str, Any]] = []
    if resume_checkpoint is not None:
        try:
            record = read_run_record(output_dir)
        except ValueError as e:
            aside = path.with_name(f"{path.name}.unreadable")
            os.replace(path, aside)
            logger.warning("%s; moved to '%s', and a new record starts with this session.", e, aside)
            record = None
        if record is None:
            logger.info("'%s' holds no %s: a new record starts with this session.", output_dir, RUN_RECORD_NAME)
        else:
            sessions = record["sessions"]
            last = sessions[-1] if sessions else {}
            previous = last.get("settings")
            changes = setting_changes(previous, settings, last.get("cwd")) if isinstance(previous, dict) else []
            if changes:
                logger.warning(
                    "--resume true: the run in '%s' goes on with settings other than its last session's (%s): %s. "
                    "Its checkpoint restores the weights, the optimiser and the schedule; from here on it trains "
                    "with the new settings (%s records both).",
                    output_dir,
                    sessions[-1].get("started", "a session not dated"),
                    ", ".join(changes),
                    RUN_RECORD_NAME,
                )
    _write(path, {"format": _FORMAT, "sessions": [*sessions, session]})
    return path


def _write(path: Path, record: dict[str, Any]) -> None:
    """Write ``record`` into ``path`` whole or not at all (:func:`~monai_rmisr.io.output.atomic_output`)."""
    with atomic_output(path) as temporary:
        temporary.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


class RunEndRecorder:
    """Says, when a run has trained all its epochs, what its ``model.pt`` holds, and records the session's end in
    ``run.json`` (``train.json``'s trainer handlers).

    The log's last line names the epoch whose weights ``model.pt`` holds and their validation score, and says so
    where that is the starting weights (``--init_weights`` scored as epoch 0, and no epoch of the run beat them: the
    fine-tuned ``model.pt`` is the file it started from). The session gets ``"ended"`` (the time), ``"epochs"`` (the
    run's epoch count then) and ``"best"`` (``{"epoch": N, "score": X, "metric": NAME}``; a session that validated
    nothing, as a resume with nothing left to train, repeats the earlier sessions' best, where one is recorded; None
    where nothing was validated); a session without ``"ended"`` was stopped or killed.

    Args:
        output_dir: the run's folder.
        evaluator: the validation engine, whose state tracks the best score and its epoch.
    """

    def __init__(self, output_dir: str | os.PathLike[str], evaluator: Engine) -> None:
        self.output_dir = Path(output_dir)
        self.evaluator = evaluator

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        from .checkpoint import BEST_MODEL_NAME

        try:
            record = read_run_record(self.output_dir)
        except ValueError as e:
            logger.warning("%s; the end of the run is not recorded in it.", e)
            record = None
        sessions = record["sessions"] if record is not None else []
        state = self.evaluator.state
        epoch, score = getattr(state, "best_metric_epoch", -1), getattr(state, "best_metric", None)
        metric = getattr(state, "key_metric_name", None) or "validation score"
        epochs = int(engine.state.epoch)
        if epoch is None or epoch < 0 or score is None or not math.isfinite(float(score)):
            # this session validated nothing (a resume with nothing left to train, or short of --val_interval)
            best = next((s["best"] for s in reversed(sessions[:-1]) if isinstance(s.get("best"), dict)), None)
            if (self.output_dir / BEST_MODEL_NAME).exists():
                score = best.get("score") if best is not None else None
                shown = f"{score:.4f}" if isinstance(score, float) else str(score)
                known = "" if best is None else f" (epoch {best.get('epoch')}, {best.get('metric')} {shown})"
                logger.info(
                    "training finished after epoch %d; this session validated no epoch: %s is as the run's earlier "
                    "sessions left it%s.",
                    epochs,
                    BEST_MODEL_NAME,
                    known,
                )
            else:
                logger.warning(
                    "training finished after epoch %d; no epoch was validated, so no %s was chosen.",
                    epochs,
                    BEST_MODEL_NAME,
                )
        else:
            best = {"epoch": int(epoch), "score": float(score), "metric": str(metric)}
            if epoch == 0:
                logger.warning(
                    "training finished after epoch %d: %s holds the starting weights (--init_weights, %s %.4f before "
                    "training); no epoch of this run scored higher on validation (try a lower --learning_rate, more "
                    "epochs or more data).",
                    epochs,
                    BEST_MODEL_NAME,
                    metric,
                    score,
                )
            else:
                logger.info(
                    "training finished after epoch %d: %s holds the weights of epoch %d (%s %.4f, the best validated).",
                    epochs,
                    BEST_MODEL_NAME,
                    epoch,
                    metric,
                    score,
                )
        if not sessions:
            return
        sessions[-1].update(
            {"ended": datetime.now(timezone.utc).isoformat(timespec="seconds"), "epochs": epochs, "best": best}
        )
        _write(self.output_dir / RUN_RECORD_NAME, record)


class _Unset:
    def __repr__(self) -> str:
        return "not set"


_UNSET = _Unset()


_WORDS = {"true": True, "false": False, "null": None, "none": None}


def _canonical(value: Any, cwd: str | os.PathLike[str] | None) -> Any:
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _WORDS:
            return _WORDS[word]
        path = Path(cwd or os.getcwd(), value).expanduser() if value else None
        return os.path.realpath(path) if path is not None and path.exists() else value
    if isinstance(value, list):
        return [_canonical(item, cwd) for item in value]
    return value


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, _Unset) else json.dumps(value)


def _relative(checkpoint: str | os.PathLike[str], output_dir: str | os.PathLike[str]) -> str:
    """``checkpoint`` relative to ``output_dir`` where it lies inside it (the record stays true if the folder is
    moved), else as given."""
    try:
        return Path(checkpoint).resolve().relative_to(Path(output_dir).resolve()).as_posix()
    except ValueError:
        return os.fspath(checkpoint)


def _code_version() -> dict[str, Any] | None:
    """The git commit of the checkout this package runs from, and whether its tracked files differ from it; None for
    an installed package (its version says what it is) or where git cannot tell."""
    checkout = Path(__file__).resolve().parents[2]
    if not (checkout / ".git").exists():
        return None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        changed = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=checkout, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "changed": changed.returncode != 0}


def _versions(bundle_root: str | os.PathLike[str] | None) -> dict[str, str | None]:
    from .. import __version__

    bundle = None
    if bundle_root is not None:
        try:
            metadata = Path(bundle_root) / "configs" / "metadata.json"
            bundle = json.loads(metadata.read_text(encoding="utf-8"))["version"]
        except (OSError, ValueError, KeyError, TypeError):
            bundle = None
    return {
        "monai_rmisr": __version__,
        "bundle": bundle,
        "monai": monai.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def _device_name(device: torch.device | str) -> str:
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.backends.cpu.get_cpu_capability()}, {platform.machine()})"
    return str(device)
