"""monai-rmisr: realistic medical image super-resolution (RMISR) as a MONAI plugin.

Importing the package registers its networks with MONAI's bundle config locator, so a config
with ``"imports": ["$import monai_rmisr"]`` can say ``"_target_": "RMISR"``.
"""

from ._version import __version__
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
