"""What the long-running PACS services (``rmisr pacs --watch``, ``rmisr listen``) share: the form of a DICOM
UID that may name a folder, the checks of their time and count options, the retry back-off, stopping on
SIGTERM / SIGINT, and writing their JSON state files atomically."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import signal
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import config_whole_numbers

__all__ = [
    "DICOM_UID_FORM",
    "MAX_BACKOFF",
    "check_count",
    "check_seconds",
    "install_signal_handlers",
    "is_dicom_uid",
    "retry_delay",
    "write_json_atomically",
]

logger = logging.getLogger(__name__)

#: What :func:`is_dicom_uid` accepts (pydicom's ``RE_VALID_UID`` refuses leading zeros, found in real archives).
DICOM_UID_FORM = re.compile(r"[0-9]+(\.[0-9]+)*")

#: The longest wait between two tries of a series, in seconds.
MAX_BACKOFF = 3600.0
#: The longest network timeout (``--timeout``), in seconds: a day. The network libraries turn a timeout into a
#: deadline, and one far beyond that (``1e12``, ``inf``) overflows the platform's time.
MAX_NETWORK_TIMEOUT = 86400.0


def is_dicom_uid(text: str) -> bool:
    """Whether ``text`` has the form of a DICOM UID: digit groups joined by dots, 64 characters at most (PS3.5
    9.1). Leading zeros in a group, which the standard forbids but some scanners write, are accepted. A UID of
    this form can name a file or folder (never ``..``)."""
    return len(text) <= 64 and DICOM_UID_FORM.fullmatch(text) is not None


def check_seconds(
    value: Any, name: str, allow_zero: bool = True, unit: str = "seconds", maximum: float | None = None
) -> float:
    """``value`` if it is a finite duration, >= 0 (> 0 without ``allow_zero``) and at most ``maximum``, in ``unit``
    (for the message).

    Raises:
        ValueError: naming the option ``--name``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value >= 0 if allow_zero else value > 0):
        raise ValueError(f"--{name} must be {'>=' if allow_zero else '>'} 0 {unit}, got {value!r}.")
    if not math.isfinite(value) or (maximum is not None and value > maximum):
        limit = f"at most {maximum:g} {unit}" if maximum is not None else f"a finite number of {unit}"
        raise ValueError(f"--{name} must be {limit}, got {value!r}.")
    return float(value)


def check_count(value: Any, name: str) -> int:
    """``value`` if it is a whole number >= 1.

    Raises:
        ValueError: naming the option ``--name``.
    """
    return config_whole_numbers(1, **{name: value})[name]


def retry_delay(backoff: float, attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed try: ``backoff * 2**(attempts-1)``, at most an hour."""
    return min(backoff * 2 ** (attempts - 1), MAX_BACKOFF)


def install_signal_handlers(stop: threading.Event) -> Callable[[], None]:
    """SIGTERM/SIGINT set ``stop`` (main thread only); returns the function that puts the old handlers back.

    The first signal also puts the old handlers back, so that a second one does what it does outside the
    service: under ``rmisr``, a second Ctrl-C stops at once (``KeyboardInterrupt``, exit 130; the series in hand
    is taken up again by the next run), as a second SIGTERM does (exit 143); elsewhere Python's defaults.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    previous: dict[int, Any] = {}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    def handler(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        logger.info("received %s; stopping after the series in hand (%s again to stop at once)", name, name)
        restore()
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, handler)
    return restore


def write_json_atomically(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file beside it (``.<name>.*.tmp``) and a rename, so a
    reader (or a restart after a crash) finds the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
