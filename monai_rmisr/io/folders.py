"""Walking a folder of images: the one rule for which sub-folders and files a folder input holds."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["walk_folders"]


def walk_folders(root: str | os.PathLike[str], recursive: bool = True) -> Iterator[tuple[Path, list[str]]]:
    """``(folder, file names)`` for ``root`` and, with ``recursive``, every folder under it, each name list sorted.

    Symbolic links to folders are followed (a subset of a collection made of links to patient folders is read like
    the collection), each real folder once, so a link back up (a loop) ends the walk there. Hidden folders and files
    (a leading ``.``) are left out. The names are ``os.walk``'s: a broken link is among them. Folders come top-down,
    sub-folders in name order.
    """
    visited: set[str] = set()  # real paths of the folders walked
    for directory, subdirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(directory)
        if real in visited:
            subdirs[:] = []
            continue
        visited.add(real)
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".")) if recursive else []
        yield Path(directory), sorted(name for name in files if not name.startswith("."))
