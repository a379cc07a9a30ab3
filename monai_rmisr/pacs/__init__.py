"""PACS integration: pull a series over DICOMweb, or receive it over DIMSE; super-resolve it; store the derived series.

``rmisr pacs`` and ``rmisr listen`` are the command lines (``docs/pacs.md``); :func:`connect` makes the
DICOMweb client, :func:`super_resolve_series` does one round trip, :func:`watch` keeps polling for new
series, and :func:`listen` is a DICOM listener (C-STORE SCP) that sends each super-resolved series on
(C-STORE SCU). Needs ``dicomweb-client`` and ``pynetdicom`` (``pip install "monai-rmisr[pacs]"``).
"""

from .connection import PACS_PASSWORD_ENV, PACS_TOKEN_ENV, PACS_USER_ENV, PacsError, check_pacs_url, connect, pacs_call
from .listener import DicomNode, ListenerResult, listen, parse_dicom_node, send_files
from .roundtrip import (
    DERIVED_BY_US,
    SeriesTooLargeError,
    check_series_in_study,
    dataset_has_image,
    dataset_is_derived_by_us,
    derive_folder,
    derive_series,
    derived_files,
    earlier_derivation,
    is_derived_by_us,
    is_source_series,
    series_has_images,
    store_series,
    study_derivations,
    study_series,
    super_resolve_series,
)
from .watch import WatchState, watch

__all__ = [
    "DERIVED_BY_US",
    "PACS_PASSWORD_ENV",
    "PACS_TOKEN_ENV",
    "PACS_USER_ENV",
    "DicomNode",
    "ListenerResult",
    "PacsError",
    "SeriesTooLargeError",
    "WatchState",
    "check_pacs_url",
    "check_series_in_study",
    "connect",
    "dataset_has_image",
    "dataset_is_derived_by_us",
    "derive_folder",
    "derive_series",
    "derived_files",
    "earlier_derivation",
    "is_derived_by_us",
    "is_source_series",
    "listen",
    "pacs_call",
    "parse_dicom_node",
    "send_files",
    "series_has_images",
    "store_series",
    "study_derivations",
    "study_series",
    "super_resolve_series",
    "watch",
]
