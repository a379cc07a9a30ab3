"""Data transforms: MATLAB-compatible bicubic resize / degradation and the Laplacian prior map."""

from .degrade import BicubicDegrade, BicubicDegraded
from .laplacian import LaplacianMap, LaplacianMapd
from .resize import imresize

__all__ = ["BicubicDegrade", "BicubicDegraded", "LaplacianMap", "LaplacianMapd", "imresize"]
