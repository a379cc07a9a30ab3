"""The one exception every reader raises for a file it cannot turn into an image."""

from __future__ import annotations

import os

__all__ = ["BrokenSliceError", "ImageReadError", "ImageTooLargeError"]


class ImageReadError(ValueError):
    """A file (or DICOM series folder) that cannot be read as an image.

    Raised for truncated, empty, corrupt or undecodable files, DICOM objects without pixel data
    (RT plans, structured reports), images smaller than 2x2 pixels and arrays holding NaN or
    infinite values. The message always starts with the path, and the path is kept in
    :attr:`path` so that a data set loader can report or skip the file. The low-level exception,
    if any, is chained as ``__cause__``.

    Subclasses ``ValueError`` so that code catching ``ValueError`` for bad input keeps working.

    Args:
        path: the offending file or folder.
        reason: what is wrong with it, in words a user can act on.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"cannot read image '{self.path}': {reason}")

    def __reduce__(self):  # keep the two-argument constructor picklable (DataLoader workers)
        return type(self), (self.path, self.reason)


class ImageTooLargeError(ImageReadError):
    """An image whose header announces more values than the reader was allowed to decode (``max_values``).

    Raised before any pixel is decoded, so a caller can refuse a huge file without running out
    of memory, and say why the limit is what it is.
    """


class BrokenSliceError(ImageReadError):
    """A broken slice (``path``) of a DICOM series (the folder ``series``) read as a whole, which refuses the series.

    ``slice_reason`` is what is wrong with the slice; the message adds that the series is refused and that
    ``skip_bad_slices=True`` (``rmisr upscale --skip-bad-slices``) reads the series without the slice. A caller
    with another way to ask for that (training's ``--skip_bad true``) says it in its own error from these parts.
    """

    def __init__(self, path: str | os.PathLike[str], series: str | os.PathLike[str], slice_reason: str) -> None:
        self.series = os.fspath(series)
        self.slice_reason = slice_reason.rstrip(".")
        super().__init__(
            path,
            f"{self.slice_reason}. It is a slice of the series '{self.series}', which is refused as a whole; "
            "skip_bad_slices=True (rmisr upscale --skip-bad-slices) reads the series without it.",
        )

    def __reduce__(self):
        return type(self), (self.path, self.series, self.slice_reason)
