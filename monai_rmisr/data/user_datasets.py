"""User data sets: a folder (:func:`~monai_rmisr.data.folder_scan.scan_folder`) or MONAI JSON datalist read,
converted and split as a preset (:data:`~monai_rmisr.data.presets.PRESETS`) says.

:func:`dataset_images` turns a folder (or a datalist) into the training input of the bundle: a
list of ``(1, H, W)`` float32 grey images in ``[0, 1]``, ready for
:class:`~monai_rmisr.data.patches.PairedPatchDataset`. A *preset* (:data:`~monai_rmisr.data.presets.PRESETS`)
fixes which files are images, how intensities become ``[0, 1]`` and how the data set is split:

* ``folder``: any supported image under the root (DICOM files or series folders, each series of a folder holding
  several (a flat export) as one item, NIfTI, PNG, JPEG, TIFF); min-max per item (a file, or a whole series /
  volume); split by file.
* ``lung_ct``: LIDC-IDRI-like ``<root>/<patient>/<study>/<series>/*.dcm`` (series folders found
  at any depth, non-CT series skipped); lung window, centre -600 / width 1500 HU; split by
  patient (the first folder below the root).
* ``dermoscopy``: ISIC-like RGB JPEGs in ``<root>/`` or ``<root>/images/`` (``*_segmentation.png``,
  ``*_superpixels.png``, mask / ground-truth folders and CSV files ignored); luma / 255; split by
  file.
* ``retina``: DRIVE-like ``<root>/training/images/*.tif`` and ``<root>/test/images/*.tif``
  (``mask/``, ``1st_manual/``, ``2nd_manual/`` ignored); luma / 255; DRIVE's ``training`` /
  ``test`` folders are the split, else split by file.
* ``datalist``: a MONAI JSON datalist file; min-max per item; its ``validation`` list (no image of it in the
  ``training`` list), else the ``training`` list split by file; its ``test`` list is what the ``"test"`` split
  (evaluation) reads.

Conventions:

* Colour becomes grey with the luma weights of the corpus (``0.299 R + 0.587 G + 0.114 B``,
  :func:`~monai_rmisr.data.corpus.protocol_gray`).
* Photographs (dermoscopy, fundus) are divided by the full range of their stored bit depth
  (255 for 8-bit JPEG), **not** min-max normalised, so a grey level means the same in every image
  and matches the 8-bit range of the published benchmarks. CT is mapped through a fixed window,
  so a value is a Hounsfield unit everywhere: ``(HU - (c - w / 2)) / w`` clipped to ``[0, 1]``
  (the plain linear window; DICOM's ``c - 0.5`` / ``w - 1`` variant would move HU -600 from 0.5
  to 0.50033). The generic ``folder`` and ``datalist`` presets cannot know the units of an
  arbitrary image and min-max normalise each item (one file, or one whole DICOM series / volume,
  so that the slices of a volume keep their relative brightness).
* Volumes (DICOM series, multi-frame DICOM, 3-D NIfTI, multi-page TIFF) are cut into their 2-D
  slices along the last axis (axial for CT series); a slice that is nearly constant after the
  mapping (standard deviation < :data:`~monai_rmisr.data.presets.CONSTANT_STD`, e.g. air above the patient) is dropped.
* The split is made on file names before any pixel is read, with a seeded shuffle of the files
  (or of the patients for ``lung_ct``: no patient is on both sides; the images of one DICOM series in a folder
  mixing several, listed as files of their own where they are no stack, go together too), so skipping a bad file never
  moves another file to the other side, and the same seed gives the same split on every machine.
  A file added to the folder reshuffles it: a training run therefore records its validation items when it begins
  (:func:`record_validation_items`) and a resumed run validates on those (``val_items``).
* Every image of the split is read and converted before anything is returned, so a broken file
  stops a training run before its first iteration. By default the first bad file raises
  :class:`~monai_rmisr.io.ImageReadError` naming it; with ``skip_bad=True`` it is logged with
  ``logging.warning`` (naming the file and the reason) and left out, and a DICOM series is read without its
  broken slices.
* All images of a split are held in memory as float32 (about 1 MB per 512x512 slice): for large
  collections (all of LIDC-IDRI, full-resolution ISIC) point ``dataset_dir`` at a subset.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..io import BrokenSliceError, ImageReadError, SeriesInFolder, read_image
from ..io.label_maps import label_map_evidence
from ..io.provenance import made_by_monai_rmisr
from ..transforms.intensity import CTWindow, MinMaxNormalize
from .corpus import protocol_gray
from .folder_scan import (
    DatasetItem,
    datalist_file,
    datalist_lists,
    dicom_series_uid,
    is_annotation,
    item_path,
    load_datalist,
    scan_folder,
)
from .presets import CONSTANT_STD, PRESETS, DatasetPreset

__all__ = [
    "VALIDATION_SPLIT_FILE",
    "DatasetImage",
    "dataset_images",
    "load_dataset",
    "record_validation_items",
    "recorded_validation_items",
    "validation_items",
    "validation_split",
]

logger = logging.getLogger(__name__)


@dataclass
class DatasetImage:
    """One 2-D training image of a user data set.

    Attributes:
        array: ``(1, H, W)`` float32 in ``[0, 1]``.
        source: the file or DICOM series folder it comes from.
        group: the split unit (the file, or the patient folder for ``lung_ct``).
        slice_index: its index along the last axis of a volume; None for a 2-D image.
    """

    array: np.ndarray
    source: str
    group: str
    slice_index: int | None = None


# ----------------------------------------------------------------------------------------------
# intensities


def _full_range(meta: dict[str, Any]) -> float | None:
    """``2**bits - 1`` of a raster file's stored values; None for float data or non-raster files."""
    if meta.get("format") not in ("png", "jpeg", "tiff", "bmp") or str(meta.get("dtype", "")).startswith("float"):
        return None
    if meta.get("palette_applied") and meta.get("format") == "tiff":
        return 65535.0  # tifffile expands a palette to its 16-bit colormap units
    bits = int(meta.get("bit_depth") or 8)
    return float(2**bits - 1)


def _to_unit(gray: np.ndarray, meta: dict[str, Any], preset: DatasetPreset, path: Path) -> np.ndarray | None:
    """Grey values in the file's units -> [0, 1] as the preset says; None for a constant item."""
    if preset.intensity == "window":
        if meta.get("color") not in (None, "GRAY"):
            raise ImageReadError(path, f"is a colour image; the '{preset.name}' preset needs grey CT in HU.")
        return CTWindow(preset.window, clip=True, dtype=np.float64)(gray)
    if preset.intensity == "bit_depth":
        top = _full_range(meta)
        if top is not None:
            return np.clip(gray / top, 0.0, 1.0)
    lo, hi = float(gray.min()), float(gray.max())
    if not hi > lo:
        return None
    return MinMaxNormalize(dtype=np.float64)(gray, mapping=(lo, hi))  # the range found above, not again


def _convert(path: DatasetItem, group: str, preset: DatasetPreset, skip_bad_slices: bool = False) -> list[DatasetImage]:
    """Read one item and cut it into 2-D [0, 1] images; [] for a skipped modality or a blank item. A DICOM series
    with ``skip_bad_slices`` is read without its broken slices (each logged)."""
    try:
        image = read_image(path, skip_bad_slices=skip_bad_slices)
    except FileNotFoundError as err:
        raise ImageReadError(path, "no such file or folder.") from err
    evidence = label_map_evidence(image)
    if evidence is not None:  # an nnU-Net folder holds labelsTr/ beside imagesTr/
        logger.warning("skipping '%s': it is a label map or mask (%s), not an image.", path, evidence)
        return []
    modality = image.meta.get("modality")
    if preset.modalities is not None and modality and modality not in preset.modalities:
        wanted = ", ".join(preset.modalities)
        logger.info("skipping '%s': modality %s; the '%s' preset takes %s.", path, modality, preset.name, wanted)
        return []
    channels = int(image.array.shape[0])
    if channels > 1 and image.meta.get("color") != "RGB":  # protocol_gray would mix them as if red, green, blue
        raise ImageReadError(
            path,
            f"has {channels} channels that are not RGB colour (the volumes of a 4-D file?); training takes grey or "
            "RGB images and 3-D volumes: save each volume as a file of its own.",
        )
    gray = protocol_gray(image.array, path)
    if gray.ndim not in (2, 3):
        raise ImageReadError(path, f"has {gray.ndim} spatial dimensions; expected a 2-D image or a 3-D volume.")
    unit = _to_unit(gray, image.meta, preset, path)
    if unit is None:
        logger.warning("skipping '%s': the image is constant.", path)
        return []
    planes = [(None, unit)] if unit.ndim == 2 else [(k, unit[..., k]) for k in range(unit.shape[-1])]
    out = [
        DatasetImage(np.ascontiguousarray(plane, dtype=np.float32)[None], str(path), group, index)
        for index, plane in planes
        if float(plane.std()) >= CONSTANT_STD
    ]
    if not out:
        logger.warning("skipping '%s': every slice is nearly constant (std < %g).", path, CONSTANT_STD)
    return out


# ----------------------------------------------------------------------------------------------
# splitting and loading


def _group_key(item: DatasetItem, root: Path, preset: DatasetPreset) -> str:
    """The split unit of ``item``: its patient folder (``lung_ct``), the series of a series among others in a folder
    or of a DICOM image listed as a file of its own (its folder and SeriesInstanceUID, so that a series stays on one
    side of the split), else the item itself."""
    if preset.group == "patient":
        try:
            parts = item_path(item).relative_to(root).parts
        except ValueError:
            parts = ()
        if len(parts) >= 2 or (len(parts) == 1 and isinstance(item, Path) and item.is_dir()):
            return parts[0]
    if isinstance(item, SeriesInFolder):
        return f"{item.folder}{os.sep}series {item.series_uid}"
    series = dicom_series_uid(item)
    return str(item) if series is None else f"{item.parent}{os.sep}series {series}"


def _seeded_split(
    items: Sequence[DatasetItem], groups: dict[DatasetItem, str], val_fraction: float, seed: int
) -> tuple[list[DatasetItem], list[DatasetItem]]:
    """``(train, val)``: ``val_fraction`` of the split units of ``items`` (at least one where there are two or more),
    drawn by a seeded shuffle of their sorted names."""
    names = sorted(set(groups[i] for i in items))
    n_val = 0
    if len(names) >= 2 and val_fraction > 0:
        n_val = min(max(1, round(val_fraction * len(names))), len(names) - 1)
    order = np.random.default_rng(seed).permutation(len(names))
    val_groups = {names[k] for k in order[:n_val]}
    return [i for i in items if groups[i] not in val_groups], [i for i in items if groups[i] in val_groups]


def _split_folder(root: Path, preset: DatasetPreset, split: str) -> Path | None:
    """The preset's folder of ``split`` in ``root``, or None when ``root`` lacks it or the train / val pair.

    train: its train folder (DRIVE's ``training``); val: its validation folder (``val``, ``validation``; DRIVE has
    none, and its ``test`` stands in); test: ``test``.
    """
    if preset.split_dirs is None:
        return None
    children = {p.name.lower(): p for p in root.iterdir() if p.is_dir()}
    train = next((children[n] for n in preset.split_dirs[0] if n in children), None)
    val = next((children[n] for n in preset.split_dirs[1] if n in children), None)
    if train is None or val is None:
        return None
    return {"train": train, "val": val, "test": children.get("test")}[split]


def _split_dir_items(
    root: Path, items: list[DatasetItem], preset: DatasetPreset, split: str
) -> list[DatasetItem] | None:
    """Items under the preset's folder of ``split`` (:func:`_split_folder`), or None when ``root`` has none."""
    chosen = _split_folder(root, preset, split)
    if chosen is None:
        return None
    return [i for i in items if chosen in item_path(i).parents or i == chosen]


def _trained_on(images: Sequence[DatasetItem], training: Sequence[DatasetItem]) -> list[DatasetItem]:
    """The images of ``images`` that are images of ``training`` too, as files (``./a.png`` is ``a.png``)."""
    trained = {os.path.realpath(path) for path in training}
    return [path for path in images if os.path.realpath(path) in trained]


def _check_disjoint(file: Path, training: Sequence[Path], validation: Sequence[Path]) -> None:
    """Refuse a datalist whose validation list repeats an image of its training list (the model would be chosen on
    an image it trained on)."""
    both = _trained_on(validation, training)
    if both:
        raise ValueError(
            f"datalist '{file}': {len(both)} image(s) of its 'validation' list are in its 'training' list too "
            f"('{both[0]}'); the model would be chosen on images it trained on. Keep each image in one list."
        )


def _warn_test_images_trained_on(
    file: Path, test: Sequence[DatasetItem], training: Sequence[DatasetItem], listed: bool
) -> None:
    """Warn where the images a datalist's evaluation scores (``test``: its ``test`` list where ``listed``, else every
    image it lists) hold images of its ``training`` list: their score is no test score (a validation list that does
    so is refused, :func:`_check_disjoint`; these are scored, and told)."""
    both = _trained_on(test, training)
    if both:
        scored = "of its 'test' list are" if listed else "scored (it has no 'test' list: every image it lists) are"
        logger.warning(
            "datalist '%s': %d of the %d image(s) %s in its 'training' list too ('%s'): a model trained on it has "
            "seen them, so their score is not independent.",
            file,
            len(both),
            len(test),
            scored,
            both[0],
        )


def _resolve_preset(preset: str | DatasetPreset) -> DatasetPreset:
    if isinstance(preset, DatasetPreset):
        return preset
    if preset not in PRESETS:
        raise ValueError(f"unknown data set preset {preset!r}; choose one of {sorted(PRESETS)}.")
    return PRESETS[preset]


def _subsample(images: list[DatasetImage], max_images: int | None) -> list[DatasetImage]:
    if max_images is None or len(images) <= max_images:
        return images
    keep = np.unique(np.linspace(0, len(images) - 1, max_images).round().astype(int))
    return [images[k] for k in keep]


@dataclass
class _Split:
    """The items of one split of a data set, with the split units of its items (:func:`_group_key`)."""

    root: Path  # what item names are relative to: the data set's folder, or its datalist's folder
    items: list[DatasetItem]  # the split asked for
    groups: dict[DatasetItem, str]


def _item_name(item: DatasetItem, root: Path) -> str:
    """How a split record names ``item``: its path relative to ``root``, with forward slashes; a series among others
    in a folder by its folder and SeriesInstanceUID (``flat/series_1.2.840...``), not its name there, which a series
    added to the folder with the same number and description changes."""
    if isinstance(item, SeriesInFolder):
        return Path(os.path.relpath(item.folder, root), f"series_{item.series_uid}").as_posix()
    return Path(os.path.relpath(item, root)).as_posix()


def _recorded_split(
    root: Path,
    train: list[DatasetItem],
    val: list[DatasetItem],
    groups: dict[DatasetItem, str],
    val_items: Sequence[str],
    shuffled: bool,
) -> tuple[list[DatasetItem], list[DatasetItem]]:
    """``(train, val)`` with the validation split a run recorded (``val_items``, names relative to ``root``): every
    item of a recorded item's split unit is validated on (a new slice of a held-out series or patient too); of a
    shuffled split every other item, new ones too, is trained on, of a split the data set brings (DRIVE's folders, a
    datalist's ``validation`` list) its training items.

    Raises:
        ValueError: a recorded item that the data set no longer holds, naming it.
    """
    everything = list(dict.fromkeys([*train, *val]))
    by_name = {_item_name(item, root): item for item in everything}
    by_name.update(_series_of_recorded_slices(root, [name for name in val_items if name not in by_name], everything))
    gone = [name for name in val_items if name not in by_name]
    if gone:
        raise ValueError(
            f"{len(gone)} of the {len(val_items)} validation item(s) this run recorded in its {VALIDATION_SPLIT_FILE} "
            f"are no longer in '{root}' ('{gone[0]}'): a run keeps its validation split, so that model.pt and "
            "metrics.csv compare scores on the same images. Put the files back, or start a new run (a new "
            "--output_dir; --init_weights takes this run's weights)."
        )
    held_out = {groups[by_name[name]] for name in val_items}
    left_out = [item for item in val if groups[item] not in held_out]
    if left_out and not shuffled:
        logger.warning(
            "%d item(s) of the data set's validation split are not in this run's recorded one ('%s', ...): left out "
            "of training and validation.",
            len(left_out),
            _item_name(left_out[0], root),
        )
    trained = [item for item in (everything if shuffled else train) if groups[item] not in held_out]
    return trained, [item for item in everything if groups[item] in held_out]


def _series_of_recorded_slices(
    root: Path, names: Sequence[str], items: Sequence[DatasetItem]
) -> dict[str, DatasetItem]:
    """The recorded names among ``names`` that are slices of a series now read whole, a
    :class:`~monai_rmisr.io.series_folders.SeriesInFolder` of ``items``, each mapped to it: a run begun with package
    0.2.8 or earlier recorded a flat folder's slices one by one, and is resumed on the same split."""
    stacks = {(item.folder, item.series_uid): item for item in items if isinstance(item, SeriesInFolder)}
    found: dict[str, DatasetItem] = {}
    for name in names if stacks else ():
        path = root / name
        stack = stacks.get((path.parent, dicom_series_uid(path)))
        if stack is not None:
            found[name] = stack
    return found


def _split(
    dataset_dir: str | os.PathLike[str],
    spec: DatasetPreset,
    split: str,
    val_fraction: float,
    seed: int,
    val_items: Sequence[str] | None,
) -> _Split:
    """The items of ``split`` of a data set (see :func:`dataset_images`), before any is read."""
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}.")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}.")
    if not str(dataset_dir).strip():  # Path("") is the current folder: an unset shell variable would train on it
        raise ValueError("--dataset_dir is empty; give the folder of your images (or the datalist JSON file).")
    root = Path(dataset_dir)
    own: tuple[list[DatasetItem], list[DatasetItem]] | None = None  # the data set's own train / val split
    if spec.name == "datalist":
        file = datalist_file(root)
        lists = datalist_lists(file)
        root = file.parent
        if split == "test":  # its test list, else every image it lists
            if lists.get("test") == []:  # scoring every image instead would score the training images as "test"
                raise ValueError(
                    f"datalist '{file}' has an empty 'test' list: list the images to score there, or remove the key "
                    "to score every image of its lists."
                )
            keys = ["test"] if "test" in lists else [key for key in ("training", "validation") if lists.get(key)]
            loaded = {key: load_datalist(file, key=key) for key in keys or ["training"]}
            items = list(dict.fromkeys(path for paths in loaded.values() for path in paths))
            trained = loaded.get("training") or (load_datalist(file, key="training") if lists.get("training") else [])
            _warn_test_images_trained_on(file, items, trained, listed=keys == ["test"])
        elif "validation" in lists:
            own = load_datalist(file, key="training"), load_datalist(file, key="validation")
            _check_disjoint(file, *own)
            items = [*own[0], *own[1]]
        else:
            items = load_datalist(file, key="training")
        _check_no_outputs_listed(file, items)
    else:
        items = scan_folder(root, spec.extensions, recursive=True, series=True)
        if spec.ignore_annotations:
            items = [i for i in items if not is_annotation(item_path(i), root)]
        items = _without_our_outputs(root, items)
        if split == "test":  # the data set's own test folder (DRIVE's test/), else all
            chosen = _split_dir_items(root, items, spec, "test")
            if chosen and _split_folder(root, spec, "val") == _split_folder(root, spec, "test"):
                logger.warning(
                    "'%s' has no val/ folder: training chose its model on test/ (validation), so a score on test/ "
                    "is not independent of that choice; move some training images into a val/ folder for one that is.",
                    dataset_dir,
                )
            items = chosen if chosen else items
        elif _split_folder(root, spec, "val") is not None:
            own = _split_dir_items(root, items, spec, "train") or [], _split_dir_items(root, items, spec, "val") or []
            items = [*own[0], *own[1]]
    groups = {item: _group_key(item, root, spec) for item in items}
    if split == "test":
        return _Split(root, items, groups)
    train, val = own if own is not None else _seeded_split(items, groups, val_fraction, seed)
    if val_items is not None:
        train, val = _recorded_split(root, train, val, groups, val_items, shuffled=own is None)
    return _Split(root, train if split == "train" else val, groups)


#: The outputs :func:`_without_our_outputs` has named, per folder: each is said once per process.
_SAID_OUTPUTS: set[tuple[Path, tuple[DatasetItem, ...]]] = set()


def _our_outputs(root: Path, items: Sequence[DatasetItem]) -> tuple[list[DatasetItem], str]:
    """The items that are monai-rmisr's own outputs (:func:`~monai_rmisr.io.provenance.made_by_monai_rmisr`): a
    super-resolved image is no high-resolution truth to train or score on; and the first few named, relative to
    ``root`` where they lie under it."""
    ours = [item for item in items if made_by_monai_rmisr(item)]
    places = [item_path(item) for item in ours[:3]]
    named = ", ".join(f"'{place.relative_to(root) if root in place.parents else place}'" for place in places)
    return ours, named + (", ..." if len(ours) > 3 else "")


def _without_our_outputs(root: Path, items: list[DatasetItem]) -> list[DatasetItem]:
    """``items`` without monai-rmisr's own outputs (:func:`_our_outputs`), which a user who wrote results beside the
    data set's images would otherwise train on. Logged, naming the first few."""
    ours, named = _our_outputs(root, items)
    if ours and (root, tuple(ours)) not in _SAID_OUTPUTS:  # once a run, not once per split read
        _SAID_OUTPUTS.add((root, tuple(ours)))
        logger.warning(
            "leaving out %d output(s) of monai-rmisr under '%s' (a super-resolved image is no truth to learn from): %s",
            len(ours),
            root,
            named,
        )
    left_out = set(ours)
    return [item for item in items if item not in left_out]


def _check_no_outputs_listed(file: Path, items: list[Path]) -> None:
    """Refuse a datalist that lists monai-rmisr's own outputs (:func:`_our_outputs`). A folder's are left out with a
    warning (:func:`_without_our_outputs`: results written beside the images); a list names its files one by one, so
    it is told which to remove instead."""
    ours, named = _our_outputs(file.parent, items)
    if ours:
        raise ValueError(
            f"datalist '{file}' lists {len(ours)} output(s) of monai-rmisr (a super-resolved image is no truth to "
            f"learn from or score on): {named}; remove them from its lists."
        )


def validation_items(
    dataset_dir: str | os.PathLike[str],
    preset: str | DatasetPreset = "folder",
    val_fraction: float = 0.1,
    seed: int = 0,
    recorded: Sequence[str] | None = None,
) -> list[str]:
    """The items (files, DICOM series folders) of a data set's validation split, by their paths relative to its
    folder (a datalist's: the folder of its file), before any is read: what a training run records in its output
    folder (:func:`record_validation_items`) and hands to :func:`dataset_images` as ``val_items``.

    Args:
        dataset_dir, preset, val_fraction, seed: as :func:`dataset_images` takes them.
        recorded: the validation items a run recorded when it began (:func:`recorded_validation_items`): every item
            of their split units (a series, a patient) is returned, new ones too; None: the split is made afresh.

    Raises:
        ValueError: a recorded item that the data set no longer holds, naming it; see :func:`dataset_images`.
    """
    chosen = _split(dataset_dir, _resolve_preset(preset), "val", val_fraction, seed, recorded)
    return [_item_name(item, chosen.root) for item in chosen.items]


#: The file, in a training run's output folder, that records the validation split of its user data set.
VALIDATION_SPLIT_FILE = "validation_split.json"


def record_validation_items(
    output_dir: str | os.PathLike[str], items: Sequence[str], dataset_dir: str | os.PathLike[str], preset: str
) -> Path:
    """Write ``items`` (:func:`validation_items`) into ``output_dir``'s :data:`VALIDATION_SPLIT_FILE` (whole or not
    at all: written beside it, then renamed), with the data set and preset for the reader. Returns its path."""
    path = Path(output_dir) / VALIDATION_SPLIT_FILE
    record = {"dataset_dir": os.fspath(dataset_dir), "dataset_preset": str(preset), "validation": list(items)}
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(partial, path)
    return path


def recorded_validation_items(
    output_dir: str | os.PathLike[str],
    dataset_dir: str | os.PathLike[str] | None = None,
    preset: str | DatasetPreset = "folder",
) -> list[str] | None:
    """The validation items a run recorded in ``output_dir`` (:func:`record_validation_items`), checked against the
    data set it is resumed on: ``dataset_dir`` (None: the package's corpus) and ``preset``. None when it recorded
    none: a corpus run; a run begun before 2026-12-07, or a branch whose checkpoint alone was copied (with a warning:
    the split is then made afresh from the files found now).

    Raises:
        ValueError: the file is no such record, or the run is resumed on another data set or preset than it recorded
            (it went on without a word on the corpus, or on another folder, validating on another set and replacing
            ``model.pt`` on its score), naming both.
    """
    path = Path(output_dir) / VALIDATION_SPLIT_FILE
    if not path.is_file():
        if dataset_dir is not None:
            logger.warning(
                "'%s' holds no %s: the validation split is made afresh from the files found now (if files were "
                "added since the run began, its validation images may differ from the run's), and recorded.",
                output_dir,
                VALIDATION_SPLIT_FILE,
            )
        return None
    try:
        record = json.loads(path.read_text())
        items = record["validation"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        items = None
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ValueError(f"'{path}' is not a validation split record ({{\"validation\": [paths]}}): move it away.")
    began = Path(str(record.get("dataset_dir", ""))), str(record.get("dataset_preset", "folder"))
    given_preset = _resolve_preset(preset).name
    same_folder = dataset_dir is not None and Path(dataset_dir).resolve() == began[0].resolve()
    if not same_folder or given_preset != began[1]:
        given = "the package's corpus (no --dataset_dir)" if dataset_dir is None else f"'{dataset_dir}'"
        raise ValueError(
            f"this run began on --dataset_dir '{began[0]}' with --dataset_preset {began[1]} ({path}); resumed on "
            f"{given} with --dataset_preset {given_preset} it would train and validate on other images: give the "
            "run's, or branch (a new --output_dir with --init_weights of its checkpoint)."
        )
    return items


def validation_split(
    dataset_dir: str | os.PathLike[str] | None,
    preset: str | DatasetPreset,
    output_dir: str | os.PathLike[str],
    resuming: bool,
) -> list[str] | None:
    """The validation items of a training run on ``dataset_dir`` (None: the package's corpus, whose split is by name):
    :func:`validation_items`, those the run recorded (:func:`recorded_validation_items`) when ``resuming``. The
    bundle's ``val_split``.

    Raises:
        ValueError: as :func:`recorded_validation_items`.
    """
    recorded = recorded_validation_items(output_dir, dataset_dir, preset) if resuming else None
    if dataset_dir is None:
        return None
    return validation_items(dataset_dir, preset, recorded=recorded)


def load_dataset(
    dataset_dir: str | os.PathLike[str],
    preset: str | DatasetPreset = "folder",
    split: str = "train",
    val_fraction: float = 0.1,
    skip_bad: bool = False,
    seed: int = 0,
    max_images: int | None = None,
    min_size: int | None = None,
    val_items: Sequence[str] | None = None,
) -> list[DatasetImage]:
    """:func:`dataset_images` with each image's source file, split group and slice index.

    Args and Raises: see :func:`dataset_images`.
    """
    spec = _resolve_preset(preset)
    if max_images is not None and (isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 1):
        raise ValueError(f"max_images must be a whole number >= 1 or None (all), got {max_images!r}.")
    chosen = _split(dataset_dir, spec, split, val_fraction, seed, val_items)
    root, items, groups = chosen.root, chosen.items, chosen.groups
    if split != "train" and items:  # which files are held out (to leave them out of a later evaluation) or scored
        names = [os.path.relpath(item_path(item), root) for item in items]
        shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        logger.info("%s split of '%s': %d file(s) / series: %s", split, dataset_dir, len(names), shown)
    images: list[DatasetImage] = []
    for item in items:
        try:
            images.extend(_convert(item, groups[item], spec, skip_bad_slices=skip_bad))
        except BrokenSliceError as err:  # without skip_bad: named in this run's words, not rmisr upscale's
            raise ImageReadError(
                err.path,
                f"{err.slice_reason}. It is a slice of the series '{err.series}', which is refused as a whole; "
                "--skip_bad true reads the series without it.",
            ) from err
        except ImageReadError as err:
            if not skip_bad:
                hint = "--skip_bad true leaves it out of the run, with a warning"
                raise ImageReadError(err.path, f"{err.reason.rstrip('.')}; {hint}.") from err
            logger.warning("skipping bad image '%s': %s", err.path, err.reason)
    if min_size is not None:
        large_enough = []
        for image in images:
            height, width = image.array.shape[1:]
            if min(height, width) >= min_size:
                large_enough.append(image)
                continue
            logger.warning(
                "leaving '%s' (%dx%d) out of the %s split: smaller than the %dx%d pixels it needs to be scored",
                image.source,
                width,
                height,
                split,
                min_size,
                min_size,
            )
        images = large_enough
    if not images:
        hint = ""
        own_list = spec.name == "datalist" and "validation" in datalist_lists(datalist_file(Path(dataset_dir)))
        if split == "val" and not items and own_list:
            hint = " Its 'validation' list is empty: list one image or more there (never one of its 'training' list)."
        elif split == "val" and not items:
            hint = (
                " The validation split takes whole files / series (a volume is never split by slice), about "
                f"{val_fraction:.0%} of them and at least one where there are two or more: give two or more, or a "
                "datalist JSON with a 'validation' list (--dataset_preset datalist)."
            )
        raise ValueError(
            f"no {split} images in '{dataset_dir}' with the '{spec.name}' preset ({spec.description}); "
            f"{len(items)} files / series were selected for this split.{hint}"
        )
    return _subsample(images, max_images)


def dataset_images(
    dataset_dir: str | os.PathLike[str],
    preset: str | DatasetPreset = "folder",
    split: str = "train",
    val_fraction: float = 0.1,
    skip_bad: bool = False,
    seed: int = 0,
    max_images: int | None = None,
    min_size: int | None = None,
    val_items: Sequence[str] | None = None,
) -> list[np.ndarray]:
    """The ``(1, H, W)`` float32 grey images in ``[0, 1]`` of one split of a user data set.

    The bundle calls this for ``train#images`` and ``validate#images`` when ``dataset_dir`` is
    set. See the module docstring for the presets, intensity mappings and the split rules.

    Args:
        dataset_dir: the data set's root folder (for ``"datalist"``: the JSON file, or a folder
            holding ``dataset.json`` / ``datalist.json``).
        preset: a key of :data:`~monai_rmisr.data.presets.PRESETS` (``"folder"``, ``"lung_ct"``, ``"dermoscopy"``,
            ``"retina"``, ``"datalist"``) or a custom :class:`DatasetPreset`.
        split: ``"train"``, ``"val"`` or ``"test"`` (what ``evaluate.json`` scores: a datalist's ``test`` list, else
            every image it lists; DRIVE's ``test`` folder with the ``retina`` preset; else every image).
        val_fraction: share of the files (patients for ``lung_ct``) held out for ``"val"``, at
            least one when there are two or more and ``val_fraction > 0``; unused when the data
            set brings its own split (DRIVE's ``training`` / ``test``, a datalist's
            ``validation``).
        skip_bad: if False (default) the first unreadable file raises; if True it is logged with
            ``logging.warning`` and left out; a DICOM series is read without its broken slices (each logged).
        seed: seed of the split's shuffle.
        max_images: keep at most this many images (a whole number >= 1), evenly spaced over the sorted list (e.g.
            a quick validation set spread over all patients); default (None) all.
        min_size: leave out (with a warning naming the file) images whose smaller side is below this many
            pixels (a validation image too small to score at the run's scale:
            :func:`~monai_rmisr.metrics.protocol.min_scored_size`); default none.
        val_items: the validation split as a run recorded it when it began (:func:`validation_items`: paths
            relative to the data set's folder, or to its datalist's): every item of their split units (a DICOM series,
            a ``lung_ct`` patient) is validated on, and every other item trained on (files added since, too; with a
            split of the data set's own, DRIVE's folders or a datalist's ``validation`` list, its training items);
            None (default): the split is made as above.

    Returns:
        The images in the order of the sorted scan (or of the datalist), slices in order.

    Raises:
        ImageReadError: a file cannot be read (unless ``skip_bad``); the message names it.
        ValueError: unknown preset or split, a ``max_images`` that is no whole number >= 1, an item of
            ``val_items`` the data set no longer holds, or no image in the split (the message names the folder and
            the preset).
        FileNotFoundError, NotADirectoryError: ``dataset_dir`` is missing or not a folder.
    """
    chosen = load_dataset(dataset_dir, preset, split, val_fraction, skip_bad, seed, max_images, min_size, val_items)
    return [image.array for image in chosen]
