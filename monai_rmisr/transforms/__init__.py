"""Data transforms: MATLAB-compatible bicubic resize / degradation and the Laplacian prior map."""

from .degrade import BicubicDegrade, BicubicDegraded
from .laplacian import LaplacianMap, LaplacianMapd
from .patch import RandPairedPatch, RandPairedPatchd, paired_patch_sizes
from .resize import imresize

__all__ = [
    "BicubicDegrade",
    "BicubicDegraded",
    "LaplacianMap",
    "LaplacianMapd",
    "RandPairedPatch",
    "RandPairedPatchd",
    "imresize",
    "paired_patch_sizes",
]
