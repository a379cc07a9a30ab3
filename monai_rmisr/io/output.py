"""Writing results safely: never over the input, never half-written, never over a file by accident."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["OutputPathError", "atomic_output", "check_output_path"]


class OutputPathError(ValueError):
    """An output path that must not be written: it exists (without ``overwrite``), is the input or lies inside it."""


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
    for source in map(Path, inputs):
        if _same_or_inside(output, source) or (output.exists() and _same_or_inside(source, output)):
            raise OutputPathError(f"output '{output}' would overwrite the input '{source}'; choose another path.")
    if output.exists() and not overwrite:
        raise OutputPathError(f"output '{output}' already exists; pass --overwrite to replace it.")
    if output.is_dir():
        if not folder:
            raise OutputPathError(
                f"output '{output}' is a folder; give a file name (or the folder's new file inside it)."
            )
        others = [p.name for p in output.iterdir() if not (p.is_file() and p.suffix.lower() == ".dcm")]
        if others:
            raise OutputPathError(
                f"output '{output}' holds more than a DICOM series ({', '.join(sorted(others)[:3])}, ...); "
                "refusing to replace it - choose a new folder."
            )
    elif output.exists() and folder:
        raise OutputPathError(f"output '{output}' is a file; a DICOM series needs a folder.")
    return output


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], folder: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` only if the block succeeds.

    A crash or an exception leaves ``path`` as it was (absent, or the previous version) and
    removes the temporary file or folder, so a reader never sees a half-written result. For a
    folder the old one is moved aside, the new one renamed in, then the old one deleted.

    Args:
        path: the final file or folder.
        folder: the result is a folder (a DICOM series) rather than one file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    # keep the suffix (".nii.gz", ".png") so writers that choose a format from the name still do
    temporary = path.with_name(f".{token}.tmp-{path.name}")
    if folder:
        temporary.mkdir()
    try:
        yield temporary
        if folder:
            if path.exists():
                aside = path.with_name(f".{token}.old-{path.name}")
                os.replace(path, aside)
                os.replace(temporary, path)
                shutil.rmtree(aside) if aside.is_dir() else aside.unlink()
            else:
                os.replace(temporary, path)
        else:
            if path.is_dir():
                raise OutputPathError(f"output '{path}' is a folder; not replacing it with a file.")
            os.replace(temporary, path)
    finally:
        if temporary.is_dir():
            shutil.rmtree(temporary, ignore_errors=True)
        elif temporary.exists():
            temporary.unlink()
