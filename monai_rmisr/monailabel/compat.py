"""Let MONAI Label 0.8.5 run here: import beside pydicom 3, which this package needs, and answer while it infers.

MONAI Label imports ``pydicom_seg`` (for DICOM SEG output of segmentations) at start-up, and
``pydicom-seg`` 0.4.1, its last release, imports the private module ``pydicom._storage_sopclass_uids``
that pydicom 3 removed (the names moved to ``pydicom.uid``). That one import is the reason MONAI
Label is said to need ``pydicom<3``; our readers need pydicom 3. :func:`install` registers a
module of that name that reads ``pydicom.uid``, before MONAI Label is imported. Super-resolution
never writes DICOM SEG, so nothing else of ``pydicom_seg`` runs.

MONAI Label's ``POST /infer/{model}`` is an ``async`` endpoint that runs the task in the server's event loop: while
one image was super-resolved (13 s for a large ROI) the server answered nothing else, ``GET /info/`` and health
checks included (12.5 s). :func:`install` makes that route again around a plain function of the same parameters,
which FastAPI runs in its thread pool, before MONAI Label's application includes the route.
"""

from __future__ import annotations

import inspect
import sys
import types
from typing import Any

__all__ = ["install"]

LEGACY_MODULE = "pydicom._storage_sopclass_uids"


def install() -> None:
    """Before MONAI Label's application is imported: register ``pydicom._storage_sopclass_uids`` (a view of
    ``pydicom.uid``) unless pydicom has it, then let ``POST /infer/{model}`` run off the event loop. Once per
    process."""
    _pydicom_storage_uids()
    _infer_off_the_event_loop()


def _pydicom_storage_uids() -> None:
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


def _infer_off_the_event_loop() -> None:
    """Make MONAI Label's ``POST /infer/{model}`` route (in its endpoint module's router, before the application
    includes it) a plain function of the endpoint's parameters that calls the module's ``run_inference``, as the
    ``async`` endpoint did (so :func:`~monai_rmisr.monailabel.app.guard_infer_endpoint`'s wrapping of it counts)."""
    try:
        from fastapi.routing import APIRoute
        from monailabel.endpoints import infer as endpoint
    except ImportError:  # no MONAI Label here: nothing to make
        return
    for index, route in enumerate(endpoint.router.routes):
        if not (isinstance(route, APIRoute) and route.path.endswith("/{model}") and "POST" in route.methods):
            continue
        if getattr(route.endpoint, "rmisr_threaded", False):
            return
        original = route.endpoint

        def threaded(*args: Any, user: Any = None, **kwargs: Any) -> Any:
            return endpoint.run_inference(*args, **kwargs)

        # its parameters, the user's Depends included, for FastAPI (not functools.wraps: FastAPI would follow
        # __wrapped__ to the async function and await this one's answer)
        threaded.__signature__ = inspect.signature(original)  # type: ignore[attr-defined]
        threaded.rmisr_threaded = True  # type: ignore[attr-defined]
        endpoint.router.routes[index] = APIRoute(
            route.path,
            threaded,
            methods=sorted(route.methods),
            summary=route.summary,
            responses=route.responses,
            tags=route.tags,
            name=route.name,
        )
        return
