"""Let MONAI Label 0.8.5 import beside pydicom 3, which this package needs.

MONAI Label imports ``pydicom_seg`` (for DICOM SEG output of segmentations) at start-up, and
``pydicom-seg`` 0.4.1, its last release, imports the private module ``pydicom._storage_sopclass_uids``
that pydicom 3 removed (the names moved to ``pydicom.uid``). That one import is the reason MONAI
Label is said to need ``pydicom<3``; our readers need pydicom 3. :func:`install` registers a
module of that name that reads ``pydicom.uid``, before MONAI Label is imported. Super-resolution
never writes DICOM SEG, so nothing else of ``pydicom_seg`` runs.
"""

from __future__ import annotations

import sys
import types

__all__ = ["install"]

LEGACY_MODULE = "pydicom._storage_sopclass_uids"


def install() -> None:
    """Register ``pydicom._storage_sopclass_uids`` (a view of ``pydicom.uid``) unless pydicom has it."""
    if LEGACY_MODULE in sys.modules:
        return
    import pydicom.uid

    try:
        __import__(LEGACY_MODULE)
        return  # pydicom 2: the real module
    except ImportError:
        pass
    legacy = types.ModuleType(LEGACY_MODULE, "pydicom 2's storage SOP class UIDs, read from pydicom.uid")
    legacy.__getattr__ = lambda name: getattr(pydicom.uid, name)  # type: ignore[method-assign]
    sys.modules[LEGACY_MODULE] = legacy
