"""Image lists and validation pairs for the training workflow (used by the bundle configs)."""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping, Sequence

import numpy as np

from ..config import config_count, config_whole_numbers
from ..metrics.protocol import fractional_pair, min_scored_size, protocol_pair
from .corpus import CorpusImage, CorpusSource, load_corpus, load_sources, split_sources
from .synthetic import aperture_images, ct_phantom_images, display_graphics_image, synthetic_images
from .user_datasets import dataset_images

__all__ = [
    "DEFAULT_VAL_NAMES",
    "corpus_images",
    "evaluation_images",
    "fractional_pair",
    "training_images",
    "validation_images",
    "validation_pairs",
    "validation_sources",
    "validation_synthetic_images",
]

#: Side of the procedural validation images. Training draws its procedural images at 256x256, and the
#: size is part of every procedural image's seed, so a validation image is never a training image.
VALIDATION_SYNTHETIC_SIZE = 384


def _check_image_count(value: object, setting: str) -> None:
    """A count of procedural images: a whole number >= 0 (bools refused), else ValueError naming ``--setting``."""
    config_whole_numbers(0, **{setting: value})


def name_starts_with(name: str, prefixes: Sequence[str]) -> bool:
    """How the bundle's ``val_names`` (and ``include`` / ``exclude`` below) pick corpus images:
    by name prefix, so ``"emri_small"`` matches all its frames ``emri_small#k``."""
    return any(name.startswith(prefix) for prefix in prefixes)


def corpus_images(
    split: str = "train",
    include: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    cache_dir: str | os.PathLike | None = None,
) -> list[np.ndarray]:
    """(1, H, W) float32 images in [0, 1] of the embedded corpus.

    Args:
        split: ``"train"`` or ``"test"`` (the development split of ``DATA.md``), or one of the
            optional training splits ``"natural"``, ``"extra"``, ``"frames"``.
        include: keep only images whose name starts with one of these (frames of a volume are
            named ``source#k``, so ``"emri_small"`` keeps all its frames).
        exclude: drop images whose name starts with one of these (e.g. the validation images).
        cache_dir: the corpus cache (default ``$MONAI_RMISR_CACHE`` or ``~/.cache/monai_rmisr``).
    """
    return [img.array for img in _corpus_selection(split, include, exclude, cache_dir)]


def _corpus_selection(
    split: str, include: Sequence[str] | None = None, exclude: Sequence[str] = (), cache_dir=None
) -> list[CorpusImage]:
    images = load_corpus(split, cache_dir=cache_dir)
    selected = [
        img
        for img in images
        if (include is None or name_starts_with(img.name, include)) and not name_starts_with(img.name, exclude)
    ]
    if not selected:
        raise ValueError(f"no {split} image of the corpus matches include={include} exclude={exclude}.")
    return selected


#: The corpus modalities ``modality_repeats`` may name (:attr:`~monai_rmisr.data.corpus.CorpusImage.modality`).
CORPUS_MODALITIES = ("CT", "MR", "CR", "US", "NM", "fundus", "histology", "natural")


def _check_modality_repeats(modality_repeats: Mapping[str, int] | None) -> dict[str, int]:
    """``--modality_repeats``: corpus modalities to whole numbers >= 1, else ValueError naming the setting."""
    if modality_repeats is None:
        return {}
    if not isinstance(modality_repeats, Mapping):
        raise ValueError(
            f"--modality_repeats must map modalities to repeats, e.g. {{'CT': 4}}, got {modality_repeats!r}."
        )
    unknown = sorted(set(modality_repeats) - set(CORPUS_MODALITIES))
    if unknown:
        raise ValueError(
            f"--modality_repeats names unknown modalities {unknown}; known: {', '.join(CORPUS_MODALITIES)}."
        )
    for modality, repeats in modality_repeats.items():
        if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
            raise ValueError(
                f"--modality_repeats: {modality} must repeat a whole number >= 1 of times, got {repeats!r}."
            )
    return dict(modality_repeats)


def training_images(
    dataset_dir: str | os.PathLike | None = None,
    dataset_preset: str = "folder",
    val_names: Sequence[str] = (),
    natural_images: bool = False,
    extra_images: bool = False,
    synthetic: int = 0,
    skip_bad: bool = False,
    seed: int = 0,
    ultrasound_frames: bool = False,
    synthetic_blur: float = 0.0,
    aperture: int = 0,
    modality_repeats: Mapping[str, int] | None = None,
    ct_phantoms: int = 0,
    val_items: Sequence[str] | None = None,
) -> list[np.ndarray]:
    """The bundle's ``train#images``: (1, H, W) float32 images in [0, 1].

    Args:
        dataset_dir: a user data set (:func:`~monai_rmisr.data.dataset_images`, its ``"train"``
            split); None: the corpus TRAIN split without the images named by ``val_names``.
        dataset_preset: the user data set's preset.
        val_names: corpus name prefixes held out for validation (with ``dataset_dir=None``).
        natural_images: add the corpus NATURAL split (scikit-image photographs and textures).
        extra_images: add the corpus EXTRA split.
        synthetic: add this many procedural images (:func:`~monai_rmisr.data.synthetic.synthetic_images`:
            scanner display graphics and dead leaves, 256x256).
        skip_bad: leave out unreadable files of a user data set (logged) instead of stopping.
        seed: seed of the procedural images.
        ultrasound_frames: add the corpus FRAMES split (the TRAIN ultrasound images uncropped: the
            vendor's text and graphics on black around the scan; on the corpus, those named by ``val_names`` stay
            out), to a user data set too.
        synthetic_blur: the procedural images' point-spread function, in pixels (0: pixel-exact edges;
            :func:`~monai_rmisr.data.synthetic.band_limited`).
        aperture: add this many procedural fields of view on black with soft rims
            (:func:`~monai_rmisr.data.synthetic.aperture_image`, 256x256, fundus-camera-like), seeded by ``seed``.
        modality_repeats: list each corpus image of these modalities (:data:`CORPUS_MODALITIES`) this many
            times, e.g. ``{"CT": 4}``: :class:`~monai_rmisr.data.patches.PairedPatchDataset` draws an image with
            a probability proportional to its area, so a repeated image gives that many times its share of
            patches (the same array, not a copy). A user data set (``dataset_dir``) has no modalities: refused.
        ct_phantoms: add this many procedural CT slices (:func:`~monai_rmisr.data.synthetic.ct_phantom_image`,
            512x512: heads and trunks in air, black outside the reconstruction circle), seeded by ``seed``.
        val_items: the user data set's validation items as the run recorded them
            (:func:`~monai_rmisr.data.user_datasets.validation_items`), left out of training; None: its own split.
    """
    _check_image_count(synthetic, "synthetic_images")
    _check_image_count(aperture, "aperture_images")
    _check_image_count(ct_phantoms, "ct_phantom_images")
    repeats = _check_modality_repeats(modality_repeats)
    if repeats and dataset_dir is not None:
        raise ValueError("--modality_repeats weighs the corpus's modalities; a user data set (--dataset_dir) has none.")
    user = (
        []
        if dataset_dir is None
        else dataset_images(dataset_dir, dataset_preset, "train", skip_bad=skip_bad, val_items=val_items)
    )
    corpus = _corpus_selection("train", exclude=val_names) if dataset_dir is None else []
    if natural_images:
        corpus += _corpus_selection("natural")
    if extra_images:
        corpus += _corpus_selection("extra")
    if ultrasound_frames:  # on the corpus, without its validation images' frames
        corpus += _corpus_selection("frames", exclude=val_names if dataset_dir is None else ())
    images = user + [img.array for img in corpus for _ in range(repeats.get(img.modality, 1))]
    procedural = synthetic_images(synthetic, seed=seed, blur_sigma=synthetic_blur)
    return images + procedural + aperture_images(aperture, seed=seed) + ct_phantom_images(ct_phantoms, seed=seed)


def validation_sources(val_names: Sequence[str]) -> list[CorpusSource]:
    """The corpus sources of the bundle's validation images: the TRAIN sources named by ``val_names``
    (held out of training), each cropped ultrasound source replaced by its full frame (the FRAMES
    split: scan sector, vendor text and graphics on black; the crop is part of it).

    Raises:
        ValueError: ``val_names`` names no TRAIN source.
    """
    full_frames = {source.name.removesuffix("_frame"): source for source in split_sources("frames")}
    held_out = [source for source in split_sources("train") if name_starts_with(source.name, val_names)]
    if not held_out:
        raise ValueError(f"no train image of the corpus matches val_names={list(val_names)}.")
    return [full_frames.get(source.name, source) for source in held_out]


def validation_synthetic_images(count: int, aperture: int = 0, ct_phantoms: int = 0) -> list[np.ndarray]:
    """``count`` procedural display frames, ``aperture`` procedural fields of view
    (:func:`~monai_rmisr.data.synthetic.aperture_image`) and ``ct_phantoms`` procedural CT slices
    (:func:`~monai_rmisr.data.synthetic.ct_phantom_image`) of ``VALIDATION_SYNTHETIC_SIZE`` pixels, (1, S, S) in
    [0, 1], in that order; image ``k`` of each kind is seeded ``k``, and the size is part of every procedural
    image's seed, so none is a training image (training draws 256x256 frames and fields of view, 512x512 slices)."""
    _check_image_count(count, "val_synthetic_images")
    _check_image_count(aperture, "val_aperture_images")
    _check_image_count(ct_phantoms, "val_ct_phantom_images")
    frames = [display_graphics_image(VALIDATION_SYNTHETIC_SIZE, seed=k) for k in range(count)]
    return (
        frames
        + aperture_images(aperture, VALIDATION_SYNTHETIC_SIZE)
        + ct_phantom_images(ct_phantoms, VALIDATION_SYNTHETIC_SIZE)
    )


#: The corpus's validation images, held out of its training images: ``bundles/rmisr/configs/train.json``'s
#: ``val_names``.
DEFAULT_VAL_NAMES: tuple[str, ...] = ("CT_small", "MR_small", "microaneurysms", "OBXXXX1A")


def validation_images(
    val_names: Sequence[str],
    synthetic: int | None = None,
    dataset_dir: str | os.PathLike | None = None,
    dataset_preset: str = "folder",
    skip_bad: bool = False,
    aperture: int = 0,
    ct_phantoms: int = 0,
    scales: float | Sequence[float] | None = None,
    max_images: int | str | None = None,
    val_items: Sequence[str] | None = None,
) -> list[np.ndarray]:
    """The bundle's ``validate#images``: (1, H, W) float32 images in [0, 1].

    On the corpus (``dataset_dir=None``): the images of :func:`validation_sources` and ``synthetic`` display
    frames (None: one), ``aperture`` fields of view and ``ct_phantoms`` CT slices of
    :func:`validation_synthetic_images`.
    Realistic LR is hardest at text, graphics and air edges, and a network that sharpens those may over-sharpen
    an optically soft rim on black (a fundus image's field of view); without such images validation is blind to
    them. The corpus's one validation CT slice (CT_small, 128x128) is nearly all tissue: it has no skull in air,
    the strongest edges a CT slice has; a procedural slice brings them. With
    ``dataset_dir``: the ``"val"`` split of that user data set (:func:`~monai_rmisr.data.dataset_images` with
    ``dataset_preset`` and ``skip_bad``; its items ``val_items`` where the run recorded them:
    :func:`~monai_rmisr.data.user_datasets.validation_items`), less (with a warning naming each) the images too
    small to be scored at any of ``scales`` (the run's scale or ``val_scales``;
    :func:`~monai_rmisr.metrics.protocol.min_scored_size`), at most ``max_images`` of them spread over the split
    (the bundle's ``val_max_images``: a whole number >= 1, its digits, or None or the word null for all, as
    :func:`~monai_rmisr.config.config_count` reads it), and the procedural images asked for (``synthetic`` None:
    none).

    Raises:
        ValueError: ``val_names`` other than :data:`DEFAULT_VAL_NAMES` (or none) with ``dataset_dir`` (they name
            corpus images; the user data set's validation images are its own split); ``max_images`` without
            ``dataset_dir`` (the corpus's validation images are few and named), or not a count (``2.5``, ``0``,
            ``abc``), naming ``--val_max_images``.
    """
    max_images = config_count(max_images, "val_max_images")
    if max_images is not None and dataset_dir is None:
        raise ValueError(
            f"--val_max_images {max_images} limits a --dataset_dir run's validation split; the corpus's validation "
            "images are named by --val_names."
        )
    if dataset_dir is not None:
        if tuple(val_names) not in ((), DEFAULT_VAL_NAMES):  # the bundle hands its default over either way
            raise ValueError(
                f"--val_names {list(val_names)} names corpus images, which a run on --dataset_dir does not validate "
                "on: its validation images are its data set's own (its validation split)."
            )
        min_size = validation_min_size(scales)
        user = dataset_images(
            dataset_dir,
            dataset_preset,
            "val",
            skip_bad=skip_bad,
            max_images=max_images,
            min_size=min_size,
            val_items=val_items,
        )
        return user + validation_synthetic_images(0 if synthetic is None else synthetic, aperture, ct_phantoms)
    procedural = validation_synthetic_images(1 if synthetic is None else synthetic, aperture, ct_phantoms)
    return [image.array for image in load_sources(validation_sources(val_names))] + procedural


def validation_min_size(scales: float | Sequence[float] | None) -> int | None:
    """The smallest side a validation image needs to be scored at every one of ``scales`` (the run's scale, or
    ``val_scales``): :func:`~monai_rmisr.metrics.protocol.min_scored_size`; None without scales."""
    listed = [] if scales is None else [scales] if isinstance(scales, numbers.Real) else list(scales)
    return max((min_scored_size(float(s)) for s in listed), default=None)


def evaluation_images(
    dataset_dir: str | os.PathLike | None = None,
    dataset_preset: str = "folder",
    skip_bad: bool = False,
    scales: float | Sequence[float] | None = None,
) -> list[np.ndarray]:
    """The images ``evaluate.json`` scores: the corpus TEST split, or the ``"test"`` split of a user data set
    (:func:`~monai_rmisr.data.dataset_images`: a datalist's ``test`` list, else every image it lists; a folder's
    every image, nothing held out) less those too small to be scored at ``scales`` (:func:`validation_min_size`;
    each left out with a warning naming it)."""
    if dataset_dir is None:
        return corpus_images("test")
    min_size = validation_min_size(scales)
    return dataset_images(dataset_dir, dataset_preset, "test", skip_bad=skip_bad, min_size=min_size)


def validation_pairs(
    images: Sequence[np.ndarray], scale: float | Sequence[float], clip_lr: bool = True
) -> list[dict[str, np.ndarray]]:
    """``[{"hr": (C, H, W), "lr": (C, h, w)}]``: each image cropped to fit ``scale`` and degraded
    with the MATLAB-bicubic operator, the LR clipped to [0, 1]: the realistic benchmark protocol
    (:func:`~monai_rmisr.metrics.protocol.protocol_pair`; ``clip_lr=False``: the overshoot kept).

    A sequence of scales (an arbitrary-scale network validated at several, the bundle's ``val_scales``)
    gives every image at every scale, scale by scale, each pair with its ``"scale"`` (a float64 scalar, so 1.1 stays
    1.1) for :class:`~monai_rmisr.engines.SREvaluator` and :class:`~monai_rmisr.engines.SRImageQuality`.
    """
    if isinstance(scale, numbers.Real):
        return [_validation_pair(image, float(scale), clip_lr) for image in images]
    if len(scale) == 0:
        raise ValueError("val_scales needs at least one scale.")
    return [{**_validation_pair(image, float(s), clip_lr), "scale": np.float64(s)} for s in scale for image in images]


def _validation_pair(image: np.ndarray, scale: float, clip_lr: bool) -> dict[str, np.ndarray]:
    hr, lr = protocol_pair(image, scale, clip_lr=clip_lr)
    return {"hr": np.asarray(hr, dtype=np.float32), "lr": np.asarray(lr, dtype=np.float32)}
