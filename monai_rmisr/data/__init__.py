"""Data: the embedded default corpus (real medical images shipped in installed packages), users' data
sets, training patches and procedural images. The evaluation protocol (HR/LR pairs, scores, the bicubic
baseline) is :mod:`monai_rmisr.metrics.protocol`."""

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
from .folder_scan import load_datalist, scan_folder
from .patches import EpochSampler, PairedPatchDataset
from .presets import PRESETS
from .user_datasets import dataset_images

__all__ = [
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
    "corpus_cache_dir",
    "corpus_datalist",
    "corpus_images",
    "dataset_images",
    "load_corpus",
    "load_datalist",
    "load_sources",
    "protocol_gray",
    "scan_folder",
    "training_images",
    "validation_images",
    "validation_pairs",
]
