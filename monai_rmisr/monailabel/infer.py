"""One MONAI Label inference request -> a super-resolved file and its JSON, without MONAI Label itself.

MONAI Label hands an infer task a ``request`` dict: ``image`` (a local path the server has
resolved: a datastore file, an upload saved under a temporary name, or a DICOM series folder
fetched from a DICOMweb server), ``device``, and every ``params`` key the client sent over the
task's config. :func:`run_infer_request` turns that into the same work as ``rmisr upscale``
(:class:`~monai_rmisr.inference.upscale.Upscaler`: same readers, ROI, tiles, self-ensemble,
writers) and returns what the task returns to the server: the result file and a JSON-safe dict.
Keeping this free of MONAI Label lets the main environment test it; the task class in
:mod:`monai_rmisr.monailabel.task` only adapts it.

The result is one file in the input's format, so nothing is lost on the way back: a NIfTI
volume stays NIfTI with its affine, a DICOM file becomes a derived DICOM file of a new series,
a PNG stays PNG. A DICOM series folder becomes a new derived series, sent as one ``.zip`` of
its files (an HTTP response carries one file).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from .._version import __version__
from ..config import config_flag
from ..inference.bicubic import BICUBIC
from ..inference.pretrained import PRETRAINED
from ..inference.super_resolve import _check_scale
from ..inference.upscale import Upscaler, parse_roi
from ..io import read_image
from ..io.output import atomic_output
from ..io.writers import sr_output_name, write_image

__all__ = ["DEFAULTS", "REQUEST_NETWORKS", "cached_upscaler", "parse_request", "run_infer_request"]

logger = logging.getLogger(__name__)

#: The task's config as MONAI Label clients show it (every value a string or a plain number, editable).
#: ``network`` is the SR model; MONAI Label's own ``model`` key is the task's name.
DEFAULTS: dict[str, Any] = {"scale": 2.0, "network": "auto", "roi": "", "tile": 0, "self_ensemble": False}
#: What a request may name as ``network``; a checkpoint path can only be a task's default (set on the server).
REQUEST_NETWORKS = ("auto", BICUBIC, *PRETRAINED)


def _flag(value: Any, name: str) -> bool:
    """:func:`~monai_rmisr.config.config_flag` with an empty value (a cleared client field) as false,
    and the message naming the request key rather than a command-line option."""
    if isinstance(value, str) and not value.strip():
        return False
    try:
        return config_flag(value, name)
    except ValueError:
        raise ValueError(f"'{name}' must be true or false, got {value!r}.") from None


def parse_request(request: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The request's settings over ``defaults`` (the task's config), each checked: ``{"scale",
    "network", "roi", "tile", "self_ensemble", "device"}`` (``roi`` and ``tile`` None when unset).

    A request (a client) may choose ``network`` among :data:`REQUEST_NETWORKS` only: the server
    does not load files a client names.

    ``device`` ``"cuda"`` (MONAI Label's default) on a machine without a GPU becomes ``"cpu"``:
    a server on a CPU-only workstation should answer, not fail.

    Raises:
        ValueError: a bad ``scale``, ``roi``, ``tile`` or ``self_ensemble``, naming the key.
    """
    merged = {**DEFAULTS, **(defaults or {}), **{k: v for k, v in request.items() if k in DEFAULTS}}
    if "network" in request and str(request["network"]) not in REQUEST_NETWORKS:
        raise ValueError(
            f"'network' must be one of {', '.join(REQUEST_NETWORKS)}, got {request['network']!r} (a checkpoint is "
            "set on the server, as a task's default)."
        )
    try:
        scale = _check_scale(float(merged["scale"]))
    except (TypeError, ValueError) as err:
        raise ValueError(f"'scale' must be a finite number > 1, got {merged['scale']!r}.") from err
    roi_text = merged["roi"]
    roi = parse_roi(roi_text) if roi_text not in (None, "", [], ()) else None
    tile = merged["tile"]
    try:
        tile_value = int(tile or 0)
    except (TypeError, ValueError):
        raise ValueError(f"'tile' must be 0 (whole image) or an integer >= 8, got {tile!r}.") from None
    if tile_value != 0 and tile_value < 8:
        raise ValueError(f"'tile' must be 0 (whole image) or an integer >= 8, got {tile!r}.")
    device = str(request.get("device") or "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        device = "cpu"
    return {
        "scale": scale,
        "network": str(merged["network"] or "auto"),
        "roi": roi,
        "tile": tile_value or None,
        "self_ensemble": _flag(merged["self_ensemble"], "self_ensemble"),
        "device": device,
    }


def cached_upscaler(settings: Mapping[str, Any], cache: dict[tuple, Upscaler]) -> Upscaler:
    """The :class:`~monai_rmisr.inference.upscale.Upscaler` of :func:`parse_request`'s ``settings``,
    built (its network loaded) on first use and kept in ``cache``."""
    key = tuple(settings.values())
    if key not in cache:
        cache[key] = Upscaler(
            settings["scale"],
            model=settings["network"],
            tile=settings["tile"],
            device=settings["device"],
            roi=settings["roi"],
            self_ensemble=settings["self_ensemble"],
        )
    return cache[key]


def run_infer_request(
    request: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
    output_dir: str | Path | None = None,
    upscalers: dict[tuple, Upscaler] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Super-resolve ``request["image"]`` with the request's settings; return ``(result file, result JSON)``.

    Args:
        request: MONAI Label's request (``image`` a local path; see the module).
        defaults: the task's config, under the request's keys.
        output_dir: where the result goes (default the system's temporary folder, which MONAI
            Label's endpoint cleans: it deletes the file once sent). The name is unique per call.
        upscalers: a cache of loaded networks, keyed by settings (the task keeps one per process).

    Returns:
        The result path (a file; a DICOM series as a ``.zip``) and ``{"model", "scale", "roi",
        "input_shape", "output_shape", "input_spacing", "output_spacing", "format", "device",
        "seconds", "monai_rmisr"}``.

    Raises:
        ValueError: no ``image``, or a bad setting; FileNotFoundError, ImageReadError: a missing or
            unreadable image; nothing is left behind.
    """
    source = request.get("image")
    if not isinstance(source, (str, Path)) or not str(source):
        raise ValueError("the request has no 'image' path.")
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"image '{source}' does not exist.")
    settings = parse_request(request, defaults)
    upscaler = cached_upscaler(settings, upscalers if upscalers is not None else {})

    started = time.perf_counter()
    image = read_image(source)
    result = upscaler.image(image)
    folder = Path(output_dir) if output_dir is not None else Path(tempfile.gettempdir())
    token = uuid.uuid4().hex[:12]
    fmt = image.meta["format"]
    target = folder / f"rmisr-{token}-{sr_output_name(source)}"
    if fmt == "dicom-series":
        write_image(result.array, result.meta, image.meta, target)
        output = target.with_name(f"{target.name}.zip")
        try:
            with atomic_output(output) as temporary:  # a zip is complete or absent
                shutil.make_archive(str(temporary.with_suffix("")), "zip", root_dir=target)
        finally:
            shutil.rmtree(target, ignore_errors=True)
    else:
        output = write_image(result.array, result.meta, image.meta, target)
    seconds = time.perf_counter() - started
    logger.info("rmisr: %s -> %s (%s, x%g, %.2f s)", source, output, upscaler.model_name, upscaler.scale, seconds)
    info = {
        "model": upscaler.model_name,
        "scale": float(settings["scale"]),
        "roi": list(settings["roi"]) if settings["roi"] else None,
        "self_ensemble": settings["self_ensemble"],
        "input_shape": list(image.spatial_shape),
        "output_shape": list(result.spatial_shape),
        "input_spacing": [float(v) for v in image.meta.get("spacing", ())],
        "output_spacing": [float(v) for v in result.meta.get("spacing", ())],
        "format": fmt,
        "device": settings["device"],
        "seconds": round(seconds, 3),
        "monai_rmisr": __version__,
    }
    return str(output), info
