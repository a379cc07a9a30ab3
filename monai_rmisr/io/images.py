"""Readers for ordinary raster images: PNG, JPEG, TIFF (and BMP), 8 and 16 bits.

* PNG / JPEG / BMP are decoded by Pillow. JPEG is therefore always decoded by Pillow's
  libjpeg(-turbo) (``meta["decoder"] == "pillow"``), the same decoder scikit-image and imageio
  use, so JPEG figures are reproducible. 16-bit grey PNGs keep their 16 bits (Pillow mode
  ``I;16``); Pillow truncates 16-bit colour and grey + alpha PNGs to 8 bits, so those are read with ITK's
  libpng reader instead (``meta["decoder"] == "itk"``).
* TIFF is read with tifffile (multi-page, planar or interleaved samples, 8/16/32-bit integer
  or float, palette, min-is-white), falling back to Pillow for compressions tifffile cannot
  decode without ``imagecodecs`` (JPEG-in-TIFF, LZW on some builds).

Values are returned unscaled (0..255 for 8-bit, 0..65535 for 16-bit) as ``float32``; the bit
depth is kept in ``meta["bit_depth"]`` and the stored dtype in ``meta["dtype"]`` so the data can
be written back losslessly. Palette images are expanded to RGB; an alpha channel is dropped
(``meta["alpha_dropped"]``); a min-is-white TIFF is inverted to min-is-black
(``meta["inverted"]``, undo with ``2**bit_depth - 1 - x``); a JPEG or PNG with an EXIF orientation
other than 1 (a camera's rotation or mirror flag) is turned as viewers show it
(``meta["exif_orientation_applied"]``), so its output, written without the flag, looks the same; a 1-bit
image is read as 8-bit 0 / 255.

Layout: channel-first ``(C, H, W)`` with ``C`` = 1 (grey) or 3 (RGB); a multi-page TIFF gives
``(C, H, W, F)`` with the pages along the last axis (as multi-frame DICOM in
:mod:`monai_rmisr.io.dicom`).
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from PIL import Image, ImageOps, JpegImagePlugin, UnidentifiedImageError

from .dicom import MIN_IMAGE_SIZE
from .errors import ImageReadError
from .image_data import ImageMeta

__all__ = ["RASTER_SUFFIXES", "read_raster"]

logger = logging.getLogger(__name__)

RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
_PIL_FORMATS = {"PNG": "png", "JPEG": "jpeg", "TIFF": "tiff", "BMP": "bmp", "MPO": "jpeg"}


_EXIF_ORIENTATION = 0x0112  # the EXIF Orientation tag: 1 as stored, 2-8 mirrored and / or turned


def _finish(array: np.ndarray, path: Path, meta: dict[str, Any]) -> tuple[np.ndarray, ImageMeta]:
    """Check size and finiteness, fill the shared meta keys."""
    height, width = array.shape[1], array.shape[2]
    if height < MIN_IMAGE_SIZE or width < MIN_IMAGE_SIZE:
        raise ImageReadError(
            path, f"the image is {height}x{width} pixels; at least {MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE} is needed."
        )
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        bad = int(array.size - np.isfinite(array).sum())
        raise ImageReadError(path, f"{bad} of its {array.size} values are NaN or infinite.")
    spacing = meta.pop("_spacing", None)
    meta["spacing_source"] = "resolution" if spacing else "default"
    spacing = tuple(spacing) if spacing else (1.0, 1.0)
    affine = np.eye(4)
    affine[0, 0], affine[1, 1] = spacing
    meta.update(
        {
            "filename_or_obj": str(path),
            "source_path": str(path),
            "spatial_shape": tuple(array.shape[1:]),
            "spacing": spacing if array.ndim == 3 else (*spacing, 1.0),
            "origin": (0.0, 0.0, 0.0),
            "direction": np.eye(3),
            "affine": affine,
            "space": None,
        }
    )
    meta.setdefault("inverted", False)
    meta.setdefault("palette_applied", False)
    meta.setdefault("alpha_dropped", False)
    return array, ImageMeta(meta)


def _png_header(path: Path) -> tuple[int, int] | None:
    """``(bit_depth, colour_type)`` from a PNG's IHDR chunk, or None if not a PNG."""
    with open(path, "rb") as f:
        head = f.read(26)
    if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">BB", head[24:26])


#: PNG colour types Pillow reads in 8 bits when they hold 16: RGB (2), grey + alpha (4), RGB + alpha (6); the number
#: of samples of each
_PNG16_ITK_SAMPLES = {2: 3, 4: 2, 6: 4}


def _read_png16_itk(path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    import itk  # slow to import; only needed for this rare case

    depth, colour_type = _png_header(path)  # type: ignore[misc]
    components = _PNG16_ITK_SAMPLES[colour_type]
    try:
        img = itk.imread(str(path), itk.Vector[itk.F, components])
    except Exception as err:
        raise ImageReadError(path, f"not a readable 16-bit PNG ({err}).") from err
    data = itk.array_from_image(img)  # (H, W, components)
    colour = components >= 3
    meta = {"format": "png", "decoder": "itk", "mode": "RGB;16" if colour else "I;16", "bit_depth": depth}
    meta.update(dtype="uint16", alpha_dropped=components in (2, 4), color="RGB" if colour else "GRAY")
    array = np.moveaxis(data[..., : 3 if colour else 1], -1, 0)
    try:
        with Image.open(path) as header:  # what the 8-bit reader takes from Pillow: the resolution, the EXIF flag
            header.load()  # an eXIf chunk may follow the pixels
            orientation = _exif_orientation(header)
            dpi_spacing = _dpi_spacing(header.info.get("dpi"))
            frames = getattr(header, "n_frames", 1)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise ImageReadError(path, f"not a readable 16-bit PNG ({type(err).__name__}: {err}).") from err
    _check_one_frame(path, frames, "png")
    if orientation != 1:
        array = _oriented(array, orientation)
        meta["exif_orientation_applied"] = orientation
    if dpi_spacing:
        meta["_spacing"] = _turned(dpi_spacing, orientation)
    return array, meta


def _exif_orientation(img: Image.Image) -> int:
    """A Pillow image's EXIF Orientation, 1 (as stored) where it has none or an invalid one."""
    return _valid_orientation(img.getexif().get(_EXIF_ORIENTATION, 1))


def _valid_orientation(value: Any) -> int:
    """An EXIF / TIFF Orientation value (1-8), 1 (as stored) for none or an invalid one."""
    orientation = int(value or 1)
    return orientation if 1 <= orientation <= 8 else 1


def _dpi_spacing(dpi: Any) -> tuple[float, float] | None:
    """A file's resolution (x, y) in dots per inch as mm per pixel (row, column); None where it has none."""
    if dpi and len(dpi) == 2 and all(float(d) > 0 for d in dpi):
        return 25.4 / float(dpi[1]), 25.4 / float(dpi[0])
    return None


def _turned(spacing: tuple[float, float], orientation: int) -> tuple[float, float]:
    """(row, column) spacing of pixels turned by ``orientation`` (:func:`_oriented`): a quarter turn swaps them."""
    return (spacing[1], spacing[0]) if orientation >= 5 else spacing


def _from_pillow(img: Image.Image, path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    fmt = _PIL_FORMATS.get(img.format or "", (img.format or "unknown").lower())
    mode = img.mode
    meta: dict[str, Any] = {"format": fmt, "decoder": "pillow", "mode": mode}
    dpi_spacing = _dpi_spacing(img.info.get("dpi"))
    if fmt == "jpeg":  # its chroma subsampling (0: 4:4:4, 1: 4:2:2, 2: 4:2:0; -1 grey), which the output keeps
        meta["jpeg_subsampling"] = JpegImagePlugin.get_sampling(img)
    orientation = _exif_orientation(img)
    if orientation != 1:  # a camera's rotation / mirror flag: the pixels are turned as viewers show them
        img = ImageOps.exif_transpose(img)
        meta["exif_orientation_applied"] = orientation
    if dpi_spacing:
        meta["_spacing"] = _turned(dpi_spacing, orientation)
    if mode == "P" or mode == "PA":
        meta["palette_applied"] = True
        img = img.convert("RGBA" if mode == "PA" or "transparency" in img.info else "RGB")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        img = img.convert("RGB")
        meta["color_converted"] = True  # a profile of the source's colours does not describe the output's
    elif mode == "1":
        img = img.convert("L")
    elif mode == "LA":
        meta["alpha_dropped"] = True
        img = img.getchannel("L")
    data = np.asarray(img)
    if data.ndim == 3 and data.shape[-1] == 4:
        meta["alpha_dropped"] = True
        data = data[..., :3]
    meta["dtype"] = str(data.dtype)
    # a 1-bit image is read as 8-bit 0 / 255 and written so (a super-resolved edge is grey, not black or white)
    meta["bit_depth"] = {"I;16": 16, "I;16B": 16, "I;16L": 16, "I": 32, "F": 32}.get(mode, 8)
    if mode == "I" and fmt == "png":  # older Pillow: 16-bit grey PNG as 32-bit "I"
        meta["bit_depth"] = 16
    meta["color"] = "RGB" if data.ndim == 3 else "GRAY"
    array = np.moveaxis(data, -1, 0) if data.ndim == 3 else data[None]
    return array, meta


def _read_pillow(path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    try:
        with Image.open(path) as img:
            img.load()
            frames = getattr(img, "n_frames", 1)
            array, meta = _from_pillow(img, path)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        msg = " ".join(str(err).split())
        raise ImageReadError(path, f"not a readable image file ({type(err).__name__}: {msg}).") from err
    _check_one_frame(path, frames, meta["format"])
    meta["number_of_frames"] = frames
    return array, meta


def _check_one_frame(path: Path, frames: int, fmt: str) -> None:
    """Refuse a PNG or TIFF of several frames that is read by its first (an animated PNG, pages only Pillow decodes);
    a camera's MPO JPEG (a picture and its preview) is read."""
    if frames > 1 and fmt in ("png", "tiff"):
        raise ImageReadError(
            path,
            f"holds {frames} frames (an animated PNG, or pages only Pillow decodes); one would be read and the others "
            "lost: save the frames as images of their own or as the pages of a TIFF.",
        )


def _tiff_spacing(page: Any) -> tuple[float, float] | None:
    tags = page.tags
    if "XResolution" not in tags or "YResolution" not in tags:
        return None
    unit = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else 2
    per = {2: 25.4, 3: 10.0}.get(unit)  # inch or centimetre, in mm
    if per is None:
        return None
    (xn, xd), (yn, yd) = tags["XResolution"].value, tags["YResolution"].value
    if not (xn and xd and yn and yd):
        return None
    return per * yd / yn, per * xd / xn


class _LogCollector(logging.Handler):
    """Collects the warnings tifffile logs (instead of raising) for damaged files."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


#: TIFF colour spaces read neither as grey nor RGB nor converted: YCbCr stored without JPEG compression, CIE L*a*b*
_UNCONVERTED_PHOTOMETRIC = frozenset(
    {tifffile.PHOTOMETRIC.YCBCR, tifffile.PHOTOMETRIC.CIELAB, tifffile.PHOTOMETRIC.ICCLAB, tifffile.PHOTOMETRIC.ITULAB}
)


def _palette_colours(colormap: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, int, str]:
    """A palette TIFF's ``(3, H, W, F)`` colours, bit depth and dtype: its colormap is in 16-bit units; one that
    holds 8-bit colours (each value a multiple of 257, or of 256, as writers store them) gives them in 8 bits."""
    for step in (257, 256):
        if not np.any(colormap % step):
            return colormap[:, index] // step, 8, "uint8"
    return colormap[:, index], 16, "uint16"


def _cmyk_to_rgb(cmyk: np.ndarray, peak: int) -> np.ndarray:
    """``(4, ...)`` ink amounts (0..``peak``) to ``(3, ...)`` RGB, as Pillow converts a CMYK JPEG:
    ``(peak - C)(peak - K) / peak``, ... (no colour profile applied, so the source's profile is not kept)."""
    cmyk = cmyk.astype(np.float64)
    white = peak - cmyk[3]
    return np.rint((peak - cmyk[:3]) * white / peak)


def _oriented(data: np.ndarray, orientation: int) -> np.ndarray:
    """``(C, H, W[, F])`` stored with TIFF / EXIF ``orientation`` 2-8, turned as viewers show it (Pillow's
    ``ImageOps.exif_transpose``)."""
    if orientation in (5, 6, 7, 8):  # a quarter turn or a transposition: rows become columns
        data = np.swapaxes(data, 1, 2)  # the transposition (5); then 6 mirrors the columns, 8 the rows, 7 both
    flips = {2: (2,), 3: (1, 2), 4: (1,), 6: (2,), 7: (1, 2), 8: (1,)}.get(orientation, ())
    return np.flip(data, flips) if flips else data


def _read_tifffile(path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    collector = _LogCollector()
    tiff_logger = logging.getLogger("tifffile")
    tiff_logger.addHandler(collector)
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            data = series.asarray()
            axes = series.axes
            # pages written one by one (tifffile's TiffWriter in a loop) are a series each: alike, they are the frames
            # of one stack (only the first was read). Not an OME-TIFF's series: other positions or scenes, not slices.
            # Others (a thumbnail, a slide's label, an OME scene) are left out, said
            alike = []
            if not tif.is_ome:
                alike = [s for s in tif.series[1:] if (s.shape, s.dtype, s.axes) == (series.shape, series.dtype, axes)]
            if alike:
                data = np.stack([data, *(s.asarray() for s in alike)])
                axes = "I" + axes
            if len(tif.series) > 1 + len(alike):
                logger.warning(
                    "'%s': read its first image (%s%s); %d other image(s) in the file (thumbnails, labels, other "
                    "positions of an OME-TIFF, ...) are left out",
                    path,
                    "x".join(str(n) for n in series.shape),
                    f" and {len(alike)} more of its size as pages" if alike else "",
                    len(tif.series) - 1 - len(alike),
                )
            page = tif.pages[0]
            photometric = page.photometric
            bits = int(page.bitspersample)
            colormap = page.colormap
            jpeg = page.compression in (tifffile.COMPRESSION.JPEG, tifffile.COMPRESSION.OJPEG)
            spacing = _tiff_spacing(page)
            orientation = _valid_orientation(page.tags["Orientation"].value if "Orientation" in page.tags else 1)
            size = path.stat().st_size
            beyond = [
                p.index
                for p in tif.pages
                if any(o + n > size for o, n in zip(p.dataoffsets, p.databytecounts, strict=False))
            ]
    finally:
        tiff_logger.removeHandler(collector)
    if collector.messages or beyond:  # tifffile reads what it can of a damaged file; we refuse it
        detail = "; ".join(collector.messages) or f"pages {beyond} point past the end of the file"
        raise ImageReadError(path, f"the TIFF file is truncated or damaged ({' '.join(detail.split())}).")
    if data.dtype.kind == "c":
        raise ImageReadError(path, f"holds complex values ({data.dtype}): an image has real ones.")
    if data.dtype == bool:  # a 1-bit image: 8-bit 0 / 255, as Pillow reads one
        data, bits = data.astype(np.uint8) * np.uint8(255), 8
    meta: dict[str, Any] = {"format": "tiff", "decoder": "tifffile", "dtype": str(data.dtype), "bit_depth": bits}
    if spacing:
        meta["_spacing"] = spacing
    # move Y, X to the front of the spatial axes, samples (S / C) to channels, the rest to frames
    channel_axes = [i for i, a in enumerate(axes) if a in "SC"]
    if "Y" not in axes or "X" not in axes:
        raise ImageReadError(path, f"TIFF series axes {axes!r} have no Y/X image plane.")
    y, x = axes.index("Y"), axes.index("X")
    frame_axes = [i for i in range(len(axes)) if i not in (y, x, *channel_axes)]
    data = np.transpose(data, (*channel_axes, y, x, *frame_axes))
    n_channels = int(np.prod(data.shape[: len(channel_axes)], dtype=np.int64))
    n_frames = int(np.prod(data.shape[len(channel_axes) + 2 :], dtype=np.int64))
    data = data.reshape(n_channels, data.shape[len(channel_axes)], data.shape[len(channel_axes) + 1], n_frames)
    if photometric == tifffile.PHOTOMETRIC.PALETTE and colormap is not None and n_channels == 1:
        data, meta["bit_depth"], meta["dtype"] = _palette_colours(np.asarray(colormap), data[0])
        meta["palette_applied"] = True
    elif photometric == tifffile.PHOTOMETRIC.MINISWHITE and n_channels == 1 and data.dtype.kind in "ui":
        data = (2**bits - 1) - data.astype(np.int64)
        meta["inverted"] = True
    elif photometric in _UNCONVERTED_PHOTOMETRIC and not jpeg:  # (a JPEG codec gives RGB)
        raise ImageReadError(
            path,
            f"its colours are {photometric.name} (TIFF PhotometricInterpretation), which are not read: save it as RGB.",
        )
    elif photometric == tifffile.PHOTOMETRIC.SEPARATED and n_channels in (4, 5) and data.dtype.kind == "u":
        data = _cmyk_to_rgb(data[:4], 2**bits - 1)  # and a fifth sample, alpha, dropped
        meta.update(color_converted=True, alpha_dropped=n_channels == 5)
    if data.shape[0] in (2, 4):  # grey + alpha or RGB + alpha
        meta["alpha_dropped"] = True
        data = data[: data.shape[0] - 1]
    if data.shape[0] > 4:
        raise ImageReadError(
            path,
            f"has {data.shape[0]} samples per pixel (a multispectral or fluorescence image?): grey or RGB images are "
            "read, with or without alpha; store the channels as the pages of a TIFF, each super-resolved as grey.",
        )
    if orientation != 1:  # the Orientation tag (as a JPEG's EXIF flag): the pixels turned as viewers show them
        data = _oriented(data, orientation)
        meta["exif_orientation_applied"] = orientation
        if spacing:
            meta["_spacing"] = _turned(spacing, orientation)
    meta["color"] = "RGB" if data.shape[0] == 3 else "GRAY" if data.shape[0] == 1 else None
    meta["number_of_frames"] = n_frames
    meta["photometric"] = photometric.name if hasattr(photometric, "name") else str(photometric)
    return (data[..., 0] if n_frames == 1 else data), meta


def read_raster(path: str | os.PathLike[str]) -> tuple[np.ndarray, ImageMeta]:
    """Read a PNG, JPEG, TIFF or BMP file into a channel-first ``float32`` array plus metadata.

    Args:
        path: the image file. The format is taken from the file's content, not its name.

    Returns:
        ``(array, meta)``: ``array`` is ``(C, H, W)`` (or ``(C, H, W, F)`` for a multi-page
        TIFF), ``C`` = 1 or 3, values unscaled in the stored range (e.g. 0..65535 for 16 bits).
        ``meta`` holds ``filename_or_obj`` / ``source_path``, ``format`` ("png", "jpeg",
        "tiff", "bmp"), ``decoder``, ``bit_depth``, ``dtype``, ``color`` ("GRAY" / "RGB"),
        ``palette_applied``, ``alpha_dropped``, ``inverted``, ``spacing`` (mm per pixel from the
        file's resolution when given, else 1.0; ``spacing_source`` says which), ``affine``
        (diagonal), ``spatial_shape`` and, for Pillow formats, the Pillow ``mode``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ImageReadError: the file is empty, truncated or not an image, is smaller than 2x2 pixels
            or holds NaN / infinite values; the message names the file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such image file: '{path}'.")
    if path.is_dir():
        raise ImageReadError(path, "is a folder, not an image file.")
    if path.stat().st_size == 0:
        raise ImageReadError(path, "the file is empty (0 bytes).")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        try:
            array, meta = _read_tifffile(path)
        except ImageReadError:
            raise
        except Exception as tiff_err:  # e.g. a compression that needs imagecodecs: let Pillow try
            try:
                array, meta = _read_pillow(path)
            except ImageReadError as pil_err:
                msg = " ".join(str(tiff_err).split())
                raise ImageReadError(path, f"not a readable TIFF file ({type(tiff_err).__name__}: {msg}).") from pil_err
    else:
        header = _png_header(path)
        if header is not None and header[0] == 16 and header[1] in _PNG16_ITK_SAMPLES:
            array, meta = _read_png16_itk(path)
        else:
            array, meta = _read_pillow(path)
    return _finish(array, path, meta)
