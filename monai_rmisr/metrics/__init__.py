"""Image quality (PSNR, SSIM: :mod:`.quality`) and the evaluation protocol (:mod:`.protocol`: HR/LR
pairs, border, per-image scores, means, the bicubic baseline), conventions stated in each docstring."""

from .protocol import (
    BICUBIC_REFERENCE,
    BICUBIC_REFERENCE_UNCLIPPED,
    Scores,
    bicubic_baseline,
    bicubic_upscale,
    fractional_pair,
    image_scores,
    laplacian_map,
    make_pair,
    mean_scores,
    modcrop,
    protocol_border,
    protocol_pair,
    protocol_scores,
)
from .quality import psnr, ssim

__all__ = [
    "BICUBIC_REFERENCE",
    "BICUBIC_REFERENCE_UNCLIPPED",
    "Scores",
    "bicubic_baseline",
    "bicubic_upscale",
    "fractional_pair",
    "image_scores",
    "laplacian_map",
    "make_pair",
    "mean_scores",
    "modcrop",
    "protocol_border",
    "protocol_pair",
    "protocol_scores",
    "psnr",
    "ssim",
]
