"""How a user data set is read: the presets (which files are images, how intensities become [0, 1],
how the set is split) and the constants they share. Used by :mod:`monai_rmisr.data.folder_scan` and
:mod:`monai_rmisr.data.user_datasets`."""

from __future__ import annotations

from dataclasses import dataclass

from ..io.images import RASTER_SUFFIXES

__all__ = [
    "ANNOTATION_DIRS",
    "ANNOTATION_DIR_PARTS",
    "ANNOTATION_STEMS",
    "CONSTANT_STD",
    "DICOM_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "LUNG_WINDOW",
    "NIFTI_EXTENSIONS",
    "PRESETS",
    "DatasetPreset",
]

#: Suffixes of DICOM files; files with any other (or no) suffix count as DICOM when they carry
#: the Part 10 ``DICM`` prefix at byte 128.
DICOM_EXTENSIONS = (".dcm", ".dicom")
NIFTI_EXTENSIONS = (".nii", ".nii.gz")
#: Everything :func:`~monai_rmisr.data.folder_scan.scan_folder` lists by default (BMP is readable, not medical).
IMAGE_EXTENSIONS = (*DICOM_EXTENSIONS, *NIFTI_EXTENSIONS, ".png", ".jpg", ".jpeg", ".tif", ".tiff")
#: The lung window ``(centre, width)`` in Hounsfield units: [-1350, 150] HU -> [0, 1].
LUNG_WINDOW = (-600.0, 1500.0)
#: Slices whose standard deviation after the mapping to [0, 1] is below this are dropped.
CONSTANT_STD = 1e-3

#: Folders, folder-name parts and name endings (lower case) that hold annotations rather than images in the ISIC and
# DRIVE releases (and in STARE / CHASE_DB1 / HRF, which follow the same habits).
ANNOTATION_DIRS = frozenset(
    {"mask", "masks", "1st_manual", "2nd_manual", "manual", "manual1", "manual2", "label", "labels", "annotations"}
    | {"segmentation", "segmentations", "groundtruth", "ground_truth", "gt", "superpixels"}
)
ANNOTATION_DIR_PARTS = ("groundtruth", "ground_truth", "segmentation", "mask")
ANNOTATION_STEMS = ("_segmentation", "_superpixels", "_mask", "_manual1", "_manual2", "_1stho", "_2ndho", "_gt")


@dataclass(frozen=True)
class DatasetPreset:
    """How :func:`~monai_rmisr.data.user_datasets.dataset_images` reads one kind of data set.

    Args:
        name: the preset's name (a key of :data:`PRESETS`).
        description: the expected layout, in words.
        extensions: file suffixes that are images (lower case; see :func:`~monai_rmisr.data.folder_scan.scan_folder`).
        intensity: ``"minmax"`` (per item), ``"window"`` (fixed ``window`` in modality units) or
            ``"bit_depth"`` (divide by ``2**bits - 1`` of the stored data; min-max for float data).
        window: ``(centre, width)`` for ``intensity="window"``.
        group: ``"file"`` (split by file) or ``"patient"`` (by the first folder below the root).
        modalities: DICOM modalities to keep (others are skipped with an info message); None
            keeps all.
        ignore_annotations: leave out mask / segmentation / manual-annotation files and folders.
        split_dirs: ``(train names, val names)``: when the root has a folder of each kind, they
            are the split, the first val name found chosen (DRIVE's ``training`` / ``test``: without a ``val``
            folder its ``test`` folder is the validation split too); else ``val_fraction`` applies.
    """

    name: str
    description: str
    extensions: tuple[str, ...] = IMAGE_EXTENSIONS
    intensity: str = "minmax"
    window: tuple[float, float] | None = None
    group: str = "file"
    modalities: tuple[str, ...] | None = None
    ignore_annotations: bool = False
    split_dirs: tuple[tuple[str, ...], tuple[str, ...]] | None = None

    def __post_init__(self) -> None:
        if self.intensity not in ("minmax", "window", "bit_depth"):
            raise ValueError(f"intensity must be 'minmax', 'window' or 'bit_depth', got {self.intensity!r}.")
        if self.intensity == "window" and (self.window is None or not self.window[1] > 0):
            raise ValueError(f"intensity='window' needs window=(centre, width > 0), got {self.window}.")
        if self.group not in ("file", "patient"):
            raise ValueError(f"group must be 'file' or 'patient', got {self.group!r}.")


#: The ready presets; ``dataset_images(..., preset=name)``.
PRESETS: dict[str, DatasetPreset] = {
    "folder": DatasetPreset(
        "folder",
        "any DICOM (files or series folders), NIfTI, PNG, JPEG or TIFF image under the root",
    ),
    "lung_ct": DatasetPreset(
        "lung_ct",
        "LIDC-IDRI-like: <root>/<patient>/<study>/<series>/*.dcm (series folders found at any depth)",
        extensions=DICOM_EXTENSIONS,
        intensity="window",
        window=LUNG_WINDOW,
        group="patient",
        modalities=("CT",),
    ),
    "dermoscopy": DatasetPreset(
        "dermoscopy",
        "ISIC-like: RGB JPEGs in <root>/ or <root>/images/; *_segmentation.png, mask folders and CSV ignored",
        extensions=RASTER_SUFFIXES,
        intensity="bit_depth",
        ignore_annotations=True,
    ),
    "retina": DatasetPreset(
        "retina",
        "DRIVE-like: <root>/training/images/*.tif and <root>/test/images/*.tif; mask/ and 1st_manual/ ignored",
        extensions=RASTER_SUFFIXES,
        intensity="bit_depth",
        ignore_annotations=True,
        split_dirs=(("training", "train"), ("val", "validation", "test")),
    ),
    "datalist": DatasetPreset(
        "datalist",
        "a MONAI JSON datalist ('training' and optionally 'validation' lists of {'image': path})",
    ),
}
