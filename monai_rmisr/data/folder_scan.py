"""Which files of a user data set are images: a folder scan (DICOM series as one item, annotations left
out) and MONAI's JSON datalists."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from monai.data import load_decathlon_datalist

from ..io import ImageReadError, read_image
from ..io.folders import walk_folders
from ..io.series_folders import SeriesInFolder, dicom_slice_header, is_one_series, stacks_of_folder
from .presets import ANNOTATION_DIR_PARTS, ANNOTATION_DIRS, ANNOTATION_STEMS, DICOM_EXTENSIONS, IMAGE_EXTENSIONS

__all__ = [
    "DatasetItem",
    "datalist_file",
    "datalist_lists",
    "dicom_series_uid",
    "is_annotation",
    "item_path",
    "load_datalist",
    "scan_folder",
]


#: An item of a user data set: an image file, a DICOM series folder, or one series of a folder holding several.
DatasetItem = Path | SeriesInFolder


def _has_dicom_prefix(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            f.seek(128)
            return f.read(4) == b"DICM"
    except OSError:
        return False


def _kind(path: Path, extensions: tuple[str, ...]) -> str | None:
    """``"dicom"``, ``"image"`` (another wanted suffix) or None (not listed)."""
    name = path.name.lower()
    wants_dicom = any(e in DICOM_EXTENSIONS for e in extensions)
    if name.endswith(DICOM_EXTENSIONS):
        return "dicom" if wants_dicom else None
    if name.endswith(tuple(e for e in IMAGE_EXTENSIONS if e not in DICOM_EXTENSIONS)):
        return "image" if name.endswith(extensions) else None
    if name.endswith(extensions):
        return "image"
    return "dicom" if wants_dicom and _has_dicom_prefix(path) else None


def _normalise_extensions(extensions: Iterable[str] | None) -> tuple[str, ...]:
    if extensions is None:
        return IMAGE_EXTENSIONS
    if isinstance(extensions, str):
        extensions = [extensions]
    out = tuple(e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions)
    if not out:
        raise ValueError("extensions must name at least one suffix, e.g. ['.png'], or be None for all.")
    return out


def is_annotation(path: Path, root: Path) -> bool:
    """Whether ``path`` (under ``root``) is an annotation, not an image: a mask, segmentation or manual-tracing
    file or folder of the ISIC and DRIVE layouts (:data:`~monai_rmisr.data.presets.ANNOTATION_DIRS` ...)."""
    parts = [p.lower() for p in path.relative_to(root).parts]
    if any(p in ANNOTATION_DIRS or any(a in p for a in ANNOTATION_DIR_PARTS) for p in parts[:-1]):
        return True
    stem = parts[-1].split(".")[0]
    return stem.endswith(ANNOTATION_STEMS)


def scan_folder(
    folder: str | os.PathLike[str],
    extensions: Iterable[str] | None = None,
    recursive: bool = True,
    series: bool = False,
) -> list[DatasetItem]:
    """The image files (and, with ``series``, DICOM series) under ``folder``, sorted.

    A file is an image when its name ends with one of ``extensions`` (case-insensitive). DICOM
    files are recognised by ``.dcm`` / ``.dicom`` or, whatever their name (``IM0001``,
    ``1.3.6.1.4...``), by the ``DICM`` prefix at byte 128. Hidden files and folders (``.name``)
    and ``DICOMDIR`` are skipped; other files (CSV, XML, text) are not images.

    Args:
        folder: the root folder.
        extensions: suffixes to keep, e.g. ``[".png", ".nii.gz"]``; default :data:`IMAGE_EXTENSIONS`.
            DICOM files without a DICOM suffix are kept when ``".dcm"`` is among them.
        recursive: also search sub-folders (default True), links to folders too, each real folder once
            (:func:`~monai_rmisr.io.folders.walk_folders`, the walk ``rmisr upscale`` makes of a folder).
        series: list a folder whose DICOM files are one series (:func:`~monai_rmisr.io.series_folders.is_one_series`,
            the rule ``rmisr upscale`` follows: single-frame slices of one ``SeriesInstanceUID``, files whose header
            cannot be read counted as its broken slices) as ONE item, the folder itself (read it with
            :func:`~monai_rmisr.io.read_dicom_series`), instead of its files; other images beside the slices stay
            items of their own, and DICOM objects of a class that holds no image (a structured report, a
            presentation state) are left out. A folder holding several series (a flat CD or study export) gives a
            :class:`~monai_rmisr.io.series_folders.SeriesInFolder` for each of its stacks
            (:func:`~monai_rmisr.io.series_folders.stacks_of_folder`, as ``rmisr upscale`` reads it: the series'
            slices scaled on the series' range, not each on its own), its other images as files.

    Returns:
        Image files and (with ``series``) series folders and series among others in a folder, sorted by their paths
        (a :class:`~monai_rmisr.io.series_folders.SeriesInFolder` by its folder and name).

    Raises:
        FileNotFoundError: ``folder`` does not exist.
        NotADirectoryError: ``folder`` is a file.
    """
    root = Path(folder)
    if not root.exists():
        raise FileNotFoundError(f"no such data set folder: '{root}'.")
    if not root.is_dir():
        hint = " (a datalist? give --dataset_preset datalist)" if root.suffix.lower() == ".json" else ""
        raise NotADirectoryError(f"'{root}' is a file; a data set is a folder{hint}.")
    wanted = _normalise_extensions(extensions)
    by_folder: dict[Path, list[tuple[Path, str]]] = {}
    for directory, filenames in walk_folders(root, recursive):
        for name in filenames:
            path = directory / name
            if name.upper() == "DICOMDIR" or not path.is_file():
                continue
            kind = _kind(path, wanted)
            if kind is not None:
                by_folder.setdefault(directory, []).append((path, kind))
    items: list[DatasetItem] = []
    for directory, entries in by_folder.items():
        headers = {path: dicom_slice_header(path) for path, kind in entries if kind == "dicom"} if series else {}
        entries = [(path, kind) for path, kind in entries if headers.get(path) is None or headers[path].image]
        if series and is_one_series(list(headers.values())):
            items.append(directory)  # its broken slices fail (or are left out) with the series
            items.extend(path for path, kind in entries if kind != "dicom")  # a screenshot beside it is an image
            continue
        images = {path: header for path, header in headers.items() if header is not None and header.image}
        stacks, files = stacks_of_folder(directory, images) if images else ([], [])
        stacked = set(images) - set(files)
        items.extend(stacks)  # a file with no readable header is a broken slice of each (the reader's to name)
        items.extend(
            path
            for path, kind in entries
            if path not in stacked and not (stacks and kind == "dicom" and headers.get(path) is None)
        )  # a report or presentation state is no image to train on
    return sorted(items, key=item_path)


def item_path(item: DatasetItem) -> Path:
    """Where an item of :func:`scan_folder` lies, for its order, its place in the data set's folders and messages:
    the path itself, or a :class:`~monai_rmisr.io.series_folders.SeriesInFolder`'s folder joined with its name
    (``flat/series3_AX_T1``: no entry of the folder has that name)."""
    return item.folder / item.name if isinstance(item, SeriesInFolder) else item


def dicom_series_uid(path: Path) -> str | None:
    """The SeriesInstanceUID of the DICOM file ``path`` (read from its header only:
    :func:`~monai_rmisr.io.series_folders.dicom_slice_header`); None for a folder, a file of another kind or a header
    that cannot be read. A folder mixing several series lists the images of a series that is no stack as files of
    their own (:func:`scan_folder`): this tells which go together."""
    if not path.is_file() or _kind(path, DICOM_EXTENSIONS) != "dicom":
        return None
    header = dicom_slice_header(path)
    return None if header is None else header.series_uid


def load_datalist(
    path: str | os.PathLike[str], base_dir: str | os.PathLike[str] | None = None, key: str = "training"
) -> list[Path]:
    """The image paths of one list of a MONAI JSON datalist (the Decathlon ``dataset.json`` format).

    The file is read with :func:`monai.data.load_decathlon_datalist`, so relative paths are
    joined to ``base_dir`` (default: the JSON file's folder). Each entry is ``{"image": path}``
    (other keys such as ``fold`` are ignored) or, for the ``test`` list, a bare path.
    An ``image`` given as a list of paths (a multi-channel image) contributes every path, each
    read as its own grey image. A ``label`` that is a segmentation's label map or mask (a Decathlon
    ``dataset.json``: :func:`~monai_rmisr.io.label_maps.label_map_evidence`, checked on the list's first
    ``label``) is ignored; one that is an image (paired LR / HR data, ``{"image": "LR/p0.png", "label":
    "HR/p0.png"}``) is refused: the trainer makes each LR image from its HR image itself, so an ``image`` is an HR
    image, and such a list would train on the LR images as targets.

    Args:
        path: the JSON file.
        base_dir: folder that relative paths start from.
        key: which list: ``"training"`` (default), ``"validation"`` or ``"test"``.

    Returns:
        The image paths (files or DICOM series folders) in the order of the list.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a JSON object, has no ``key`` list, an entry is not ``{"image": path}``, or its
            ``label`` is an image, not a label map.
    """
    lists = datalist_lists(path)
    if key in lists and lists[key] == []:  # MONAI's reader fails on an empty list with an IndexError
        return []
    if key not in lists:
        raise ValueError(f"datalist '{path}' has no '{key}' list; it has {sorted(lists) or 'none'}.")
    if not isinstance(lists[key], list):
        kind = type(lists[key]).__name__
        raise ValueError(f"datalist '{path}': '{key}' must be a list of {{\"image\": path}} objects, got {kind}.")
    if len({isinstance(entry, dict) for entry in lists[key]}) > 1:  # MONAI reads a list of one kind
        raise ValueError(
            f"datalist '{path}': the entries of '{key}' must be all paths or all {{\"image\": path}} objects."
        )
    for index, entry in enumerate(lists[key]):
        image = entry.get("image") if isinstance(entry, dict) else entry if key == "test" else None
        paths_given = isinstance(image, list) and image and all(isinstance(p, str) for p in image)
        if not (isinstance(image, str) or paths_given):
            raise ValueError(
                f"datalist '{path}': entry {index} of '{key}' must be {{\"image\": path}} (a path, or a list of "
                f"paths), got {entry!r}."
            )
    entries = load_decathlon_datalist(path, is_segmentation=True, data_list_key=key, base_dir=base_dir)
    labelled = next((index for index, entry in enumerate(entries) if isinstance(entry.get("label"), str)), None)
    if labelled is not None:
        _check_label_is_a_mask(path, key, labelled, entries[labelled])
    paths: list[Path] = []
    for index, entry in enumerate(entries):
        if "image" not in entry:
            raise ValueError(f"datalist '{path}': entry {index} of '{key}' has no 'image' key: {entry}.")
        images = entry["image"]
        paths.extend(Path(p) for p in (images if isinstance(images, (list, tuple)) else [images]))
    return paths


def _check_label_is_a_mask(path: str | os.PathLike[str], key: str, index: int, entry: dict[str, Any]) -> None:
    """Refuse the datalist entry ``entry`` (number ``index`` of the list ``key``) whose ``label`` is the same picture
    at another resolution, as paired LR / HR data has it: its rows and columns are the image's times one factor other
    than 1 (or the image's are the label's). A segmentation's label map or mask, on the image's grid, is what a
    ``label`` may be (it is ignored: PNG masks of a dermoscopy set, a Decathlon ``dataset.json``, blank ones too);
    files that cannot be read are left to the reader."""
    try:
        image, label = read_image(entry["image"]), read_image(entry["label"])
    except (ImageReadError, OSError, TypeError):
        return
    rows, cols = (label.spatial_shape[axis] / image.spatial_shape[axis] for axis in (0, 1))
    if abs(rows - cols) <= 0.02 * max(rows, cols) and not 0.9 < rows < 1.1:
        raise ValueError(
            f"datalist '{path}': entry {index} of '{key}' pairs its image with a 'label' image ({entry['label']!r}) "
            f"at {rows:.3g} times its size, as paired LR / HR data does; the trainer makes each LR image from its HR "
            "image itself, so list the HR images only, as \"image\" (a 'label' is taken only as a segmentation's "
            "label map, and ignored)."
        )


def datalist_lists(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The top-level object of a datalist JSON file (its lists by key).

    Raises:
        ValueError: the file is not JSON, or not a JSON object; the message names the file.
    """
    try:
        with open(path) as f:
            data = json.load(f)
    except json.JSONDecodeError as err:
        raise ValueError(f"datalist '{path}' is not valid JSON: {err}.") from None
    except UnicodeDecodeError:
        raise ValueError(f"datalist '{path}' is not valid JSON: it is not text.") from None
    if not isinstance(data, dict):
        raise ValueError(
            f'datalist \'{path}\' must be a JSON object of lists, {{"training": [{{"image": path}}, ...]}}, '
            f"got a {type(data).__name__}."
        )
    return data


def datalist_file(dataset_dir: Path) -> Path:
    """The datalist JSON of the ``datalist`` preset: ``dataset_dir`` itself, or its ``dataset.json`` /
    ``datalist.json``.

    Raises:
        FileNotFoundError: neither exists, naming the path.
    """
    if dataset_dir.is_dir():
        for name in ("dataset.json", "datalist.json"):
            if (dataset_dir / name).is_file():
                return dataset_dir / name
        raise FileNotFoundError(f"the datalist preset needs a JSON file; '{dataset_dir}' has no dataset.json.")
    if not dataset_dir.is_file():
        raise FileNotFoundError(f"no such datalist file: '{dataset_dir}'.")
    return dataset_dir
