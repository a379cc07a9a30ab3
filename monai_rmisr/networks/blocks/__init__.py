"""Building blocks of the RMISR networks."""

from .icca import ICCA, PooledChannelStatistics
from .imdb import IMDB
from .laplacian import LaplacianGradient, laplacian_gradient
from .meta_upsample import MetaUpsample
from .pfmdb import PFMDB
from .pyconv import PyConv3
from .pyramid import PyramidBlock
from .shallow_residual import ShallowResidualBlock
from .trunk import PFMDBTrunk
from .upsample import UPSAMPLERS, SubpixelUpsampler, build_upsampler

__all__ = [
    "ICCA",
    "IMDB",
    "PFMDB",
    "UPSAMPLERS",
    "LaplacianGradient",
    "MetaUpsample",
    "PFMDBTrunk",
    "PooledChannelStatistics",
    "PyConv3",
    "PyramidBlock",
    "ShallowResidualBlock",
    "SubpixelUpsampler",
    "build_upsampler",
    "laplacian_gradient",
]
