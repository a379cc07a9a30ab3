"""One PACS round trip: pull a series (WADO-RS), super-resolve it, store the derived series (STOW-RS).

The series goes through exactly what ``rmisr upscale SERIES_FOLDER`` does
(:class:`~monai_rmisr.inference.upscale.Upscaler`, :mod:`monai_rmisr.io.dicom_writer`): a new
series in the source's study, ``DERIVED`` image type, geometry of the new grid. The two halves are
separate (:func:`derive_series`, :func:`store_series`) so that a watcher can keep the derived files
until the PACS has them, and store the same files again after a restart instead of making a second
series.

Logs name series by UID and count instances; never a patient's name or ID.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..io import BrokenSliceError, ImageReadError
from ..io.dicom_writer import NOT_RESAMPLED_CLASSES
from ..io.output import make_private
from ..io.provenance import PRODUCER
from ..io.pydicom_messages import read_dataset
from .connection import PacsError, pacs_call
from .dicom_json import element_values, first_number, first_value

__all__ = [
    "DERIVED_BY_US",
    "SeriesTooLargeError",
    "dataset_has_image",
    "dataset_is_derived_by_us",
    "derive_folder",
    "derive_series",
    "derived_files",
    "earlier_derivation",
    "is_derived_by_us",
    "is_source_series",
    "series_has_images",
    "series_uids",
    "store_series",
    "study_derivations",
    "study_series",
    "super_resolve_series",
]

logger = logging.getLogger(__name__)

#: What :mod:`monai_rmisr.io.dicom_writer` writes into every derived image's DerivationDescription.
DERIVED_BY_US = f"by {PRODUCER}"

_DERIVATION_DESCRIPTION = "00082111"
_SERIES_DESCRIPTION = "0008103E"
_SERIES_INSTANCE_UID = "0020000E"
_SOP_INSTANCE_UID = "00080018"
_SOURCE_IMAGE_SEQUENCE = "00082112"
_SOURCE_IMAGE_EVIDENCE_SEQUENCE = "00089154"
_REFERENCED_SERIES_SEQUENCE = "00081115"
_REFERENCED_SOP_SEQUENCE = "00081199"
_REFERENCED_SOP_INSTANCE_UID = "00081155"
_DERIVATION_IMAGE_SEQUENCE = "00089124"
#: Shared and Per-frame Functional Groups Sequences: where an enhanced image records its derivation
_FUNCTIONAL_GROUPS = ("52009229", "52009230")
#: Photometric Interpretation, Rows and Columns (the Image Pixel module): every image has them, a spectroscopy object
#: has Rows and Columns only; a PACS may leave the pixel data out of an instance's metadata (Orthanc 1.10 with
#: DICOMweb 1.7 does for encapsulated, compressed, pixels)
_IMAGE_PIXEL = ("00280004", "00280010", "00280011")
_NUMBER_OF_FRAMES = "00280008"
_SOP_CLASS_UID = "00080016"
#: pixels as floating point (a Parametric Map): refused by rmisr upscale, so not a series to super-resolve
_FLOAT_PIXELS = ("7FE00008", "7FE00009")


class SeriesTooLargeError(PacsError):
    """A series has more image instances than the caller's ``max_instances``: not derived (a service skips it
    rather than trying again)."""


def _dataset_values(dataset: Any, tag: str) -> list[Any]:
    """:func:`~monai_rmisr.pacs.dicom_json.element_values` of a pydicom ``Dataset`` (or sequence item): [] where
    ``tag`` is absent or empty."""
    element = dataset.get(int(tag, 16))  # a DataElement (keyed by tag), or None
    value = None if element is None else element.value
    if value is None or value == "":
        return []
    return [value] if isinstance(value, (str, bytes)) or not isinstance(value, Iterable) else list(value)


def _derivation_descriptions(instance: Any, values: Callable[[Any, str], list[Any]] = element_values) -> list[str]:
    """Every DerivationDescription of an instance: at the top level (classic images) and in the
    DerivationImageSequence of its Shared or Per-frame Functional Groups (enhanced images). ``values`` reads the
    instance's representation: :func:`~monai_rmisr.pacs.dicom_json.element_values` DICOM JSON (QIDO-RS / WADO-RS
    metadata), :func:`_dataset_values` a pydicom ``Dataset``."""
    found = [str(value) for value in values(instance, _DERIVATION_DESCRIPTION)]
    for group in _FUNCTIONAL_GROUPS:
        for frame in values(instance, group):
            for item in values(frame, _DERIVATION_IMAGE_SEQUENCE):
                found += [str(value) for value in values(item, _DERIVATION_DESCRIPTION)]
    return found


def is_derived_by_us(instance_metadata: dict[str, Any]) -> bool:
    """Whether a DICOM JSON instance (QIDO-RS / WADO-RS metadata) is one of our derived images (classic or
    enhanced)."""
    return any(DERIVED_BY_US in text for text in _derivation_descriptions(instance_metadata))


def _referenced_instances(instance_metadata: dict[str, Any]) -> set[str]:
    """The SOP Instance UIDs a derived DICOM JSON instance names as its sources: its SourceImageSequence (classic
    images) and its SourceImageEvidenceSequence (enhanced ones)."""
    named = {
        str(uid)
        for item in element_values(instance_metadata, _SOURCE_IMAGE_SEQUENCE)
        for uid in element_values(item, _REFERENCED_SOP_INSTANCE_UID)
    }
    for study in element_values(instance_metadata, _SOURCE_IMAGE_EVIDENCE_SEQUENCE):
        for series in element_values(study, _REFERENCED_SERIES_SEQUENCE):
            for item in element_values(series, _REFERENCED_SOP_SEQUENCE):
                named.update(str(uid) for uid in element_values(item, _REFERENCED_SOP_INSTANCE_UID))
    return named


def series_has_images(instance_metadata: dict[str, Any]) -> bool:
    """Whether a DICOM JSON instance is an image to super-resolve: it carries pixel data (not a report, presentation
    state, spectroscopy, ...; the pixel data element, or the Image Pixel module's Photometric Interpretation, Rows and
    Columns, as a PACS may leave compressed pixel data out of the metadata: a JPEG 2000 or RLE series in Orthanc was
    taken for one without images and skipped), and not pixels ``rmisr upscale`` refuses (a segmentation, an RT dose,
    floating-point pixels: ``NOT_RESAMPLED_CLASSES``)."""
    sop_class = element_values(instance_metadata, _SOP_CLASS_UID)
    if (sop_class and str(sop_class[0]) in NOT_RESAMPLED_CLASSES) or any(t in instance_metadata for t in _FLOAT_PIXELS):
        return False
    return "7FE00010" in instance_metadata or all(element_values(instance_metadata, tag) for tag in _IMAGE_PIXEL)


def dataset_is_derived_by_us(dataset: Any) -> bool:
    """:func:`is_derived_by_us` for a pydicom ``Dataset`` (a received or retrieved instance)."""
    return any(DERIVED_BY_US in text for text in _derivation_descriptions(dataset, _dataset_values))


def dataset_has_image(dataset: Any) -> bool:
    """:func:`series_has_images` for a pydicom ``Dataset``: whether it carries pixel data to super-resolve."""
    if str(dataset.get("SOPClassUID", "")) in NOT_RESAMPLED_CLASSES:
        return False
    return "PixelData" in dataset


def derive_series(
    client: Any,
    upscaler: Any,
    study_uid: str,
    series_uid: str,
    folder: str | os.PathLike[str],
    max_instances: int | None = None,
) -> list[Path]:
    """Retrieve one series and write its super-resolved, derived series under ``folder``.

    The instances are streamed (WADO-RS multipart, ``iter_series``) and each written to disk as it arrives:
    memory holds one instance at a time until the series is read for super-resolution.

    Args:
        client: a ``DICOMwebClient`` (:func:`~monai_rmisr.pacs.connect`).
        upscaler: an :class:`~monai_rmisr.inference.upscale.Upscaler` (scale, model, tiling).
        study_uid, series_uid: the source series.
        folder: an empty or new folder; ``source/`` gets the retrieved files, ``derived/`` ours.
        max_instances: the most image instances a series may have (None: no limit); the retrieval stops at
            the first one past it.

    Returns:
        the derived DICOM files (one series for a series of slices; one file for a multi-frame
        instance).

    Raises:
        SeriesTooLargeError: more than ``max_instances`` image instances (nothing derived).
        PacsError: the PACS cannot be reached or refuses; the series holds no image.
        ValueError, ImageReadError, OSError: what ``rmisr upscale`` raises for the same files.
    """
    folder = Path(folder)
    source, derived = folder / "source", folder / "derived"

    def instances() -> Iterator[Any]:
        """The series' datasets as they arrive; a part that is not DICOM is a PacsError naming the series."""
        from pydicom.errors import InvalidDicomError

        try:
            yield from client.iter_series(study_uid, series_uid)
        except (InvalidDicomError, ValueError, EOFError) as err:
            raise PacsError(
                f"retrieving series {series_uid} failed: the PACS sent a part that is not a DICOM instance "
                f"({type(err).__name__}: {err})."
            ) from err

    instance_of: dict[str, str] = {}  # retrieved file name -> its SOPInstanceUID, what an error names

    def retrieve() -> tuple[int, int]:
        received = images = 0
        for ds in instances():
            received += 1
            if not dataset_has_image(ds):
                continue
            images += 1
            if max_instances is not None and images > max_instances:
                raise SeriesTooLargeError(
                    f"series {series_uid} has more than {max_instances} image instances (--max-instances); not derived."
                )
            source.mkdir(mode=0o700, parents=True, exist_ok=True)  # patient images: owner only
            ds.save_as(source / f"{images:05d}.dcm", enforce_file_format=True)
            instance_of[f"{images:05d}.dcm"] = str(ds.get("SOPInstanceUID", "?"))
        return received, images

    try:
        received, images = pacs_call(f"retrieving series {series_uid}", retrieve)
    except BaseException:
        shutil.rmtree(source, ignore_errors=True)  # a retrieval cut short leaves no part of the series
        raise
    if not images:
        raise PacsError(
            f"series {series_uid} holds no image to super-resolve ({received} instances without pixel data, or with "
            "pixels rmisr upscale refuses: a segmentation, an RT dose, floating-point pixels)."
        )
    logger.info("series %s: retrieved %d image instances", series_uid, images)
    try:
        files = derive_folder(upscaler, source, derived)
    except ImageReadError as err:  # it named a retrieved file in a temporary folder: name the instance instead
        instance = instance_of.get(Path(err.path).name)
        if instance is None:
            raise
        reason = err.slice_reason if isinstance(err, BrokenSliceError) else err.reason
        raise ImageReadError(f"instance {instance} of series {series_uid}", reason.rstrip(".") + ".") from err
    logger.info("series %s: wrote %d derived instances", series_uid, len(files))
    return files


def derive_folder(
    upscaler: Any,
    source: str | os.PathLike[str],
    derived: str | os.PathLike[str],
    left_out: Sequence[Mapping[str, str]] = (),
) -> list[Path]:
    """Super-resolve the DICOM files of one series in ``source`` into ``derived``, as ``rmisr upscale`` does.

    Args:
        upscaler: an :class:`~monai_rmisr.inference.upscale.Upscaler` (scale, model, tiling).
        source: a folder of the series' instances (a series of slices becomes one derived series; each
            multi-frame instance one derived instance).
        derived: an empty or new folder for the derived files.
        left_out: instances of the series that are not in ``source`` (``{"instance": SOP Instance UID, "reason"}``:
            refused when they came), which a derived series of slices records as left out, with the slices the
            reader leaves out (``DerivationDescription``).

    Returns:
        the derived DICOM files, sorted.

    Raises:
        ValueError, ImageReadError, OSError: what ``rmisr upscale`` raises for the same files.
    """
    from ..inference.batch import find_inputs
    from ..io.writers import output_name

    source, derived = Path(source), Path(derived)
    derived.mkdir(mode=0o700, parents=True, exist_ok=True)  # patient images: owner only
    for item in find_inputs(source):
        image = None
        if left_out and not (isinstance(item, Path) and item.is_file()):  # a series, not one multi-frame instance
            image = upscaler.read(item)
            image.meta["skipped_slices"] = [*image.meta.get("skipped_slices", []), *map(dict, left_out)]
        upscaler.file(item, derived / (item.name if item == source else output_name(item)), image=image)
    make_private(derived)  # the writers give the usual mode (0644 under umask 022)
    return derived_files(derived)


def series_uids(files: Sequence[str | os.PathLike[str]]) -> list[str]:
    """The SeriesInstanceUIDs of DICOM files (headers only), sorted and without repeats."""

    return sorted(
        {
            str(
                read_dataset(
                    path, report=False, stop_before_pixels=True, specific_tags=["SeriesInstanceUID"]
                ).SeriesInstanceUID
            )
            for path in files
        }
    )


def derived_files(derived: str | os.PathLike[str]) -> list[Path]:
    """The DICOM files :func:`derive_folder` wrote under ``derived``, sorted."""
    return sorted(path for path in Path(derived).rglob("*.dcm") if path.is_file())


def store_series(client: Any, study_uid: str, files: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Store derived files in their study (STOW-RS); the new SeriesInstanceUIDs, sorted.

    Storing the same files twice stores the same SOP instances again (no second series), which is
    what makes a restarted watcher safe.

    Every instance is then looked for in the PACS (QIDO-RS, one search per derived series): a PACS whose answer
    lists an instance as stored that it has not kept (a filter rule that drops it) leaves an incomplete series,
    which is an error here rather than a success.

    Raises:
        PacsError: the PACS refused the request or some instances (its FailedSOPSequence), or does not hold them
            all afterwards.
    """

    datasets = [read_dataset(path, report=False) for path in files]  # our own files: their source was reported
    if not datasets:
        raise PacsError("nothing to store: no derived instance was written.")
    wrong = {str(ds.StudyInstanceUID) for ds in datasets} - {study_uid}
    if wrong:
        raise PacsError(f"derived instances name another study ({sorted(wrong)}), not {study_uid}; nothing stored.")
    response = pacs_call(f"storing {len(datasets)} instances", client.store_instances, datasets, study_uid)
    failed = response.get("FailedSOPSequence") if response is not None else None
    if failed:
        reasons = sorted({str(item.get("FailureReason", "?")) for item in failed})
        raise PacsError(f"the PACS refused {len(failed)} of {len(datasets)} instances (failure reasons {reasons}).")
    series = sorted({str(ds.SeriesInstanceUID) for ds in datasets})
    for series_uid in series:
        sent = {str(ds.SOPInstanceUID) for ds in datasets if str(ds.SeriesInstanceUID) == series_uid}
        found = pacs_call(
            f"checking series {series_uid}",
            client.search_for_instances,
            study_uid,
            series_uid,
            fields=[_SOP_INSTANCE_UID],
            get_remaining=True,
        )
        held = {str(uid) for entry in found for uid in element_values(entry, _SOP_INSTANCE_UID)}
        if sent - held:
            raise PacsError(
                f"the PACS answered that it stored series {series_uid}, but holds {len(sent & held)} of its "
                f"{len(sent)} instances (a rule of the PACS may have dropped the others): the derived series there "
                "is incomplete."
            )
    logger.info("stored %d instances as series %s", len(datasets), ", ".join(series))
    return series


def super_resolve_series(
    client: Any,
    upscaler: Any,
    study_uid: str,
    series_uid: str,
    work_dir: str | os.PathLike[str] | None = None,
    max_instances: int | None = None,
) -> list[str]:
    """:func:`derive_series` then :func:`store_series`; the new SeriesInstanceUIDs.

    ``work_dir`` (default: a temporary folder, removed afterwards) holds the retrieved and derived files.
    """
    if work_dir is not None:
        files = derive_series(client, upscaler, study_uid, series_uid, work_dir, max_instances)
        return store_series(client, study_uid, files)
    with tempfile.TemporaryDirectory(prefix="rmisr-pacs-") as folder:
        files = derive_series(client, upscaler, study_uid, series_uid, folder, max_instances)
        return store_series(client, study_uid, files)


def check_series_in_study(client: Any, study_uid: str, series_uid: str) -> None:
    """Refuse a series that the PACS does not hold in the study (QIDO-RS): a UID given by mistake is a bad argument,
    as an unknown study is (:func:`study_series`), not a PACS failure.

    Raises:
        ValueError: no such series in the study.
        PacsError: the PACS cannot be reached or refuses.
    """
    found = pacs_call(
        f"searching study {study_uid}",
        client.search_for_series,
        study_uid,
        search_filters={"SeriesInstanceUID": series_uid},
        get_remaining=True,
    )
    if not any(str(first_value(entry, _SERIES_INSTANCE_UID)) == series_uid for entry in found):
        raise ValueError(
            f"series {series_uid} is not on the PACS in study {study_uid}: a search (QIDO-RS) finds it not."
        )


def study_series(client: Any, study_uid: str) -> list[str]:
    """SeriesInstanceUIDs of the image series of a study that are not ours (QIDO-RS, all pages, + metadata).

    Raises:
        ValueError: the PACS has no series of the study: the UID is not one of its studies.
        PacsError: the PACS cannot be reached or refuses.
    """
    found = pacs_call(f"searching study {study_uid}", client.search_for_series, study_uid, get_remaining=True)
    if not found:
        raise ValueError(f"study {study_uid} is not on the PACS: a search (QIDO-RS) finds no series of it.")
    selected = []
    for entry in found:
        series_uid = first_value(entry, _SERIES_INSTANCE_UID)
        if series_uid is not None and is_source_series(client, study_uid, str(series_uid)):
            selected.append(str(series_uid))
    return selected


def is_source_series(client: Any, study_uid: str, series_uid: str) -> bool:
    """Whether a series is worth super-resolving: it holds images and monai-rmisr did not derive it
    (read from its first instance's metadata, WADO-RS, no pixels)."""
    metadata = pacs_call(f"reading series {series_uid}", client.retrieve_series_metadata, study_uid, series_uid)
    return bool(metadata) and series_has_images(metadata[0]) and not is_derived_by_us(metadata[0])


def study_derivations(client: Any, upscaler: Any, study_uid: str) -> dict[str, set[str]]:
    """The series of a study that monai-rmisr derived the way ``upscaler`` would (the same DerivationDescription:
    package version, model name and the SHA-256 of its weights, scale, axis, region, self-ensemble, precision), each
    with the SOP Instance UIDs of the source images its instances name.

    One QIDO-RS search of the study (all pages); only series whose SeriesDescription ends with the scale's mark
    (``SR x2``, ``interpolated x2`` for ``--model bicubic``: what ``upscaler`` writes) are read (WADO-RS metadata,
    no pixels). A checkpoint trained on under the same name is another model (series derived by versions before
    2026-12-07, whose description has no weights' digest, count as made another way).

    Raises:
        PacsError: the PACS cannot be reached or refuses.
    """
    from ..io.dicom_writer import derivation_description, derivation_tag

    meta = {"derivation": upscaler.derivation}
    ours, mark = derivation_description(meta), derivation_tag(meta)
    found = pacs_call(
        f"searching study {study_uid}",
        client.search_for_series,
        study_uid,
        fields=[_SERIES_DESCRIPTION],
        get_remaining=True,
    )
    derivations = {}
    for entry in found:
        uids, descriptions = element_values(entry, _SERIES_INSTANCE_UID), element_values(entry, _SERIES_DESCRIPTION)
        if not uids or not descriptions or not str(descriptions[0]).endswith(mark):
            continue
        series_uid = str(uids[0])
        metadata = pacs_call(f"reading series {series_uid}", client.retrieve_series_metadata, study_uid, series_uid)
        same_way = [any(text.endswith(ours) for text in _derivation_descriptions(item)) for item in metadata]
        if metadata and all(same_way):
            derivations[series_uid] = set().union(*(_referenced_instances(item) for item in metadata))
    return derivations


def earlier_derivation(client: Any, study_uid: str, series_uid: str, derivations: dict[str, set[str]]) -> list[str]:
    """The derived series (of ``derivations``, :func:`study_derivations` of the study) that together are this
    series derived before, or [] where there are none: one series naming exactly the source's image instances (a
    series of slices), or, for a series of multi-frame instances only, several naming disjoint parts of them that
    add up to exactly them (each multi-frame instance is derived into a series of its own; a series of slices
    derived in parts, by a listener that got it in two goes, has no derived series of it whole). A derivation
    stored in part, or of a series that has gained or lost instances since, is not one. What a one-shot ``rmisr
    pacs`` finds before deriving a series again: an identical second derived series would only clutter the study.

    Raises:
        PacsError: the PACS cannot be reached or refuses.
    """
    if not derivations:
        return []
    source = pacs_call(f"reading series {series_uid}", client.retrieve_series_metadata, study_uid, series_uid)
    images = [item for item in source if series_has_images(item)]
    wanted = {str(uid) for item in images for uid in element_values(item, _SOP_INSTANCE_UID)}
    if not wanted:
        return []
    whole = [uid for uid, named in derivations.items() if named == wanted]
    # parts only where each instance is multi-frame (derived into a series of its own); a series of slices derived
    # in parts (a listener that got it in two goes) has no derived series of it whole
    multi_frame = all((first_number(item, _NUMBER_OF_FRAMES) or 0) > 1 for item in images)
    if whole:
        chosen = whole[:1]
    elif not multi_frame:
        return []
    else:
        chosen, covered = [], set()
        for uid, named in derivations.items():
            if named and named < wanted and not named & covered:
                chosen.append(uid)
                covered |= named
        if covered != wanted:
            return []
    logger.info("series %s: derived before, the same way, as series %s", series_uid, ", ".join(chosen))
    return chosen
