"""Data transforms: MATLAB-compatible bicubic resize / degradation, scanner-like degradations, realistic
(clipped, quantised) LR inputs, intensity normalisation with inverses, and the Laplacian prior map."""

from .degrade import BicubicDegrade, BicubicDegraded
from .intensity import (
    CT_WINDOWS,
    CTWindow,
    CTWindowd,
    MinMaxNormalize,
    MinMaxNormalized,
    PercentileNormalize,
    PercentileNormalized,
    RGBToLuma,
    RGBToLumad,
)
from .laplacian import LaplacianMap, LaplacianMapd
from .medical_degrade import RandMedicalDegrade, RandMedicalDegraded
from .patch import RandPairedPatch, RandPairedPatchd, paired_patch_sizes
from .quantize import RandQuantizeIntensity, RandQuantizeIntensityd, check_bit_range, quantize_intensity
from .resize import imresize

__all__ = [
    "CT_WINDOWS",
    "BicubicDegrade",
    "BicubicDegraded",
    "CTWindow",
    "CTWindowd",
    "LaplacianMap",
    "LaplacianMapd",
    "MinMaxNormalize",
    "MinMaxNormalized",
    "PercentileNormalize",
    "PercentileNormalized",
    "RGBToLuma",
    "RGBToLumad",
    "RandMedicalDegrade",
    "RandMedicalDegraded",
    "RandPairedPatch",
    "RandPairedPatchd",
    "RandQuantizeIntensity",
    "RandQuantizeIntensityd",
    "check_bit_range",
    "imresize",
    "paired_patch_sizes",
    "quantize_intensity",
]
