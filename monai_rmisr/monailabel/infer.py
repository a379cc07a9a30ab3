"""One MONAI Label inference request -> a super-resolved file and its JSON, without MONAI Label itself.

MONAI Label hands an infer task a ``request`` dict: ``image`` (a local path the server has
resolved: a datastore file, an upload saved under a temporary name, or a DICOM series folder
fetched from a DICOMweb server), ``device``, and every ``params`` key the client sent over the
task's config. :func:`run_infer_request` turns that into the same work as ``rmisr upscale``
(:class:`~monai_rmisr.inference.upscale.Upscaler`: same readers, ROI, tiles, self-ensemble,
writers) and returns what the task returns to the server: the result file and a JSON-safe dict.
Keeping this free of MONAI Label lets the main environment test it; the task class in
:mod:`monai_rmisr.monailabel.task` only adapts it.

What a client can make the server do is bounded here, where the request enters:

* ``image`` must lie in the datastore (symlinks resolved) or be the upload MONAI Label's endpoint
  saved (:func:`check_image`): the server does not send back other files of its disk.
* ``scale`` is at most :data:`MAX_SCALE` for every model, bicubic included; the result holds at
  most :data:`MAX_OUTPUT_PIXELS` values (pixels x slices x channels) unless the server sets another
  limit, refused from the file's header where it can be (:func:`read_checked_image`).
* loaded networks are kept in one :class:`NetworkCache` per app (all its tasks), keyed by network
  and device, at most :data:`NETWORK_CACHE_SIZE` of them.

The result is one file in the input's format, so nothing is lost on the way back: a NIfTI
volume stays NIfTI with its affine, a DICOM file becomes a derived DICOM file of a new series,
a PNG stays PNG. A DICOM series folder becomes a new derived series, sent as one ``.zip`` of
its files (an HTTP response carries one file).
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import logging
import os
import re
import secrets
import shutil
import stat
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any, BinaryIO

import numpy as np
import torch

from .._version import __version__
from ..config import config_flag
from ..inference.bicubic import BICUBIC
from ..inference.pretrained import PRETRAINED
from ..inference.settings import (
    MAX_SCALE,
    check_device,
    check_scale,
    default_model_name,
    parse_roi,
    parse_tile,
    registry_model,
)
from ..inference.super_resolve import resolve_model_and_digest
from ..inference.upscale import MAX_OUTPUT_PIXELS, ResultTooLargeError, Upscaler
from ..io import ImageData
from ..io.output import make_private
from ..io.writers import sr_output_name, write_image

__all__ = [
    "DEFAULTS",
    "IMAGE_NAME_KEY",
    "MAX_OUTPUT_PIXELS",
    "MAX_SCALE",
    "NETWORK_CACHE_SIZE",
    "REQUEST_NETWORKS",
    "UPLOAD_KEY",
    "UPLOAD_NAME",
    "UPLOAD_NAME_KEY",
    "NetworkCache",
    "check_image",
    "client_message",
    "files_of_image_id",
    "is_upload_request",
    "not_in_datastore",
    "parse_request",
    "read_checked_image",
    "run_infer_request",
    "save_upload",
    "upload_params",
    "warm_up",
]

logger = logging.getLogger(__name__)

#: The task's config as MONAI Label clients show it (every value a string or a plain number, editable).
#: ``network`` is the SR model; MONAI Label's own ``model`` key is the task's name.
DEFAULTS: dict[str, Any] = {"scale": 2.0, "network": "auto", "roi": "", "tile": "auto", "self_ensemble": False}
#: What a request may name as ``network``; a checkpoint path can only be a task's default (set on the server).
REQUEST_NETWORKS = ("auto", BICUBIC, *PRETRAINED)
#: How many loaded networks an app keeps, all its tasks together (each 4-5 MB in memory; the least recently
#: used goes first): every task's default and two more.
NETWORK_CACHE_SIZE: int = 8
#: The name of an upload as MONAI Label's ``/infer`` endpoint saves it:
#: ``tempfile.NamedTemporaryFile(suffix=<the uploaded name's suffixes>).name`` (``tmp`` and eight
#: characters of :mod:`tempfile`'s alphabet), directly in :func:`tempfile.gettempdir`.
UPLOAD_NAME = re.compile(r"tmp[a-z0-9_]{8}(\.[^/\\]*)?")
#: The request key that marks a request as carrying an upload: :func:`upload_params` sets it (the
#: endpoint wrapper of :mod:`~monai_rmisr.monailabel.app` calls it only when a file is uploaded) to a
#: secret of this process, so a client cannot mark its own request and have the server read another
#: request's upload by guessing its temporary name.
UPLOAD_KEY = "rmisr_upload"
_UPLOAD_TOKEN = secrets.token_hex(16)
#: The request key under which :func:`upload_params` keeps the uploaded file's name as the client sent it (letters,
#: digits, ``.``, ``_`` and ``-`` of it): the result is named after it, not after the temporary file.
UPLOAD_NAME_KEY = "rmisr_upload_name"
#: how many characters of the client's file name are kept for the result's name
_NAME_CHARACTERS = 100
#: a name :data:`UPLOAD_NAME_KEY` may hold: one file name of ASCII letters, digits, ``.``, ``_`` and ``-``, not
#: starting with ``.`` (no path, no ``..``, not hidden)
_SAFE_NAME = re.compile(rf"[A-Za-z0-9_-][A-Za-z0-9._-]{{0,{_NAME_CHARACTERS - 1}}}")


def _flag(value: Any, name: str) -> bool:
    """:func:`~monai_rmisr.config.config_flag` with an empty value (a cleared client field) as false,
    and the message naming the request key rather than a command-line option."""
    if isinstance(value, str) and not value.strip():
        return False
    try:
        return config_flag(value, name)
    except ValueError:
        raise ValueError(f"'{name}' must be true or false, got {value!r}.") from None


def _device(value: Any) -> str:
    """The request's ``device``, checked as the command line's (:func:`check_device`), except ``cuda`` on a
    machine without a GPU (MONAI Label's default), which becomes ``cpu``: a CPU-only server should answer."""
    text = str(value or "cpu").strip()
    try:
        kind = torch.device(text).type
    except (RuntimeError, TypeError, ValueError):
        kind = None  # not a device: check_device says so
    if kind == "cuda" and not torch.cuda.is_available():
        return "cpu"
    try:
        check_device(text)
    except ValueError as err:
        raise ValueError(f"'device': {err}") from None
    return "cpu" if kind == "cpu" else text  # cpu:0 is the cpu (one cache entry)


def parse_request(
    request: Mapping[str, Any], defaults: Mapping[str, Any] | None = None, offered: Iterable[str] | None = None
) -> dict[str, Any]:
    """The request's settings over ``defaults`` (the task's config), each checked: ``{"scale",
    "network", "roi", "tile", "self_ensemble", "device"}`` (``roi`` and ``tile`` None when unset).

    A request (a client) may choose ``network`` among :data:`REQUEST_NETWORKS` only: the server
    does not load files a client names. ``"auto"`` comes back as the registry name it means at
    ``scale`` (``rmisr_bl_x2`` at 2, ``rmisr_meta`` at 2.5) or, where the server ``offered`` some networks only
    (:attr:`NetworkCache.offered`), the first of those that takes ``scale``: that model, another of that fixed scale
    (``rmisr_vp_x4``), ``rmisr_meta``. A registry network's scale is
    checked here, so a bad pair is refused before anything is loaded. ``scale`` is at most
    :data:`MAX_SCALE` for every network.

    ``device`` ``"cuda"`` (MONAI Label's default) on a machine without a GPU becomes ``"cpu"``:
    a server on a CPU-only workstation should answer, not fail.

    Other keys are MONAI Label's and its clients' (``image``, ``result_extension``, ...) and are left alone, but
    one that is a near miss of a setting (``sacle``) is refused: it would otherwise be ignored, and the result made
    with the default.

    Raises:
        ValueError: a bad ``scale``, ``network``, ``roi``, ``tile``, ``self_ensemble`` or ``device``,
            naming the key, or a misspelt one.
    """
    for key in request:  # the server and its clients add keys of their own; one a letter or two off ours is a typo
        near = difflib.get_close_matches(str(key), [*DEFAULTS, "device"], n=1, cutoff=0.75)
        if near and key != near[0]:
            raise ValueError(f"{key!r} is not a setting of this task: did you mean {near[0]!r}?")
    merged = {**DEFAULTS, **(defaults or {}), **{k: v for k, v in request.items() if k in DEFAULTS}}
    if "network" in request and str(request["network"]) not in REQUEST_NETWORKS:
        raise ValueError(
            f"'network' must be one of {', '.join(REQUEST_NETWORKS)}, got {request['network']!r} (a checkpoint is "
            "set on the server, as a task's default)."
        )
    try:
        scale = check_scale(float(merged["scale"]), MAX_SCALE)
    except (TypeError, ValueError):
        raise ValueError(f"'scale' must be a finite number in (1, {MAX_SCALE:g}], got {merged['scale']!r}.") from None
    network = str(merged["network"] or "auto")
    if network == "auto" and offered is not None:
        network = _auto_among(scale, tuple(offered))
    if network == "auto" or network in PRETRAINED:
        network, scale = registry_model(network, scale)
    roi_text = merged["roi"]
    roi = parse_roi(roi_text) if roi_text not in (None, "", [], ()) else None
    try:
        tile = parse_tile(merged["tile"])
    except ValueError as err:
        raise ValueError(f"'tile': {err}") from None
    return {
        "scale": scale,
        "network": network,
        "roi": roi,
        "tile": tile,
        "self_ensemble": _flag(merged["self_ensemble"], "self_ensemble"),
        "device": _device(request.get("device")),
    }


def _auto_among(scale: float, offered: Sequence[str]) -> str:
    """What ``"auto"`` means at ``scale`` on a server that offers ``offered``: the first offered of the model it
    means elsewhere, the other registry models of that fixed scale, and ``rmisr_meta``; ``"auto"`` where none is
    offered or the scale is beyond them all (it is then refused, naming why)."""
    if scale > PRETRAINED["rmisr_meta"].max_scale:
        return "auto"
    fixed = [name for name, entry in PRETRAINED.items() if entry.scale == scale]
    candidates = [default_model_name(scale), *fixed, "rmisr_meta"]
    return next((name for name in candidates if name in offered), "auto")


class NetworkCache:
    """The networks an app's tasks have loaded, keyed by ``(network, device)``: at most ``size``, the least
    recently used dropped first.

    A request's other settings (``scale`` of the arbitrary-scale network, ``roi``, ``tile``,
    ``self_ensemble``) do not load anything: each request gets its own
    :class:`~monai_rmisr.inference.upscale.Upscaler` around a kept network. Safe to share
    between MONAI Label's inference threads.

    Args:
        size: how many networks to keep (>= 1).

    Attributes:
        offered: the networks a request may load (:meth:`offer`), or ``None``: every network a request may name.
    """

    def __init__(self, size: int = NETWORK_CACHE_SIZE) -> None:
        if size < 1:
            raise ValueError(f"a network cache keeps at least one network, got size={size!r}.")
        self.size = size
        self.offered: tuple[str, ...] | None = None
        self._networks: OrderedDict[tuple[str, str], tuple[torch.nn.Module, str | None]] = OrderedDict()
        self._lock = threading.Lock()

    def offer(self, networks: Iterable[str]) -> None:
        """Load only ``networks`` (the server's tasks' own; ``bicubic`` always) from now on: a request for another
        (``network`` named by a client, or what its ``"auto"`` means at its scale) is refused before anything is
        loaded, so that a server started with some tasks (``--conf models``) runs only their networks."""
        self.offered = tuple(dict.fromkeys([*networks, BICUBIC]))

    def keys(self) -> list[tuple[str, str]]:
        """The kept ``(network, device)`` pairs, least recently used first."""
        with self._lock:
            return list(self._networks)

    def upscaler(self, settings: Mapping[str, Any]) -> Upscaler:
        """An :class:`~monai_rmisr.inference.upscale.Upscaler` for :func:`parse_request`'s ``settings``,
        its network loaded on first use and kept.

        Raises:
            ValueError: a network the server does not offer (``offered``), naming those it does; as
                :class:`~monai_rmisr.inference.upscale.Upscaler` (a scale the network does not take).
            FileNotFoundError: missing weights.
        """
        if self.offered is not None and settings["network"] not in self.offered:
            raise ValueError(
                f"network {Path(str(settings['network'])).name!r} (at x{float(settings['scale']):g}) is not offered by "
                f"this server, which offers {', '.join(Path(name).name for name in self.offered)}."
            )
        key = (settings["network"], settings["device"])
        with self._lock:
            loaded = self._networks.pop(key, None)
            if loaded is None:
                # the digest of the file, not of the CPU's rewritten network that resolve_model returns
                network, _, _, digest = resolve_model_and_digest(
                    settings["network"], settings["scale"], settings["device"]
                )
                loaded = (network, digest)
            self._networks[key] = loaded
            while len(self._networks) > self.size:
                self._networks.popitem(last=False)
        network, digest = loaded
        upscaler = Upscaler(
            settings["scale"],
            model=network,
            weights_sha256=digest,
            tile=settings["tile"],
            device=settings["device"],
            roi=settings["roi"],
            self_ensemble=settings["self_ensemble"],
        )
        upscaler.model_name = Path(settings["network"]).name  # the registry name, or a checkpoint's file name
        return upscaler


def _result_name(source: Path, request: Mapping[str, Any]) -> str:
    """The result's name: :func:`~monai_rmisr.io.writers.sr_output_name` of ``source``, or for an upload the same
    with the client's file name (:data:`UPLOAD_NAME_KEY`, checked again: one safe name, never a path) for the
    temporary one, less the extensions the upload kept (``tmpk3j9x2ab.dcm`` uploaded as ``scan.dcm``:
    ``scan_sr.dcm``, where it was ``tmpk3j9x2ab_sr.dcm``; ``1.2.840.5.dcm``: ``1.2.840_sr.5.dcm``)."""
    name = sr_output_name(source)
    client = str(request.get(UPLOAD_NAME_KEY) or "") if is_upload_request(request) else ""
    temporary = source.name.split(".")[0]  # tmp and 8 characters
    if not _SAFE_NAME.fullmatch(client) or not name.startswith(temporary):
        return name
    kept = source.name[len(temporary) :]  # the extensions of the client's name that the upload kept
    base = client[: len(client) - len(kept)] if kept and client.endswith(kept) else client.split(".")[0]
    return (base or temporary) + name[len(temporary) :]


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies under it (both resolved by the caller)."""
    return path == folder or folder in path.parents


def _is_upload(path: Path) -> bool:
    """Whether ``path`` is a file MONAI Label's ``/infer`` endpoint saved an upload to (:data:`UPLOAD_NAME`):
    directly in the temporary folder, a regular file (not a link) of this process's user."""
    if not UPLOAD_NAME.fullmatch(path.name):
        return False
    if Path(os.path.realpath(path.parent)) != Path(os.path.realpath(tempfile.gettempdir())):
        return False
    try:
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and (not hasattr(os, "getuid") or info.st_uid == os.getuid())


#: The request key under which the app (:class:`~monai_rmisr.monailabel.app.RMISRApp`) puts the image as its client
#: named it, a datastore id or "the uploaded file": what answers say instead of the server's path to it.
IMAGE_NAME_KEY = "rmisr_image_name"


def client_message(message: str, request: Mapping[str, Any], datastore: str | Path) -> str:
    """``message`` (an error about ``request``) in the client's words: no path of the server's disk.

    The request's image, by the path MONAI Label resolved it to or by its real path (a link's target), is named
    as the client named it (:data:`IMAGE_NAME_KEY`; "the image" without one); another file of the datastore (a
    slice of a DICOM series) by its path inside the datastore; the temporary folder as such.
    """
    shown = str(request.get(IMAGE_NAME_KEY) or "the image")
    image = request.get("image")
    replacements: list[tuple[str, str]] = []
    if isinstance(image, (str, Path)) and str(image):
        replacements += [(str(image), shown), (os.path.realpath(image), shown)]
    for folder, name in ((datastore, ""), (tempfile.gettempdir(), "<temporary folder>/")):
        replacements += [(os.path.join(str(folder), ""), name), (os.path.join(os.path.realpath(folder), ""), name)]
    for path, words in sorted(set(replacements), key=lambda pair: -len(pair[0])):  # the longest first
        message = message.replace(path, words)
    return message


def not_in_datastore(image: Any) -> PermissionError:
    """The error for an ``image`` the server does not serve: one wording for a path outside the
    datastore, existing or not, and an unknown id, so that answers do not tell which files exist."""
    return PermissionError(
        f"image '{image}' is not in this server's datastore: name a datastore image by its id, or upload the file."
    )


def files_of_image_id(folder: str | Path, image_id: str, patterns: Sequence[str]) -> list[str]:
    """The names of the files in ``folder`` that a MONAI Label local datastore lists under ``image_id``.

    MONAI Label 0.8.5 lists the files that match ``patterns`` (its ``MONAI_LABEL_DATASTORE_FILE_EXT``) and
    names each by its file name without the last of those extensions it ends with, and keeps one file
    per name: of ``ct.nii.gz`` and ``ct.png`` it serves whichever it listed last, under the id ``ct``. More
    than one name here means the id is ambiguous. Its rule (``LocalDatastore._to_id``, a private method) is
    repeated here, so that the answer is the same as its own.
    """
    extensions = [pattern.replace("*", "") for pattern in patterns]
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    found = []
    for name in names:
        if not any(fnmatch.fnmatch(name, pattern) for pattern in patterns):
            continue
        matching = [extension for extension in extensions if extension and name.endswith(extension)]
        extension = matching[-1] if matching else "".join(Path(name).suffixes)
        if extension and name.replace(extension, "") == image_id:
            found.append(name)
    return sorted(found)


def check_image(image: Any, datastore: str | Path, uploaded: bool = False) -> Path:
    """The request's ``image`` (as MONAI Label resolved it) as a path, if the server may read it.

    Allowed: a file or folder inside ``datastore`` once symlinks are resolved (what a datastore id
    resolves to; a link inside the datastore to a file elsewhere is refused), or, for a request
    that carries an upload (``uploaded``: :func:`is_upload_request`), the file MONAI Label's
    ``/infer`` endpoint saved it to (see :data:`UPLOAD_NAME`). Nothing is opened: the check is on
    the path, before the file's existence is even looked at.

    Raises:
        ValueError: no ``image`` (MONAI Label gives ``""`` for an unknown datastore id, which
            :class:`~monai_rmisr.monailabel.app.RMISRApp` refuses before, as :func:`not_in_datastore`).
        PermissionError: any other path (:func:`not_in_datastore`).
    """
    if isinstance(image, (str, Path)) and str(image):
        path = Path(image)
        if _inside(Path(os.path.realpath(path)), Path(os.path.realpath(datastore))) or (uploaded and _is_upload(path)):
            return path
        raise not_in_datastore(image)
    raise ValueError("the request names no image: give a datastore image id (an unknown id names none) or upload one.")


#: An extension an upload keeps (what the readers go by): letters, digits, ``_`` and ``-``.
_UPLOAD_SUFFIX = re.compile(r"\.[A-Za-z0-9_-]{1,16}")


def save_upload(stream: BinaryIO, filename: str | None) -> Path:
    """Save an ``/infer`` request's uploaded file where :func:`check_image` accepts an upload (a :data:`UPLOAD_NAME`
    file in the temporary folder), readable by this process's user only (mode 0600: it may hold a patient's
    data); the caller removes it once the request is answered, whatever the answer.

    The name keeps the last (up to three) extensions of the client's file name (``scan.nii.gz``: ``.nii.gz``;
    ``patient.t1.2024.nii.gz``: ``.2024.nii.gz``), which the readers go by, as far back as each is letters,
    digits, ``_`` and ``-``; without one the file is read by its content. MONAI Label 0.8.5's endpoint made the
    file with the default mode (0644 under the usual umask) and left it behind when the request was refused.
    """
    kept: list[str] = []
    for suffix in reversed(Path(filename).suffixes if filename else []):
        if len(kept) == 3 or not _UPLOAD_SUFFIX.fullmatch(suffix):
            break
        kept.insert(0, suffix)
    fd, name = tempfile.mkstemp(prefix="tmp", suffix="".join(kept))
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(stream, out)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def upload_params(params: Any, filename: str | None = None) -> Any:
    """``params`` (the JSON text of an ``/infer`` request's form field) for a request that uploads a
    file: refused when it names an ``image`` (which would replace the upload), else returned with
    :data:`UPLOAD_KEY` set, so that :func:`is_upload_request` knows the request's ``image`` is its
    upload, and the uploaded file's name ``filename`` (its last part, the safe characters) under
    :data:`UPLOAD_NAME_KEY`, so that the result is named after it (``scan.dcm``: ``scan_sr.dcm``).

    Text that is not a JSON object is returned as it is, for MONAI Label's endpoint to refuse.

    Raises:
        ValueError: ``params`` has an ``image`` key.
    """
    try:
        fields = json.loads(params) if params else {}
    except (TypeError, ValueError):
        return params
    if not isinstance(fields, dict):
        return params
    if "image" in fields:
        raise ValueError(
            f"'params' names an image ({fields['image']!r}) beside an uploaded file: send one or the other."
        )
    fields.pop(UPLOAD_NAME_KEY, None)  # the server's to set, never the client's
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", PurePath(filename.replace("\\", "/")).name if filename else "")
    name = name.lstrip(".")[:_NAME_CHARACTERS]
    named = {UPLOAD_NAME_KEY: name} if _SAFE_NAME.fullmatch(name) else {}
    return json.dumps({**fields, UPLOAD_KEY: _UPLOAD_TOKEN, **named})


def is_upload_request(request: Mapping[str, Any]) -> bool:
    """Whether ``request`` came with an upload (its ``params`` passed through :func:`upload_params`)."""
    return secrets.compare_digest(str(request.get(UPLOAD_KEY, "")), _UPLOAD_TOKEN)


def warm_up(upscaler: Upscaler) -> float:
    """Run ``upscaler`` once on a 16x16 image of zeros; return the seconds it took.

    A network's first forward pass in a process is slower than the next ones: 1.45 s against 0.28 s
    for ``rmisr_bl_x2`` on a 16x16 input on the busy 2-core development machine with PyTorch's two
    threads (0.03-0.05 s for the first with one thread). A server calls this at start-up, so that its
    first request does not pay for it (docs/monailabel.md has the measurements).
    """
    started = time.perf_counter()
    image = ImageData(
        np.zeros((1, 16, 16), np.float32),
        {
            "format": "png",
            "source_path": "warm-up",
            "spacing": (1.0, 1.0),
            "affine": np.eye(4),
            "spatial_shape": (16, 16),
        },
    )
    upscaler.image(image)
    return time.perf_counter() - started


def read_checked_image(source: Path, upscaler: Upscaler, limit: int) -> ImageData:
    """Read ``source`` for ``upscaler`` (:meth:`Upscaler.read`: a result of more than ``limit`` values refused before
    it is made, from the header where it can be), in this server's words: no server path in the message.

    Raises:
        ValueError: the result (or, with a ROI, the input) would be too large; the message names its size.
        ImageReadError, FileNotFoundError: an unreadable or missing image.
    """
    over, advice = f"over this server's limit of {limit:,}", "ask a smaller 'scale' or a 'roi'."
    try:
        return upscaler.read(source, limit)
    except ResultTooLargeError as err:
        if err.announced is not None:  # from the header: nothing decoded
            reason = err.announced.split(";")[0]
            if upscaler.roi is not None:
                raise ValueError(f"the image is too large for this server ({reason}).") from None
            raise ValueError(f"the result at x{upscaler.scale:g} would be {over} ({reason}); {advice}") from None
        shape = "x".join(map(str, err.shape or ()))
        size = f"{shape} = {err.values:,} pixels"
        if err.channels != 1:
            size = f"{shape} x {err.channels} channels = {err.values:,} values"
        raise ValueError(f"the result would be {size}, {over}; {advice}") from None


def run_infer_request(
    request: Mapping[str, Any],
    datastore: str | Path,
    defaults: Mapping[str, Any] | None = None,
    output_dir: str | Path | None = None,
    networks: NetworkCache | None = None,
    max_output_pixels: int = MAX_OUTPUT_PIXELS,
) -> tuple[str, dict[str, Any]]:
    """Super-resolve ``request["image"]`` with the request's settings; return ``(result file, result JSON)``.

    Args:
        request: MONAI Label's request (``image`` a local path; see the module).
        datastore: the datastore's folder: ``image`` must lie in it, or be an upload (:func:`check_image`).
        defaults: the task's config, under the request's keys.
        output_dir: where the result goes (default the system's temporary folder, which MONAI
            Label's endpoint cleans: it deletes the file once sent). The name is unique per call.
        networks: the task's loaded networks (default: a new cache, for one call).
        max_output_pixels: the largest result, in values: pixels x slices x channels (:func:`read_checked_image`).

    Returns:
        The result path (a file; a DICOM series as a ``.zip``) and ``{"model", "scale", "roi",
        "input_shape", "output_shape", "channels", "input_spacing", "output_spacing", "format", "device",
        "seconds", "monai_rmisr"}``.

    Raises:
        PermissionError: an ``image`` outside the datastore (never read); ValueError: no ``image``,
            a bad setting or too large a result; FileNotFoundError, ImageReadError: a missing or
            unreadable image; nothing is left behind.
    """
    source = check_image(request.get("image"), datastore, uploaded=is_upload_request(request))
    if not source.exists():
        raise FileNotFoundError(f"image '{source}' does not exist.")
    networks = networks if networks is not None else NetworkCache()
    settings = parse_request(request, defaults, networks.offered)
    try:
        upscaler = networks.upscaler(settings)
    except FileNotFoundError:  # the weights are not installed here: not the client's image, nor a path to tell it
        raise ValueError(
            f"network {Path(str(settings['network'])).name!r} is not available on this server (its weights are not "
            "installed); ask another network."
        ) from None

    started = time.perf_counter()
    image = read_checked_image(source, upscaler, max_output_pixels)
    result = upscaler.image(image)
    folder = Path(output_dir) if output_dir is not None else Path(tempfile.gettempdir())
    token = uuid.uuid4().hex[:12]
    fmt = image.meta["format"]
    # made in a folder of the server's user only (mode 0700), made 0600, then moved beside the others: a patient's
    # image in the shared temporary folder is never readable by other users, not even while it is written
    folder.mkdir(parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(prefix=".rmisr-", dir=folder))
    try:
        target = private / _result_name(source, request)
        if fmt == "dicom-series":
            write_image(result.array, result.meta, image.meta, target)
            made = Path(shutil.make_archive(str(private / "series"), "zip", root_dir=target))
            name = f"{target.name}.zip"
        else:
            made = Path(write_image(result.array, result.meta, image.meta, target))
            name = made.name
        make_private(made)
        output = folder / f"rmisr-{token}-{name}"
        os.replace(made, output)  # whole or absent
    finally:
        shutil.rmtree(private, ignore_errors=True)
    seconds = time.perf_counter() - started
    logger.info("rmisr: %s -> %s (%s, x%g, %.2f s)", source, output, upscaler.model_name, upscaler.scale, seconds)
    info = {
        "model": upscaler.model_name,
        "scale": float(settings["scale"]),
        "roi": list(settings["roi"]) if settings["roi"] else None,
        "self_ensemble": settings["self_ensemble"],
        "input_shape": list(image.spatial_shape),
        "output_shape": list(result.spatial_shape),
        "channels": int(image.array.shape[0]),  # 3 for colour; the volumes of a 4-D NIfTI, which the shapes omit
        "input_spacing": [float(v) for v in image.meta.get("spacing", ())],
        "output_spacing": [float(v) for v in result.meta.get("spacing", ())],
        "format": fmt,
        "device": settings["device"],
        "seconds": round(seconds, 3),
        "monai_rmisr": __version__,
    }
    return str(output), info
