"""Data: the embedded default corpus (real medical images shipped in installed packages) and the
evaluation protocol (HR/LR pairs by MATLAB bicubic degradation, bicubic baseline)."""

from .corpus import (
    CACHE_ENV,
    CORPUS_VERSION,
    EXTRA_SOURCES,
    FRAME_SOURCES,
    NATURAL_SOURCES,
    SAME_IMAGE_FILES,
    TEST_SOURCES,
    TRAIN_SOURCES,
    CorpusImage,
    CorpusSource,
    corpus_cache_dir,
    corpus_datalist,
    load_corpus,
    load_sources,
    protocol_gray,
)
from .datasets import corpus_images, training_images, validation_images, validation_pairs
from .patches import EpochSampler, PairedPatchDataset
from .protocol import (
    BICUBIC_REFERENCE,
    BICUBIC_REFERENCE_UNCLIPPED,
    bicubic_baseline,
    fractional_pair,
    make_pair,
    mean_scores,
    modcrop,
    protocol_pair,
)
from .user_datasets import PRESETS, dataset_images, load_datalist, scan_folder

__all__ = [
    "BICUBIC_REFERENCE",
    "BICUBIC_REFERENCE_UNCLIPPED",
    "CACHE_ENV",
    "CORPUS_VERSION",
    "EXTRA_SOURCES",
    "FRAME_SOURCES",
    "NATURAL_SOURCES",
    "PRESETS",
    "SAME_IMAGE_FILES",
    "TEST_SOURCES",
    "TRAIN_SOURCES",
    "CorpusImage",
    "CorpusSource",
    "EpochSampler",
    "PairedPatchDataset",
    "bicubic_baseline",
    "corpus_cache_dir",
    "corpus_datalist",
    "corpus_images",
    "dataset_images",
    "fractional_pair",
    "load_corpus",
    "load_datalist",
    "load_sources",
    "make_pair",
    "mean_scores",
    "modcrop",
    "protocol_gray",
    "protocol_pair",
    "scan_folder",
    "training_images",
    "validation_images",
    "validation_pairs",
]
