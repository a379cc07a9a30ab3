"""The viewer without a window: one image, a region, a scale and a model -> the panels and the numbers.

:class:`ViewerSession` holds an image read by :func:`~monai_rmisr.io.read_image` (one slice of a
volume at a time) and answers :meth:`ViewerSession.compare`, in one of two modes:

Images of several channels that are not colour (a 4-D NIfTI: one volume per channel, e.g. the time points
of an fMRI run) are shown one volume at a time (:meth:`ViewerSession.set_volume`); a 3-channel colour image
(PNG, JPEG, colour DICOM) as colour. Pixels are drawn to the file's pixel spacing
(:attr:`ViewerSession.pixel_aspect`).

* ``"upscale"``: super-resolve the region as it is, next to MATLAB-bicubic interpolation of the
  same region (both through :class:`~monai_rmisr.inference.upscale.Upscaler`, so with the same
  context pixels around the region and the same intensity mapping as ``rmisr upscale --roi``).
  There is no ground truth, so there are no scores; the detail panels are the Laplacian maps
  (the edges the gradient branch of RMISR-VP is trained on).
* ``"check"``: take the region as the high-resolution truth, make its low-resolution version with
  the benchmark protocol (region min-max normalised to ``[0, 1]``, cropped to fit the scale,
  MATLAB-bicubic downscale clipped to ``[0, 1]``, not quantised), super-resolve that and score bicubic and the model
  against the truth: PSNR, SSIM and Laplacian-map PSNR after cropping ``ceil(scale)`` border
  pixels, exactly as ``python -m monai_rmisr.benchmark`` scores one image (the model's output
  clipped to ``[0, 1]``, bicubic not, as the protocol's bicubic reference). The detail panels are
  the absolute errors. This is how a user sees what a model does to *their* kind of image
  before trusting it on real low-resolution data.

Every array of a :class:`Comparison` is in the file's units (HU for CT), so one display window
fits all panels.
"""

from __future__ import annotations

import os
import shlex
import site
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..inference.bicubic import BICUBIC
from ..inference.settings import check_roi_in_image, parse_roi
from ..inference.super_resolve import resolve_model_and_digest
from ..inference.upscale import Upscaler
from ..io import ImageData, SeriesInFolder, read_image
from ..io.writers import sr_output_name
from ..metrics.protocol import (
    Scores,
    bicubic_upscale,
    image_scores,
    laplacian_map,
    min_scored_size,
    protocol_border,
    protocol_pair,
)
from ..networks.utils import forward_at_scale
from .orientation import DisplayOrientation, display_orientation

__all__ = ["MODES", "Comparison", "ViewerSession"]

#: ``"upscale"``: super-resolve the region as it is; ``"check"``: treat it as the truth and score (see the module).
MODES = ("upscale", "check")
#: Side of the region a session selects first (pixels), or the whole image when it is smaller.
DEFAULT_ROI_SIZE = 128


@dataclass
class Comparison:
    """What the viewer shows for one region.

    Attributes:
        mode: ``"upscale"`` or ``"check"``.
        roi: ``(x0, y0, x1, y1)`` in pixels of the displayed slice (x = column, x1/y1 exclusive).
        scale: the up-sampling factor.
        model_name: the model that ran (``"auto"`` resolved, e.g. ``"rmisr_bl_x2"``).
        low_resolution: ``(C, h, w)``, what went into the model: the region itself (upscale) or its
            MATLAB-bicubic downscale (check).
        bicubic: ``(C, H, W)`` MATLAB-bicubic up-sampling of ``low_resolution``.
        super_resolved: ``(C, H, W)`` the model's output.
        reference: ``(C, H, W)`` the region as the truth (check), else None.
        bicubic_detail, super_resolved_detail: ``(C, H, W)`` Laplacian maps (upscale; in units of
            the region's ``[0, 1]`` range) or absolute errors against ``reference`` (check; file units).
        scores: check only: ``{"bicubic": Scores, model_name: Scores}`` (PSNR dB, SSIM,
            Laplacian-map PSNR dB), else None.
        seconds: wall time of the model's run (bicubic excluded).
    """

    mode: str
    roi: tuple[int, int, int, int]
    scale: float
    model_name: str
    low_resolution: np.ndarray
    bicubic: np.ndarray
    super_resolved: np.ndarray
    reference: np.ndarray | None
    bicubic_detail: np.ndarray
    super_resolved_detail: np.ndarray
    scores: dict[str, Scores] | None
    seconds: float

    def summary(self) -> str:
        """A few lines for the viewer's status panel and the command line."""
        x0, y0, x1, y1 = self.roi
        head = f"{self.model_name}, x{self.scale:.12g}, {self.seconds:.2f} s"
        head += f"\nregion {x1 - x0}x{y1 - y0} at ({x0}, {y0})"
        if self.scores is None:
            return head
        lines = [head, f"{'':<14}{'PSNR dB':>9}{'SSIM':>8}{'Lapl. dB':>10}"]
        for name, score in self.scores.items():
            lines.append(f"{name:<14}{score.psnr:>9.2f}{score.ssim:>8.4f}{score.laplacian_psnr:>10.2f}")
        return "\n".join(lines)


def _unit_range(array: np.ndarray) -> tuple[float, float]:
    """``(low, span)`` of a min-max normalisation; a constant array gets span 1 (it maps to 0)."""
    low, high = float(array.min()), float(array.max())
    return low, (high - low if high > low else 1.0)


def _inside_python_installation(path: Path) -> bool:
    """Whether ``path`` lies in this Python's installation (its prefixes, site-packages included)."""
    resolved = path.resolve()
    roots = {sys.prefix, sys.base_prefix, *sysconfig.get_paths().values(), *site.getsitepackages()}
    return any(resolved.is_relative_to(Path(root).resolve()) for root in roots if root)


class ViewerSession:
    """An image open in the viewer: the current slice, and comparisons of its regions.

    Args:
        image: an image path (DICOM file or series folder, NIfTI, PNG/JPEG/TIFF/BMP), one series of a folder holding
            several (:class:`~monai_rmisr.io.SeriesInFolder`) or an :class:`~monai_rmisr.io.ImageData`; the image is
            never modified.
        slice_index: for a volume ``(C, H, W, D)``, the slice shown first (default the middle one).
        device: where the models run.
        volume_index: for an image of several channels that are not colour (a 4-D NIfTI), the volume
            (channel) shown first (default 0).

    Raises:
        FileNotFoundError, ImageReadError: the path is missing or is not a readable image.
        ValueError: ``slice_index`` or ``volume_index`` outside the image.
    """

    def __init__(
        self,
        image: str | os.PathLike[str] | SeriesInFolder | ImageData,
        slice_index: int | None = None,
        device: str = "cpu",
        volume_index: int = 0,
    ) -> None:
        self.image = image if isinstance(image, ImageData) else read_image(image)
        #: the series read, where ``image`` was one series of a folder holding several (``rmisr view --series``)
        self.series = image if isinstance(image, SeriesInFolder) else None
        #: how the window turns slices for the screen (a NIfTI as radiology viewers show it; regions stay in
        #: the file's pixel coordinates)
        self.orientation: DisplayOrientation = display_orientation(self.image.meta)
        self.device = device
        self.depth = int(self.image.array.shape[3]) if self.image.array.ndim == 4 else 1
        self.slice_index = self.depth // 2
        if slice_index is not None:
            self.set_slice(slice_index)
        #: shown as colour (:attr:`~monai_rmisr.io.ImageData.is_colour`); any other channels are volumes, shown one at
        #: a time
        self.colour = self.image.is_colour
        self.volumes = 1 if self.colour else int(self.image.array.shape[0])
        self.volume_index = 0
        self.set_volume(volume_index)
        self._networks: dict[tuple[str, float], tuple[torch.nn.Module, float, str, str | None]] = {}

    # -- the image --------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The file (or series folder) name, for titles; a series of a folder holding several: the folder's name and
        the series'."""
        folder = Path(self.image.path).name or "image"
        return folder if self.series is None else f"{folder} [{self.series.name}]"

    def set_slice(self, index: int) -> None:
        """Show slice ``index`` (0-based) of a volume."""
        if isinstance(index, bool) or int(index) != index or not 0 <= index < self.depth:
            raise ValueError(f"slice must be an integer in [0, {self.depth - 1}], got {index!r}.")
        self.slice_index = int(index)

    def set_volume(self, index: int) -> None:
        """Show volume (channel) ``index`` (0-based) of an image of several volumes."""
        if isinstance(index, bool) or int(index) != index or not 0 <= index < self.volumes:
            raise ValueError(f"volume must be an integer in [0, {self.volumes - 1}], got {index!r}.")
        self.volume_index = int(index)

    @property
    def plane(self) -> np.ndarray:
        """The current slice, ``(C, H, W)`` float32 in the file's units: ``C`` is 3 for colour, else 1."""
        array = self.image.array
        array = array[..., self.slice_index] if array.ndim == 4 else array
        return array if self.volumes == 1 else array[self.volume_index : self.volume_index + 1]

    @property
    def pixel_aspect(self) -> float:
        """The height of a pixel on the screen over its width: the pixel spacing of the file's rows over that of
        its columns (turned with the slice); 1 where the file gives no usable spacing (PNG, an ImageData
        made in memory)."""
        spacing = self.image.meta.get("spacing")
        try:
            rows, columns = (float(value) for value in tuple(spacing)[:2])
        except (TypeError, ValueError):
            return 1.0
        if not (np.isfinite(rows) and np.isfinite(columns) and rows > 0 and columns > 0):
            return 1.0
        return columns / rows if self.orientation.transpose else rows / columns

    @property
    def height(self) -> int:
        return int(self.plane.shape[1])

    @property
    def width(self) -> int:
        return int(self.plane.shape[2])

    def default_roi(self, size: int = DEFAULT_ROI_SIZE) -> tuple[int, int, int, int]:
        """A central ``size`` x ``size`` region (clipped to the image)."""
        w, h = min(size, self.width), min(size, self.height)
        x0, y0 = (self.width - w) // 2, (self.height - h) // 2
        return x0, y0, x0 + w, y0 + h

    def check_roi(self, roi: Any) -> tuple[int, int, int, int]:
        """``roi`` (``"x0,y0,x1,y1"`` or four integers) checked against the current slice.

        Raises:
            ValueError: not four integers, empty, smaller than 2x2 or outside the image.
        """
        checked = parse_roi(roi)
        assert checked is not None
        check_roi_in_image(checked, self.width, self.height, what="region")
        return checked

    # -- models -----------------------------------------------------------------------------
    def network(self, model: Any, scale: float) -> tuple[torch.nn.Module, float, str, str | None]:
        """``resolve_model_and_digest(model, scale)``: the network, the scale for its forward, its name and the
        SHA-256 of its weights, loaded (and hashed) once per (model, scale) and kept."""
        key = (str(model), float(scale))
        if key not in self._networks:
            network, run_scale, name, digest = resolve_model_and_digest(model, scale, self.device)
            self._networks[key] = network.eval(), run_scale, name, digest
        return self._networks[key]

    def upscale_command(self, roi: Any, scale: float, model: Any = "auto", short: bool = False) -> str:
        """The ``rmisr upscale`` command that writes this region's super-resolved image as a file.

        The output goes next to the input as ``<stem>_sr<suffix>``, or into the current folder for an input inside
        the Python installation (a sample image of an installed package: nothing is to be written there);
        ``short`` names both by their file names alone (a command to run in the image's folder; a checkpoint given
        as ``model`` by its full path).
        """
        x0, y0, x1, y1 = self.check_roi(roi)
        source = Path(self.image.path)
        if not source.name:  # "." (a series viewed from inside its folder): named by the folder it is
            source = source.resolve()
        output = source.with_name(sr_output_name(source))
        if self.series is not None:  # beside the folder holding it, named after both
            output = source.with_name(f"{source.name}_{self.series.name}_sr")
        if _inside_python_installation(source):
            output = Path(output.name)
        if short:
            source, output = Path(source.name), Path(output.name)
            if isinstance(model, str | os.PathLike) and Path(model).is_file():
                model = Path(model).resolve()  # a checkpoint: found from the image's folder too
        words = ["rmisr", "upscale", str(source), "-o", str(output)]
        if self.series is not None:
            words += ["--series", self.series.series_uid]
        # the scale as given (2.0000001 runs rmisr_meta, "2" would run rmisr_bl_x2)
        words += ["--scale", f"{float(scale):.12g}", "--model", str(model), "--roi", f"{x0},{y0},{x1},{y1}"]
        return shlex.join(words)

    # -- comparisons ------------------------------------------------------------------------
    def compare(self, roi: Any, scale: float, model: Any = "auto", mode: str = "upscale") -> Comparison:
        """Bicubic and ``model`` on region ``roi`` of the current slice (see the module for the modes).

        Args:
            roi: ``(x0, y0, x1, y1)`` pixels (x = column, x1/y1 exclusive) or ``"x0,y0,x1,y1"``.
            scale: the factor; a fixed-scale model needs its own (``"auto"`` picks one that fits).
            model: as ``rmisr upscale --model``: ``"auto"``, a registry name, ``"bicubic"``, a
                checkpoint path or an ``nn.Module``.
            mode: ``"upscale"`` or ``"check"``.

        Raises:
            ValueError: a bad region, scale, mode or model (the message says which);
                FileNotFoundError: missing weights or checkpoint.
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
        roi = self.check_roi(roi)
        network, run_scale, name, digest = self.network(model, scale)
        if mode == "check":
            return self._check(roi, network, run_scale, name)
        return self._upscale(roi, network, run_scale, name, digest)

    def _upscale(
        self, roi: tuple[int, int, int, int], network: torch.nn.Module, scale: float, name: str, digest: str | None
    ) -> Comparison:
        # geometry only matters for files written; an ImageData made in memory may have none
        plane = ImageData(self.plane, {"affine": np.eye(4), "spacing": (1.0, 1.0), **self.image.meta})
        x0, y0, x1, y1 = roi
        started = time.perf_counter()
        # tile "auto", as rmisr upscale: a region too large for the memory budget goes in tiles, so the viewer
        # shows what `rmisr upscale --roi` writes, for a region of any size
        upscaler = Upscaler(scale, model=network, roi=roi, device=self.device, weights_sha256=digest)  # hashed once
        # a slice of a volume goes to the network scaled as `rmisr upscale` scales the whole volume (its values over
        # every slice; each volume of a 4-D file its own), not as a slice of its own: what is shown is what that
        # command writes
        shown = self.image
        if self.volumes > 1:
            index = slice(self.volume_index, self.volume_index + 1)
            shown = ImageData(self.image.array[index], self.image.meta)
        values = upscaler.value_range(shown) if self.image.array.ndim == 4 or self.volumes > 1 else None
        result = upscaler.image(plane, value_range=values).array
        seconds = time.perf_counter() - started
        bicubic = Upscaler(scale, model=BICUBIC, roi=roi).image(plane, value_range=values).array
        region = self.plane[:, y0:y1, x0:x1]
        low, span = _unit_range(region)

        def detail(image: np.ndarray) -> np.ndarray:
            return laplacian_map((image.astype(np.float64) - low) / span).astype(np.float32)

        return Comparison(
            "upscale", roi, scale, name, region, bicubic, result, None, detail(bicubic), detail(result), None, seconds
        )

    def _check(self, roi: tuple[int, int, int, int], network: torch.nn.Module, scale: float, name: str) -> Comparison:
        x0, y0, x1, y1 = roi
        region = self.plane[:, y0:y1, x0:x1]
        low, span = _unit_range(region)
        need = min_scored_size(scale)  # SSIM's window inside the protocol's border, after the crop to the scale
        if min(region.shape[1:]) < need:
            raise ValueError(
                f"region {roi} is too small to check at x{scale:g}: it needs at least {need} pixels per side (the "
                f"protocol crops {protocol_border(scale)} border pixels and SSIM needs 11x11)."
            )
        truth, low_res = protocol_pair((region - low) / span, scale)
        truth = np.asarray(truth, dtype=np.float32)
        low_res = np.asarray(low_res, dtype=np.float32)
        bicubic = bicubic_upscale(scale)(low_res).astype(np.float64)
        started = time.perf_counter()
        with torch.inference_mode():
            channels = [
                forward_at_scale(network, torch.from_numpy(low_res[c : c + 1])[None].to(self.device), scale)
                for c in range(low_res.shape[0])
            ]
        super_resolved = torch.cat(channels, dim=1)[0].clamp(0.0, 1.0).double().cpu().numpy()
        seconds = time.perf_counter() - started
        scores = {BICUBIC: image_scores(bicubic, truth, scale), name: image_scores(super_resolved, truth, scale)}

        def units(image: np.ndarray) -> np.ndarray:
            return (image * span + low).astype(np.float32)

        reference = units(truth)
        bicubic_units, sr_units = units(np.clip(bicubic, 0.0, 1.0)), units(super_resolved)
        return Comparison(
            "check",
            roi,
            scale,
            name,
            units(low_res),
            bicubic_units,
            sr_units,
            reference,
            np.abs(bicubic_units - reference),
            np.abs(sr_units - reference),
            scores,
            seconds,
        )
