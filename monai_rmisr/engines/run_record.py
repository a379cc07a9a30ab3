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
import os
import platform
import shlex
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import monai
import torch

__all__ = ["RUN_RECORD_NAME", "STEERING_SETTINGS", "read_run_record", "record_run", "setting_changes"]

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


def setting_changes(before: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """The settings that differ between two sessions' ``settings``, as ``--NAME VALUE (was VALUE)``, in ``now``'s
    order then ``before``'s; :data:`STEERING_SETTINGS` (and the values under them) left out. A word the command line
    typed for an on/off or optional setting is its value (``"true"`` is ``true``, ``"null"`` is ``null``, any case),
    as the configs read it."""
    changes = []
    for name in [*now, *(name for name in before if name not in now)]:
        if name.split("#")[0] in STEERING_SETTINGS or _canonical(before.get(name, _UNSET)) == _canonical(
            now.get(name, _UNSET)
        ):
            continue
        changes.append(f"--{name} {_shown(now.get(name, _UNSET))} (was {_shown(before.get(name, _UNSET))})")
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
            previous = sessions[-1].get("settings") if sessions else None
            changes = setting_changes(previous, settings) if isinstance(previous, dict) else []
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
    record = {"format": _FORMAT, "sessions": [*sessions, session]}
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    os.replace(partial, path)
    return path


class _Unset:
    def __repr__(self) -> str:
        return "not set"


_UNSET = _Unset()


_WORDS = {"true": True, "false": False, "null": None, "none": None}


def _canonical(value: Any) -> Any:
    if isinstance(value, str):
        return _WORDS.get(value.strip().lower(), value)
    if isinstance(value, list):
        return [_canonical(item) for item in value]
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
