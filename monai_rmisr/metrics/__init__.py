"""Image quality metrics (PSNR, SSIM) with the SR literature's conventions stated in each docstring."""

from .quality import psnr, ssim

__all__ = ["psnr", "ssim"]
