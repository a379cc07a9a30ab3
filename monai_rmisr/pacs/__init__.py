"""PACS integration over DICOMweb: pull a series, super-resolve it, store the derived series back.

``rmisr pacs`` is the command line (``docs/pacs.md``); :func:`connect` makes the client,
:func:`super_resolve_series` does one round trip and :func:`watch` keeps polling for new series.
Needs ``dicomweb-client`` (``pip install "monai-rmisr[pacs]"``).
"""

from .connection import PACS_PASSWORD_ENV, PACS_TOKEN_ENV, PACS_USER_ENV, PacsError, check_pacs_url, connect, pacs_call
from .roundtrip import (
    DERIVED_BY_US,
    derive_series,
    is_derived_by_us,
    is_source_series,
    series_has_images,
    store_series,
    study_series,
    super_resolve_series,
)
from .watch import WatchState, watch

__all__ = [
    "DERIVED_BY_US",
    "PACS_PASSWORD_ENV",
    "PACS_TOKEN_ENV",
    "PACS_USER_ENV",
    "PacsError",
    "WatchState",
    "check_pacs_url",
    "connect",
    "derive_series",
    "is_derived_by_us",
    "is_source_series",
    "pacs_call",
    "series_has_images",
    "store_series",
    "study_series",
    "super_resolve_series",
    "watch",
]
