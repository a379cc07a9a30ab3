"""DICOM readers: single-frame and multi-frame files, and series folders, with geometry.

Pixel data is decoded by pydicom. For every compressed transfer syntax that the ``pylibjpeg``
plugins can decode (JPEG baseline / extended / lossless, JPEG-LS, JPEG 2000) the decoder is pinned
to ``pylibjpeg`` (libjpeg-turbo's and Pillow's JPEG decoders differ by up to 5 grey levels on
the same baseline stream, which would make figures depend on which packages happen to be
installed). RLE and deflate use pydicom's own decoder; uncompressed data needs none. The decoder
used is recorded in ``meta["decoder"]``.

Intensities are returned in **modality units** (Hounsfield units for CT, after the modality LUT
or rescale slope / intercept), with two conversions so that the array means what a user expects:

* ``MONOCHROME1`` (bright = low value, e.g. computed radiography) is inverted, so bright = dense
  as in ``MONOCHROME2``: ``out = inversion_sum - modality(stored)``, where ``inversion_sum`` =
  ``modality(min stored value) + modality(max stored value)`` of the ``BitsStored`` range. This
  is independent of the image content, so the inverse is exact: ``modality(stored) =
  inversion_sum - out``. ``meta["inverted"]`` and ``meta["inversion_sum"]`` keep it.
* ``PALETTE COLOR`` is mapped through its red / green / blue lookup tables (segmented or not) to
  three channels in the LUT's units (``meta["palette_applied"]``). ``YBR_*`` data is converted to
  RGB by pydicom. Colour images are returned as RGB channels; conversion to grey is left to the
  caller (see :mod:`monai_rmisr.data.corpus`).

Layout: channel-first ``float32``. A single-frame file gives ``(C, H, W)`` (rows, columns); a
multi-frame file (``NumberOfFrames > 1``) and a series give ``(C, H, W, F)`` with the frames /
slices along the **last** spatial axis, like MONAI's ``(C, H, W, D)`` volumes. ``C`` is 1 for
grey and 3 for colour.

Geometry: ``meta["affine"]`` is the 4x4 matrix that maps an array index ``(row, column[, frame],
1)`` to patient coordinates in millimetres in DICOM's LPS space (``meta["space"] == "LPS"``).
``meta["spacing"]`` holds one spacing per spatial array axis (rows, columns[, frames]),
``meta["origin"]`` the position of the first pixel (``ImagePositionPatient``) and
``meta["direction"]`` the 3x3 matrix whose columns are the unit directions of the array axes
(column cosine of ``ImageOrientationPatient`` for the row axis, row cosine for the column axis,
then the slice normal). ITK orders axes the other way round (x = columns first): the ITK index
``(column, row, slice)`` and our ``(row, column, slice)`` name the same point.

Everything needed to write the original stored values back is in ``meta`` (``rescale_slope``,
``rescale_intercept``, ``bits_stored``, ``pixel_representation``, ``photometric_interpretation``,
``inverted`` / ``inversion_sum``); :func:`stored_values` applies the inverse.
"""

from __future__ import annotations

import logging
import operator
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_color_lut, apply_modality_lut, get_decoder, pixel_array
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from .dicom_coding import lossy_compression_method
from .errors import BrokenSliceError, ImageReadError, ImageTooLargeError
from .image_data import ImageMeta
from .pydicom_messages import convert_elements, pydicom_messages

__all__ = [
    "PINNED_DECODER",
    "check_pixel_data",
    "read_dicom",
    "read_dicom_dataset",
    "read_dicom_series",
    "spacing_pair",
    "stored_values",
]

logger = logging.getLogger(__name__)

#: The pydicom decoding plugin used for every transfer syntax it supports (see module docstring).
PINNED_DECODER = "pylibjpeg"
#: Smallest accepted in-plane size; a 1x1 "image" is almost always a placeholder or a broken header.
MIN_IMAGE_SIZE = 2
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def _fail(path: str | os.PathLike[str], reason: str, cause: BaseException | None = None) -> ImageReadError:
    err = ImageReadError(path, reason)
    err.__cause__ = cause
    return err


def _check_file(path: Path) -> None:
    if not path.exists():
        raise FileNotFoundError(f"no such DICOM file: '{path}'.")
    if path.is_dir():
        raise ImageReadError(path, "is a folder, not a file; read a DICOM series with read_dicom_series().")
    if path.stat().st_size == 0:
        raise ImageReadError(path, "the file is empty (0 bytes).")


def read_dicom_dataset(
    path: str | os.PathLike[str],
    stop_before_pixels: bool = False,
    quiet: bool = False,
    specific_tags: Sequence[str] | None = None,
) -> Dataset:
    """The data set of a DICOM file as the readers take it (``pydicom.dcmread``, every element converted), every
    failure turned into :class:`ImageReadError`; the DICOM writer reads its template the same way.

    Files without the Part 10 header (no 128-byte preamble / ``DICM`` prefix: a raw data set as
    older software writes them) are read with ``force=True`` and their transfer syntax is taken
    from the encoding pydicom detected; a file whose file meta information comes without the preamble keeps that
    meta's. A Part 10 header that lacks the mandatory Transfer Syntax UID is a corrupt file and is rejected.
    ``stop_before_pixels``: the header only (``pydicom.dcmread``'s). ``quiet``: pydicom's warnings about the file
    neither logged nor kept, for a file read again after the reader has said them (the DICOM writer's template, the
    batch's grouping of series). ``specific_tags``: only these elements (``pydicom.dcmread``'s; a folder scan's
    few, fast), and no check that a file without the ``DICM`` prefix holds a data set.
    """
    path = Path(path)
    if quiet:
        with pydicom_messages(path, report=False):
            return read_dicom_dataset(path, stop_before_pixels, specific_tags=specific_tags)
    tags = list(specific_tags) if specific_tags is not None else None
    try:
        try:
            ds = convert_elements(pydicom.dcmread(path, stop_before_pixels=stop_before_pixels, specific_tags=tags))
            if "TransferSyntaxUID" not in ds.file_meta:
                raise ImageReadError(path, "its file meta information has no Transfer Syntax UID (0002,0010).")
            if not len(ds) and tags is None:
                raise empty_data_set_error(path)
            return ds
        except InvalidDicomError as err:
            ds = pydicom.dcmread(path, force=True, stop_before_pixels=stop_before_pixels, specific_tags=tags)
            ds = convert_elements(ds)
            if len(ds) < 3 and tags is None:  # garbage parses as a handful of bogus elements
                raise ImageReadError(path, "not a DICOM file (no 'DICM' prefix and no readable data set).") from err
            if len(ds.file_meta):  # the file meta information without the preamble before it
                if "TransferSyntaxUID" not in ds.file_meta:
                    raise ImageReadError(
                        path, "its file meta information has no Transfer Syntax UID (0002,0010)."
                    ) from err
                return ds
            implicit, little = ds.original_encoding
            syntax = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
            ds.file_meta.TransferSyntaxUID = syntax if little else ExplicitVRBigEndian
            return ds
    except ImageReadError:
        raise
    except Exception as err:  # pydicom raises many types on garbage (EOFError, struct.error, ...)
        raise _fail(path, f"not a readable DICOM file ({type(err).__name__}: {err}).", err) from err


def empty_data_set_error(path: Path) -> ImageReadError:
    """Why pydicom read no data set from a file with file meta information: cut off inside its pixel data (its
    header alone reads: pydicom drops every element when encapsulated pixel data ends early), or with nothing
    after the file meta."""
    try:
        with pydicom_messages(path, report=False):
            header = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception:  # as cut off as the full read said
        header = Dataset()
    if len(header):
        return ImageReadError(
            path, "it is cut off: the file ends inside its pixel data (its header reads, its frames do not end)."
        )
    return ImageReadError(
        path, "it holds no data set after its file meta information (an empty or cut-off DICOM file)."
    )


def _has_pixels(ds: Dataset) -> bool:
    return any(k in ds for k in _PIXEL_KEYWORDS)


def _no_pixels_reason(ds: Dataset) -> str:
    sop = ds.get("SOPClassUID")
    what = f"SOP class '{getattr(sop, 'name', sop)}'" if sop else "no SOP class"
    return f"it holds no pixel data ({what}); it is not an image, e.g. an RT plan, RT struct or report."


def _decoder_for(ds: Dataset, path: Path) -> str:
    """The decoding plugin to use: pinned ``pylibjpeg`` where it can decode, else pydicom's choice."""
    syntax = ds.file_meta.TransferSyntaxUID
    if not syntax.is_compressed:
        return "native"
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError as err:
        raise _fail(path, f"pixel data in transfer syntax '{syntax.name}' cannot be decoded.", err) from err
    plugins = decoder.available_plugins
    if PINNED_DECODER in plugins:
        return PINNED_DECODER
    if not plugins:
        raise ImageReadError(
            path,
            f"no installed plugin decodes '{syntax.name}'; install pylibjpeg, pylibjpeg-libjpeg, pylibjpeg-openjpeg.",
        )
    return plugins[0]


def _positive_int(ds: Dataset, keyword: str, tag: str, path: Path, default: int | None = None) -> int:
    """``ds.<keyword>`` as an integer > 0, or ``default`` when absent; else an error naming the tag."""
    try:
        value = ds.get(keyword)
    except Exception:  # a raw element that cannot be converted (wrong length for its VR)
        value = "unreadable"
    if value in (None, "") and default is not None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number <= 0 or number != value:
        what = "missing" if value in (None, "") else f"{str(value)!r}"
        raise ImageReadError(path, f"its {keyword} {tag} is {what}; a whole number > 0 is needed.")
    return number


def _check_image_header(ds: Dataset, path: Path, frames: int, max_values: int | None) -> None:
    """Refuse, before any pixel is decoded, a header that cannot describe an image this package handles.

    Rows, Columns and SamplesPerPixel must be whole numbers > 0, the SOP class must be known (the
    data set's SOPClassUID, else the file meta's MediaStorageSOPClassUID: a derived series needs
    it), and ``Rows * Columns * frames * SamplesPerPixel`` must not exceed ``max_values``.
    """
    rows = _positive_int(ds, "Rows", "(0028,0010)", path)
    columns = _positive_int(ds, "Columns", "(0028,0011)", path)
    samples = _positive_int(ds, "SamplesPerPixel", "(0028,0002)", path, default=1)
    if samples not in (1, 3):
        raise ImageReadError(path, f"its SamplesPerPixel (0028,0002) is {samples}; 1 (grey) or 3 (colour) is needed.")
    if not (ds.get("SOPClassUID") or ds.file_meta.get("MediaStorageSOPClassUID")):
        raise ImageReadError(path, "it has no SOPClassUID (0008,0016), so it is not a valid DICOM image.")
    values = rows * columns * frames * samples
    if max_values is not None and values > max_values:
        shape = f"{rows}x{columns} pixels" + (f" x {frames} frames" if frames > 1 else "")
        shape += f" x {samples} samples" if samples > 1 else ""
        raise ImageTooLargeError(
            path, f"it holds {shape} = {values:,} values, more than the {max_values:,} allowed; nothing was decoded."
        )


def _number_of_frames(ds: Dataset) -> int:
    try:
        return max(int(ds.get("NumberOfFrames", 1) or 1), 1)
    except (TypeError, ValueError):
        return 1


def _decode(ds: Dataset, path: Path, frames: Sequence[int] | None) -> tuple[np.ndarray, str]:
    """Decoded pixels, frames first for multi-frame data: ``(F, H, W[, S])`` or ``(H, W[, S])``."""
    plugin = _decoder_for(ds, path)
    kwargs: dict[str, Any] = {} if plugin == "native" else {"decoding_plugin": plugin}
    try:
        if frames is None:
            arr = pixel_array(ds, **kwargs)
        else:
            arr = np.stack([pixel_array(ds, index=int(i), **kwargs) for i in frames])
    except Exception as err:
        syntax = ds.file_meta.TransferSyntaxUID
        msg = " ".join(str(err).split())
        raise _fail(path, f"its pixel data cannot be decoded ({syntax.name}, decoder {plugin}): {msg}", err) from err
    return arr, plugin


def check_pixel_data(ds: Dataset, name: str | os.PathLike[str], max_values: int | None = None) -> None:
    """Refuse a data set (``name`` names it in the error) whose image the readers could not read: a header that
    describes no image they take or more than ``max_values`` values (from the header, nothing decoded), or pixel
    data that does not decode (truncated, a transfer syntax no installed plugin decodes), each frame decoded on
    its own as the readers will (the memory of one frame). A receiver checks an instance so before it answers
    that it stored it (one broken instance, accepted, failed its whole series later).

    Raises:
        ImageReadError: naming the problem (:class:`ImageTooLargeError` for the size).
    """
    path = Path(name)
    frames = _number_of_frames(ds)
    _check_image_header(ds, path, frames, max_values)
    for frame in range(frames) if frames > 1 else [None]:
        _decode(ds, path, None if frame is None else [frame])


def _floats(value: Any) -> list[float] | None:
    if value is None or value == "":
        return None
    try:
        values = list(value) if isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, str) else [value]
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None


def _functional_group(ds: Dataset, sequence: str, attribute: str, frame: int = 0) -> Any:
    """An attribute from the per-frame, then shared functional groups (enhanced multi-frame)."""
    for groups, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        items = ds.get(groups)
        if items is None or len(items) <= index:
            continue
        inner = items[index].get(sequence)
        if inner is not None and len(inner) and attribute in inner[0]:
            return inner[0].get(attribute)
    return None


def _rescale(ds: Dataset, frame: int, path: Path) -> tuple[float, float]:
    """``(RescaleSlope, RescaleIntercept)`` of ``frame``: (1, 0) when absent.

    Raises:
        ImageReadError: a slope of 0 (every pixel the same value, and not invertible for
            writing) or a non-finite slope or intercept, naming the file and the tag.
    """
    slope, intercept = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    if slope is None and intercept is None:
        slope = _functional_group(ds, "PixelValueTransformationSequence", "RescaleSlope", frame)
        intercept = _functional_group(ds, "PixelValueTransformationSequence", "RescaleIntercept", frame)
    for name, value, zero_allowed in (
        ("RescaleSlope (0028,1053)", slope, False),
        ("RescaleIntercept (0028,1052)", intercept, True),
    ):
        number = None if value in (None, "") else _floats(value)
        if value in (None, "") or (
            number and len(number) == 1 and np.isfinite(number[0]) and (zero_allowed or number[0])
        ):
            continue
        needed = "a finite number" if zero_allowed else "a finite number other than 0"
        raise ImageReadError(path, f"its {name} is {str(value)!r}; {needed} is needed.")
    return float(1.0 if slope in (None, "") else slope), float(0.0 if intercept in (None, "") else intercept)


def stored_range(bits_stored: int, signed: bool) -> tuple[int, int]:
    """The smallest and largest stored pixel value of ``bits_stored`` bits (two's complement if ``signed``)."""
    if signed:
        return -(2 ** (bits_stored - 1)), 2 ** (bits_stored - 1) - 1
    return 0, 2**bits_stored - 1


def _stored_range(ds: Dataset) -> tuple[int, int]:
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 16)))
    return stored_range(bits, int(ds.get("PixelRepresentation", 0)) == 1)


def _modality_units(
    arr: np.ndarray, ds: Dataset, frame_axis: bool, first_frame: int, path: Path
) -> tuple[np.ndarray, dict]:
    """Apply the modality LUT / rescale, per frame for enhanced multi-frame; float64 out."""
    info: dict[str, Any] = {"modality_lut": None}
    if "ModalityLUTSequence" in ds:
        lo, hi = _stored_range(ds)
        try:
            out = apply_modality_lut(arr, ds).astype(np.float64)
            ends = apply_modality_lut(np.array([lo, hi]), ds).astype(np.float64)
        except Exception as err:  # a LUTDescriptor that does not match LUTData: struct.error, IndexError, ...
            msg = " ".join(str(err).split())
            raise _fail(
                path, f"its ModalityLUTSequence (0028,3000) cannot be applied ({type(err).__name__}: {msg}).", err
            ) from err
        info["modality_lut"] = "ModalityLUTSequence"
        slope, intercept = (None, None)
        info["_ends"] = (float(ends[0]), float(ends[-1]))
    else:
        n = arr.shape[0] if frame_axis else 1
        pairs = [_rescale(ds, first_frame + k, path) for k in range(n)]
        out = arr.astype(np.float64)
        if len(set(pairs)) == 1:
            slope, intercept = pairs[0]
            if (slope, intercept) != (1.0, 0.0):
                out = out * slope + intercept
        else:  # per-frame rescale of an enhanced multi-frame object
            s = np.array([p[0] for p in pairs]).reshape(-1, *([1] * (arr.ndim - 1)))
            b = np.array([p[1] for p in pairs]).reshape(-1, *([1] * (arr.ndim - 1)))
            out = out * s + b
            slope, intercept = pairs[0]
            info["rescale_per_frame"] = pairs
        lo, hi = _stored_range(ds)
        info["_ends"] = (lo * slope + intercept, hi * slope + intercept)
    info["rescale_slope"] = slope
    info["rescale_intercept"] = intercept
    info["rescale_type"] = str(ds.get("RescaleType", "")) or None
    return out, info


def spacing_pair(value: Any) -> tuple[float, float] | None:
    """A spacing tag's value (``PixelSpacing``, ``ImagerPixelSpacing``, ...) as (row, column) in mm, or None where it
    is not two finite numbers > 0: the reader then does not take it, and the DICOM writer leaves it out."""
    values = _floats(value)
    if values and len(values) == 2 and all(np.isfinite(values)) and min(values) > 0:
        return values[0], values[1]
    return None


def _spacing_in_plane(ds: Dataset) -> tuple[tuple[float, float], str]:
    candidates = (
        ("PixelSpacing", ds.get("PixelSpacing")),
        ("PixelMeasuresSequence", _functional_group(ds, "PixelMeasuresSequence", "PixelSpacing")),
        ("ImagerPixelSpacing", ds.get("ImagerPixelSpacing")),
    )
    for source, value in candidates:
        pair = spacing_pair(value)
        if pair is not None:
            return pair, source
    regions = ds.get("SequenceOfUltrasoundRegions")
    if regions:  # ultrasound: physical deltas in cm (units code 3) of the 2-D regions
        deltas = {
            (float(r.PhysicalDeltaY), float(r.PhysicalDeltaX))
            for r in regions
            if r.get("RegionSpatialFormat") == 1
            and r.get("PhysicalUnitsXDirection") == 3
            and r.get("PhysicalUnitsYDirection") == 3
            and "PhysicalDeltaX" in r
            and "PhysicalDeltaY" in r
        }
        if len(deltas) == 1:
            dy, dx = deltas.pop()
            if dy > 0 and dx > 0:
                return (10.0 * abs(dy), 10.0 * abs(dx)), "SequenceOfUltrasoundRegions"
    return (1.0, 1.0), "default"


def _orientation(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Row cosine (direction of increasing column index) and column cosine, in LPS."""
    values = _floats(ds.get("ImageOrientationPatient"))
    if values is None:
        values = _floats(_functional_group(ds, "PlaneOrientationSequence", "ImageOrientationPatient"))
    if values is None or len(values) != 6:
        return np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    row, col = np.array(values[:3]), np.array(values[3:])
    if not (np.isfinite(values).all() and np.linalg.norm(row) > 0 and np.linalg.norm(col) > 0):
        return np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    return row / np.linalg.norm(row), col / np.linalg.norm(col)


def _position(ds: Dataset, frame: int = 0) -> np.ndarray | None:
    values = _floats(ds.get("ImagePositionPatient"))
    if values is None:
        values = _floats(_functional_group(ds, "PlanePositionSequence", "ImagePositionPatient", frame))
    if values is None or len(values) != 3 or not np.isfinite(values).all():
        return None
    return np.array(values)


def _geometry(
    spacing_2d: tuple[float, float], row_cos: np.ndarray, col_cos: np.ndarray, origin: np.ndarray, third: float
) -> tuple[np.ndarray, np.ndarray]:
    normal = np.cross(row_cos, col_cos)
    if third < 0:  # frames / slices stored against the normal: keep spacing positive, flip the axis
        third, normal = -third, -normal
    direction = np.stack([col_cos, row_cos, normal], axis=1)  # columns: row axis, column axis, slice axis
    affine = np.eye(4)
    affine[:3, :3] = direction * np.array([spacing_2d[0], spacing_2d[1], third])[None, :]
    affine[:3, 3] = origin
    return direction, affine


def _frame_spacing(ds: Dataset, nframes: int, normal: np.ndarray, first_frame: int) -> tuple[float, str]:
    if nframes > 1:
        p0, p1 = _position(ds, first_frame), _position(ds, first_frame + 1)
        if p0 is not None and p1 is not None and "PerFrameFunctionalGroupsSequence" in ds:
            step = float(np.dot(p1 - p0, normal))
            if step != 0:
                return step, "ImagePositionPatient"
    for source, value in (
        ("SpacingBetweenSlices", ds.get("SpacingBetweenSlices")),
        ("PixelMeasuresSequence", _functional_group(ds, "PixelMeasuresSequence", "SpacingBetweenSlices")),
        ("SliceThickness", ds.get("SliceThickness")),
        ("PixelMeasuresSequence", _functional_group(ds, "PixelMeasuresSequence", "SliceThickness")),
    ):
        values = _floats(value)
        if values and np.isfinite(values[0]) and values[0] > 0:
            return values[0], source
    return 1.0, "default"


def _check_array(arr: np.ndarray, path: Path) -> np.ndarray:
    """Reject tiny and non-finite images; return ``float32``."""
    height, width = arr.shape[1], arr.shape[2]
    if height < MIN_IMAGE_SIZE or width < MIN_IMAGE_SIZE:
        raise ImageReadError(
            path, f"the image is {height}x{width} pixels; at least {MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE} is needed."
        )
    out = arr.astype(np.float32, copy=False)
    if not np.isfinite(out).all():
        bad = int(np.size(out) - np.isfinite(out).sum())
        raise ImageReadError(path, f"{bad} of its {out.size} values are NaN or infinite.")
    return out


def _intensity(ds: Dataset, arr: np.ndarray, path: Path, multi: bool, first_frame: int) -> tuple[np.ndarray, dict]:
    """Photometric handling; returns channel-last float64 data plus the meta entries it implies."""
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    spp = int(ds.get("SamplesPerPixel", 1))
    info: dict[str, Any] = {
        "photometric_interpretation": photometric,
        "palette_applied": False,
        "inverted": False,
        "inversion_sum": None,
        "rescale_slope": 1.0,
        "rescale_intercept": 0.0,
        "rescale_type": None,
        "modality_lut": None,
    }
    if photometric == "PALETTE COLOR":
        try:
            rgb = apply_color_lut(arr, ds)
        except Exception as err:
            raise _fail(path, f"its palette colour lookup table cannot be applied: {err}", err) from err
        info["palette_applied"] = True
        info["color"] = "RGB"
        return rgb.astype(np.float64), info
    if spp == 3:
        info["color"] = "RGB"  # pydicom converts YBR_* to RGB while decoding
        return arr.astype(np.float64), info
    if not photometric.startswith("MONOCHROME"):
        raise ImageReadError(path, f"unsupported photometric interpretation '{photometric}'.")
    out, lut = _modality_units(arr, ds, multi, first_frame, path)
    ends = lut.pop("_ends")
    info.update(lut)
    info["color"] = "GRAY"
    if photometric == "MONOCHROME1":
        total = float(ends[0] + ends[1])
        out = total - out
        info["inverted"] = True
        info["inversion_sum"] = total
    return out, info


def _header_meta(ds: Dataset, path: Path, plugin: str) -> dict[str, Any]:
    syntax = ds.file_meta.TransferSyntaxUID
    sop = ds.get("SOPClassUID")
    return {
        "filename_or_obj": str(path),
        "source_path": str(path),
        "format": "dicom",
        "modality": str(ds.get("Modality", "")) or None,
        "sop_class_uid": str(sop) if sop else None,
        "pixel_data_keyword": next((k for k in _PIXEL_KEYWORDS if k in ds), None),
        "series_instance_uid": str(ds.get("SeriesInstanceUID", "")) or None,
        "transfer_syntax": str(syntax),
        "transfer_syntax_name": syntax.name,
        "decoder": plugin,
        "samples_per_pixel": int(ds.get("SamplesPerPixel", 1)),
        "bits_allocated": int(ds.get("BitsAllocated", 0)) or None,
        "bits_stored": int(ds.get("BitsStored", 0)) or None,
        "high_bit": int(ds["HighBit"].value) if "HighBit" in ds else None,
        "pixel_representation": int(ds.get("PixelRepresentation", 0)),
        "window_center": _floats(ds.get("WindowCenter")),
        "window_width": _floats(ds.get("WindowWidth")),
        "lossy_compression": str(ds.get("LossyImageCompression", "")) == "01" or bool(lossy_compression_method(ds)),
    }


def _to_channel_first(data: np.ndarray, color: bool, frames_axis: bool) -> np.ndarray:
    """``(F, H, W[, 3])`` / ``(H, W[, 3])`` -> ``(C, H, W, F)`` / ``(C, H, W)``."""
    if not color:
        data = data[..., None]
    if frames_axis:
        return np.moveaxis(data, (0, 3), (3, 0))  # (F, H, W, C) -> (C, H, W, F)
    return np.moveaxis(data, -1, 0)


def read_dicom(
    path: str | os.PathLike[str], frames: Sequence[int] | None = None, max_values: int | None = None
) -> tuple[np.ndarray, ImageMeta]:
    """Read one DICOM file into a channel-first ``float32`` array in modality units, plus metadata.

    See the module docstring for the intensity conventions (modality LUT applied, ``MONOCHROME1``
    inverted, palette colour expanded to RGB), the pinned decoder and the geometry keys.

    Args:
        path: a DICOM file (Part 10, or a raw data set without the ``DICM`` header).
        frames: for a multi-frame file, the 0-based indices of the frames to decode (the others
            are never decompressed); default all frames. With ``frames`` the result is always
            ``(C, H, W, len(frames))``, even for one frame.
        max_values: refuse, before decoding, a file whose ``Rows * Columns * frames *
            SamplesPerPixel`` (the frames asked for) exceeds this; ``None``: no limit.

    Returns:
        ``(array, meta)``. ``array`` is ``(C, H, W)`` for a single-frame file and ``(C, H, W, F)``
        for a multi-frame file, ``C`` = 1 (grey) or 3 (RGB), values in modality units (e.g. HU),
        not normalised. ``meta`` holds ``filename_or_obj`` / ``source_path``, ``format`` ("dicom"),
        ``modality``, ``photometric_interpretation`` (as stored), ``color`` ("GRAY" or "RGB": the
        meaning of the returned channels), ``rescale_slope``, ``rescale_intercept``,
        ``bits_stored``, ``bits_allocated``, ``pixel_representation``, ``inverted``,
        ``inversion_sum``, ``palette_applied``, ``window_center``, ``window_width`` (as stored, in
        modality units, lists or None), ``number_of_frames``, ``frames``, ``spacing``,
        ``spacing_source``, ``origin``, ``direction``, ``affine``, ``space`` ("LPS"),
        ``transfer_syntax``, ``decoder`` and ``spatial_shape``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ImageReadError: the file is empty, truncated, not DICOM, has no pixel data, a header
            without valid Rows / Columns / SamplesPerPixel or SOP class, more than ``max_values``
            values, cannot be decoded, is smaller than 2x2 pixels or holds NaN / infinite values;
            the message names the file.
    """
    path = Path(path)
    _check_file(path)
    with pydicom_messages(path):
        return _read_dicom(path, frames, max_values)


def _read_dicom(path: Path, frames: Sequence[int] | None, max_values: int | None) -> tuple[np.ndarray, ImageMeta]:
    ds = read_dicom_dataset(path)
    if not _has_pixels(ds):
        raise ImageReadError(path, _no_pixels_reason(ds))
    nframes = _number_of_frames(ds)
    if frames is not None:
        frames = [int(i) for i in frames]
        if not frames or any(i < 0 or i >= nframes for i in frames):
            raise ValueError(f"frames must be indices in [0, {nframes}) for '{path}', got {frames}.")
    _check_image_header(ds, path, nframes if frames is None else len(frames), max_values)
    arr, plugin = _decode(ds, path, frames)
    multi = frames is not None or nframes > 1
    data, info = _intensity(ds, arr, path, multi, frames[0] if frames else 0)
    color = info["color"] == "RGB"
    out = _check_array(_to_channel_first(data, color, multi), path)

    spacing_2d, spacing_source = _spacing_in_plane(ds)
    row_cos, col_cos = _orientation(ds)
    first = frames[0] if frames else 0
    origin = _position(ds, first)
    third, third_source = _frame_spacing(ds, nframes, np.cross(row_cos, col_cos), first)
    if frames is not None and len(frames) > 1:
        steps = np.diff(frames)
        if np.all(steps == steps[0]):
            third *= int(steps[0])
    direction, affine = _geometry(spacing_2d, row_cos, col_cos, np.zeros(3) if origin is None else origin, third)
    meta = _header_meta(ds, path, plugin)
    meta.update(info)
    meta.update(
        {
            "number_of_frames": nframes,
            "frames": frames,
            "frame_time": _floats(ds.get("FrameTime")),
            "spatial_shape": tuple(out.shape[1:]),
            "spacing": (*spacing_2d, abs(third)) if multi else spacing_2d,
            "spacing_source": spacing_source if not multi else (spacing_source, third_source),
            "origin": tuple(float(v) for v in affine[:3, 3]),
            "direction": direction,
            "affine": affine,
            "space": "LPS",
        }
    )
    return out, ImageMeta(meta)


def stored_values(array: np.ndarray, meta: dict[str, Any]) -> np.ndarray:
    """Invert :func:`read_dicom`'s intensity conversion for a grey image: modality units -> stored.

    Undoes the ``MONOCHROME1`` inversion (``inversion_sum - x``) and the linear rescale
    (``(x - intercept) / slope``). The result is ``float64`` and not rounded or clipped to the
    ``bits_stored`` range, so the caller decides how to quantise (e.g. ``np.rint`` then clip to
    ``[0, 2**bits_stored - 1]`` for unsigned data).

    Args:
        array: values in modality units, as returned by :func:`read_dicom` (any shape).
        meta: the metadata dict returned with it.

    Raises:
        ValueError: for colour images (palette / RGB cannot be mapped back to single stored
            values) and for non-linear modality LUTs.
    """
    if meta.get("color") != "GRAY" or meta.get("palette_applied"):
        raise ValueError(f"stored_values() needs a grey DICOM image, got color={meta.get('color')!r}.")
    if meta.get("modality_lut") or meta.get("rescale_slope") is None:
        raise ValueError("stored_values() cannot invert a non-linear modality LUT (ModalityLUTSequence).")
    x = np.array(array, dtype=np.float64)  # a copy, then in place: one float64 array at a time (large images)
    if meta.get("inverted"):
        np.subtract(float(meta["inversion_sum"]), x, out=x)
    x -= float(meta["rescale_intercept"])
    x /= float(meta["rescale_slope"])
    return x


#: File-name suffixes that announce a DICOM file: such a file in a series folder that is not
#: DICOM is a broken slice, not a stray note to ignore.
_DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")


def _series_files(
    folder: Path, said: dict[Path, list[str]], series_uid: str | None = None, unnamed: set[str] | None = None
) -> tuple[list[tuple[Path, Dataset]], list[ImageReadError]]:
    """The DICOM image files of ``folder`` with their data sets, and an error for each broken one;
    what pydicom warned about each file read is added to ``said``. With ``series_uid``, a file whose header names
    another series is left out from its header alone (a folder of 20 series is not decoded 20 times), and the files
    whose header names no series are added to ``unnamed`` (as ``str``)."""
    found, broken = [], []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        if path.name.upper() == "DICOMDIR":
            continue
        if series_uid is not None:
            named = _named_series(path)
            if named is None:
                if unnamed is not None:
                    unnamed.add(str(path))
            elif named != series_uid:
                continue
        if path.stat().st_size == 0:
            broken.append(ImageReadError(path, "the file is empty (0 bytes)."))
            continue
        try:
            with pydicom_messages(path, report=False) as messages:
                said[path] = messages
                ds = convert_elements(pydicom.dcmread(path))
            if not len(ds):  # a slice cut off inside its pixel data reads as nothing: not a note to skip
                broken.append(empty_data_set_error(path))
                continue
        except InvalidDicomError as err:
            try:  # a raw data set, or file meta without the preamble: read as a single file is
                with pydicom_messages(path, report=False) as messages:
                    said[path] = messages
                    ds = read_dicom_dataset(path)
            except ImageReadError:
                if path.suffix.lower() in _DICOM_SUFFIXES:
                    broken.append(_fail(path, "not a DICOM file (no 'DICM' prefix).", err))
                else:
                    said.pop(path, None)  # notes beside the slices: what pydicom made of them is no one's business
                    logger.debug("read_dicom_series: skipping non-DICOM file '%s'.", path)
                continue
        except Exception as err:
            msg = " ".join(str(err).split())
            broken.append(_fail(path, f"not a readable DICOM file ({type(err).__name__}: {msg}).", err))
            continue
        if not _has_pixels(ds):
            sop = ds.get("SOPClassUID")
            if "Image Storage" in str(getattr(sop, "name", "")):  # an image without its pixels: cut short
                broken.append(ImageReadError(path, f"it is a {sop.name} object without pixel data (truncated?)."))
            else:  # a report, presentation state, notes read with force ... beside the slices
                said.pop(path, None)  # what pydicom made of it is not the series' business
                logger.debug("read_dicom_series: skipping '%s' (no pixel data).", path)
            continue
        if "TransferSyntaxUID" not in ds.file_meta:
            broken.append(ImageReadError(path, "its file meta information has no Transfer Syntax UID (0002,0010)."))
            continue
        found.append((path, ds))
    return found, broken


#: How far the direction cosines (ImageOrientationPatient) of two slices of one series may differ: one orientation.
ORIENTATION_TOLERANCE = 1e-4
#: How many of a series' distinct pydicom messages :func:`read_dicom_series` quotes in its one line.
SERIES_MESSAGES_QUOTED = 5


def _report_series_messages(folder: Path, said: dict[Path, list[str]]) -> None:
    """One line for what pydicom warned about the files of a series (300 slices with the same odd value would
    otherwise say it 300 times): how many files, and the distinct messages, each with its first file and how
    many files share it (the first :data:`SERIES_MESSAGES_QUOTED`, then how many more)."""
    files: dict[str, list[Path]] = {}
    for path, messages in said.items():
        for message in messages:
            files.setdefault(message, []).append(path)
    if not files:
        return

    def others(count: int) -> str:
        return f" (and {count} more file{'s' if count > 1 else ''})" if count else ""

    quoted = [
        f"'{paths[0]}'{others(len(paths) - 1)}: {message}"
        for message, paths in list(files.items())[:SERIES_MESSAGES_QUOTED]
    ]
    more = len(files) - len(quoted)
    logger.warning(
        "read_dicom_series: pydicom warned about %d of the %d files read in '%s' (read as they are): %s%s",
        sum(1 for messages in said.values() if messages),
        len(said),
        folder,
        "; ".join(quoted),
        f"; and {more} other messages" if more else "",
    )


def _most_slices(folder: Path, what: str, values: Sequence[Any], same: Callable[[Any, Any], bool]) -> Any:
    """The value that more than half of a series' slices share (``same`` tells two values of one group; the first
    of the group stands for it): the series' own, beside which another slice is odd.

    Raises:
        ImageReadError: no value is held by more than half of the slices (two stacks of two orientations, two by
            two): which half is the series, and which slices are odd, is unknown; refused whole, even where broken
            slices would be left out (the file names decided which half was kept).
    """
    groups: list[list[Any]] = []
    for value in values:
        group = next((g for g in groups if same(g[0], value)), None)
        if group is None:
            groups.append([value])
        else:
            group.append(value)
    largest = max(groups, key=len)
    if 2 * len(largest) <= len(values):
        counts = " and ".join(str(len(g)) for g in sorted(groups, key=len, reverse=True))
        raise ImageReadError(
            folder,
            f"its slices are of {len(groups)} {what} ({counts} slices), none held by most of them: which slices are "
            "the series is unknown; refused whole (put each stack in a folder of its own).",
        )
    return largest[0]


def _named_series(path: Path) -> str | None:
    """The SeriesInstanceUID the header of the (broken) file ``path`` names; None when it names none or cannot be
    read."""
    try:
        ds = read_dicom_dataset(path, stop_before_pixels=True, quiet=True, specific_tags=["SeriesInstanceUID"])
    except ImageReadError:
        return None
    return str(ds.get("SeriesInstanceUID", "")) or None


def _bad_slice(
    err: ImageReadError, folder: Path, skip: bool, skipped: list[dict[str, str]], unknown_series: bool = False
) -> None:
    """Record a broken slice when ``skip``, named by its SOP Instance UID too where its header has one (what a PACS
    knows it by; the file may be a temporary copy, gone once the series is derived); else raise its error, saying
    that it is a slice of ``folder``. ``unknown_series``: a file of a folder holding several series whose series
    cannot be told (it may be a slice of the one read); recorded with ``"series": "unknown"``."""
    reason = err.reason
    if unknown_series:
        reason = f"its series cannot be told ({reason.rstrip('.')}), so it may be a slice of any series of the folder."
    if not skip:
        raise BrokenSliceError(err.path, folder, reason) from err
    try:
        uid = str(
            read_dicom_dataset(err.path, stop_before_pixels=True, quiet=True, specific_tags=["SOPInstanceUID"]).get(
                "SOPInstanceUID", ""
            )
        )
    except ImageReadError:
        uid = ""
    what = "a file of unknown series" if unknown_series else "a broken slice"
    logger.warning("read_dicom_series: leaving out %s%s: %s", what, f" (SOP Instance UID {uid})" if uid else "", err)
    entry = {"path": err.path, "reason": reason, **({"instance": uid} if uid else {})}
    skipped.append({**entry, **({"series": "unknown"} if unknown_series else {})})


def read_dicom_series(
    folder: str | os.PathLike[str],
    series_uid: str | None = None,
    tolerance: float = 1e-3,
    skip_bad_slices: bool = False,
    max_values: int | None = None,
) -> tuple[np.ndarray, ImageMeta]:
    """Read a folder of single-frame DICOM slices as one volume, sorted along the slice normal.

    Slices are sorted by the projection of ``ImagePositionPatient`` on the normal of
    ``ImageOrientationPatient`` (``InstanceNumber`` when positions are missing), as ITK's
    ``GDCMSeriesFileNames`` does, and each slice goes through :func:`read_dicom`'s conversion with
    its own rescale slope / intercept. Non-DICOM files (other than ``*.dcm``, ``*.dicom``,
    ``*.ima``) and DICOM objects without pixel data in the folder are ignored; a folder holding a
    single multi-frame file is read with :func:`read_dicom`.

    A series is one unit: a broken slice (empty, truncated, undecodable, a ``*.dcm`` that is not
    DICOM, a bad header) makes the whole series fail with an error naming that file, unless
    ``skip_bad_slices``, which leaves it out (logged, and listed in ``meta["skipped_slices"]``).

    Args:
        folder: the series folder (not searched recursively).
        series_uid: which ``SeriesInstanceUID`` to read when the folder holds several series.
        tolerance: relative tolerance on the slice spacing; larger deviations are logged as
            non-uniform spacing (the mean step is used) and recorded in ``meta``.
        skip_bad_slices: leave broken slices out instead of refusing the series (at least one
            slice must be readable). The slice spacing is then taken from the remaining slices.
        max_values: refuse, before decoding, a series of more than this many values
            (``Rows * Columns * slices * SamplesPerPixel``); ``None``: no limit.

    Returns:
        ``(array, meta)``: ``array`` is ``(C, H, W, S)`` float32, slices along the last axis;
        ``meta`` as :func:`read_dicom` plus ``series_files`` (the sorted paths),
        ``slice_positions`` (mm along the normal), ``slice_spacing_uniform``, ``slice_grid_error`` (how far the
        slices' origins lie from the affine's evenly spaced grid, mm: along the normal, and across it, a gantry
        tilt), the per-slice
        ``rescale_slopes`` / ``rescale_intercepts`` and ``skipped_slices`` (``[{"path",
        "reason"}]``, empty unless ``skip_bad_slices`` left some out). ``spacing`` is ``(row,
        column, slice)`` and ``affine`` maps ``(row, column, slice, 1)`` to LPS millimetres.

    Raises:
        FileNotFoundError: ``folder`` does not exist.
        ImageReadError: the folder has no DICOM images, several series and no ``series_uid``,
            slices of different size or orientation, two slices at the same position, more than
            ``max_values`` values, or a broken slice (the message names that file).
    """
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"no such DICOM series folder: '{folder}'.")
    if not folder.is_dir():
        raise ImageReadError(folder, "is a file, not a series folder; read it with read_dicom().")
    said: dict[Path, list[str]] = {}
    try:
        return _read_dicom_series(folder, series_uid, tolerance, skip_bad_slices, max_values, said)
    finally:
        _report_series_messages(folder, said)


def _slice_grid_error(keyed: list[tuple[Any, ...]], normal: np.ndarray, step: float) -> tuple[float, float]:
    """How far the slices' origins (sorted ``(key, path, ds, position)`` entries, ``key`` the position along the
    normal) lie from the volume's grid, mm: along the normal, from the evenly spaced positions the affine gives them
    (first position plus ``step`` per slice: uneven spacing, a missing slice); across it, from the first slice's line
    along the normal (a gantry tilt: each origin shifted in the slice plane)."""
    along = np.array([k[0] for k in keyed], dtype=float)
    positions = np.array([k[3] for k in keyed], dtype=float)
    across = positions - np.outer(along, normal)
    off_grid = np.abs(along - (along[0] + step * np.arange(len(along))))
    drift = np.linalg.norm(across - across[0], axis=1)
    return float(off_grid.max()), float(drift.max())


def _read_dicom_series(
    folder: Path,
    series_uid: str | None,
    tolerance: float,
    skip_bad_slices: bool,
    max_values: int | None,
    said: dict[Path, list[str]],
) -> tuple[np.ndarray, ImageMeta]:
    # with series_uid, the files whose headers name another series are left out; a file whose series cannot be
    # told (a header cut off, or without a SeriesInstanceUID) may be a slice of this one, so it counts as broken
    unnamed: set[str] = set()  # files whose header names no series (read once, as _series_files leaves others out)
    found, broken = _series_files(folder, said, series_uid, unnamed)
    series: dict[str, list[tuple[Path, Dataset]]] = {}
    for path, ds in found:
        series.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append((path, ds))
    unknown: set[str] = set()  # files of a folder of several series that may or may not be slices of this one
    if series_uid is not None and series_uid != "":
        unknown = {str(err.path) for err in broken if str(err.path) in unnamed}
        for path, _ in series.pop("", []):
            broken.append(ImageReadError(path, "it has no SeriesInstanceUID."))
            unknown.add(str(path))
    skipped: list[dict[str, str]] = []
    for err in broken:
        _bad_slice(err, folder, skip_bad_slices, skipped, unknown_series=str(err.path) in unknown)
    if series_uid is not None:
        if series_uid not in series:
            raise ImageReadError(folder, f"holds no DICOM image of the series {series_uid}.")
        members = series[series_uid]
    elif len(series) == 1:
        members = next(iter(series.values()))
    elif not series:
        raise ImageReadError(
            folder, "holds no readable DICOM image files." if skipped else "holds no DICOM image files."
        )
    else:
        listed = "; ".join(
            f"{uid or '(none)'}: series {files[0][1].get('SeriesNumber', '?')} "
            f"{str(files[0][1].get('SeriesDescription', '') or '')!r}, {len(files)} file(s)"
            for uid, files in series.items()
        )
        raise ImageReadError(
            folder,
            f"holds {len(series)} series ({listed}): rmisr upscale and the bundle take each as an input of its own; "
            "read one with read_image(SeriesInFolder(folder, uid, name)) or read_dicom_series(folder, series_uid=uid), "
            "or put each series in a folder of its own.",
        )
    for keyword, what in (("PatientID", "patients"), ("StudyInstanceUID", "studies")):
        # one SeriesInstanceUID over two patients or studies is a UID clash (a device's bug, a copy edited by
        # hand), not a series: its derived series would mix them. Not a broken slice: which files are wrong is
        # unknown. The values are not named (a patient's ID); the counts are.
        values = {str(ds.get(keyword, "")).strip() for _, ds in members}  # leading spaces are not significant
        if len(values) > 1:
            raise ImageReadError(
                folder,
                f"its series {members[0][1].get('SeriesInstanceUID', '')!s} holds slices of {len(values)} "
                f"different {what} ({keyword}): one SeriesInstanceUID for both is not one series; refused whole.",
            )
    if len(members) == 1 and not skipped and _number_of_frames(members[0][1]) > 1:
        said.pop(members[0][0], None)  # read_dicom says them
        return read_dicom(members[0][0], max_values=max_values)
    for path, ds in members:
        if _number_of_frames(ds) > 1:
            raise ImageReadError(path, "is a multi-frame file inside a series of several files.")

    headers_ok = []
    for path, ds in members:
        try:
            _check_image_header(ds, path, 1, None)
            headers_ok.append((path, ds))
        except ImageReadError as err:
            _bad_slice(err, folder, skip_bad_slices, skipped)
    if not headers_ok:
        raise ImageReadError(folder, f"holds no readable slice ({len(skipped)} broken).")
    members = headers_ok
    first_ds = members[0][1]
    # the series' size, orientation and pixel spacing are those of most of its slices, so an odd slice (a scout of
    # another size among the slices) is the one named, or left out with skip_bad_slices, wherever it sorts
    orientations = [np.concatenate(_orientation(ds)) for _, ds in members]
    orientation = _most_slices(
        folder, "orientations", orientations, lambda a, b: np.allclose(a, b, atol=ORIENTATION_TOLERANCE)
    )
    row_cos, col_cos = orientation[:3], orientation[3:]
    normal = np.cross(row_cos, col_cos)
    shape0 = _most_slices(folder, "sizes", [(int(ds.Rows), int(ds.Columns)) for _, ds in members], operator.eq)
    values = shape0[0] * shape0[1] * len(members) * int(first_ds.get("SamplesPerPixel", 1) or 1)
    if max_values is not None and values > max_values:
        raise ImageTooLargeError(
            folder,
            f"its {len(members)} slices of {shape0[0]}x{shape0[1]} pixels hold {values:,} values, more than the "
            f"{max_values:,} allowed; nothing was decoded.",
        )
    keyed = []
    # positions on some slices only: a slice without one has no place among them (sorting millimetres and instance
    # numbers as one key put it anywhere, and a first slice without one put the volume at the origin)
    positioned = sum(_position(ds) is not None for _, ds in members)
    # a slice on another in-plane grid has other pixel positions (its outputs were placed by the first slice's
    # spacing: 5.85 mm off with an ROI)
    spacings = [_spacing_in_plane(ds)[0] for _, ds in members]
    spacing0 = _most_slices(folder, "pixel spacings", spacings, lambda a, b: np.allclose(a, b, rtol=1e-4, atol=1e-6))
    for (path, ds), own_orientation, spacing in zip(members, orientations, spacings):
        odd = None
        if (int(ds.Rows), int(ds.Columns)) != shape0:
            odd = f"is {ds.Rows}x{ds.Columns} but the series is {shape0[0]}x{shape0[1]}."
        elif not np.allclose(own_orientation, orientation, atol=ORIENTATION_TOLERANCE):
            odd = "its ImageOrientationPatient differs from the rest of the series."
        elif not np.allclose(spacing, spacing0, rtol=1e-4, atol=1e-6):
            odd = (
                f"has pixels of {spacing[0]:g} x {spacing[1]:g} mm but the series {spacing0[0]:g} x "
                f"{spacing0[1]:g} mm: another in-plane grid is not one volume."
            )
        if odd is not None:  # refused by name, or left out with skip_bad_slices (it was refused either way)
            _bad_slice(ImageReadError(path, odd), folder, skip_bad_slices, skipped)
            continue
        position = _position(ds)
        if position is None and positioned:
            reason = (
                f"has no ImagePositionPatient, which the other {positioned} slice(s) of the series have: its place "
                "in the volume is unknown."
            )
            _bad_slice(ImageReadError(path, reason), folder, skip_bad_slices, skipped)
            continue
        key = float(np.dot(position, normal)) if position is not None else float(ds.get("InstanceNumber", 0) or 0)
        keyed.append((key, path, ds, position))
    keyed.sort(key=lambda k: k[0])
    keys = np.array([k[0] for k in keyed])
    if len(keyed) > 1 and np.any(np.diff(keys) == 0):
        dup = [str(keyed[i + 1][1]) for i in np.flatnonzero(np.diff(keys) == 0)]
        raise ImageReadError(folder, f"two slices share one position (duplicates: {dup}).")

    slices, slopes, intercepts, kept = [], [], [], []
    meta: dict[str, Any] = {}
    for entry in keyed:
        _, path, ds, _ = entry
        try:
            with pydicom_messages(path, report=False) as messages:
                arr, plugin = _decode(ds, path, None)
                data, info = _intensity(ds, arr, path, False, 0)
                slices.append(_check_array(_to_channel_first(data, info["color"] == "RGB", False), path))
        except ImageReadError as err:
            _bad_slice(err, folder, skip_bad_slices, skipped)
            continue
        finally:
            said[path] = list(dict.fromkeys([*said.get(path, []), *messages]))
        slopes.append(info["rescale_slope"])
        intercepts.append(info["rescale_intercept"])
        if not kept:
            meta = _header_meta(ds, path, plugin)
            meta.update(info)
        kept.append(entry)
    if not kept:
        raise ImageReadError(folder, f"holds no readable slice ({len(skipped)} broken).")
    keyed = kept
    keys = np.array([k[0] for k in keyed])
    has_positions = all(k[3] is not None for k in keyed)
    volume = np.stack(slices, axis=-1)

    steps = np.diff(keys) if has_positions and len(keys) > 1 else np.array([])
    if steps.size:
        step = float(steps.mean())
        uniform = bool(np.all(np.abs(steps - step) <= tolerance * abs(step)))
        if not uniform:
            logger.warning(
                "read_dicom_series: '%s' has non-uniform slice spacing (%s mm); using the mean %.4g mm.",
                folder,
                np.round(steps, 4).tolist(),
                step,
            )
        third, third_source = step, "ImagePositionPatient"
    else:
        third, third_source = _frame_spacing(first_ds, 1, normal, 0)
        uniform = True
    grid_error = _slice_grid_error(keyed, normal, third) if steps.size else (0.0, 0.0)
    spacing_2d, spacing_source = _spacing_in_plane(keyed[0][2])
    origin = keyed[0][3] if keyed[0][3] is not None else np.zeros(3)
    direction, affine = _geometry(spacing_2d, row_cos, col_cos, origin, third)
    meta.update(
        {
            "filename_or_obj": str(folder),
            "source_path": str(folder),
            "format": "dicom-series",
            "series_files": [str(k[1]) for k in keyed],
            "skipped_slices": skipped,
            "slice_positions": keys.tolist() if has_positions else None,
            "slice_spacing_uniform": uniform,
            "slice_grid_error": grid_error,
            "rescale_slopes": slopes,
            "rescale_intercepts": intercepts,
            "number_of_frames": len(keyed),
            "frames": None,
            "spatial_shape": tuple(volume.shape[1:]),
            "spacing": (*spacing_2d, abs(third)),
            "spacing_source": (spacing_source, third_source),
            "origin": tuple(float(v) for v in affine[:3, 3]),
            "direction": direction,
            "affine": affine,
            "space": "LPS",
        }
    )
    return volume, ImageMeta(meta)
