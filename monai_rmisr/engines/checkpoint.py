"""Finding the checkpoint to resume from."""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["latest_checkpoint"]

_PATTERN = re.compile(r"^checkpoint_(epoch|iteration)=(\d+)\.pt$")


def latest_checkpoint(folder: str | os.PathLike) -> str | None:
    """The newest ``checkpoint_epoch=N.pt`` (MONAI ``CheckpointSaver`` interval file) in ``folder``.

    Returns its path, or None when the folder is missing or holds none (a fresh start).
    Temporary files of an interrupted save never match, so a run killed while saving resumes
    from the previous complete checkpoint.
    """
    directory = Path(folder)
    if not directory.is_dir():
        return None
    found = [(int(m.group(2)), p) for p in directory.iterdir() if (m := _PATTERN.match(p.name))]
    return str(max(found)[1]) if found else None
