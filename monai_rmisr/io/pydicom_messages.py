"""pydicom's warnings about a file, said once and naming the file.

pydicom reports a value that does not fit its VR (a 64-character hash in a UI element, an SH
value over 16 characters, ...) and other oddities it reads past twice: on its ``pydicom`` logger
and as a Python ``UserWarning``, neither naming the file. Reading a series of 300 such slices,
or a file read again by the DICOM writer, repeats them. :func:`pydicom_messages` keeps them
while a file is read and says the distinct ones in one line, on this package's logger, after the file's
name; :func:`read_dataset` is ``pydicom.dcmread`` under it.

Only what pydicom logs in the reading thread is attributed to the file (a logging filter on the
``pydicom`` logger that checks the thread). Its warning copies are dropped by text; any other
Python warning raised meanwhile is passed on unchanged (``warnings.catch_warnings`` is process
wide in Python < 3.14, so a warning of another thread can pass through here; it keeps its own
text, never the file's name).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pydicom
from pydicom.dataset import Dataset

__all__ = ["convert_elements", "pydicom_messages", "read_dataset"]

logger = logging.getLogger(__name__)
_PYDICOM_LOGGER = logging.getLogger("pydicom")


class _KeepThisThread(logging.Filter):
    """Keeps (and stops) the WARNING-or-worse records that pydicom logs in one thread."""

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()
        self.kept: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.thread == self.thread and record.levelno >= logging.WARNING:
            self.kept.append(" ".join(record.getMessage().split()))
            return False
        return True


@contextlib.contextmanager
def pydicom_messages(path: str | os.PathLike[str], report: bool = True) -> Iterator[list[str]]:
    """pydicom's warnings while ``path`` is read in this block, kept instead of printed twice.

    Args:
        path: the file read in the block (named in the report).
        report: log the distinct messages when the block ends, in one line ``'path': pydicom warned:
            message; message`` (WARNING, logger ``monai_rmisr.io.pydicom_messages``); False for a caller that reports
            them itself (a series, summarised) or a file already reported (the writer's second read).

    Yields:
        the list that holds the distinct messages when the block ends (one line each, in order).
    """
    messages: list[str] = []
    keep = _KeepThisThread()
    _PYDICOM_LOGGER.filters.insert(0, keep)  # first: a block inside another takes its file's messages
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield messages
    finally:
        _PYDICOM_LOGGER.removeFilter(keep)
        messages.extend(dict.fromkeys(keep.kept))
        for warning in caught:
            if " ".join(str(warning.message).split()) in messages:
                continue  # pydicom's warning copy of a message it logged
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno, source=warning.source
            )
        if report and messages:
            logger.warning("'%s': pydicom warned: %s", os.fspath(path), "; ".join(messages))


def convert_elements(ds: Dataset) -> Dataset:
    """Convert every raw element of ``ds`` now (pydicom converts lazily, on first access), so that what
    pydicom has to say about a value, a warning or an error, comes while the file is read and not later in
    whatever code touches the element first."""
    for _ in ds.iterall():
        pass
    return ds


def read_dataset(path: str | os.PathLike[str], report: bool = True, **kwargs: Any) -> Dataset:
    """``pydicom.dcmread(path, **kwargs)``, every element converted (:func:`convert_elements`), with
    pydicom's warnings said once, naming ``path`` (:func:`pydicom_messages`). Errors are pydicom's,
    unchanged."""
    with pydicom_messages(path, report=report):
        return convert_elements(pydicom.dcmread(path, **kwargs))
