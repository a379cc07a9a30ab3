"""Writing results safely: never over the input, never half-written, never over a file by accident."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = [
    "OutputPathError",
    "OutputWriteError",
    "atomic_output",
    "check_folder_takes_files",
    "check_output_path",
    "make_private",
]


class OutputPathError(ValueError):
    """An output path that must not be written: it exists (without ``overwrite``), is the input or lies inside it,
    is not a regular file or folder, or its name announces another format than is written."""


class OutputWriteError(OSError):
    """Writing an output failed for the storage's sake (a full disk or quota, an I/O error, a file too large for the
    file system): nothing of the output is left (:func:`atomic_output`). A failure of the run, not a bad argument;
    the message is one line, naming the output (a library's own, pydicom's, can hold its whole traceback)."""


#: ``errno`` values of a write that failed for the storage's sake, not for the path's
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG})


def _storage_errno(error: BaseException) -> int | None:
    """The first :data:`STORAGE_ERRNOS` value along ``error`` and its causes (pydicom raises a new ``OSError`` without
    an errno, the original as its cause), else None."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in STORAGE_ERRNOS:
            return error.errno
        error = error.__cause__ or error.__context__
    return None


def _temporary_name(token: str, kind: str, name: str) -> str:
    """The hidden name :func:`atomic_output` gives the new version (``kind="tmp"``) or the old one (``"old"``)."""
    return f".{token}.{kind}-{name}"


def _stale_pattern(name: str) -> re.Pattern[str]:
    """Exactly the names :func:`_temporary_name` makes for the output ``name``, and nothing else."""
    return re.compile(rf"\.[0-9a-f]{{8}}\.(?:tmp|old)-{re.escape(name)}")


def _same_or_inside(path: Path, other: Path) -> bool:
    path, other = path.resolve(), other.resolve()
    return path == other or other in path.parents


def check_output_path(
    output: str | os.PathLike[str],
    inputs: Sequence[str | os.PathLike[str]] = (),
    overwrite: bool = False,
    folder: bool = False,
) -> Path:
    """Refuse an output path that would destroy data; return it as a ``Path``.

    An existing output that is neither a regular file nor a folder (a device such as
    ``/dev/null``, a FIFO, a socket, or a link to one) is refused even with ``overwrite``: the
    atomic rename would replace the node itself. So is an output below an existing non-folder, and one
    whose folder takes no new files (read-only), before any work rather than after it.

    Args:
        output: the file or folder about to be written.
        inputs: the files / folders being read; the output may be none of them, nor lie inside
            one of them (a series folder), nor contain one (overwriting a folder would delete it).
        overwrite: allow replacing an existing output: a file, or (``folder=True``) a folder
            holding only ``.dcm`` files (a series written before); never another folder.
        folder: the output is a folder (a DICOM series).

    Raises:
        OutputPathError: naming the path and the reason.
    """
    output = Path(output)
    if output.is_dir() and not folder:  # first: "already exists" or "would overwrite the input" would mislead
        raise OutputPathError(f"output '{output}' is a folder; give a file name (or the folder's new file inside it).")
    for source in map(Path, inputs):
        inside = _same_or_inside(output, source) if source.is_dir() else output.resolve() == source.resolve()
        if inside or (output.exists() and _same_or_inside(source, output)):
            raise OutputPathError(f"output '{output}' would overwrite the input '{source}'; choose another path.")
    if output.exists() and not (output.is_file() or output.is_dir()):
        raise OutputPathError(
            f"output '{output}' is not a regular file (a device, FIFO or socket); refusing to replace it."
        )
    check_folder_takes_files(output.parent, named=output)
    if output.exists() and not overwrite:
        raise OutputPathError(
            f"output '{output}' already exists; pass --overwrite (from Python: overwrite=True) to replace it."
        )
    if output.is_dir():
        others = [p.name for p in output.iterdir() if not (p.is_file() and p.suffix.lower() == ".dcm")]
        if others:
            raise OutputPathError(
                f"output '{output}' holds more than a DICOM series ({', '.join(sorted(others)[:3])}, ...); "
                "refusing to replace it - choose a new folder."
            )
    elif output.exists() and folder:
        raise OutputPathError(f"output '{output}' is a file; a DICOM series needs a folder.")
    return output


def _check_takes_files(output: Path, folder: Path) -> None:
    """Refuse ``output`` before any work where ``folder`` (its nearest existing folder) takes no new file: a
    file is created and removed there (``os.access`` cannot tell: root passes it on a read-only mount)."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise OutputPathError(
            f"output '{output}' cannot be written: its folder '{folder}' takes no new files ({err.strerror})."
        ) from err


def check_folder_takes_files(folder: str | os.PathLike[str], named: str | os.PathLike[str] | None = None) -> None:
    """Refuse, before any work, a folder about to receive outputs (made where missing) that cannot: its nearest
    existing folder (itself, or the one it would be made in) is not a folder or takes no new files.

    Args:
        folder: the folder the outputs go to.
        named: the output the message names (default ``folder``; a file output names itself).

    Raises:
        OutputPathError: naming the output and the reason.
    """
    folder = Path(folder)
    named = folder if named is None else Path(named)
    existing = next((p for p in (folder.absolute(), *folder.absolute().parents) if p.exists()), None)
    if existing is None:
        return
    if not existing.is_dir():
        raise OutputPathError(f"output '{named}' lies under '{existing}', which is not a folder.")
    _check_takes_files(named, existing)


def _remove(path: Path) -> None:
    """Remove a file, link or folder tree at ``path`` (links are removed, never followed)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _remove_stale(path: Path) -> None:
    """Remove the temporaries that an earlier run on ``path`` left when it was killed (``kill -9``, power loss).

    Only names of :func:`_temporary_name`'s exact pattern for this output are touched.
    """
    pattern = _stale_pattern(path.name)
    for entry in os.scandir(path.parent):
        if pattern.fullmatch(entry.name):
            _remove(path.parent / entry.name)


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return those created, deepest first."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return missing


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], folder: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` only if the block succeeds.

    A crash or an exception leaves ``path`` as it was (absent, or the previous version; a full disk, an I/O error
    raise :class:`OutputWriteError`),
    removes the temporary file or folder and the parent folders this call created, so a reader
    never sees a half-written result. For a folder the old one is moved aside, the new one
    renamed in, then the old one deleted. Temporaries of the same output that a killed run left
    (hidden names ``.<8 hex digits>.tmp-<name>`` and ``.<8 hex digits>.old-<name>``) are removed
    first; nothing else is touched.

    Args:
        path: the final file or folder.
        folder: the result is a folder (a DICOM series) rather than one file.
    """
    path = Path(path)
    created = _make_parents(path.parent)
    # keep the suffix (".nii.gz", ".png") so writers that choose a format from the name still do
    token = uuid.uuid4().hex[:8]
    temporary = path.with_name(_temporary_name(token, "tmp", path.name))
    done = False
    try:
        _remove_stale(path)
        # created at once, so a parallel run's failure cannot remove the (empty) parent under it
        temporary.mkdir() if folder else temporary.touch(exist_ok=False)
        try:
            yield temporary
        except OSError as err:
            code = _storage_errno(err)
            if code is None:
                raise
            raise OutputWriteError(
                code, f"writing '{path}' failed: {os.strerror(code)}; nothing of it was left"
            ) from err
        if folder:
            if path.exists():
                aside = path.with_name(_temporary_name(token, "old", path.name))
                os.replace(path, aside)
                os.replace(temporary, path)
                _remove(aside)
            else:
                os.replace(temporary, path)
        else:
            if path.is_dir():
                raise OutputPathError(f"output '{path}' is a folder; not replacing it with a file.")
            os.replace(temporary, path)
        done = True
    finally:
        if temporary.exists() or temporary.is_symlink():
            _remove(temporary)
        if not done:
            for parent in created:  # deepest first; a folder someone else wrote into stays
                with contextlib.suppress(OSError):
                    parent.rmdir()


def make_private(path: str | os.PathLike[str]) -> None:
    """Make a written file (mode 0600), or a folder and everything in it (folders 0700, files 0600), readable by
    this process's user only: what a service writes of a patient's images (the writers give the usual mode,
    0644 under umask 022, as a user's own outputs have). Links are not followed."""
    path = Path(path)
    if path.is_symlink():
        return
    if not path.is_dir():
        os.chmod(path, 0o600)
        return
    for folder, _, names in os.walk(path):
        os.chmod(folder, 0o700)
        for name in names:
            file = os.path.join(folder, name)
            if not os.path.islink(file):
                os.chmod(file, 0o600)
