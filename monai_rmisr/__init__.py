"""monai-rmisr: realistic medical image super-resolution (RMISR) as a MONAI plugin.

The public names below are imported lazily (PEP 562 module ``__getattr__``): ``import monai_rmisr``
and the ``rmisr`` command line load neither torch nor MONAI until a name that needs them is used,
so ``rmisr --help`` and argument errors answer at once. ``from monai_rmisr import super_resolve``
works as before.

MONAI's bundle config locator only finds classes of modules already imported, so when MONAI is
imported before this package (any bundle run: ``"imports": ["$import monai_rmisr"]``) the networks
are imported at once and a config can say ``"_target_": "RMISR"``. A program that imports
``monai_rmisr`` before MONAI and then uses the locator should ``import monai_rmisr.networks``.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # for type checkers and IDEs; at run time these come from __getattr__
    from .inference import list_pretrained, load_pretrained, super_resolve
    from .networks import (
        ESPCN,
        FSRCNN,
        ICCA,
        IMDB,
        IMDN,
        PFMDB,
        RMISR,
        RMISRVP,
        SRCNN,
        VDSR,
        EDSRBaseline,
        LaplacianGradient,
        MetaUpsample,
        PyConv3,
        PyramidBlock,
        ShallowResidualBlock,
        SRResNet,
    )

__all__ = [
    "ESPCN",
    "FSRCNN",
    "ICCA",
    "IMDB",
    "IMDN",
    "PFMDB",
    "RMISR",
    "RMISRVP",
    "SRCNN",
    "VDSR",
    "EDSRBaseline",
    "LaplacianGradient",
    "MetaUpsample",
    "PyConv3",
    "PyramidBlock",
    "SRResNet",
    "ShallowResidualBlock",
    "__version__",
    "list_pretrained",
    "load_pretrained",
    "super_resolve",
]

#: Each lazily imported public name and the submodule that defines it.
_LAZY: dict[str, str] = {
    name: ".inference" if name in ("list_pretrained", "load_pretrained", "super_resolve") else ".networks"
    for name in __all__
    if name != "__version__"
}

if "monai" in sys.modules:  # MONAI (and torch) are loaded anyway: register the networks with its locator now
    from . import networks  # noqa: F401


def __getattr__(name: str) -> Any:
    """Import the submodule defining ``name`` on first use and cache the name in the package."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
