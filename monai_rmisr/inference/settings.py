"""The rules of the inference settings, each in one place: the scale, the tile, the ROI, the device, the
precision, the model a scale means.

Every entry point (``super_resolve``, ``Upscaler``, ``rmisr upscale``, MONAI Label, the viewer) checks a
setting with these functions where the setting enters, and passes the checked value on.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..hardware import native_bfloat16
from ..networks.blocks.meta_upsample import MetaUpsample
from ..networks.utils import accepts_scale, check_scale, is_module_of
from .pretrained import PRETRAINED, pretrained_path

__all__ = [
    "AUTO_TILE",
    "MAX_SCALE",
    "PRECISIONS",
    "TILE_STATISTICS",
    "check_device",
    "check_model_scale",
    "check_precision",
    "check_roi_in_image",
    "check_scale",
    "check_scale_text",
    "check_tile",
    "check_tile_statistics",
    "compute_autocast",
    "default_model_name",
    "model_in_channels",
    "model_scale_limits",
    "parse_roi",
    "parse_tile",
    "registry_model",
]

#: ``tile`` value that chooses the tile from the memory budget
#: (:func:`~monai_rmisr.inference.tiling.auto_tile`).
AUTO_TILE = "auto"
#: The largest scale of every entry point and model: the arbitrary-scale model's (bicubic takes it too).
MAX_SCALE: float = PRETRAINED["rmisr_meta"].max_scale
#: The smallest LR tile. Smaller tiles are mostly overlap, and the zero padding at their borders reaches much of their
#: output: ``camera``'s 192 x 192 centre against the whole image, largest difference on [0, 1] (rmisr_bl_x2 /
#: rmisr_bl_x4 / rmisr_meta at x3, 2026-12-07): tiles of 16 0.19 / 0.13 / 0.12, 32 0.023 / 0.022 / 0.020, 64 0.0037 /
#: 0.0056 / 0.0036 (docs/inference.md, "Automatic tiles").
MIN_TILE = 64
#: ``tile_statistics`` values: where channel attention in a tile takes its statistics, the whole image's (default,
#: gathered tile by tile first) or the tile's own (:func:`~monai_rmisr.inference.tiling.tiled_forward`).
TILE_STATISTICS = ("image", "tile")
#: Devices the networks run on.
DEVICE_TYPES = ("cpu", "cuda", "mps")
#: ``precision`` values: the network's compute dtype (inputs, outputs and blending stay float32).
PRECISIONS = ("float32", "bfloat16", "auto")


def check_tile(tile: Any) -> int | str | None:
    """A ``tile`` setting: ``None`` or ``0`` (the whole image; 0 where a command line cannot say None: ``rmisr
    upscale --tile 0``, the bundle's ``--tile 0``), ``"auto"`` or an LR tile size >= :data:`MIN_TILE` (64); returns
    it, 0 as None.

    Raises:
        ValueError: anything else, naming the value.
    """
    if tile is None or (isinstance(tile, str) and tile == AUTO_TILE):
        return tile
    if isinstance(tile, numbers.Integral) and not isinstance(tile, bool) and tile == 0:
        return None
    if isinstance(tile, bool) or not isinstance(tile, numbers.Integral) or tile < MIN_TILE:
        raise ValueError(
            f"tile must be '{AUTO_TILE}', an integer >= {MIN_TILE} (LR tile size), or 0 or None (the whole image), "
            f"got {tile!r}."
        )
    return int(tile)


def check_tile_statistics(value: Any) -> str:
    """A ``tile_statistics`` setting, one of :data:`TILE_STATISTICS`; returns it.

    Raises:
        ValueError: anything else, naming the value.
    """
    if not isinstance(value, str) or value not in TILE_STATISTICS:
        raise ValueError(f"tile statistics must be one of {', '.join(TILE_STATISTICS)}, got {value!r}.")
    return value


def check_precision(precision: Any, device: str | torch.device = "cpu") -> torch.dtype:
    """The compute dtype ``precision`` means on ``device``.

    ``"float32"`` (the default everywhere): float32. ``"bfloat16"``: bfloat16 autocast, only where the device
    computes it natively (a CPU with AVX512-BF16 or AMX, a CUDA GPU with bfloat16; elsewhere it would be
    emulated, several times slower than float32). ``"auto"``: bfloat16 where native, else float32.

    Raises:
        ValueError: another value, or ``"bfloat16"`` on a device without native bfloat16, naming it.
    """
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}.")
    if precision == "float32":
        return torch.float32
    native = native_bfloat16(device)
    if precision == "bfloat16" and not native:
        raise ValueError(
            f"precision bfloat16: {torch.device(device)} has no native bfloat16 (a CPU needs AVX512-BF16 or AMX, a "
            "GPU bfloat16 support), so it would be emulated and several times slower than float32; use float32 "
            "(or auto, which picks bfloat16 only where it is native)."
        )
    return torch.bfloat16 if native else torch.float32


def compute_autocast(compute_dtype: torch.dtype, device: str | torch.device) -> torch.autocast:
    """The autocast context that runs a network in ``compute_dtype`` (from :func:`check_precision`) on ``device``:
    a bfloat16 autocast, or a disabled one for float32."""
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=compute_dtype == torch.bfloat16)


def parse_tile(value: Any) -> int | str | None:
    """A ``tile`` setting given as text or a number (a MONAI Label request, a config): ``"auto"``, ``0`` (the
    whole image: ``None``) or an LR tile size >= 64; checked by :func:`check_tile`.

    Raises:
        ValueError: anything else, naming the value.
    """
    if isinstance(value, str):
        text = value.strip()
        if text == AUTO_TILE:
            return AUTO_TILE
        try:
            value = int(text)
        except ValueError:
            raise ValueError(
                f"tile must be '{AUTO_TILE}', 0 (the whole image) or an integer >= {MIN_TILE} (LR tile size), "
                f"got {value!r}."
            ) from None
    return check_tile(value)


def check_model_scale(scale: float, fixed: float | None, max_scale: float, what: str) -> float:
    """The scale to hand a model: its own ``fixed`` scale, or ``scale`` up to ``max_scale`` (arbitrary-scale).

    Args:
        scale: a checked scale (:func:`check_scale`).
        fixed: the model's fixed scale; ``None`` for an arbitrary-scale model.
        max_scale: the largest scale an arbitrary-scale model takes.
        what: the model, as the error message names it (``"model 'rmisr_bl_x2'"``).

    Raises:
        ValueError: a fixed-scale model asked for another scale, or a scale above ``max_scale``.
    """
    if fixed is not None:
        if not math.isclose(scale, fixed, rel_tol=0, abs_tol=1e-9):
            raise ValueError(
                f"{what} is a fixed x{fixed:g} network, got scale={scale:.10g}; the model 'auto' (or 'rmisr_meta') "
                "takes other scales."
            )
        return fixed
    if scale > max_scale:
        raise ValueError(f"{what} accepts scales in (1, {max_scale:g}], got scale={scale:.10g}.")
    return scale


def default_model_name(scale: float) -> str:
    """The registry model ``model="auto"`` means at ``scale``: the dedicated x2/x3/x4 model when its weights are
    shipped (else, with a warning, the arbitrary-scale one), the arbitrary-scale ``rmisr_meta`` for other scales."""
    if scale in (2.0, 3.0, 4.0):
        name = f"rmisr_bl_x{int(scale)}"
        if pretrained_path(name).is_file() or not pretrained_path("rmisr_meta").is_file():
            return name
        warnings.warn(
            f"{name} is not shipped yet ({pretrained_path(name)} missing); using the arbitrary-scale rmisr_meta.",
            stacklevel=4,
        )
    return "rmisr_meta"


def registry_model(name: str, scale: float) -> tuple[str, float]:
    """``(registry name, scale to hand it)`` for the registry model ``name`` at a checked ``scale``:
    ``"auto"`` resolved (:func:`default_model_name`), the scale checked against the model (:func:`check_model_scale`).

    Raises:
        ValueError: a scale the model does not take ("auto": above ``rmisr_meta``'s largest).
    """
    if name == "auto":
        max_scale = PRETRAINED["rmisr_meta"].max_scale
        if scale > max_scale:
            raise ValueError(f"the model 'auto' supports scales in (1, {max_scale:g}], got scale={scale:.10g}.")
        name = default_model_name(scale)
    entry = PRETRAINED[name]
    return name, check_model_scale(scale, entry.scale, entry.max_scale, f"model {name!r}")


def model_scale_limits(network: nn.Module) -> tuple[float | None, float]:
    """``(fixed_scale, max_scale)`` of a network: ``fixed_scale`` is None for an arbitrary-scale (meta) network,
    whose ``max_scale`` is its upsampler's; a fixed-scale network's ``scale`` attribute (None if it has none)."""
    meta = [m for m in network.modules() if is_module_of(m, MetaUpsample)]
    if meta and accepts_scale(network):
        return None, float(min(m.max_scale for m in meta))
    fixed = getattr(network, "scale", None)
    return (float(fixed) if isinstance(fixed, numbers.Real) else None), math.inf


def _first_convolution(network: nn.Module) -> nn.Module | None:
    """The first convolution of ``network``, also in TorchScript (:func:`~monai_rmisr.networks.utils.is_module_of`)."""
    convolutions = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
    return next((m for m in network.modules() if is_module_of(m, convolutions)), None)


def model_in_channels(network: nn.Module) -> int | None:
    """Input channels of a network: its ``in_channels`` attribute or that of its first convolution (None: neither)."""
    value = getattr(network, "in_channels", None)
    if isinstance(value, int):
        return value
    conv = _first_convolution(network)
    return None if conv is None else int(conv.in_channels)


def model_spatial_dims(network: nn.Module) -> int | None:
    """Spatial dimensions of a network: its ``spatial_dims`` attribute or that of its first convolution (None:
    neither, e.g. :class:`~monai_rmisr.inference.bicubic.BicubicUpsampler`, which takes any)."""
    value = getattr(network, "spatial_dims", None)
    if isinstance(value, int):
        return value
    conv = _first_convolution(network)
    return None if conv is None else conv.weight.dim() - 2


def parse_roi(text: str | Sequence[int] | None) -> tuple[int, int, int, int] | None:
    """``"x0,y0,x1,y1"`` (pixels; x = column, y = row; x1/y1 exclusive) -> a tuple, or None.

    Raises:
        ValueError: not four integers, or not ``x0 < x1`` and ``y0 < y1`` with ``x0, y0 >= 0``.
    """
    if text is None:
        return None
    try:
        values = [int(v) for v in (text.split(",") if isinstance(text, str) else text)]
    except (TypeError, ValueError):
        raise ValueError(f"--roi must be four integers x0,y0,x1,y1, got {text!r}.") from None
    if len(values) != 4:
        raise ValueError(f"--roi must be four integers x0,y0,x1,y1, got {text!r}.")
    x0, y0, x1, y1 = values
    if min(x0, y0) < 0 or x1 <= x0 or y1 <= y0:
        raise ValueError(f"--roi {text!r} is empty or negative: it needs 0 <= x0 < x1 and 0 <= y0 < y1.")
    return x0, y0, x1, y1


def check_roi_in_image(
    roi: tuple[int, int, int, int], width: int, height: int, what: str = "--roi", image_name: str = ""
) -> None:
    """Raise ``ValueError`` if a parsed ``roi`` does not lie inside a ``width`` x ``height`` image or is below 2x2.

    ``what`` and ``image_name`` word the message (``"--roi ..."`` for the command line, ``"region ..."``
    for the viewer).
    """
    x0, y0, x1, y1 = roi
    if x1 > width or y1 > height:
        where = f" '{image_name}'" if image_name else ""
        raise ValueError(f"{what} {roi} lies outside the {width}x{height} (columns x rows) image{where}.")
    if min(x1 - x0, y1 - y0) < 2:
        raise ValueError(f"{what} {roi} is smaller than 2x2 pixels.")


def check_device(device: Any) -> str:
    """``device`` if PyTorch can run the networks there (cpu, an existing cuda:N, mps); else ``ValueError``."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device {device!r} is not a device; use cpu, cuda or cuda:N.") from None
    if parsed.type not in DEVICE_TYPES:
        raise ValueError(f"device {device!r} cannot run the networks; use cpu, cuda or cuda:N.")
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for, but PyTorch sees no CUDA GPU; use the device cpu.")
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise ValueError(
                f"device {device!r} does not exist: PyTorch sees {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}."
            )
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r} asked for, but PyTorch sees no MPS GPU; use the device cpu.")
    return str(device)


def check_scale_text(text: str) -> float:
    """Parse ``--scale``: a finite number in (1, :data:`MAX_SCALE`] for every model (each model's own
    scales are checked by :func:`super_resolve`)."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--scale must be a number > 1, got {text!r}.") from None
    try:
        return check_scale(value, MAX_SCALE)
    except ValueError as err:
        raise ValueError(f"--{err}") from None
