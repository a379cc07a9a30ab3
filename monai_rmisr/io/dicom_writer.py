"""DICOM output: a super-resolved image as a new *derived* series of the source's study.

What a PACS and ``dciodvfy`` expect of a derived image, and what this module does:

* identity: same patient and study; a new ``SeriesInstanceUID`` (one per written series), a new
  ``SOPInstanceUID`` per file (``MediaStorageSOPInstanceUID`` matching), the source's SOP class;
  ``ImageType`` ``DERIVED\\SECONDARY`` (its further values kept), ``SeriesDescription`` marked as
  super-resolved, a ``SeriesNumber`` of its own (:func:`derived_series_number`: the source's number
  followed by five digits from the new UID);
* provenance, added to the source's own history (:func:`_record_derivation`): a
  ``DerivationDescription`` naming the model (with the SHA-256 of its weights), package version and scale
  after the source's, an item of ``ContributingEquipmentSequence`` naming this package as processing
  equipment (:func:`_add_contributing_equipment`), the
  derivation code (113085, DCM, "Spatial resampling") after the source's codes and a
  ``SourceImageSequence`` naming the source instance; at the top level for classic images, as an
  item of the ``DerivationImageSequence`` in the functional groups (plus the source in
  ``SourceImageEvidenceSequence``) for enhanced multi-frame images;
* geometry: ``Rows``/``Columns``, ``PixelSpacing`` / ``ImagerPixelSpacing`` /
  ``NominalScannedPixelSpacing`` and the enhanced ``PixelMeasuresSequence`` divided by the zoom,
  ``ImagePositionPatient`` moved to the centre of the new first pixel (and the crop origin of a
  ``--roi``), ``SliceThickness``/``SpacingBetweenSlices``/``SliceLocation`` for slices made along
  z, ultrasound region coordinates scaled;
* values: the source's stored representation restored (inverse of MONOCHROME1 inversion and
  rescale slope/intercept, ``BitsStored``, signedness, photometric interpretation), rounded and
  clipped to the stored range. Where that cannot be inverted exactly (a non-linear
  ``ModalityLUTSequence``, 32-bit data) the modality values are written as 16-bit with a new
  linear rescale. Palette and YBR colour images are written as RGB;
* padding: a grey source's ``PixelPaddingValue`` (and ``PixelPaddingRangeLimit``) is kept, mapped to
  the stored values that stand for the same modality values (unchanged where the stored
  representation is restored). An output pixel whose whole interpolation support in the source (the
  4 x 4 input pixels around the position it samples, 4 slices too across slices made along z) is
  padding is set to exactly ``PixelPaddingValue``; every other pixel keeps its super-resolved value,
  except that one landing in the padding range (undershoot in air next to padding of air) is moved
  one stored step out of it: an image pixel is never shown as padding;
* encoding: Explicit VR Little Endian (uncompressed; a big-endian source is re-encoded),
  ``LossyImageCompression`` "01" when the source was lossy, by its header or by its pixel data's coding
  (:func:`~monai_rmisr.io.dicom_coding.lossy_compression_method`), pixel statistics that no longer hold
  (smallest/largest value, icons) removed.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut
from pydicom.sequence import Sequence as DicomSequence
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from .._version import __version__
from .dicom import read_dicom_dataset, spacing_pair, stored_range, stored_values
from .dicom_coding import lossy_compression_method
from .dicom_pixel_marks import resample_overlays, shift_regions, shift_shutters
from .geometry import input_index, resampling_of
from .provenance import PRODUCER, SOFTWARE
from .pydicom_messages import pydicom_messages

__all__ = [
    "IMPLEMENTATION_CLASS_UID",
    "NOT_RESAMPLED_CLASSES",
    "derivation_description",
    "derivation_tag",
    "derived_series_number",
    "not_resampled_reason",
    "write_dicom",
    "write_dicom_series",
]

logger = logging.getLogger(__name__)
_SPACING_TAGS = ("PixelSpacing", "ImagerPixelSpacing", "NominalScannedPixelSpacing")
#: the file meta's Implementation Class UID of every file this package writes: one UID for monai-rmisr under
#: pydicom's UID root (derived from the name, so the same in every release; the release is in
#: ImplementationVersionName), not pydicom's own, so a PACS log names the software that wrote the file
IMPLEMENTATION_CLASS_UID = generate_uid(entropy_srcs=[PRODUCER])
_SOURCE_FILE_META = (
    "SourceApplicationEntityTitle",
    "SendingApplicationEntityTitle",
    "ReceivingApplicationEntityTitle",
    "SourcePresentationAddress",
    "SendingPresentationAddress",
    "ReceivingPresentationAddress",
    "PrivateInformationCreatorUID",
    "PrivateInformation",
)
_STALE_TAGS = (
    "SmallestImagePixelValue",
    "LargestImagePixelValue",
    "SmallestPixelValueInSeries",
    "LargestPixelValueInSeries",
    "IconImageSequence",
    "ExtendedOffsetTable",
    "ExtendedOffsetTableLengths",
    "FloatPixelData",
    "DoubleFloatPixelData",
)
#: A palette: of a PALETTE COLOR source (written as RGB), or a grey image's supplemental palette (Enhanced CT / MR,
#: PixelPresentation COLOR or MIXED), which maps stored values to colours and stays only while they do
_PALETTE_TAGS = (
    "RedPaletteColorLookupTableDescriptor",
    "GreenPaletteColorLookupTableDescriptor",
    "BluePaletteColorLookupTableDescriptor",
    "RedPaletteColorLookupTableData",
    "GreenPaletteColorLookupTableData",
    "BluePaletteColorLookupTableData",
    "SegmentedRedPaletteColorLookupTableData",
    "SegmentedGreenPaletteColorLookupTableData",
    "SegmentedBluePaletteColorLookupTableData",
    "PaletteColorLookupTableUID",
)
# Enhanced MR attributes that DICOM allows only when Image Type value 1 is ORIGINAL or MIXED
_ORIGINAL_ONLY_ENHANCED = (
    "PulseSequenceName",
    "MRAcquisitionType",
    "EchoPulseSequence",
    "MultipleSpinEcho",
    "MultiPlanarExcitation",
    "PhaseContrast",
    "TimeOfFlightContrast",
    "Spoiling",
    "SteadyStatePulseSequence",
    "EchoPlanarPulseSequence",
    "SaturationRecovery",
    "SpectrallySelectedSuppression",
    "OversamplingPhase",
    "GeometryOfKSpaceTraversal",
    "RectilinearPhaseEncodeReordering",
    "SegmentedKSpaceTraversal",
    "CoverageOfKSpace",
    "NumberOfKSpaceTrajectories",
    "BulkMotionCompensationTechnique",
    "BulkMotionSignalSource",
)
_ST_LIMIT = 1024  # characters of a Short Text (ST) value: DerivationDescription
_LO_LIMIT = 64  # characters of a Long String (LO) value: SeriesDescription
_DERIVATION_CODE = codes.DCM.SpatialResampling  # (113085, DCM), CID 7203 Image Derivation
_SOURCE_PURPOSE = codes.DCM.SourceImageForImageProcessingOperation  # (121322, DCM), CID 7202
_EQUIPMENT_PURPOSE = codes.DCM.ProcessingEquipment  # (109102, DCM), CID 7005 Contributing Equipment Purposes
# derived SeriesNumber = source SeriesNumber * 100000 + a 5-digit number from the new SeriesInstanceUID
_SERIES_NUMBER_DIGITS = 100_000
_IS_MAX = 2**31 - 1  # the largest value of an IS (Integer String) element
_SOURCE_SERIES_NUMBERS = _IS_MAX // _SERIES_NUMBER_DIGITS  # 21474: source numbers 0 ... 21473 are kept as they are


def derived_series_number(source_number: Any, series_uid: str) -> int:
    """The ``SeriesNumber`` of a derived series: the source's number followed by five digits from its UID.

    ``source_number * 100000 + 10000 + (SHA-256 of series_uid) mod 90000``, so a PACS lists the
    derived series after the acquired ones, grouped by source (series 3 gives 3xxxxx, series 12 gives
    12xxxxx) and every written series gets its own number:

    * series derived from different source series never share a number (the leading digits differ);
    * two runs on one source series get new SeriesInstanceUIDs and so, with probability
      1 - 1/90000 per pair, different numbers (deterministic for a given UID).

    A missing, empty or negative source number counts as 0; source numbers from 21474 up are taken
    modulo 21474 so the result stays within the IS range (at most ``2**31 - 1``).

    Args:
        source_number: the source's ``SeriesNumber`` (an ``IS`` value, ``None`` or ``""``).
        series_uid: the ``SeriesInstanceUID`` of the derived series.
    """
    source = int(source_number) if source_number not in (None, "") else 0
    component = int.from_bytes(hashlib.sha256(str(series_uid).encode("ascii")).digest()[:8], "big") % 90_000
    return max(source, 0) % _SOURCE_SERIES_NUMBERS * _SERIES_NUMBER_DIGITS + 10_000 + component


def _scale_text(meta: Mapping[str, Any]) -> str:
    scale = dict(meta.get("derivation") or {}).get("scale")
    return f"x{scale:g}" if isinstance(scale, (int, float)) else "x?"


def _interpolated(meta: Mapping[str, Any]) -> bool:
    """Whether the output is plain interpolation (``--model bicubic``), which must not be labelled super-resolved."""
    return dict(meta.get("derivation") or {}).get("method") == "interpolation"


#: DICOM objects whose pixels are not an image to super-resolve, by SOP Class UID, and why
NOT_RESAMPLED_CLASSES = {
    pydicom.uid.SegmentationStorage: (
        "it is a DICOM Segmentation (SEG): its values are segments, which super-resolution would blend into segments "
        "that do not exist; resample it with nearest-neighbour interpolation"
    ),
    # Label Map and Height Map Segmentation Storage (DICOM 2024; not yet named by pydicom): segments too
    pydicom.uid.UID("1.2.840.10008.5.1.4.1.1.66.7"): (
        "it is a DICOM Label Map Segmentation: its values are segments, which super-resolution would blend into "
        "segments that do not exist; resample it with nearest-neighbour interpolation"
    ),
    pydicom.uid.UID("1.2.840.10008.5.1.4.1.1.66.8"): (
        "it is a DICOM Height Map Segmentation: its values are heights of a segmented surface, not an image; resample "
        "it with the software that made it"
    ),
    pydicom.uid.RTDoseStorage: (
        "it is an RT Dose: its values are doses scaled by DoseGridScaling, which a derived image written by this "
        "package would not keep (the doses would change); resample the dose grid with your treatment-planning software"
    ),
}


def not_resampled_reason(meta: Mapping[str, Any]) -> str | None:
    """Why a DICOM source (``meta``: its reader's metadata) cannot be super-resolved into a derived DICOM image, or
    None: a segmentation or an RT dose (:data:`NOT_RESAMPLED_CLASSES`), or pixels stored as floating point
    (``FloatPixelData``, a Parametric Map), which the writer has no encoding for."""
    reason = NOT_RESAMPLED_CLASSES.get(str(meta.get("sop_class_uid") or ""))
    if reason is not None:
        return reason
    keyword = meta.get("pixel_data_keyword")
    if keyword in ("FloatPixelData", "DoubleFloatPixelData"):
        return f"its pixels are floating point ({keyword}, a Parametric Map), which the DICOM writer cannot encode"
    return None


def derivation_tag(meta: Mapping[str, Any]) -> str:
    """The short mark of a super-resolved output from ``meta["derivation"]``: ``SR x2`` (``SR x2 z`` for slices
    made along z; ``interpolated x2`` for ``--model bicubic``); a DICOM output's SeriesDescription ends with it,
    other formats' text fields start with it."""
    axis = " z" if dict(meta.get("derivation") or {}).get("axis") == "z" else ""
    return f"{'interpolated' if _interpolated(meta) else 'SR'} {_scale_text(meta)}{axis}"


def derivation_description(meta: Mapping[str, Any]) -> str:
    """Our part of a derived DICOM's DerivationDescription (after the source's own, if any) from
    ``meta["derivation"]``: the method (``Super-resolved``, or ``Interpolated (bicubic)`` for ``--model
    bicubic``), the scale, in-plane or through-plane, the region (``x0,y0,x1,y1``) where only one was
    super-resolved, package version, model with the SHA-256 of its weights, how it was run, and the source's slices
    left out (``meta["skipped_slices"]``, ``--skip-bad-slices``), by SOP Instance UID where known."""
    info = dict(meta.get("derivation") or {})
    where = "through-plane (z)" if info.get("axis", "xy") == "z" else "in-plane"
    roi = info.get("roi")
    region = f" (region {','.join(str(int(v)) for v in roi)} of the source)" if roi else ""
    method = "Interpolated (bicubic)" if _interpolated(meta) else "Super-resolved"
    weights = f" (weights SHA-256 {info['weights_sha256']})" if info.get("weights_sha256") else ""
    description = (
        f"{method} {_scale_text(meta)} {where}{region} by {SOFTWARE}, model "
        f"{info.get('model', 'unknown')}{weights}"
        f"{' (self-ensemble of 8 flips/rotations)' if info.get('self_ensemble') else ''}"
        f"{' (bfloat16 compute)' if info.get('precision') == 'bfloat16' else ''}{_left_out(meta)}; not for primary "
        "diagnosis"
    )
    return description[:_ST_LIMIT]


#: how many left-out slices a DerivationDescription names by SOP Instance UID (64 characters each at most)
_LEFT_OUT_NAMED = 3


def _left_out(meta: Mapping[str, Any]) -> str:
    """``; 2 source slices left out (SOP Instance UID 1.2.3, 1.2.4)`` (broken, or off the series' grid: the reason is
    logged), ``; 1 file of unknown series in the source folder left out`` (a folder of several series), or nothing."""
    skipped = list(meta.get("skipped_slices") or [])
    own = [entry for entry in skipped if entry.get("series") != "unknown"]
    unknown = len(skipped) - len(own)
    text = ""
    if own:
        uids = [str(entry["instance"]) for entry in own if entry.get("instance")]
        named = ", ".join(uids[:_LEFT_OUT_NAMED])
        named += f" and {len(uids) - _LEFT_OUT_NAMED} more" if len(uids) > _LEFT_OUT_NAMED else ""
        text += f"; {len(own)} source slice{'s' if len(own) > 1 else ''} left out"
        text += f" (SOP Instance UID {named})" if uids else ""
    if unknown:
        text += f"; {unknown} file{'s' if unknown > 1 else ''} of unknown series in the source folder left out"
    return text


def _appended_description(theirs: str, ours: str) -> str:
    """``theirs; ours`` within the 1024 characters of DerivationDescription (VR ST): ours is kept
    whole, theirs is shortened (ending ``...``) when both do not fit."""
    theirs = theirs.strip()
    if not theirs:
        return ours
    room = _ST_LIMIT - len(ours) - 2
    if len(theirs) > room:
        theirs = theirs[: max(room - 3, 0)].rstrip() + "..."
    return f"{theirs}; {ours}"


def _series_description(theirs: str, ours: str) -> str:
    """``theirs ours`` within the 64 characters of SeriesDescription (VR LO): ours is kept whole and
    theirs is cut at its end, since its start is what a reader sees first ("T2 TSE AXIAL ...")."""
    theirs = theirs.strip()
    room = _LO_LIMIT - len(ours) - 1
    return f"{theirs[:room].rstrip()} {ours}" if theirs else ours


def _code_item(code: Any) -> Dataset:
    """A Code Sequence Macro item (CodeValue, CodingSchemeDesignator, CodeMeaning) for a pydicom ``Code``."""
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code.value, code.scheme_designator, code.meaning
    return item


def _source_reference(source_class: str, source_instance: str, frame: int | None = None) -> Dataset:
    """A Source Image Sequence item naming the source instance (and ``frame``, 1-based) as the image processed."""
    reference = Dataset()
    reference.ReferencedSOPClassUID = source_class
    reference.ReferencedSOPInstanceUID = source_instance
    if frame is not None:
        reference.ReferencedFrameNumber = frame
    reference.PurposeOfReferenceCodeSequence = DicomSequence([_code_item(_SOURCE_PURPOSE)])
    return reference


def _add_evidence(ds: Dataset, source_class: str, source_instance: str, source_series: str) -> None:
    """Add the source instance to ``SourceImageEvidenceSequence`` (Hierarchical SOP Instance Reference
    Macro: study, series, instance), which enhanced IODs require to list every instance their
    Derivation Image Sequences name; the source's own entries are kept."""
    study_uid = str(ds.get("StudyInstanceUID", "") or "")
    if not (study_uid and source_series):
        return
    evidence = ds.get("SourceImageEvidenceSequence") or DicomSequence()
    study = next((item for item in evidence if item.get("StudyInstanceUID") == study_uid), None)
    if study is None:
        study = Dataset()
        study.StudyInstanceUID, study.ReferencedSeriesSequence = study_uid, DicomSequence()
        evidence.append(study)
    series = next(
        (item for item in study.ReferencedSeriesSequence if item.get("SeriesInstanceUID") == source_series), None
    )
    if series is None:
        series = Dataset()
        series.SeriesInstanceUID, series.ReferencedSOPSequence = source_series, DicomSequence()
        study.ReferencedSeriesSequence.append(series)
    if all(item.get("ReferencedSOPInstanceUID") != source_instance for item in series.ReferencedSOPSequence):
        instance = Dataset()
        instance.ReferencedSOPClassUID, instance.ReferencedSOPInstanceUID = source_class, source_instance
        series.ReferencedSOPSequence.append(instance)
    ds.SourceImageEvidenceSequence = evidence


def _record_derivation(
    ds: Dataset,
    description: str,
    source: tuple[str, str, str] | None,
    enhanced: bool,
    also_from: tuple[tuple[str, str], ...] = (),
) -> None:
    """Add this derivation to the source's own history.

    Classic images (General Image module): ``DerivationDescription`` becomes the source's followed
    by ours, ``DerivationCodeSequence`` gains ``(113085, DCM, "Spatial resampling")`` after the
    source's codes, and ``SourceImageSequence`` names the source instance, which is what the
    standard asks for: the source's own Source Image Sequence (its predecessors) is not copied, it
    stays reachable through the source instance, and the source's ``ReferencedImageSequence`` is kept
    as it is. Enhanced (functional group) images: an item with the same three attributes is appended
    to the ``DerivationImageSequence`` of the Shared Functional Groups, or of every frame when the
    source records its derivation per frame (then naming that frame of the source); derivation
    attributes a source had at the top level, outside those IODs, are folded into that item, and the
    source instance is added to ``SourceImageEvidenceSequence``.

    Args:
        ds: the derived instance, still carrying the source's attributes.
        description: our DerivationDescription.
        source: ``(SOPClassUID, SOPInstanceUID, SeriesInstanceUID)`` of the source, ``None`` when it has
            no valid SOP Instance UID.
        enhanced: whether ``ds`` is an enhanced multi-frame (functional group) image.
        also_from: ``(SOPClassUID, SOPInstanceUID)`` of further sources of a classic image (the other slices a
            slice made along z is interpolated from), named after ``source`` in ``SourceImageSequence``.
    """
    theirs = str(ds.get("DerivationDescription", "") or "")
    codes_before = list(ds.get("DerivationCodeSequence", []) or [])
    if not enhanced:
        ds.DerivationDescription = _appended_description(theirs, description)
        ds.DerivationCodeSequence = DicomSequence([*codes_before, _code_item(_DERIVATION_CODE)])
        if source:
            ds.SourceImageSequence = DicomSequence([_source_reference(*uids) for uids in (source[:2], *also_from)])
        else:
            ds.pop("SourceImageSequence", None)  # the source's predecessors are not ours
        return
    for keyword in ("DerivationDescription", "DerivationCodeSequence", "SourceImageSequence"):
        ds.pop(keyword, None)  # not part of the enhanced IODs at the top level

    def item(frame: int | None) -> Dataset:
        derivation = Dataset()
        derivation.DerivationDescription = _appended_description(theirs, description)
        derivation.DerivationCodeSequence = DicomSequence([*copy.deepcopy(codes_before), _code_item(_DERIVATION_CODE)])
        derivation.SourceImageSequence = DicomSequence([_source_reference(*source[:2], frame)] if source else [])
        return derivation

    if source:
        _add_evidence(ds, *source)
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    if any("DerivationImageSequence" in frame for frame in per_frame):
        for index, frame in enumerate(per_frame):
            frame.DerivationImageSequence = DicomSequence([*frame.get("DerivationImageSequence", []), item(index + 1)])
        return
    if not ds.get("SharedFunctionalGroupsSequence"):
        ds.SharedFunctionalGroupsSequence = DicomSequence([Dataset()])
    shared = ds.SharedFunctionalGroupsSequence[0]
    shared.DerivationImageSequence = DicomSequence([*shared.get("DerivationImageSequence", []), item(None)])


def _add_contributing_equipment(
    ds: Dataset, meta: Mapping[str, Any], description: str, when: datetime.datetime
) -> None:
    """Name this package as processing equipment (SOP Common module): an item appended to the source's
    ``ContributingEquipmentSequence`` with ``(109102, DCM, "Processing Equipment")``, Manufacturer ``monai-rmisr``,
    the model as ManufacturerModelName, the package version as SoftwareVersions, the time and our
    DerivationDescription (the weights' SHA-256 included) as ContributionDescription: where an audit of the
    equipment that touched an image looks, beside the acquiring scanner's own (General Equipment) attributes."""
    item = Dataset()
    item.PurposeOfReferenceCodeSequence = DicomSequence([_code_item(_EQUIPMENT_PURPOSE)])
    item.Manufacturer = PRODUCER
    item.ManufacturerModelName = str(dict(meta.get("derivation") or {}).get("model") or "unknown")[:_LO_LIMIT]
    item.SoftwareVersions = str(__version__)
    item.ContributionDateTime = when.strftime("%Y%m%d%H%M%S")
    item.ContributionDescription = description
    ds.ContributingEquipmentSequence = DicomSequence([*(ds.get("ContributingEquipmentSequence") or []), item])


def _quantise(values: np.ndarray, bits_stored: int, signed: bool) -> np.ndarray:
    """Round and clip stored values to the integer type of ``bits_stored``; ``values`` (float64, a
    temporary of the caller) is overwritten, so a large image needs no second float64 copy."""
    lo, hi = stored_range(bits_stored, signed)
    dtype = (np.int8 if signed else np.uint8) if bits_stored <= 8 else (np.int16 if signed else np.uint16)
    np.rint(values, out=values)
    np.clip(values, lo, hi, out=values)
    return values.astype(dtype)


def _frames_last_to_first(array: np.ndarray) -> np.ndarray:
    """(C, H, W[, F]) reader layout -> pydicom layout (F, H, W[, C]) or (H, W[, C])."""
    data = np.moveaxis(array, 0, -1)  # (H, W[, F], C)
    if data.ndim == 4:
        data = np.moveaxis(data, 2, 0)  # (F, H, W, C)
    return data[..., 0] if data.shape[-1] == 1 else data


def _padding_range(ds: Dataset) -> tuple[int, int] | None:
    """``(PixelPaddingValue, PixelPaddingRangeLimit)`` as stored values (the limit is the value itself when
    absent; padding is every stored value between the two); ``None`` when ``ds`` declares no padding or
    is not a grey image."""
    if "PixelPaddingValue" not in ds or int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        return None
    bits = int(ds.get("BitsAllocated", 16) or 16)
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1

    def stored(value: Any) -> int:  # a signed value written with VR US reads as its two's complement
        value = int(value)
        return value - (1 << bits) if signed and value >= 1 << (bits - 1) else value

    value = stored(ds.PixelPaddingValue)
    limit = stored(ds.PixelPaddingRangeLimit) if "PixelPaddingRangeLimit" in ds else value
    return value, limit


def _padding_mask(path: str | os.PathLike[str], header: Dataset | None = None) -> np.ndarray | None:
    """Where the stored pixels of the DICOM file ``path`` are padding, ``((F,) H, W)``; ``None`` without padding.
    ``header``: the file's header, where the caller has read it already."""
    limits = _padding_range(
        header if header is not None else read_dicom_dataset(path, stop_before_pixels=True, quiet=True)
    )
    if limits is None:
        return None
    with pydicom_messages(path, report=False):  # a decoder's warnings too: the reader has said them
        stored = read_dicom_dataset(path).pixel_array
    return (stored >= min(limits)) & (stored <= max(limits))


def _support(position: np.ndarray, size: int) -> np.ndarray:
    """The input indices ``(n, 4)`` an interpolation at each (continuous) input ``position`` draws on: the
    4 nearest samples (the support of bicubic), or the sample itself at an integral position."""
    base = np.floor(position + 1e-9).astype(int)
    window = base[:, None] + np.arange(-1, 3)
    integral = np.abs(position - base) < 1e-6
    return np.clip(np.where(integral[:, None], base[:, None], window), 0, size - 1)


def _resampled_padding(
    mask: np.ndarray | None, zoom: tuple[float, ...], start: tuple[float, ...], shape: tuple[int, ...]
) -> np.ndarray | None:
    """The output pixels (grid ``shape`` in-plane) whose whole interpolation support in ``mask`` is padding."""
    if mask is None:
        return None
    rows = _support(input_index(np.arange(shape[0]), zoom[0], start[0]), mask.shape[-2])
    columns = _support(input_index(np.arange(shape[1]), zoom[1], start[1]), mask.shape[-1])
    return mask[..., rows, :].all(axis=-2)[..., columns].all(axis=-1)


def _set_padding(
    ds: Dataset,
    data: np.ndarray,
    padding: np.ndarray | None,
    limits: tuple[float, float],
    stored: tuple[int, int],
) -> None:
    """Write ``limits`` (output stored values of PixelPaddingValue and PixelPaddingRangeLimit) into ``ds``,
    set the ``padding`` pixels of ``data`` (pydicom layout) to exactly PixelPaddingValue, and move every
    other pixel that landed in the padding range (a network's undershoot in air next to a padding value
    of air) one stored step out of it, to the nearer side within ``stored`` (the smallest and largest
    stored value): viewers leave padding out of statistics and fusion, so an image pixel must not be one."""
    signed = np.issubdtype(data.dtype, np.signedinteger)
    value, limit = (int(np.clip(np.rint(v), np.iinfo(data.dtype).min, np.iinfo(data.dtype).max)) for v in limits)
    had_limit = "PixelPaddingRangeLimit" in ds
    for keyword in ("PixelPaddingValue", "PixelPaddingRangeLimit"):
        ds.pop(keyword, None)
    ds.add_new("PixelPaddingValue", "SS" if signed else "US", value)
    if had_limit:
        ds.add_new("PixelPaddingRangeLimit", "SS" if signed else "US", limit)
    lo, hi = min(value, limit), max(value, limit)
    inside = (data >= lo) & (data <= hi)
    if padding is not None:
        inside &= ~padding
        data[padding] = value
    below, above = lo - 1, hi + 1
    if not inside.any() or (below < stored[0] and above > stored[1]):  # a range over every value: no way out
        return
    wide = data[inside].astype(np.int64)
    if below < stored[0]:
        moved = np.full_like(wide, above)
    elif above > stored[1]:
        moved = np.full_like(wide, below)
    else:
        moved = np.where(wide - below <= above - wide, below, above)
    data[inside] = moved.astype(data.dtype)


def _pixels(ds: Dataset, array: np.ndarray, meta: Mapping[str, Any], padding: np.ndarray | None = None) -> None:
    """Set the pixel data of ``ds`` from ``array`` (reader units) in the source's stored form (:func:`_set_pixels`),
    keeping its NumberOfFrames: pydicom's ``set_pixel_data`` removes it for one frame, which a multi-frame IOD
    (Enhanced CT, a one-frame Secondary Capture with a FrameIncrementPointer) requires."""
    frames = ds.get("NumberOfFrames")
    _set_pixels(ds, array, meta, padding)
    if frames is not None and "NumberOfFrames" not in ds:
        ds.NumberOfFrames = frames


def _drop_palette(ds: Dataset) -> None:
    for keyword in _PALETTE_TAGS:
        ds.pop(keyword, None)
    if ds.get("PixelPresentation") in ("COLOR", "MIXED"):  # a colour presentation needs the palette it lost
        ds.PixelPresentation = "MONOCHROME"


def _set_pixels(ds: Dataset, array: np.ndarray, meta: Mapping[str, Any], padding: np.ndarray | None = None) -> None:
    """Set the pixel data of ``ds`` from ``array`` (reader units) in the source's stored form.

    A grey source's PixelPaddingValue (and PixelPaddingRangeLimit) is kept, mapped to the stored
    values that represent the same modality value in the output, and the ``padding`` pixels
    (pydicom layout, from :func:`_resampled_padding`) are set to exactly PixelPaddingValue. A grey source's
    supplemental palette is kept where the stored values keep their meaning (the source's rescale), else
    dropped with the colour presentation.
    """
    limits = _padding_range(ds)
    if meta.get("color") == "RGB":
        _drop_palette(ds)
        for keyword in ("PixelPaddingValue", "PixelPaddingRangeLimit"):  # grey images only
            ds.pop(keyword, None)
        rgb = np.asarray(array, dtype=np.float64)
        if meta.get("palette_applied") and rgb.max(initial=0) > 255:
            rgb = rgb / 257.0  # 16-bit palette entries -> the 8 bits colour IODs (US, SC) expect
        source_bits = int(meta.get("bits_stored") or meta.get("bits_allocated") or 8)
        if source_bits > 16:  # 32-bit colour (Secondary Capture allows it): the same colours in 16 bits, not clipped
            rgb = rgb * (65535.0 / (2.0**source_bits - 1.0))
        rgb = np.clip(np.rint(rgb), 0, 65535)
        bits = 8 if rgb.max(initial=0) <= 255 else 16
        data = _frames_last_to_first(rgb.astype(np.uint8 if bits == 8 else np.uint16))
        ds.set_pixel_data(data, "RGB", bits, generate_instance_uid=False)
        return
    bits_allocated = int(meta.get("bits_allocated") or 16)
    bits_stored = int(meta.get("bits_stored") or bits_allocated)
    exact = not meta.get("modality_lut") and meta.get("rescale_slope") is not None and bits_allocated <= 16
    if exact:
        per_frame = meta.get("rescale_per_frame")
        if per_frame and array.ndim == 4 and len(per_frame) == array.shape[-1]:
            stored = np.stack(
                [
                    stored_values(array[..., k], {**meta, "rescale_slope": s, "rescale_intercept": b})
                    for k, (s, b) in enumerate(per_frame)
                ],
                axis=-1,
            )
        else:
            stored = stored_values(array, meta)
        signed = int(meta.get("pixel_representation") or 0) == 1
        data = _frames_last_to_first(_quantise(stored, bits_stored, signed))
        if limits is not None:  # the stored representation is the source's: so are the padding values
            _set_padding(ds, data, padding, limits, stored_range(bits_stored, signed))
        photometric = "MONOCHROME1" if meta.get("inverted") else "MONOCHROME2"
        ds.set_pixel_data(data, photometric, bits_stored, generate_instance_uid=False)
        return
    # a new linear rescale that spans the values in 16 bits (modality LUT or 32-bit source)
    _drop_palette(ds)
    values = np.asarray(array, dtype=np.float64)
    if meta.get("inverted"):
        values = float(meta["inversion_sum"]) - values
    lo, hi = float(values.min()), float(values.max())
    padding_values = None if limits is None else apply_modality_lut(np.array(limits), ds).astype(np.float64)
    if padding_values is not None:  # the padding's modality values must be representable too
        lo, hi = min(lo, float(padding_values.min())), max(hi, float(padding_values.max()))
    slope = (hi - lo) / 65535.0 if hi > lo else 1.0
    data = _frames_last_to_first(_quantise((values - lo) / slope, 16, False))
    if padding_values is not None:
        _set_padding(ds, data, padding, tuple((padding_values - lo) / slope), stored_range(16, False))
    for keyword in ("ModalityLUTSequence", "RescaleSlope", "RescaleIntercept"):
        ds.pop(keyword, None)
    ds.RescaleSlope, ds.RescaleIntercept = _decimal_strings((slope, lo))
    ds.RescaleType = meta.get("rescale_type") or "US"
    photometric = "MONOCHROME1" if meta.get("inverted") else "MONOCHROME2"
    ds.set_pixel_data(data, photometric, 16, generate_instance_uid=False)


def _decimal_strings(values: Any) -> list[str]:
    return [f"{float(v):.10g}"[:16] for v in values]


#: (source, tag) pairs warned about in this process, so that a series' slices say it once (bounded: cleared when full)
_WARNED: set[tuple[str, str]] = set()
_WARNED_MAX = 10_000


def _warn_once(key: tuple[str, str], message: str, value: str) -> None:
    """``logger.warning(message, *key, value)`` the first time ``key`` comes (a series writes its slices one by one)."""
    if key in _WARNED:
        return
    if len(_WARNED) >= _WARNED_MAX:
        _WARNED.clear()
    _WARNED.add(key)
    logger.warning(message, *key, value)


def _scale_spacing(ds: Dataset, zoom: tuple[float, ...]) -> None:
    """Divide the in-plane spacing tags by the zoom. One that is not two numbers > 0 (``abc\\0.5``, a single value),
    which the reader does not take either, is removed (said once per source file and tag): kept, it would describe the
    source's grid, not the new one."""

    def scaled(item: Dataset) -> None:
        for keyword in _SPACING_TAGS:
            if keyword not in item:
                continue
            pair = spacing_pair(item[keyword].value)
            if pair is None:
                value = item[keyword].value
                _warn_once(
                    (str(getattr(ds, "filename", None) or "the source"), keyword),
                    "'%s': %s '%s' is not two numbers > 0 (row, column spacing in mm): left out of the output",
                    "\\".join(str(v) for v in value) if item[keyword].VM > 1 else str(value),
                )
                del item[keyword]
                continue
            item[keyword].value = _decimal_strings((pair[0] / zoom[0], pair[1] / zoom[1]))

    scaled(ds)
    for group in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        for frame in ds.get(group, []):
            for measures in frame.get("PixelMeasuresSequence", []):
                scaled(measures)
    for region in ds.get("SequenceOfUltrasoundRegions", []):
        for keyword, axis in (("PhysicalDeltaX", 1), ("PhysicalDeltaY", 0)):
            if keyword in region:
                region[keyword].value = float(region[keyword].value) / zoom[axis]


def _move_positions(ds: Dataset, shift: np.ndarray) -> None:
    """Add ``shift`` (mm, patient space) to every ImagePositionPatient of ``ds``."""

    def moved(item: Dataset) -> None:
        if "ImagePositionPatient" in item and item["ImagePositionPatient"].VM == 3:
            position = np.array([float(v) for v in item.ImagePositionPatient]) + shift
            item.ImagePositionPatient = _decimal_strings(position)

    moved(ds)
    for group in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        for frame in ds.get(group, []):
            for position in frame.get("PlanePositionSequence", []):
                moved(position)


def _valid_uid(uid: str) -> bool:
    """A UID a validator accepts: the syntax and an ISO root (0, 1 or 2). Asked quietly: the reader has said
    what pydicom thinks of the source's values, naming the file."""
    return pydicom.uid.UID(uid, validation_mode=pydicom.config.IGNORE).is_valid and uid.split(".")[0] in ("0", "1", "2")


def _derive(ds: Dataset, meta: Mapping[str, Any], series_uid: str, also_from: tuple[tuple[str, str], ...] = ()) -> None:
    """Identity, description and provenance of a derived instance (new SOP Instance UID); ``also_from``: see
    :func:`_record_derivation`."""
    description, short = derivation_description(meta), derivation_tag(meta)
    if not ds.get("SOPClassUID"):  # read_dicom accepts the file meta's copy of a missing SOPClassUID
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    source_class, source_instance = ds.get("SOPClassUID"), ds.get("SOPInstanceUID")
    source_series = str(ds.get("SeriesInstanceUID", "") or "")
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    ds.file_meta.ImplementationVersionName = f"RMISR_{__version__}"[:16]
    for keyword in _SOURCE_FILE_META:  # the node that wrote the source file did not write this one
        ds.file_meta.pop(keyword, None)
    ds.SeriesInstanceUID = series_uid
    image_type = list(ds.get("ImageType", []) or [])
    enhanced = "Enhanced" in getattr(ds.get("SOPClassUID"), "name", "") or "SharedFunctionalGroupsSequence" in ds
    if enhanced:
        # enhanced multi-frame IODs allow only PRIMARY as value 2, and the frame types must agree
        ds.ImageType = ["DERIVED", "PRIMARY", *image_type[2:]]
        for group in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
            for frame in ds.get(group, []):
                for element in frame:
                    if element.VR == "SQ" and element.keyword.endswith("FrameTypeSequence"):
                        for item in element.value:
                            if "FrameType" in item:
                                item.FrameType = ["DERIVED", "PRIMARY", *list(item.FrameType)[2:]]
        for keyword in _ORIGINAL_ONLY_ENHANCED:
            ds.pop(keyword, None)
    else:
        ds.ImageType = ["DERIVED", "SECONDARY", *image_type[2:]]
    ds.SeriesDescription = _series_description(str(ds.get("SeriesDescription", "") or ""), short)
    ds.SeriesNumber = derived_series_number(ds.get("SeriesNumber"), series_uid)
    now = datetime.datetime.now()
    ds.InstanceCreationDate, ds.InstanceCreationTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.ContentDate, ds.ContentTime = ds.InstanceCreationDate, ds.InstanceCreationTime
    valid = source_class and source_instance and _valid_uid(str(source_instance))
    source = (source_class, source_instance, source_series) if valid else None
    also_from = tuple(uids for uids in also_from if uids[1] != source_instance and _valid_uid(str(uids[1])))
    _record_derivation(ds, description, source, enhanced, also_from if source else ())
    _add_contributing_equipment(ds, meta, description, now)
    for keyword in _STALE_TAGS:
        ds.pop(keyword, None)


def _template(path: str | os.PathLike[str]) -> Dataset:
    ds = read_dicom_dataset(path, quiet=True)  # read as the reader read it: a raw data set too
    method = lossy_compression_method(ds)  # from the source's still encoded pixels
    if method and ds.get("LossyImageCompression") != "01":
        # the source's pixels went through lossy coding, whatever its header says: the output (written
        # uncompressed) must keep saying so (PS3.3 C.7.6.1.1.5: once lossy, always "01")
        ds.LossyImageCompression = "01"
        ds.LossyImageCompressionMethod = method
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian  # decoded values are native little endian
    # the 128-byte preamble is the writer's (a TIFF header in a dual-format file, whose offsets would no longer
    # point at the new pixels; or anything hidden there): ours is empty
    ds.preamble = b"\x00" * 128
    return ds


def _save(ds: Dataset, path: str | os.PathLike[str]) -> None:
    """Write ``ds`` as Explicit VR Little Endian, whatever the source's encoding was.

    ``Dataset.save_as`` refuses to change the byte order of a big-endian source (Explicit VR
    Big Endian, retired but valid); ``dcmwrite`` re-encodes every element in the transfer
    syntax of the file meta, which :func:`_template` set. Elements still raw are converted first:
    ``dcmwrite`` would otherwise copy those of a data set encoded in another VR mode than its
    transfer syntax says (implicit VR in a JPEG file, as ``SC_rgb_jpeg.dcm``) without their VR.
    """
    for _ in ds.iterall():  # Dataset.__getitem__ replaces each raw element by its converted one
        pass
    pydicom.dcmwrite(path, ds, enforce_file_format=True)


def _in_plane(ds: Dataset, meta: Mapping[str, Any], source_meta: Mapping[str, Any]) -> None:
    """Update in-plane spacing, what is drawn or masked in pixel coordinates (ultrasound regions, display shutters,
    overlay planes: :mod:`~monai_rmisr.io.dicom_pixel_marks`) and the position shift of the first pixel."""
    zoom, start = resampling_of(meta)
    _scale_spacing(ds, zoom)
    shape = tuple(meta["spatial_shape"])
    shift_regions(ds, zoom, start, shape)
    shift_shutters(ds, zoom, start, shape)
    resample_overlays(ds, zoom, start, shape)
    shift = np.asarray(meta["affine"])[:3, 3] - np.asarray(source_meta["affine"])[:3, 3]
    if len(zoom) < 3 or (zoom[2] == 1.0 and start[2] == 0.0):  # slices stay where they were
        _move_positions(ds, shift)


def write_dicom(
    array: np.ndarray, meta: Mapping[str, Any], source_meta: Mapping[str, Any], path: str | os.PathLike[str]
) -> None:
    """Write a single-file DICOM image (2-D or multi-frame) derived from ``source_meta["source_path"]``.

    Args:
        array: ``(C, H, W)`` or ``(C, H, W, F)`` in the reader's units (modality units, MONOCHROME1
            already inverted; see :func:`~monai_rmisr.io.read_dicom`).
        meta: the output's metadata: ``affine``/``spacing`` of the new grid, ``resampling``
            (:func:`~monai_rmisr.io.geometry.resampled_geometry`), ``spatial_shape``, ``derivation``
            (``{"model", "scale", "axis"}``) and the source's intensity keys.
        source_meta: the metadata of the source image as read.
        path: output file.

    Raises:
        ValueError: the frame count changed (through-plane SR of a multi-frame file is not supported).
    """
    ds = _template(source_meta["source_path"])
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if (array.shape[-1] if array.ndim == 4 else 1) != frames:
        raise ValueError(
            "through-plane (--axis z) output of a multi-frame DICOM file is not supported; use a series folder."
        )
    _in_plane(ds, meta, source_meta)
    zoom, start = resampling_of(meta)
    padding = _resampled_padding(_padding_mask(source_meta["source_path"]), zoom, start, array.shape[1:3])
    _pixels(ds, array, meta, padding)
    _derive(ds, meta, generate_uid())
    _save(ds, path)


def _holding_rescale(
    values: np.ndarray, meta: Mapping[str, Any], candidates: list[int], slopes: list[Any], intercepts: list[Any]
) -> int:
    """Of the source slices ``candidates`` (nearest first), the first whose rescale slope/intercept can store
    ``values`` (modality units) in the series' stored bits without clipping; where none can, the one whose
    range is widest. The first candidate where the series has no linear rescale (a modality LUT, 32 bits) or is
    not grey (colour is written as RGB, without a rescale)."""
    grey = meta.get("color") == "GRAY" and not meta.get("palette_applied")
    if not grey or meta.get("modality_lut") or any(slopes[k] is None or intercepts[k] is None for k in candidates):
        return candidates[0]
    bits = int(meta.get("bits_stored") or meta.get("bits_allocated") or 16)
    lo, hi = stored_range(bits, int(meta.get("pixel_representation") or 0) == 1)
    ends = np.array([float(values.min()), float(values.max())])
    widest, widest_span = candidates[0], -1.0
    for k in candidates:
        stored = stored_values(ends, {**meta, "rescale_slope": slopes[k], "rescale_intercept": intercepts[k]})
        if np.rint(stored.min()) >= lo and np.rint(stored.max()) <= hi:
            return k
        span = abs(float(slopes[k])) * (hi - lo)
        if span > widest_span:
            widest, widest_span = k, span
    return widest


def _instance_uids(ds: Dataset) -> tuple[str, str] | None:
    """``(SOPClassUID, SOPInstanceUID)`` of a DICOM header; ``None`` where it lacks one."""
    sop_class = ds.get("SOPClassUID") or ds.file_meta.get("MediaStorageSOPClassUID")
    instance = ds.get("SOPInstanceUID")
    return (str(sop_class), str(instance)) if sop_class and instance else None


def _copy_rescale(ds: Dataset, other: Dataset) -> None:
    """Give ``ds`` the rescale slope, intercept and type of the DICOM header ``other`` (its own values, as written)."""
    for keyword in ("RescaleSlope", "RescaleIntercept", "RescaleType"):
        ds.pop(keyword, None)
        if keyword in other:
            ds[keyword] = other[keyword]


def write_dicom_series(
    array: np.ndarray, meta: Mapping[str, Any], source_meta: Mapping[str, Any], folder: str | os.PathLike[str]
) -> list[Path]:
    """Write a volume ``(C, H, W, D)`` as a new series, one file per slice, into ``folder``.

    Each output slice takes its header from the source slice it lies in, and its rescale
    slope/intercept (a series may scale each slice to fit its stored bits) from the nearest of the source
    slices it is interpolated from whose rescale holds its values, or, where none does (interpolated
    overshoot past every slice's range), the one that holds the widest range; for slices made along z
    (``--axis z``) ``ImagePositionPatient``,
    ``SliceLocation``, ``InstanceNumber``, ``SliceThickness`` and ``SpacingBetweenSlices`` follow
    the new grid. Files are named ``00001.dcm``, ... in slice order.

    Returns:
        the written files.
    """
    folder = Path(folder)
    sources = list(source_meta["series_files"])
    zoom, start = resampling_of(meta)
    zoom_z, start_z = zoom[2], start[2]
    affine, source_affine = np.asarray(meta["affine"]), np.asarray(source_meta["affine"])
    normal = source_affine[:3, 2] / np.linalg.norm(source_affine[:3, 2])
    new_spacing = float(meta["spacing"][2])
    series_uid = generate_uid()
    slopes = source_meta.get("rescale_slopes") or [source_meta.get("rescale_slope")] * len(sources)
    intercepts = source_meta.get("rescale_intercepts") or [source_meta.get("rescale_intercept")] * len(sources)
    headers = [read_dicom_dataset(path, stop_before_pixels=True, quiet=True) for path in sources]  # each read once
    source_padding = [_padding_mask(path, header) for path, header in zip(sources, headers)]
    source_uids = [_instance_uids(header) for header in headers]
    written = []
    for index in range(array.shape[-1]):
        position_z = input_index(index, zoom_z, start_z)
        source_index = int(np.clip(round(position_z), 0, len(sources) - 1))
        support = sorted(set(_support(np.array([position_z]), len(sources))[0]), key=lambda k: abs(k - position_z))
        # padding: the source slices the output slice is interpolated from, all padded at that pixel
        masks = [source_padding[k] for k in support]
        mask = None if any(m is None for m in masks) else np.logical_and.reduce(masks)
        ds = _template(sources[source_index])
        _in_plane(ds, meta, source_meta)
        if zoom_z != 1.0 or start_z != 0.0:
            position = affine[:3, :3] @ np.array([0.0, 0.0, float(index)]) + affine[:3, 3]
            old = np.array([float(v) for v in ds.ImagePositionPatient]) if "ImagePositionPatient" in ds else None
            ds.ImagePositionPatient = _decimal_strings(position)
            if "SliceLocation" in ds and old is not None:
                (ds.SliceLocation,) = _decimal_strings(
                    [float(ds.SliceLocation) + float(np.dot(position - old, normal))]
                )
            (ds.SliceThickness,) = _decimal_strings([new_spacing])
            if "SpacingBetweenSlices" in ds:
                (ds.SpacingBetweenSlices,) = _decimal_strings([new_spacing])
            ds.InstanceNumber = index + 1
        rescale_index = _holding_rescale(array[..., index], meta, support, slopes, intercepts)
        if rescale_index != source_index:
            _copy_rescale(ds, headers[rescale_index])
        slice_meta = {**meta, "rescale_slope": slopes[rescale_index], "rescale_intercept": intercepts[rescale_index]}
        _pixels(ds, array[..., index], slice_meta, _resampled_padding(mask, zoom, start, array.shape[1:3]))
        _derive(ds, meta, series_uid, also_from=tuple(source_uids[k] for k in support if source_uids[k]))
        target = folder / f"{index + 1:05d}.dcm"
        _save(ds, target)
        written.append(target)
    return written
