"""File-level super-resolution: read an image, super-resolve it (ROI, tiles, volumes), write it back.

:class:`Upscaler` holds one resolved network and turns :class:`~monai_rmisr.io.ImageData` into
:class:`~monai_rmisr.io.ImageData` (:meth:`Upscaler.image`) or a file into a file
(:meth:`Upscaler.file`); :mod:`monai_rmisr.inference.batch` streams a folder of thousands of studies
through it, sharded across ``torchrun`` processes. The ``rmisr upscale`` command is a thin layer over
these.

Intensities: the networks were trained on images min-max normalised to ``[0, 1]``, so each image
(a whole volume for 3-D data, all channels together for colour, each volume of a 4-D file on its own) is mapped to
``[0, 1]`` with its own minimum and maximum, super-resolved, clipped to ``[0, 1]`` and mapped back to the file's units.
The output therefore never leaves the input's value range (each volume's own); a constant image stays that constant.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..io import ImageData, ImageReadError, ImageTooLargeError, SeriesInFolder, read_image
from ..io.dicom_writer import not_resampled_reason
from ..io.geometry import resampled_geometry
from ..io.label_maps import label_map_evidence
from ..io.output import OutputWriteError
from ..io.writers import check_output, write_image
from ..networks.regroup import inference_network
from ..networks.utils import forward_at_scale, scaled_size
from ..transforms.resize import imresize
from .bicubic import BicubicUpsampler
from .inferer import SuperResolutionInferer
from .pretrained import WeightsChangedError
from .self_ensemble import self_ensemble_forward
from .settings import (
    AUTO_TILE,
    check_device,
    check_precision,
    check_roi_in_image,
    check_tile,
    check_tile_statistics,
    compute_autocast,
    model_in_channels,
    parse_roi,
)
from .super_resolve import resolve_model, resolve_model_and_digest
from .tiling import auto_tile, scale_period

__all__ = ["AXES", "MAX_OUTPUT_PIXELS", "RUN_ERRORS", "ResultTooLargeError", "Upscaler"]

logger = logging.getLogger(__name__)

AXES = ("xy", "z")
BATCH_PIXELS = 2**18  # LR pixels per forward pass when slices are batched
ROI_CONTEXT = 16  # LR pixels of real image around a --roi, so its borders see their true neighbours
#: The fewest slices ``--axis z`` takes: the network sees planes that many pixels tall. Of two slices of a disc whose
#: value rose 0.8 -> 0.9 the shipped x2 made 0.75, 0.87, 0.88, 0.91 (bicubic 0.79, 0.82, 0.88, 0.91); of three or more
#: it kept within 0.005 of bicubic's ramp (2026-12-07).
MIN_THROUGH_PLANE_SLICES = 3
#: The most values (pixels x frames or slices x channels) a result of :meth:`Upscaler.file` may
#: hold: 2**28 is a 512x512 CT volume of 256 slices at x2, or a 16384x16384 grey image. Making a
#: result takes some 21 bytes a value (float32 and float64 copies) plus the network's working
#: memory. The input is refused from its header, before decoding, when its result would be larger.
MAX_OUTPUT_PIXELS: int = 2**28
#: Failures of a run rather than of its arguments or input: out of memory (PyTorch's is a RuntimeError,
#: numpy's a MemoryError), a writer's optional package missing (ITK), a full disk or an I/O error while writing
#: (:class:`~monai_rmisr.io.output.OutputWriteError`), a weights file rewritten while it was loaded
#: (:class:`~monai_rmisr.inference.pretrained.WeightsChangedError`; both ``OSError`` s: catch these first).
RUN_ERRORS: tuple[type[Exception], ...] = (
    OutputWriteError,
    WeightsChangedError,
    RuntimeError,
    MemoryError,
    ImportError,
)
#: Values mapped back to the file's units at a time (float64 working copies of 32 MB, not of the whole result).
MAPPING_CHUNK = 2**22


class ResultTooLargeError(ValueError):
    """A result of more than ``limit`` values (:meth:`Upscaler.read`), refused before it is made.

    Attributes:
        limit: the most values a result may hold.
        announced: what the input's header announced (refused before any pixel was decoded), or ``None``.
        values, shape, channels: the result's values (pixels x slices x channels), spatial shape and channels,
            counted after reading (``None`` before).
    """

    def __init__(
        self,
        message: str,
        limit: int,
        announced: str | None = None,
        values: int | None = None,
        shape: tuple[int, ...] | None = None,
        channels: int | None = None,
    ) -> None:
        super().__init__(message)
        self.limit, self.announced = limit, announced
        self.values, self.shape, self.channels = values, shape, channels


def _context(start: int, stop: int, size: int, period: int) -> tuple[int, int]:
    """LR margins before/after a crop, multiples of the scale period so the crop's grid is kept."""
    before = min(ROI_CONTEXT, start) // period * period
    after = min(ROI_CONTEXT, size - stop) // period * period
    return before, after


#: How far a series' slice origins may lie from its evenly spaced grid for ``--axis z``: along the normal, this share
#: of the slice step (positions rounded to 0.01 mm are 0.8 % off at a 0.625 mm step); across it, this share of the
#: in-plane pixel spacing.
SLICE_GRID_TOLERANCE = (0.05, 0.1)


#: How much coarser than the third axis an in-plane axis may be before :func:`_warn_of_a_coarse_in_plane_axis` speaks.
COARSE_IN_PLANE_RATIO = 1.5


def _warn_of_a_coarse_in_plane_axis(path: Any, meta: dict[str, Any], axis: str) -> None:
    """Warn where a volume's thick axis is not its third (a NIfTI of shape (5, 80, 80) at 4 x 0.9 x 0.9 mm):
    ``--axis xy`` then works on planes of 4 x 0.9 mm pixels and ``--axis z`` adds slices along the 0.9 mm axis,
    both as asked and neither what a user of thick slices wants."""
    spacing = [float(v) for v in meta.get("spacing", ())]
    if len(spacing) < 3 or max(spacing[:2]) <= COARSE_IN_PLANE_RATIO * spacing[2]:
        return
    coarse = "first" if spacing[0] >= spacing[1] else "second"
    if axis == "xy":
        done = f"works on planes of {spacing[0]:g} x {spacing[1]:g} mm pixels"
    else:
        done = f"adds slices along the third axis ({spacing[2]:g} mm)"
    logger.warning(
        "'%s': its voxels are %s mm, its thickest axis the %s, not the third: --axis %s %s. If its slices lie along "
        "the %s axis, reorient the file (its slice axis last) first.",
        path,
        " x ".join(f"{v:g}" for v in spacing[:3]),
        coarse,
        axis,
        done,
        coarse,
    )


def _check_slice_count(slices: int, path: Any = None) -> None:
    """Refuse ``--axis z`` on fewer than :data:`MIN_THROUGH_PLANE_SLICES` slices (of the file ``path``, if given)."""
    if slices < MIN_THROUGH_PLANE_SLICES:
        has = f"'{path}' has {slices}" if path is not None else f"got {slices}"
        raise ValueError(
            f"--axis z needs at least {MIN_THROUGH_PLANE_SLICES} slices (the network sees planes as tall as the "
            f"volume has slices); {has}."
        )


def _check_even_slice_grid(path: Any, meta: dict[str, Any]) -> None:
    """Refuse ``--axis z`` on a series whose slices are not evenly spaced along one line: the new slices are
    interpolated between neighbours as if they were, and placed on that grid (up to 1.75 mm off on a series with a
    6 mm gap among 2 mm steps, 2.85 mm on a tilted one)."""
    along, across = meta.get("slice_grid_error") or (0.0, 0.0)
    spacing = [float(v) for v in meta.get("spacing", ())]
    if len(spacing) < 3:
        return
    problems = []
    if along > SLICE_GRID_TOLERANCE[0] * spacing[2]:
        problems.append(f"up to {along:.3g} mm from evenly spaced positions (uneven spacing, or a missing slice)")
    if across > SLICE_GRID_TOLERANCE[1] * min(spacing[:2]):
        problems.append(f"up to {across:.3g} mm across the slices' normal from one another (a gantry tilt)")
    if problems:
        raise ValueError(
            f"--axis z interpolates between slices as if they were evenly spaced along their normal, but the slices of "
            f"'{path}' lie {' and '.join(problems)}: the new slices would be placed wrongly. Resample the series to "
            "an even grid first, or super-resolve in-plane (--axis xy)."
        )


@dataclass
class Upscaler:
    """Super-resolve images with one network, loaded once.

    Args:
        scale: up-sampling factor (> 1; the dedicated models x2/x3/x4, the arbitrary-scale one up to 8).
        model: ``"auto"``, a name from :func:`~monai_rmisr.inference.list_pretrained`, a
            checkpoint path or an ``nn.Module`` (see :func:`~monai_rmisr.inference.super_resolve`).
        tile: ``"auto"`` (default): large slices in tiles chosen from a memory budget, small ones
            whole (:func:`~monai_rmisr.inference.tiling.auto_tile`); ``N``: LR tiles of
            N x N pixels; ``None``: whole slices whatever their size.
        tile_statistics: where a tiled slice's channel attention takes its statistics, ``"image"`` (default) or
            ``"tile"`` (see :func:`~monai_rmisr.inference.super_resolve`).
        axis: ``"xy"`` super-resolves in-plane (every slice of a volume); ``"z"`` adds slices
            along the volume's third axis, keeping the in-plane grid (thick-slice CT/MR), from two
            orthogonal 2-D passes (see :meth:`through_plane`).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
        roi: ``(x0, y0, x1, y1)`` input pixels to super-resolve (x = column), or its text ``"x0,y0,x1,y1"``;
            ``None``: everything.
        self_ensemble: average over the eight flips / quarter turns of every slice (8x the time;
            see :func:`~monai_rmisr.inference.super_resolve`).
        skip_bad_slices: :meth:`file` on a DICOM series leaves broken slices out (logged) instead
            of refusing the series (:func:`~monai_rmisr.io.read_dicom_series`).
        progress: a tqdm bar of the tiles on stderr when a slice is tiled.
        precision: the network's compute dtype, ``"float32"`` (default), ``"bfloat16"`` (refused where the
            device would emulate it) or ``"auto"`` (bfloat16 where native); see :func:`super_resolve`.
        model_name: the model's name in the outputs' derivation (a DICOM output's DerivationDescription);
            default: the registry name, the checkpoint's file name or the module's class name.
        weights_sha256: the SHA-256 the outputs record of the weights; default
            :func:`~monai_rmisr.inference.pretrained.weights_sha256` of ``model`` (a file's, hashed before and after it
            is loaded: :func:`~.super_resolve.resolve_model_and_digest`; or a module's state dict's). Give the file's
            for a network loaded from it: :func:`~.super_resolve.resolve_model`'s CPU form has other tensors (the
            MONAI Label app does). ``None`` for ``model="bicubic"``, whatever is given.

    Attributes:
        network: the network, in eval mode on ``device``.
        runner: what runs the slices: ``network``, or on the CPU the form that runs fastest there
            (:func:`~monai_rmisr.networks.regroup.cpu_inference_network`: RMISR's convolutions rewritten exactly,
            in a copy made once).
        channels_last: whether ``runner`` gets its input in channels-last memory.
        inferer: the :class:`~monai_rmisr.inference.inferer.SuperResolutionInferer` every slice goes
            through (``tile``, ``tile_statistics``, ``self_ensemble``, ``progress``).

    Raises:
        ValueError: bad scale, axis, ROI, device or model (an unreadable weights file, a bad
            architecture sidecar); FileNotFoundError: missing weights.
    """

    scale: float
    model: Any = "auto"
    tile: int | str | None = AUTO_TILE
    tile_statistics: str = "image"
    axis: str = "xy"
    device: str = "cpu"
    roi: tuple[int, int, int, int] | str | None = None  # parsed to the tuple (or None) on construction
    self_ensemble: bool = False
    skip_bad_slices: bool = False
    progress: bool = False
    precision: str = "float32"
    model_name: str | None = None
    weights_sha256: str | None = None
    network: torch.nn.Module = field(init=False, repr=False)
    inferer: SuperResolutionInferer = field(init=False, repr=False)
    compute_dtype: torch.dtype = field(init=False, repr=False)
    runner: torch.nn.Module = field(init=False, repr=False)
    channels_last: bool = field(init=False, repr=False)
    run_scale: float = field(init=False)

    def __post_init__(self) -> None:
        if self.axis not in AXES:
            raise ValueError(f"axis must be one of {AXES}, got {self.axis!r}.")
        self.roi = parse_roi(self.roi)
        self.tile = check_tile(self.tile)
        self.tile_statistics = check_tile_statistics(self.tile_statistics)
        self.device = check_device(self.device)
        self.compute_dtype = check_precision(self.precision, self.device)
        if isinstance(self.model, nn.Module) and self.weights_sha256 is not None:  # named by its caller: not hashed
            self.network, self.run_scale, name = resolve_model(self.model, self.scale, self.device, self.compute_dtype)
        else:  # the digest: the file's (what rmisr info lists), or a module's state dict's
            self.network, self.run_scale, name, digest = resolve_model_and_digest(
                self.model, self.scale, self.device, self.compute_dtype
            )
            self.weights_sha256 = self.weights_sha256 or digest
        if isinstance(self.network, BicubicUpsampler):
            self.weights_sha256 = None  # interpolation has no weights
            if self.self_ensemble:  # 8x the time for the same pixels, recorded as another derivation
                raise ValueError(
                    "self-ensemble does nothing for the model 'bicubic': interpolation is the same under the flips "
                    "and quarter turns it averages."
                )
        self.model_name = self.model_name or name
        self.network.eval()
        # once, not per slice
        self.runner, self.channels_last = inference_network(self.network, self.device, self.compute_dtype)
        self.inferer = SuperResolutionInferer(
            self.run_scale,
            self.tile,
            self_ensemble=self.self_ensemble,
            tile_statistics=self.tile_statistics,
            progress=self.progress,
            device=self.device,
            precision=self.compute_precision,
        )

    @property
    def compute_precision(self) -> str:
        """The precision the network runs in, ``"auto"`` resolved: ``"float32"`` or ``"bfloat16"``."""
        return "bfloat16" if self.compute_dtype == torch.bfloat16 else "float32"

    @property
    def derivation(self) -> dict[str, Any]:
        """What an output records of how it was made (``meta["derivation"]``: model name, the SHA-256 of its weights
        (:func:`~monai_rmisr.inference.pretrained.weights_sha256`; ``None`` for ``--model bicubic``), method
        (``"super-resolution"``, or ``"interpolation"`` for ``--model bicubic``), scale, axis, ROI, self-ensemble,
        precision); :func:`~monai_rmisr.io.dicom_writer.derivation_description` words it."""
        return {
            "model": self.model_name,
            "weights_sha256": self.weights_sha256,
            "method": "interpolation" if isinstance(self.network, BicubicUpsampler) else "super-resolution",
            "scale": float(self.scale),
            "axis": self.axis,
            "roi": self.roi,
            "self_ensemble": self.self_ensemble,
            "precision": self.compute_precision,
        }

    # -- arrays -----------------------------------------------------------------------------
    def _slice(self, image: np.ndarray) -> np.ndarray:
        """(C, H, W) in [0, 1] -> (C, H', W') in [0, 1]."""
        batch = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None]
        return self.inferer(batch, self.runner)[0].numpy()

    def _slices(self, stack: np.ndarray) -> np.ndarray:
        """(N, C, H, W) in [0, 1] -> (N, C, H', W'): many equal-size slices, batched through the network.

        With tiles (a ``tile`` size, or ``"auto"`` on slices too large to run whole) each slice goes
        through :func:`~monai_rmisr.inference.super_resolve`, channel by channel for a single-channel
        network, as a whole for a multi-channel one; otherwise slices and channels are batched,
        up to :data:`BATCH_PIXELS` LR pixels per forward pass (hundreds of thin planes of a
        through-plane pass cost a few passes, not hundreds).
        """
        count, channels, height, width = stack.shape
        whole = self.tile is None or (
            self.tile == AUTO_TILE
            and auto_tile(self.network, (height, width), self.run_scale, device=self.device) is None
        )
        one_channel = model_in_channels(self.network) in (1, None)
        if not whole and one_channel:  # every channel on its own, however many (the volumes of a 4-D NIfTI)
            planes = stack.reshape(count * channels, 1, height, width)
            result = np.stack([self._slice(plane) for plane in planes])
            return result.reshape(count, channels, *result.shape[2:])
        if not whole or not one_channel:
            return np.stack([self._slice(item) for item in stack])
        flat = torch.from_numpy(np.ascontiguousarray(stack, dtype=np.float32)).reshape(
            count * channels, 1, height, width
        )
        device = torch.device(self.device)
        step = max(1, BATCH_PIXELS // (height * width))
        forward = self_ensemble_forward if self.self_ensemble else forward_at_scale
        outputs = []
        with torch.inference_mode(), compute_autocast(self.compute_dtype, device):
            for start in range(0, flat.shape[0], step):
                batch = flat[start : start + step].to(device)
                out = forward(self.runner, batch, self.run_scale, self.channels_last).float()
                outputs.append(out.clamp_(0, 1).cpu())
        result = torch.cat(outputs).contiguous().numpy()
        return result.reshape(count, channels, *result.shape[2:])

    def in_plane(self, volume: np.ndarray) -> np.ndarray:
        """(C, H, W[, D]) in [0, 1] -> (C, H', W'[, D]): every slice super-resolved."""
        if volume.ndim == 3:
            return self._slice(volume)
        return np.moveaxis(self._slices(np.moveaxis(volume, -1, 0)), 0, -1)

    def through_plane(self, volume: np.ndarray) -> np.ndarray:
        """(C, H, W, D) in [0, 1] -> (C, H, W, D'): slices added along the third axis.

        Two orthogonal passes: every (W, D) plane and every (H, D) plane is super-resolved as a
        2-D image (both of its axes grow), its in-plane axis is brought back to the original
        size with the same MATLAB-bicubic operator the networks were trained to invert, and the
        two passes are averaged. Each plane then gains resolution along z, learned from
        in-plane detail of the same kind; the in-plane round trip smooths the planes a little too (on a
        volume constant along z the shipped x2 moved bone edges by up to 52 HU). Plain bicubic
        interpolation (``model="bicubic"``, the baseline) interpolates along z alone: through the
        two passes it blurred the planes (bone 13-16 HU low), which the network's passes measure better
        than (``python benchmarks/through_plane.py``, docs/inference.md "Volumes").
        """
        if volume.ndim != 4:
            raise ValueError(f"--axis z needs a volume (C, H, W, D), got shape {volume.shape}.")
        _check_slice_count(volume.shape[-1])
        _, height, width, depth = volume.shape
        if isinstance(self.network, BicubicUpsampler):  # interpolation along z alone: the planes stay as they are
            slices = scaled_size([depth], self.run_scale)[0]
            return np.clip(imresize(volume, output_size=(slices,), spatial_axes=(2,)), 0.0, 1.0)

        def plane_pass(axis: int, length: int) -> np.ndarray:
            planes = np.moveaxis(volume, axis, 0)  # (planes, C, length, D)
            sr = self._slices(planes)  # (planes, C, length', D')
            restored = imresize(sr.reshape(-1, *sr.shape[2:]), output_size=(length,), spatial_axes=(0,))
            return np.moveaxis(restored.reshape(*sr.shape[:2], length, sr.shape[-1]), 0, axis)

        return np.clip(0.5 * (plane_pass(1, width) + plane_pass(2, height)), 0.0, 1.0)

    # -- images -----------------------------------------------------------------------------
    def _crop(self, array: np.ndarray, image: ImageData) -> tuple[np.ndarray, list[float], list[tuple[int, int]]]:
        """The part of ``array`` (``image``'s values) that runs through the network: the ROI with its context (the
        whole image without one), the ROI's first input index per spatial axis, and the context's LR margins."""
        spatial = array.shape[1:]
        starts: list[float] = [0.0] * len(spatial)
        context = [(0, 0), (0, 0)]
        if self.roi is None:
            return array, starts, context
        x0, y0, x1, y1 = self.roi
        height, width = spatial[0], spatial[1]
        check_roi_in_image(self.roi, width, height, image_name=image.path)
        if self.axis == "xy":
            try:
                period = scale_period(self.run_scale)[0]
            except ValueError:  # no whole-pixel period (e.g. x2.345): no context then
                period = ROI_CONTEXT + 1
            context = [_context(y0, y1, height, period), _context(x0, x1, width, period)]
        crop = array[:, y0 - context[0][0] : y1 + context[0][1], x0 - context[1][0] : x1 + context[1][1]]
        starts[0], starts[1] = y0, x0
        return crop, starts, context

    def value_range(self, image: ImageData) -> tuple[float, float]:
        """The input values :meth:`image` maps to 0 and 1 for the network: the minimum and maximum of what it runs
        (the ROI with its context, every slice and channel; :meth:`image` takes each channel's own where the channels
        are not one colour image). The viewer gives one slice of a volume to :meth:`image` with the whole volume's,
        so it shows what ``rmisr upscale`` writes for that slice."""
        crop, _, _ = self._crop(np.asarray(image.array, dtype=np.float32), image)
        return float(crop.min()), float(crop.max())

    def image(self, image: ImageData, value_range: tuple[float, float] | None = None) -> ImageData:
        """Super-resolve an image read by :func:`~monai_rmisr.io.read_image`; metadata follows the new grid.

        Args:
            image: the input, in its units.
            value_range: the values mapped to 0 and 1 for the network, every channel's (default: the image's
                minimum and maximum, :meth:`value_range`, or each channel's own where the channels are not one colour
                image, :attr:`~monai_rmisr.io.ImageData.is_colour`: the volumes of a 4-D NIfTI); values beyond it are
                clipped.

        Returns:
            :class:`~monai_rmisr.io.ImageData` in the input's units with ``meta`` holding the new
            ``affine``/``spacing``/``origin``/``spatial_shape``, ``resampling`` and ``derivation``
            (``{"model", "scale", "axis", "roi", "self_ensemble", "precision"}``: ``precision`` the compute dtype
            actually used, ``"auto"`` resolved); the input is not modified.

        Raises:
            ValueError: ``axis="z"`` for anything but a DICOM series or a 3-D NIfTI volume (a 2-D image, a multi-frame
                DICOM or multi-page TIFF file), or a ROI outside the image.
        """
        array = np.asarray(image.array, dtype=np.float32)
        meta = image.meta
        spatial = array.shape[1:]
        if self.axis == "z" and (array.ndim != 4 or meta.get("format") not in ("dicom-series", "nifti")):
            # a multi-frame DICOM file's or a TIFF's frames: maybe a time series or unrelated images, no known spacing
            frames = "a multi-page TIFF file" if meta.get("format") == "tiff" else "a multi-frame DICOM file"
            what = "a 2-D image" if array.ndim != 4 else frames
            raise ValueError(
                f"--axis z needs a volume from a DICOM series folder or a 3-D NIfTI file; '{image.path}' is {what}."
            )
        if array.ndim == 4:
            _warn_of_a_coarse_in_plane_axis(image.path, meta, self.axis)
        if self.axis == "z":
            _check_even_slice_grid(image.path, meta)
            _check_slice_count(array.shape[-1], image.path)  # before it is read into planes
        crop, starts, context = self._crop(array, image)
        self._check_size_grows(image)
        channels = crop.shape[0]
        spatial_axes = tuple(range(1, crop.ndim))  # reduced in place: an ROI's crop is a view, not copied
        own_low, own_high = crop.min(axis=spatial_axes), crop.max(axis=spatial_axes)
        # a channel of one value (a constant image, a flat colour) comes back as that value, whatever the network
        # makes of it (its biases: up to 0.0025 of a constant grey's unit, 2 of 255 of a flat colour's channel)
        constant = [int(c) for c in np.flatnonzero(own_low == own_high)] if value_range is None else []
        if value_range is not None:
            low, high = (np.full(channels, float(value)) for value in value_range)
        elif channels > 1 and not image.is_colour:  # volumes: each as if alone (their ranges differ)
            low, high = own_low.astype(np.float64), own_high.astype(np.float64)
        else:
            low, high = (np.full(channels, float(value)) for value in (own_low.min(), own_high.max()))
        span = np.maximum(high - low, 0.0)
        per_channel = (channels, *([1] * (crop.ndim - 1)))
        divisor = np.where(span > 0, span, 1.0).astype(np.float32).reshape(per_channel)
        unit = (crop - low.astype(np.float32).reshape(per_channel)) / divisor
        if value_range is not None:
            unit = np.clip(unit, 0.0, 1.0)
        zoom: list[float] | None = None
        if self.axis == "xy":
            result = self.in_plane(unit)
            if self.roi is not None:
                x0, y0, x1, y1 = self.roi
                # the crop (ROI and context) is sampled on its own grid, round(n * s) pixels for its n: the ROI's
                # rows are cut from that grid, and the output's geometry is that grid's (where n * s is not whole,
                # it is not the ROI's round(h * s) / h: the pixels were placed up to 0.08 LR pixels off before)
                crop_zoom = [o / n for o, n in zip(result.shape[1:3], crop.shape[1:3])]
                top, left = round(context[0][0] * self.run_scale), round(context[1][0] * self.run_scale)
                rows, cols = scaled_size([y1 - y0, x1 - x0], self.run_scale)
                result = result[:, top : top + rows, left : left + cols]
                zoom = [*crop_zoom, *([1.0] * (len(spatial) - 2))]
                starts[0] = y0 - context[0][0] + top / crop_zoom[0]
                starts[1] = x0 - context[1][0] + left / crop_zoom[1]
        else:
            result = self.through_plane(unit)
        result = np.ascontiguousarray(result, dtype=np.float32)
        for channel in range(result.shape[0]):
            flat = result[channel].reshape(-1)  # a view: the result is contiguous
            for start in range(0, flat.size, MAPPING_CHUNK):  # in float64, a chunk at a time (bounded memory)
                chunk = flat[start : start + MAPPING_CHUNK]
                chunk[...] = chunk.astype(np.float64) * span[channel] + low[channel]
        for channel in constant:
            result[channel] = own_low[channel]

        out_spatial = result.shape[1:]
        in_spatial = [
            *([self.roi[3] - self.roi[1], self.roi[2] - self.roi[0]] if self.roi else spatial[:2]),
            *spatial[2:],
        ]
        if zoom is None:
            zoom = [o / i for o, i in zip(out_spatial, in_spatial)]
        geometry = resampled_geometry(meta, zoom, starts)
        out_meta = {
            **meta,
            **geometry,
            "spatial_shape": tuple(out_spatial),
            "derivation": self.derivation,
        }
        return ImageData(result, out_meta)

    def _region_shape(self, image: ImageData) -> list[int]:
        """The spatial shape of what :meth:`image` super-resolves of ``image``: the image, or its ROI."""
        spatial = list(image.spatial_shape)
        if self.roi is not None:
            x0, y0, x1, y1 = self.roi
            spatial[0], spatial[1] = (
                min(y1, spatial[0]) - min(y0, spatial[0]),
                min(x1, spatial[1]) - min(x0, spatial[1]),
            )
        return spatial

    def _scaled_axes(self, spatial: Sequence[int]) -> slice:
        return slice(2, 3) if self.axis == "z" and len(spatial) > 2 else slice(0, 2)

    def output_shape(self, image: ImageData) -> list[int]:
        """The spatial shape of the result :meth:`image` would make of ``image`` (its ROI, scaled along the axes)."""
        spatial = self._region_shape(image)
        axes = self._scaled_axes(spatial)
        spatial[axes] = scaled_size(spatial[axes], self.run_scale)
        return spatial

    def _check_size_grows(self, image: ImageData) -> None:
        """Refuse a scale too close to 1 to add a pixel to ``image``: the result, of the input's size, would still
        be labelled super-resolved and its pixels moved (``round(n * scale) == n`` along every scaled axis)."""
        region = self._region_shape(image)
        axes = self._scaled_axes(region)
        if scaled_size(region[axes], self.run_scale) == region[axes]:
            size = "x".join(str(n) for n in region[axes])
            needed = 1 + 0.5 / max(region[axes])  # round(n * s) = n + 1 (halves up) along the longest axis
            raise ValueError(
                f"x{self.scale:.10g} leaves '{image.path}' ({size} {'slices' if self.axis == 'z' else 'pixels'}"
                f"{' in its region' if self.roi is not None else ''}) at its size: no pixel is added; give a scale of "
                f"at least {math.ceil(needed * 1e4) / 1e4:g}."
            )

    def output_values(self, image: ImageData) -> int:
        """How many values (pixels x slices x channels) :meth:`image` would make of ``image``."""
        return int(np.prod(self.output_shape(image), dtype=np.int64)) * int(image.array.shape[0])

    @property
    def growth(self) -> float:
        """How many result values each input value makes: ``scale`` along the slice axis, ``scale**2`` in-plane."""
        return self.run_scale if self.axis == "z" else self.run_scale**2

    def input_value_limit(self, max_output_values: int = MAX_OUTPUT_PIXELS) -> int:
        """The most values an input may hold, checked from its header, for a result of at most
        ``max_output_values``: that over :attr:`growth`; with a ROI (a part of the input, the result
        counted after reading) :data:`MAX_OUTPUT_PIXELS`, or ``max_output_values`` where that is larger."""
        if self.roi is not None:
            return max(max_output_values, MAX_OUTPUT_PIXELS)
        return int(max_output_values / self.growth)

    def read(
        self, source: str | os.PathLike[str] | SeriesInFolder, max_output_values: int = MAX_OUTPUT_PIXELS
    ) -> ImageData:
        """Read ``source`` as :meth:`file` does: a result of more than ``max_output_values`` values (pixels x
        slices x channels) refused from the header before any pixel is decoded (DICOM, NIfTI; without a ROI),
        else after reading (:meth:`output_values`).

        Raises:
            ResultTooLargeError: the result would be too large (its attributes say what was known: the header's
                announcement, or the counted result); the message names the file and what to change.
            ImageReadError, FileNotFoundError, ValueError: each naming the problem (a NIfTI label map, whose
                values are classes, is refused).
        """
        advice = f"a result may hold at most {max_output_values:,} values and x{self.scale:g} ({self.axis})"
        advice += f" multiplies them by {self.growth:.4g}; choose a smaller scale or a --roi"
        try:
            image = read_image(
                source, max_values=self.input_value_limit(max_output_values), skip_bad_slices=self.skip_bad_slices
            )
        except ImageTooLargeError as err:
            raise ResultTooLargeError(
                f"cannot read image '{err.path}': {err.reason.rstrip('.')} ({advice}).", max_output_values, err.reason
            ) from err
        evidence = label_map_evidence(image)
        if evidence is not None:
            raise ImageReadError(
                image.path,
                f"it is a label map or mask ({evidence}): its values are classes, which super-resolution "
                "would blend into classes that do not exist; resample it with nearest-neighbour interpolation.",
            )
        not_resampled = not_resampled_reason(image.meta) if str(image.meta.get("format")).startswith("dicom") else None
        if not_resampled is not None:  # before the network runs: its output could not be written truthfully
            raise ImageReadError(image.path, f"{not_resampled}.")
        values = self.output_values(image)
        if values > max_output_values:
            raise ResultTooLargeError(
                f"the result of '{image.path}' would hold {values:,} values; {advice}.",
                max_output_values,
                values=values,
                shape=tuple(self.output_shape(image)),
                channels=int(image.array.shape[0]),
            )
        return image

    def file(
        self,
        source: str | os.PathLike[str] | SeriesInFolder,
        output: str | os.PathLike[str],
        overwrite: bool = False,
        image: ImageData | None = None,
    ) -> Path:
        """Read ``source`` (:meth:`read`), super-resolve it and write ``output`` in the source's format.

        The output path is checked before any work (:func:`~monai_rmisr.io.writers.check_output`:
        not the input, not inside it, not existing unless ``overwrite``, not a device or FIFO,
        no name announcing another format) and written atomically, so a failure leaves nothing
        behind.

        The result may hold at most :data:`MAX_OUTPUT_PIXELS` values: a larger one is refused from
        the input's header (DICOM, NIfTI) before any pixel is decoded, or (PNG, JPEG, TIFF, and
        with a ``roi``) after reading and before inference.

        ``image``: ``source`` as :meth:`read` returned it already (a batch reads the next input while
        the network runs on this one); None: read it here, after the output path is checked.

        Raises:
            OutputPathError, ImageReadError, FileNotFoundError, ValueError: each naming the problem.
        """
        output = check_output(output, source, overwrite)
        if image is None:
            image = self.read(source)
        result = self.image(image)
        return write_image(result.array, result.meta, image.meta, output)
