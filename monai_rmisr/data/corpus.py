"""The embedded default corpus: real medical images shipped inside installed packages.

No data set can be downloaded at run time, so the default train / test images come from the
test files of ``pydicom`` and ``pydicom-data`` and the sample images of ``scikit-image``. The
development split below follows the project's data notes exactly: one row per distinct image,
every encoding of an image on one side only, the lossless originals (``*_UNCR``, never the
lossy-JPEG-2000-in-disguise ``*_UNCI``).

TEST (held out): ``693_UNCR`` (CT), ``MR2_UNCR`` (MR), ``RG1_UNCR`` (CR), ``gdcm-US-ALOKA-16``
(US), ``retina`` (fundus), ``ihc`` (histology); about 7.5 MP.

TRAIN: ``J2K_pixelrep_mismatch``, ``explicit_VR-UN``, ``bad_sequence``, ``CT_small`` (CT);
``MR-SIEMENS-DICOM-WithOverlays``, ``emri_small`` (10 slices), ``MR_small`` (MR); ``RG3_UNCR``
(CR); ``US1_UNCR``, ``JPGLosslessP14SV1_1s_1f_8b``, 12 frames of ``color3d_jpeg_baseline``
(0, 10, ..., 110), ``OBXXXX1A``, ``color-pl`` (US); ``JPEG-LL`` (NM); ``microaneurysms``
(fundus); 35 images.

NATURAL (optional extra training data, never tested on): 13 photographs and textures of
``scikit-image`` (``astronaut``, ``camera``, ``chelsea``, ``coffee``, ``coins``, ``moon``,
``rocket``, ``hubble_deep_field``, ``motorcycle_left``, ``brick``, ``grass``, ``gravel``,
``cell``); about 3.9 MP. Not medical: they add texture the small medical TRAIN split lacks.

EXTRA (optional extra training data, never tested on): six more images that other installed
packages ship: ``aero`` and ``ascent`` (PyWavelets' sample arrays), ``china`` and ``flower``
(scikit-learn's sample photographs), ``grace_hopper`` and the sagittal head MR ``s1045``
(matplotlib's sample data); about 1.4 MP. PyWavelets' ``camera`` is scikit-image's ``camera``
(NATURAL) and is left out.

The protocol conversion of every image to one grey ``(1, H, W)`` float32 array in ``[0, 1]``:

1. read with :mod:`monai_rmisr.io` (modality LUT applied, ``MONOCHROME1`` inverted, palette
   colour expanded through its LUT, YBR -> RGB, JPEG in DICOM decoded by pylibjpeg, JPEG files
   by Pillow);
2. colour -> luma ``Y = 0.299 R + 0.587 G + 0.114 B`` (float, unrounded);
3. ultrasound TRAIN images only: crop to the scan sector, removing the vendor's burned-in text,
   colour bars and icons (boxes chosen by eye, see ``TRAIN_SOURCES``); TEST images are never
   cropped (the published bicubic baseline is on the full ``gdcm-US-ALOKA-16`` frame);
4. min-max normalisation to ``[0, 1]`` (per image / frame, after the crop).

Decoded, converted arrays are cached as ``.npz`` files under the cache folder (argument
``cache_dir``, else ``$MONAI_RMISR_CACHE``, else ``~/.cache/monai_rmisr/corpus``), keyed by the
source file name, :data:`CORPUS_VERSION` and the conversion settings, so a second run starts in
well under a second. Bump :data:`CORPUS_VERSION` whenever the conversion changes.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..io import ImageReadError, detect_format, read_dicom, read_image
from ..transforms.intensity import LUMA_WEIGHTS, MinMaxNormalize, RGBToLuma

__all__ = [
    "CACHE_ENV",
    "CORPUS_VERSION",
    "EXTRA_SOURCES",
    "FRAME_SOURCES",
    "LUMA_WEIGHTS",
    "NATURAL_SOURCES",
    "SAME_IMAGE_FILES",
    "TEST_SOURCES",
    "TRAIN_SOURCES",
    "CorpusImage",
    "CorpusSource",
    "corpus_cache_dir",
    "corpus_datalist",
    "load_corpus",
    "load_sources",
    "protocol_gray",
    "split_sources",
]

logger = logging.getLogger(__name__)

#: Version of the conversion; part of every cache key.
CORPUS_VERSION = "1"
#: Environment variable that overrides the default cache folder.
CACHE_ENV = "MONAI_RMISR_CACHE"

_PACKAGES = {
    "pydicom": ("pydicom", "data/test_files"),
    "pydicom-data": ("data_store", "data"),
    "scikit-image": ("skimage", "data"),
    "PyWavelets": ("pywt", "data"),
    "scikit-learn": ("sklearn", "datasets/images"),
    "matplotlib": ("matplotlib", "mpl-data/sample_data"),
}


def _read_npz_data(path: Path) -> np.ndarray:
    """PyWavelets' sample arrays: one 2-D array under the key ``data``."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            array = np.asarray(archive["data"])
    except (OSError, KeyError, ValueError) as err:
        raise ImageReadError(path, f"is not a NumPy archive with a 'data' array ({err}).") from err
    if array.ndim != 2:
        raise ImageReadError(path, f"holds a {array.ndim}-D array; a 2-D image was expected.")
    return array[None]


def _read_raw_uint16_256(path: Path) -> np.ndarray:
    """matplotlib's ``s1045.ima.gz``: a gzipped 256x256 image of big-endian 16-bit words."""
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as err:
        raise ImageReadError(path, f"is not a readable gzip file ({err}).") from err
    if len(raw) != 256 * 256 * 2:
        raise ImageReadError(path, f"holds {len(raw)} bytes; a 256x256 16-bit image has {256 * 256 * 2}.")
    return np.frombuffer(raw, dtype=">u2").reshape(1, 256, 256)


#: Readers for packaged files that are arrays rather than image files (``CorpusSource.decoder``).
_DECODERS = {"npz": _read_npz_data, "raw_uint16_256": _read_raw_uint16_256}


@dataclass(frozen=True)
class CorpusSource:
    """One source file of the corpus and how it becomes 2-D training / test images.

    Args:
        name: image name; multi-frame sources give ``f"{name}#{frame}"``.
        filename: file name inside ``package``.
        package: the installed distribution that ships it: ``"pydicom"``, ``"pydicom-data"``,
            ``"scikit-image"``, ``"PyWavelets"``, ``"scikit-learn"`` or ``"matplotlib"``. Ignored
            when ``path`` is given.
        modality: "CT", "MR", "CR", "US", "NM", "fundus", "histology" or "natural".
        frames: for a multi-frame / volume source, the 0-based frames to use (default: all).
        crop: ``(row_start, row_stop, col_start, col_stop)``, half-open, applied to every frame
            before normalisation; None for no crop.
        path: an explicit file path instead of a packaged file (for custom corpora and tests).
        decoder: for a file that is an array rather than an image file: ``"npz"`` (the 2-D array
            under ``data``) or ``"raw_uint16_256"`` (gzipped 256x256 big-endian 16-bit words);
            None (default) reads it as a DICOM, NIfTI or image file.
    """

    name: str
    filename: str
    package: str
    modality: str
    frames: tuple[int, ...] | None = None
    crop: tuple[int, int, int, int] | None = None
    path: str | None = None
    decoder: str | None = None

    def __post_init__(self) -> None:
        if self.decoder is not None and self.decoder not in _DECODERS:
            raise ValueError(
                f"corpus image '{self.name}': decoder must be one of {sorted(_DECODERS)}, got {self.decoder!r}."
            )

    def resolve(self) -> Path:
        """The file's path on this machine.

        Raises:
            FileNotFoundError: the package is not installed or does not hold the file.
        """
        if self.path is not None:
            return Path(self.path)
        module, sub = _PACKAGES[self.package]
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(
                f"corpus image '{self.name}' needs the '{self.package}' package: pip install {self.package}."
            )
        path = Path(next(iter(spec.submodule_search_locations))) / sub / self.filename
        if not path.is_file():
            raise FileNotFoundError(
                f"corpus image '{self.name}': '{path}' is missing from the '{self.package}' package."
            )
        return path


@dataclass
class CorpusImage:
    """One 2-D corpus image after the protocol conversion.

    Attributes:
        name: unique name, ``"emri_small#3"`` for frame 3 of a multi-frame source.
        modality: "CT", "MR", "CR", "US", "NM", "fundus", "histology" or "natural".
        source: path of the file it was decoded from.
        array: ``(1, H, W)`` float32 grey image, min-max normalised to ``[0, 1]``.
        frame: the frame index in a multi-frame source, else None.
        crop: the crop box applied, ``(row_start, row_stop, col_start, col_stop)``, or None.
    """

    name: str
    modality: str
    source: str
    array: np.ndarray
    frame: int | None = None
    crop: tuple[int, int, int, int] | None = None


_COLOR3D_FRAMES = tuple(range(0, 120, 10))  # 12 evenly spaced frames of the 120-frame echo cine

#: TEST split: never trained on, never cropped.
TEST_SOURCES: tuple[CorpusSource, ...] = (
    CorpusSource("693_UNCR", "693_UNCR.dcm", "pydicom-data", "CT"),
    CorpusSource("MR2_UNCR", "MR2_UNCR.dcm", "pydicom-data", "MR"),
    CorpusSource("RG1_UNCR", "RG1_UNCR.dcm", "pydicom-data", "CR"),
    CorpusSource("gdcm-US-ALOKA-16", "gdcm-US-ALOKA-16.dcm", "pydicom-data", "US"),
    CorpusSource("retina", "retina.jpg", "scikit-image", "fundus"),
    CorpusSource("ihc", "ihc.png", "scikit-image", "histology"),
)

#: TRAIN split. Ultrasound crop boxes ``(row0, row1, col0, col1)`` keep the scan area and drop
#: burned-in text, colour bars, icons and calipers outside it (chosen by viewing the frames):
#: US1_UNCR: the linear-probe image band between the two "PWR" colour bars (the Doppler ROI
#: rectangles inside it are part of the acquisition display and stay); JPGLossless: the sector
#: left of the "X2" scale bar; color3d: the sector between the text columns, above the toolbar
#: and the depth label; OBXXXX1A: the near field of the sector, right of the "P" icon, below the
#: header bar; color-pl: the sector left of the depth dots and the marker circle.
TRAIN_SOURCES: tuple[CorpusSource, ...] = (
    CorpusSource("J2K_pixelrep_mismatch", "J2K_pixelrep_mismatch.dcm", "pydicom", "CT"),
    CorpusSource("explicit_VR-UN", "explicit_VR-UN.dcm", "pydicom-data", "CT"),
    CorpusSource("bad_sequence", "bad_sequence.dcm", "pydicom-data", "CT"),
    CorpusSource("CT_small", "CT_small.dcm", "pydicom", "CT"),
    CorpusSource("MR-SIEMENS-DICOM-WithOverlays", "MR-SIEMENS-DICOM-WithOverlays.dcm", "pydicom-data", "MR"),
    CorpusSource("emri_small", "emri_small.dcm", "pydicom-data", "MR"),
    CorpusSource("MR_small", "MR_small.dcm", "pydicom", "MR"),
    CorpusSource("RG3_UNCR", "RG3_UNCR.dcm", "pydicom-data", "CR"),
    CorpusSource("US1_UNCR", "US1_UNCR.dcm", "pydicom-data", "US", crop=(108, 337, 46, 594)),
    CorpusSource(
        "JPGLosslessP14SV1_1s_1f_8b", "JPGLosslessP14SV1_1s_1f_8b.dcm", "pydicom-data", "US", crop=(160, 652, 130, 750)
    ),
    CorpusSource(
        "color3d_jpeg_baseline",
        "color3d_jpeg_baseline.dcm",
        "pydicom-data",
        "US",
        frames=_COLOR3D_FRAMES,
        crop=(48, 412, 80, 572),
    ),
    CorpusSource("OBXXXX1A", "OBXXXX1A.dcm", "pydicom-data", "US", crop=(62, 262, 344, 600)),
    CorpusSource("color-pl", "color-pl.dcm", "pydicom-data", "US", crop=(0, 120, 26, 198)),
    CorpusSource("JPEG-LL", "JPEG-LL.dcm", "pydicom-data", "NM"),
    CorpusSource("microaneurysms", "microaneurysms.png", "scikit-image", "fundus"),
)

#: FRAMES: the TRAIN split's ultrasound images uncropped, as a scanner stores them: the scan sector
#: with the vendor's burned-in text, scale bars, calipers and icons on black around it (optional
#: extra training data, bundle option ``ultrasound_frames``). Each is named ``<source>_frame`` so a
#: ``val_names`` prefix that holds a source out of training holds out its frame too; of the
#: 12-frame echo cine, every fourth frame (0, 40, 80).
FRAME_SOURCES: tuple[CorpusSource, ...] = tuple(
    replace(
        source,
        name=f"{source.name}_frame",
        crop=None,
        frames=None if source.frames is None else source.frames[::4],
    )
    for source in TRAIN_SOURCES
    if source.crop is not None
)

#: NATURAL: scikit-image photographs and textures, optional extra training data (bundle option
#: ``natural_images``). Left out: synthetic and test patterns (phantom, chessboard, logo, color),
#: binary / blurred / tiny ones (horse, clock_motion, text, page, lfw_subset) and
#: ``motorcycle_right`` (the same scene as ``motorcycle_left``).
NATURAL_SOURCES: tuple[CorpusSource, ...] = tuple(
    CorpusSource(Path(filename).stem, filename, "scikit-image", "natural")
    for filename in (
        "astronaut.png",
        "camera.png",
        "chelsea.png",
        "coffee.png",
        "coins.png",
        "moon.png",
        "rocket.jpg",
        "hubble_deep_field.jpg",
        "motorcycle_left.png",
        "brick.png",
        "grass.png",
        "gravel.png",
        "cell.png",
    )
)

#: EXTRA: images shipped by other installed packages, optional extra training data (bundle option
#: ``extra_images``; ``pip install -e ".[corpus]"`` installs PyWavelets and scikit-learn).
#: Left out: PyWavelets' ``camera`` (scikit-image's ``camera``, in NATURAL) and its 1-D signals;
#: matplotlib's logos, icons and elevation maps.
EXTRA_SOURCES: tuple[CorpusSource, ...] = (
    CorpusSource("aero", "aero.npz", "PyWavelets", "natural", decoder="npz"),
    CorpusSource("ascent", "ascent.npz", "PyWavelets", "natural", decoder="npz"),
    CorpusSource("china", "china.jpg", "scikit-learn", "natural"),
    CorpusSource("flower", "flower.jpg", "scikit-learn", "natural"),
    CorpusSource("grace_hopper", "grace_hopper.jpg", "matplotlib", "natural"),
    CorpusSource("s1045", "s1045.ima.gz", "matplotlib", "MR", decoder="raw_uint16_256"),
)

#: Every packaged file that holds the same picture as a corpus source (other encodings, lossy
#: copies, crops). None of these may appear on the other side of the split.
SAME_IMAGE_FILES: dict[str, tuple[str, ...]] = {
    "693_UNCR": ("693_J2KI.dcm", "693_J2KR.dcm", "693_UNCI.dcm", "693_UNCR.dcm"),
    "MR2_UNCR": ("MR2_J2KI.dcm", "MR2_J2KR.dcm", "MR2_UNCI.dcm", "MR2_UNCR.dcm"),
    "RG1_UNCR": ("RG1_J2KI.dcm", "RG1_J2KR.dcm", "RG1_UNCI.dcm", "RG1_UNCR.dcm"),
    "gdcm-US-ALOKA-16": ("gdcm-US-ALOKA-16.dcm", "gdcm-US-ALOKA-16_big.dcm"),
    "retina": ("retina.jpg",),
    "ihc": ("ihc.png",),
    "J2K_pixelrep_mismatch": ("J2K_pixelrep_mismatch.dcm",),
    "explicit_VR-UN": ("explicit_VR-UN.dcm",),
    "bad_sequence": ("bad_sequence.dcm",),
    "CT_small": ("CT_small.dcm", "no_meta.dcm"),
    "MR-SIEMENS-DICOM-WithOverlays": ("MR-SIEMENS-DICOM-WithOverlays.dcm", "examples_overlay.dcm"),
    "emri_small": (
        "emri_small.dcm",
        "emri_small_RLE.dcm",
        "emri_small_big_endian.dcm",
        "emri_small_jpeg_2k_lossless.dcm",
        "emri_small_jpeg_ls_lossless.dcm",
    ),
    "MR_small": (
        "MR_small.dcm",
        "MR_small_RLE.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_expb.dcm",
        "MR_small_implicit.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "MR_small_padded.dcm",
        "MR_truncated.dcm",
        "zipMR.gz",
    ),
    "RG3_UNCR": ("RG3_J2KI.dcm", "RG3_J2KR.dcm", "RG3_UNCI.dcm", "RG3_UNCR.dcm"),
    "US1_UNCR": ("US1_J2KI.dcm", "US1_J2KR.dcm", "US1_UNCI.dcm", "US1_UNCR.dcm", "examples_jpeg2k.dcm"),
    "JPGLosslessP14SV1_1s_1f_8b": ("JPGLosslessP14SV1_1s_1f_8b.dcm",),
    "color3d_jpeg_baseline": ("color3d_jpeg_baseline.dcm", "examples_ybr_color.dcm"),
    "OBXXXX1A": (
        "OBXXXX1A.dcm",
        "OBXXXX1A_2frame.dcm",
        "OBXXXX1A_expb.dcm",
        "OBXXXX1A_expb_2frame.dcm",
        "OBXXXX1A_rle.dcm",
        "OBXXXX1A_rle_2frame.dcm",
        "examples_palette.dcm",
    ),
    "color-pl": ("color-pl.dcm", "color-px.dcm"),
    "JPEG-LL": ("JPEG-LL.dcm", "JPEG2000_UNC.dcm", "JPEG2000.dcm", "JPGExtended.dcm", "JPEG-lossy.dcm"),
    "microaneurysms": ("microaneurysms.png",),
    **{source.name: (source.filename,) for source in NATURAL_SOURCES},
    **{source.name: (source.filename,) for source in EXTRA_SOURCES},
}
# a full frame holds the same picture as its crop: the same files, on the same side of the split
SAME_IMAGE_FILES.update({source.name: SAME_IMAGE_FILES[source.name.removesuffix("_frame")] for source in FRAME_SOURCES})


def corpus_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: ``cache_dir`` if given, else ``$MONAI_RMISR_CACHE``, else the default.

    The default is ``~/.cache/monai_rmisr/corpus``. The folder is not created here.
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "monai_rmisr" / "corpus"


def protocol_gray(array: np.ndarray, path: str | os.PathLike[str] = "<array>") -> np.ndarray:
    """Grey float64 image(s) of a channel-first array: luma of RGB, the only channel of grey.

    Args:
        array: ``(1, ...)`` grey or ``(3, ...)`` RGB, any spatial shape.
        path: the source, for the error message.

    Returns:
        ``array`` without its channel axis, float64; RGB becomes ``0.299 R + 0.587 G + 0.114 B``.

    Raises:
        ImageReadError: for a channel count other than 1 or 3.
    """
    if array.shape[0] not in (1, 3):
        raise ImageReadError(path, f"has {array.shape[0]} channels; grey (1) or RGB (3) are needed.")
    return RGBToLuma()(np.asarray(array, dtype=np.float64))[0]


def _normalise(gray: np.ndarray, path: Path, what: str) -> np.ndarray:
    """``(H, W)`` grey -> ``(1, H, W)`` float32, min-max normalised
    (:class:`~monai_rmisr.transforms.MinMaxNormalize`)."""
    lo, hi = float(gray.min()), float(gray.max())
    if not hi > lo:
        raise ImageReadError(path, f"{what} is constant ({lo}); it cannot be min-max normalised.")
    return MinMaxNormalize(dtype=np.float32)(gray[None], mapping=(lo, hi))  # the range found above, not again


def _convert(source: CorpusSource, path: Path) -> list[tuple[str, int | None, np.ndarray]]:
    """Decode ``source`` and apply the protocol conversion: ``[(name, frame, (1, H, W))]``."""
    picked = source.decoder is None and source.frames is not None and detect_format(path) == "dicom"
    if source.decoder is not None:
        array = _DECODERS[source.decoder](path)
    elif picked:  # a multi-frame DICOM decodes only the frames we need
        array = read_dicom(path, frames=source.frames)[0]
    else:
        array = read_image(path).array
    gray = protocol_gray(array, path)
    if gray.ndim == 2:
        if source.frames is not None:
            raise ImageReadError(path, f"is a single 2-D image but frames {source.frames} were requested.")
        frames: list[tuple[int | None, np.ndarray]] = [(None, gray)]
    elif gray.ndim == 3:
        labels = source.frames if source.frames is not None else tuple(range(gray.shape[-1]))
        if not picked and source.frames is not None:
            if max(labels) >= gray.shape[-1]:
                raise ImageReadError(path, f"has {gray.shape[-1]} frames; frames {labels} were requested.")
            gray = gray[..., list(labels)]
        frames = [(int(label), gray[..., k]) for k, label in enumerate(labels)]
    else:
        raise ImageReadError(path, f"has {gray.ndim} spatial dimensions; the corpus needs 2-D images or frames.")
    out = []
    for frame, image in frames:
        if source.crop is not None:
            r0, r1, c0, c1 = source.crop
            if not (0 <= r0 < r1 <= image.shape[0] and 0 <= c0 < c1 <= image.shape[1]):
                raise ImageReadError(path, f"crop box {source.crop} does not fit its {image.shape} frames.")
            image = image[r0:r1, c0:c1]
        name = source.name if frame is None else f"{source.name}#{frame}"
        out.append((name, frame, _normalise(image, path, f"image '{name}'")))
    return out


def _cache_file(cache_dir: Path, source: CorpusSource, path: Path) -> Path:
    key = repr((path.name, CORPUS_VERSION, source.name, source.frames, source.crop, LUMA_WEIGHTS))
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    return cache_dir / f"{path.name}.v{CORPUS_VERSION}.{digest}.npz"


def _read_cache(file: Path, path: Path) -> list[tuple[str, int | None, np.ndarray]] | None:
    if not file.is_file():
        return None
    try:
        with np.load(file, allow_pickle=False) as data:
            if int(data["source_size"]) != path.stat().st_size:
                return None
            names = [str(n) for n in data["names"]]
            frames = [None if int(f) < 0 else int(f) for f in data["frames"]]
            return [(n, f, data[f"image_{k}"]) for k, (n, f) in enumerate(zip(names, frames, strict=True))]
    except Exception as err:  # a damaged cache file is rebuilt, never trusted
        logger.warning("corpus cache file '%s' is unreadable (%s); rebuilding it.", file, err)
        return None


def _write_cache(file: Path, path: Path, images: list[tuple[str, int | None, np.ndarray]]) -> None:
    arrays: dict[str, Any] = {f"image_{k}": img for k, (_, _, img) in enumerate(images)}
    arrays["names"] = np.array([n for n, _, _ in images])
    arrays["frames"] = np.array([-1 if f is None else f for _, f, _ in images], dtype=np.int64)
    arrays["source_size"] = np.int64(path.stat().st_size)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=file.parent, suffix=".tmp.npz")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, file)  # atomic: a crash never leaves a half-written cache file
    except OSError as err:
        logger.warning("cannot write the corpus cache '%s' (%s); continuing without it.", file, err)


def load_sources(
    sources: Sequence[CorpusSource],
    cache_dir: str | os.PathLike[str] | None = None,
    skip_bad: bool = False,
    use_cache: bool = True,
) -> list[CorpusImage]:
    """Decode (or fetch from the cache) and convert a list of corpus sources.

    Args:
        sources: what to load, e.g. :data:`TRAIN_SOURCES` or custom :class:`CorpusSource` entries
            with ``path=``.
        cache_dir: cache folder, see :func:`corpus_cache_dir`.
        skip_bad: if False (default) the first unreadable source raises, so a broken data set
            stops the run before training starts; if True it is logged with ``logging.warning``
            and left out.
        use_cache: read and write the ``.npz`` cache (default True).

    Returns:
        The converted images, in the order of ``sources`` (frames in increasing order).

    Raises:
        ImageReadError: a source file cannot be read or converted (unless ``skip_bad``).
        FileNotFoundError: a source file is missing (unless ``skip_bad``).
    """
    folder = corpus_cache_dir(cache_dir)
    images: list[CorpusImage] = []
    for source in sources:
        try:
            path = source.resolve()
            if not path.exists():
                raise FileNotFoundError(f"corpus image '{source.name}': no such file '{path}'.")
            file = _cache_file(folder, source, path)
            converted = _read_cache(file, path) if use_cache else None
            if converted is None:
                start = time.perf_counter()
                converted = _convert(source, path)
                logger.debug("decoded %s in %.2f s", path.name, time.perf_counter() - start)
                if use_cache:
                    _write_cache(file, path, converted)
        except (ImageReadError, FileNotFoundError) as err:
            if not skip_bad:
                raise
            logger.warning("skipping bad corpus image '%s': %s", source.name, err)
            continue
        for name, frame, array in converted:
            images.append(CorpusImage(name, source.modality, str(path), array, frame, source.crop))
    return images


def split_sources(split: str) -> tuple[CorpusSource, ...]:
    """The sources of one corpus split (``"train"``, ``"test"``, ``"natural"``, ``"extra"``, ``"frames"``)."""
    if split == "train":
        return TRAIN_SOURCES
    if split == "test":
        return TEST_SOURCES
    if split == "natural":
        return NATURAL_SOURCES
    if split == "extra":
        return EXTRA_SOURCES
    if split == "frames":
        return FRAME_SOURCES
    raise ValueError(f"split must be 'train', 'test', 'natural', 'extra' or 'frames', got {split!r}.")


def load_corpus(
    split: Literal["train", "test", "natural", "extra", "frames"] = "train",
    cache_dir: str | os.PathLike[str] | None = None,
    skip_bad: bool = False,
) -> list[CorpusImage]:
    """The embedded default corpus, one split, after the protocol conversion.

    Args:
        split: ``"train"`` (35 images: 15 sources, ``emri_small`` gives 10 slices and
            ``color3d_jpeg_baseline`` 12 frames), ``"test"`` (6 images), ``"natural"`` (13
            scikit-image photographs and textures), ``"frames"`` (7 uncropped ultrasound frames of
            TRAIN sources, text and graphics included) or ``"extra"`` (6 images of PyWavelets,
            scikit-learn and matplotlib); the last three are optional extra training data.
        cache_dir: cache folder (default ``$MONAI_RMISR_CACHE`` or ``~/.cache/monai_rmisr/corpus``).
        skip_bad: log and skip unreadable files instead of raising.

    Returns:
        :class:`CorpusImage` list; each ``array`` is ``(1, H, W)`` float32 in ``[0, 1]``.

    Raises:
        ValueError: unknown ``split``.
        ImageReadError, FileNotFoundError: a file cannot be read (unless ``skip_bad``).
    """
    return load_sources(split_sources(split), cache_dir=cache_dir, skip_bad=skip_bad)


def corpus_datalist(
    split: Literal["train", "test", "natural", "extra", "frames"] = "train",
    cache_dir: str | os.PathLike[str] | None = None,
    skip_bad: bool = False,
) -> list[dict[str, Any]]:
    """:func:`load_corpus` as a MONAI-style datalist.

    Returns:
        ``[{"image": np.ndarray (1, H, W) float32 in [0, 1], "name": str, "modality": str}, ...]``,
        ready for ``monai.data.Dataset`` / ``CacheDataset`` and dictionary transforms.
    """
    return [
        {"image": img.array, "name": img.name, "modality": img.modality}
        for img in load_corpus(split, cache_dir=cache_dir, skip_bad=skip_bad)
    ]
