"""pydicom's warnings about a file, said once and naming the file.

pydicom reports a value that does not fit its VR (a 64-character hash in a UI element, an SH
value over 16 characters, ...) and other oddities it reads past twice: on its ``pydicom`` logger
and as a Python ``UserWarning`` with the same text, neither naming the file. Reading a series of
300 such slices, or a file read again by the DICOM writer, repeats them. :func:`pydicom_messages`
keeps what pydicom logs while a file is read and says the distinct messages in one line, on this
package's logger, after the file's name; :func:`read_dataset` is ``pydicom.dcmread`` under it.

How, without ``warnings.catch_warnings`` (process-wide state that two threads' blocks would restore
out of order; the batch runner reads the next input in a thread while the writer reads the source):

* a logging filter on the ``pydicom`` logger and its child loggers (the pixel decoders log on their
  own) keeps the records of the reading thread only; other threads' records pass as they were;
* pydicom's ``UserWarning`` copies are ignored from the first block on (one ``warnings`` filter for
  the process, put first again at each block's start, never restored to anything): every one of them
  is also a ``pydicom`` log record (pydicom issues them only through ``pydicom.misc.warn_and_log``),
  which a block reports with the file's name and which otherwise reaches the logging handlers as
  pydicom sent it. pydicom's deprecation warnings are left alone.
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

_FILTER_LOCK = threading.Lock()


def _ignore_warning_copies() -> None:
    """Ignore pydicom's ``UserWarning`` copies of what it logs (see the module docstring): the filter is put
    first at every block's start (``filterwarnings`` moves an equal filter to the front), so that it holds
    inside a caller's ``catch_warnings`` (the CLI's, pytest's: each restores the filters it found on exit)."""
    with _FILTER_LOCK:
        warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom(\.|$)")


def _pydicom_loggers() -> list[logging.Logger]:
    """The ``pydicom`` logger and every child logger created so far (``pydicom.pixels.decoders.base``, ...)."""
    names = [name for name in list(logging.Logger.manager.loggerDict) if name.startswith("pydicom.")]
    children = [logging.getLogger(name) for name in names]
    return [logging.getLogger("pydicom"), *children]


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
    """pydicom's warnings while ``path`` is read in this block (in this thread), kept instead of printed twice.

    Args:
        path: the file read in the block (named in the report).
        report: log the distinct messages when the block ends, in one line ``'path': pydicom warned:
            message; message`` (WARNING, logger ``monai_rmisr.io.pydicom_messages``); False for a caller that
            reports them itself (a series, summarised) or a file already reported (the writer's second read).

    Yields:
        the list that holds the distinct messages when the block ends (one line each, in order). A block
        inside another takes its file's messages first.
    """
    _ignore_warning_copies()
    messages: list[str] = []
    keep = _KeepThisThread()
    loggers = _pydicom_loggers()
    for each in loggers:
        each.filters.insert(0, keep)  # first: a block inside another takes its file's messages
    try:
        yield messages
    finally:
        for each in loggers:
            each.removeFilter(keep)
        messages.extend(dict.fromkeys(keep.kept))
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
