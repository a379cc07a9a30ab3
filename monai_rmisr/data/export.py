"""Write the embedded training corpus to a folder of NIfTI files with a MONAI JSON datalist.

The bundle reads the corpus from the installed ``pydicom``, ``pydicom-data`` and
``scikit-image`` packages. A GPU node often has none of them (and no way to install them), so
:func:`export_corpus` writes exactly the arrays the bundle's default ``train`` / ``validate``
expressions use, one 2-D float32 NIfTI file per image, plus ``dataset.json`` with a
``training`` and a ``validation`` list. Training from it::

    python -m monai.bundle run training --config_file bundles/rmisr/configs/train.json \\
        --dataset_dir DIR --dataset_preset datalist

sees the same images as ``--natural_images true`` (or ``false`` with ``natural=False``), and
with ``extra=True`` also ``--extra_images true``, on a machine with the packages. The export is
checked before it is kept: every file is read back through the ``datalist`` preset and must
equal the corpus array bit for bit.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np

from .corpus import CorpusImage, load_corpus, load_sources
from .datasets import DEFAULT_VAL_NAMES, name_starts_with, validation_sources, validation_synthetic_images
from .user_datasets import dataset_images

__all__ = ["DEFAULT_VAL_NAMES", "export_corpus"]


def _file_name(index: int, name: str) -> str:
    return f"{index:03d}_{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.nii.gz"


def export_corpus(
    output_dir: str | os.PathLike[str],
    natural: bool = True,
    extra: bool = False,
    val_names: Sequence[str] = DEFAULT_VAL_NAMES,
    cache_dir: str | os.PathLike[str] | None = None,
    ultrasound_frames: bool = False,
    val_synthetic: int = 1,
    val_aperture: int = 0,
    val_ct_phantoms: int = 0,
) -> Path:
    """Write the corpus TRAIN split (and optionally NATURAL, EXTRA) as NIfTI files and ``dataset.json``.

    ``training`` holds the TRAIN images whose name does not start with one of ``val_names``,
    then (``natural=True``) the NATURAL images, then (``extra=True``) the EXTRA images, then
    (``ultrasound_frames=True``) the FRAMES images not held out; ``validation`` holds what the
    bundle's validation sees on the corpus (:func:`~monai_rmisr.data.datasets.validation_images`):
    the TRAIN images named by ``val_names`` (ultrasound as full frames), ``val_synthetic``
    procedural display frames, ``val_aperture`` procedural fields of view and ``val_ct_phantoms`` procedural CT
    slices. The TEST split is never written.

    Args:
        output_dir: a folder that does not exist yet (or is empty); it is written whole or not
            at all (the files go to a temporary folder beside it first).
        natural: add the NATURAL split to ``training`` (the bundle's ``natural_images``).
        extra: add the EXTRA split to ``training`` (the bundle's ``extra_images``; needs
            PyWavelets, scikit-learn and matplotlib).
        val_names: name prefixes of the validation images.
        ultrasound_frames: add the FRAMES split to ``training`` (the bundle's ``ultrasound_frames``).
        val_synthetic: procedural validation display frames (the bundle's ``val_synthetic_images``).
        val_aperture: procedural validation fields of view (the bundle's ``val_aperture_images``).
        val_ct_phantoms: procedural validation CT slices (the bundle's ``val_ct_phantom_images``).
        cache_dir: the corpus cache, see :func:`~monai_rmisr.data.corpus.corpus_cache_dir`.

    Returns:
        the path of ``dataset.json``.

    Raises:
        FileExistsError: ``output_dir`` exists and is not an empty folder.
        ValueError: ``val_names`` selects no TRAIN image, or all of them.
        RuntimeError: an image did not read back identically (nothing is kept).
    """
    target = Path(output_dir)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise FileExistsError(f"'{target}' already exists and is not an empty folder; choose a new one.")
    train = load_corpus("train", cache_dir=cache_dir)
    is_val = [name_starts_with(img.name, val_names) for img in train]
    if not any(is_val) or all(is_val):
        raise ValueError(
            f"val_names {list(val_names)} must select some but not all TRAIN images; "
            f"they are {[img.name for img in train]}."
        )
    lists = {
        "training": [img for img, v in zip(train, is_val, strict=True) if not v]
        + (load_corpus("natural", cache_dir=cache_dir) if natural else [])
        + (load_corpus("extra", cache_dir=cache_dir) if extra else [])
        + [
            img
            for img in (load_corpus("frames", cache_dir=cache_dir) if ultrasound_frames else [])
            if not name_starts_with(img.name, val_names)
        ],
        "validation": load_sources(validation_sources(val_names), cache_dir=cache_dir)
        + [
            CorpusImage(f"display_graphics_{k}", "synthetic", "monai_rmisr.data.synthetic", array)
            for k, array in enumerate(validation_synthetic_images(val_synthetic))
        ]
        + [
            CorpusImage(f"aperture_{k}", "synthetic", "monai_rmisr.data.synthetic", array)
            for k, array in enumerate(validation_synthetic_images(0, val_aperture))
        ]
        + [
            CorpusImage(f"ct_phantom_{k}", "synthetic", "monai_rmisr.data.synthetic", array)
            for k, array in enumerate(validation_synthetic_images(0, 0, val_ct_phantoms))
        ],
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        datalist: dict[str, list[dict[str, str]]] = {}
        for key, images in lists.items():
            (staging / key).mkdir()
            datalist[key] = []
            for index, img in enumerate(images):
                relative = f"{key}/{_file_name(index, img.name)}"
                nib.save(nib.Nifti1Image(np.ascontiguousarray(img.array[0]), np.eye(4)), staging / relative)
                datalist[key].append({"image": relative, "name": img.name, "modality": img.modality})
        (staging / "dataset.json").write_text(json.dumps(datalist, indent=1) + "\n")
        for key, split in (("training", "train"), ("validation", "val")):
            back = dataset_images(staging, "datalist", split)
            for img, array in zip(lists[key], back, strict=True):
                if not np.array_equal(img.array, array):
                    raise RuntimeError(f"corpus image '{img.name}' did not read back identically from NIfTI.")
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target / "dataset.json"
