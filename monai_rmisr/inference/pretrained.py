"""The registry of shipped (pretrained) super-resolution networks and their weights files.

Every entry is a network class, its constructor arguments and a weights file ``<name>.pt``: a
plain ``state_dict`` (MONAI checkpoint dicts ``{"model": state_dict, ...}`` or
``{"network": state_dict, ...}`` are accepted too). The files are looked up in the folder
:func:`models_dir`, the first of :func:`models_search_path`:

1. ``$MONAI_RMISR_MODELS`` when set (even if that folder does not exist: the error then names it);
2. the bundle's ``models`` folder next to the package, ``<checkout>/bundles/rmisr/models``, when it exists
   (a checkout or an editable install: the only copy the repository holds);
3. the package's own ``monai_rmisr/models``, where a wheel (``pip install .``) carries a copy of the bundle's
   weights as package data (``setup.py`` copies them at build time).

Weights are always read with ``torch.load(..., weights_only=True)``: a checkpoint file cannot run code.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import pickle
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from ..networks import RMISR, RMISRVP
from ..networks import nets as _nets

__all__ = [
    "MODELS_ENV",
    "PRETRAINED",
    "PretrainedModel",
    "WeightsChangedError",
    "build_network",
    "described_network",
    "hashed_load",
    "list_pretrained",
    "load_checkpoint",
    "load_checkpoint_and_digest",
    "load_pretrained",
    "load_state_dict",
    "missing_model_error",
    "models_dir",
    "models_search_path",
    "network_def_of",
    "pretrained_path",
    "save_sidecar",
    "sidecar_path",
    "sidecar_text",
    "state_dict_misfit",
    "untrained_network",
    "weights_sha256",
]

T = TypeVar("T")

#: Environment variable that overrides the folder holding the ``<name>.pt`` weights files.
MODELS_ENV = "MONAI_RMISR_MODELS"


@dataclass(frozen=True)
class PretrainedModel:
    """One registry entry.

    Args:
        network: the network class.
        kwargs: its constructor arguments.
        description: one line for users.
        scale: the fixed scale of a sub-pixel network; ``None`` for an arbitrary-scale one.
        max_scale: the largest scale an arbitrary-scale network accepts.
    """

    network: type[nn.Module]
    kwargs: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    scale: float | None = None
    max_scale: float = 8.0

    def build(self) -> nn.Module:
        """The network with freshly initialised weights."""
        return self.network(**self.kwargs)


def _bl(scale: int) -> PretrainedModel:
    return PretrainedModel(
        RMISR,
        {"spatial_dims": 2, "in_channels": 1, "scale": scale, "image_residual": True},
        f"RMISR-BL x{scale}, single channel, images in [0, 1]",
        scale=float(scale),
    )


#: name -> entry; the weights file of ``name`` is ``<models_dir()>/<name>.pt``.
PRETRAINED: dict[str, PretrainedModel] = {
    "rmisr_bl_x2": _bl(2),
    "rmisr_bl_x3": _bl(3),
    "rmisr_bl_x4": _bl(4),
    "rmisr_vp_x4": PretrainedModel(
        RMISRVP,
        {"spatial_dims": 2, "in_channels": 1, "scale": 4, "image_residual": True},
        "RMISR-VP x4 (SR + Laplacian gradient branch), single channel, images in [0, 1]",
        scale=4.0,
    ),
    "rmisr_meta": PretrainedModel(
        RMISR,
        {"spatial_dims": 2, "in_channels": 1, "upsampler": "meta", "image_residual": True, "scale": 2.0},
        "RMISR-BL with the meta upsampler: any scale in (1, 8], single channel, images in [0, 1]",
        scale=None,
        max_scale=8.0,
    ),
}


def _check_name(name: str) -> PretrainedModel:
    if not isinstance(name, str) or name not in PRETRAINED:
        raise ValueError(f"unknown pretrained model {name!r}; known models: {', '.join(PRETRAINED)}.")
    return PRETRAINED[name]


def models_search_path() -> list[Path]:
    """The folders :func:`models_dir` chooses from, in lookup order (see the module docstring).

    ``[$MONAI_RMISR_MODELS]`` alone when that variable is set; otherwise the bundle's folder
    ``<checkout>/bundles/rmisr/models`` then the package's ``monai_rmisr/models`` (a wheel's copy).
    """
    env = os.environ.get(MODELS_ENV)
    if env:
        return [Path(env).expanduser()]
    import monai_rmisr

    package = Path(monai_rmisr.__file__).resolve().parent
    return [package.parent / "bundles" / "rmisr" / "models", package / "models"]


def models_dir() -> Path:
    """The folder holding the weights files: the first of :func:`models_search_path` that exists.

    ``$MONAI_RMISR_MODELS`` is returned as given; when no folder of the search path exists, the last one
    (the package's ``monai_rmisr/models``), so that an error names where a wheel install keeps them.
    """
    candidates = models_search_path()
    return next((folder for folder in candidates[:-1] if folder.is_dir()), candidates[-1])


def pretrained_path(name: str) -> Path:
    """The weights file of the registry model ``name`` (which may not exist yet).

    Raises:
        ValueError: ``name`` is not in the registry.
    """
    _check_name(name)
    return models_dir() / f"{name}.pt"


def weights_sha256(model: str | os.PathLike[str] | nn.Module) -> str:
    """SHA-256 (hex) of the weights ``model`` names, what a derived image records of its model.

    For a registry name or a checkpoint path, of the file (what ``sha256sum`` prints, and what the bundle's
    ``large_files.yml`` and ``rmisr info`` list for the shipped models); for an ``nn.Module``, of its ``state_dict``
    (each tensor's name and bytes, in name order): the same weights give the same value in any process.

    Raises:
        FileNotFoundError: no such file (a registry model's weights file missing).
    """
    digest = hashlib.sha256()
    if isinstance(model, nn.Module):
        for name, tensor in sorted(model.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        return digest.hexdigest()
    path = _weights_file(model)
    if not path.is_file():
        raise FileNotFoundError(f"no weights file {str(path)!r} for model {str(model)!r}")
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class WeightsChangedError(OSError):
    """A weights file that changed while it was loaded (a training run saving it): its digest would not be that of
    the weights loaded. A failure of the run, not of its arguments: run again once the file is written."""


def _weights_file(model: str | os.PathLike[str]) -> Path:
    """``model`` as a weights file: a registry name is its shipped file, whatever the working folder holds (what
    :func:`load_checkpoint`, :func:`untrained_network` and ``resolve_model`` load and :func:`weights_sha256` hashes)."""
    return pretrained_path(model) if isinstance(model, str) and model in PRETRAINED else Path(model)


def hashed_load(model: str | os.PathLike[str], load: Callable[[], T]) -> tuple[T, str]:
    """``load()`` (which reads the weights file ``model`` names: a path or a registry name) and the file's
    :func:`weights_sha256`, taken before and after, so that it is the digest of the weights loaded.

    Raises:
        WeightsChangedError: the file changed while it was loaded (a training run saving its ``model.pt``).
        FileNotFoundError: as ``load`` (called first where the file is missing: its message names what is).
    """
    path = _weights_file(model)
    before = weights_sha256(path) if path.is_file() else None
    loaded = load()
    after = weights_sha256(path)
    if after != before:
        raise WeightsChangedError(
            f"the weights file {os.fspath(path)!r} changed while it was loaded (a run saving it?): run again once it "
            "is written."
        )
    return loaded, after


def load_checkpoint_and_digest(path: str | os.PathLike[str], network: nn.Module | None = None) -> tuple[nn.Module, str]:
    """:func:`load_checkpoint` and the SHA-256 of the weights it loaded (:func:`hashed_load`): what the bundle's
    ``inference.json`` runs and records."""
    return hashed_load(path, lambda: load_checkpoint(path, network))


def list_pretrained(available_only: bool = False) -> list[str]:
    """Names of the registry models, in registry order.

    Args:
        available_only: only the models whose weights file exists in :func:`models_dir`.
    """
    return [name for name in PRETRAINED if not available_only or pretrained_path(name).is_file()]


def load_state_dict(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a state dict saved from a network, with ``torch.load(..., weights_only=True)``.

    Accepts a plain ``state_dict`` or a MONAI checkpoint dict holding it under ``"model"`` or
    ``"network"`` (as written by ``CheckpointSaver(save_dict={"model": net, ...})``). A training
    checkpoint of a run with ``--ema_decay`` also holds the weight average under ``"ema"``: that
    one is read (it is what the run validated and saves as ``model.pt``); the average is empty
    in runs without it, and ``"network"`` is read.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a PyTorch file readable with ``weights_only=True``, or holds no state dict.
    """
    path = Path(path)
    if path.is_dir():
        raise _folder_error(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}.")
    try:
        loaded = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # not a torch file at all (text, an image, a zip of something else) or unsafe objects
        detail = ": not a file that torch.save wrote"  # the unpickler's own message says nothing more
        with open(path, "rb") as f:
            legacy = f.read(1) == b"\x80"  # torch.save's format before 1.6: a pickle, its protocol byte first
        if isinstance(e, pickle.UnpicklingError) and (zipfile.is_zipfile(path) or legacy):  # objects torch refused
            refused = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(e))
            what = f" ({refused.group(1)})" if refused else ""
            detail = (
                f": it holds Python objects beyond tensors{what}, which are not loaded (a pickle can run code); "
                "save the weights alone, torch.save(network.state_dict(), path)"
            )
        raise ValueError(f"{path} is not a PyTorch weights file that can be read safely{detail}.") from e
    if isinstance(loaded, Mapping):
        for key in ("model", "ema", "network"):
            if isinstance(loaded.get(key), Mapping) and loaded[key]:
                return dict(loaded[key])
        if loaded and all(isinstance(v, torch.Tensor) for v in loaded.values()):
            return dict(loaded)
    raise ValueError(
        f"{path} holds no network state dict: expected a state_dict or a checkpoint dict with a "
        f"'model' or 'network' entry, got {type(loaded).__name__}"
        + (f" with keys {sorted(loaded)[:8]}" if isinstance(loaded, Mapping) else "")
        + "."
    )


def state_dict_misfit(state: Mapping[str, torch.Tensor], network_state: Mapping[str, torch.Tensor]) -> str | None:
    """How the state dict ``state`` (a file's) fails to fit a network's (``network_state``, its ``state_dict()``), in
    a few words: ``"tensors: 2 of other shapes, 3 of the network's missing from the file (e.g. upsample.conv.weight:
    (48, 64, 3, 3) in the file, (16, 64, 3, 3) here)"``; None where it fits (the same names, of the same shapes).
    PyTorch's own message lists every name, kilobytes of them for weights of another network."""
    reshaped = sorted(k for k in state if k in network_state and network_state[k].shape != state[k].shape)
    missing, unknown = sorted(set(network_state) - set(state)), sorted(set(state) - set(network_state))
    if not (reshaped or missing or unknown):
        return None
    parts = [
        f"{len(reshaped)} of other shapes" if reshaped else "",
        f"{len(missing)} of the network's missing from the file" if missing else "",
        f"{len(unknown)} of the file's not in the network" if unknown else "",
    ]
    if reshaped:
        name = reshaped[0]
        example = f"{name}: {tuple(state[name].shape)} in the file, {tuple(network_state[name].shape)} here"
    else:
        example = ", ".join(
            [f"{missing[0]} missing" if missing else "", f"{unknown[0]} not in the network" if unknown else ""]
        ).strip(", ")
    return f"tensors: {', '.join(part for part in parts if part)} (e.g. {example})"


def build_network(config: Mapping[str, Any]) -> nn.Module:
    """Instantiate a monai-rmisr network from ``{"_target_": "RMISR", **constructor kwargs}``.

    Only the classes of :mod:`monai_rmisr.networks.nets` are allowed (``"RMISR"``,
    ``"monai_rmisr.RMISR"``, ``"RMISRVP"``, ...), so a sidecar file cannot import arbitrary code.

    Raises:
        ValueError: an unknown ``_target_``, or arguments the class does not accept.
    """
    kwargs = dict(config)
    target = kwargs.pop("_target_", None)
    name = target.rsplit(".", 1)[-1] if isinstance(target, str) else None
    if name not in _nets.__all__:
        raise ValueError(f"'_target_' must name one of the networks {', '.join(_nets.__all__)}, got {target!r}.")
    try:
        return getattr(_nets, name)(**kwargs)
    except TypeError as e:  # an unknown or missing argument
        call = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        raise ValueError(f"{name}({call}) cannot be built: {e}.") from e


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """The architecture sidecar of the checkpoint ``path``: ``<path without suffix>.json``."""
    return Path(path).with_suffix(".json")


def sidecar_text(network_def: Mapping[str, Any]) -> str:
    """The architecture sidecar's content for ``network_def``: the constructor call as JSON.

    Args:
        network_def: ``{"_target_": "RMISR", **constructor arguments}``, as in a bundle's ``network_def``.

    Raises:
        ValueError: no ``_target_`` name, or a value that JSON cannot hold (a tensor, a module).
    """
    call = dict(network_def)
    if not isinstance(call.get("_target_"), str):
        raise ValueError(f"a network_def needs a '_target_' class name, got {call!r}.")
    try:
        return json.dumps(call, indent=4) + "\n"
    except (TypeError, ValueError) as e:
        raise ValueError(f"network_def {call!r} cannot be written as JSON: {e}.") from e


def save_sidecar(path: str | os.PathLike[str], network_def: Mapping[str, Any]) -> Path:
    """Write the architecture sidecar of the checkpoint ``path`` atomically (read by :func:`load_checkpoint`).

    Args:
        path: the checkpoint file (it need not exist yet); the sidecar is :func:`sidecar_path` of it.
        network_def: the constructor call, see :func:`sidecar_text`.

    Returns:
        the sidecar's path.

    Raises:
        ValueError: see :func:`sidecar_text`; nothing is written then.
    """
    from ..io.output import atomic_output

    text = sidecar_text(network_def)
    target = sidecar_path(path)
    with atomic_output(target) as temporary:
        temporary.write_text(text)
    return target


def _folder_error(path: Path) -> IsADirectoryError:
    """The error for a checkpoint given as a folder: the file to give instead, where it holds a run's model."""
    best = path / "model.pt"
    hint = f": give its model file, '{best}'" if best.is_file() else ": give a checkpoint file"
    return IsADirectoryError(f"checkpoint '{path}' is a folder, not a file{hint}.")


def missing_model_error(model: str | os.PathLike[str], others: str = "") -> Exception:
    """The error for a ``model`` that is neither a registry name nor an existing file: a word that looks like a
    name (no suffix, no folder) is an unknown model, listing the registry's (and ``others``, the caller's other
    words such as ``'auto'``); anything else is a checkpoint file not found."""
    text = str(model)
    if Path(text).is_dir():  # a training run's output_dir, most likely
        return _folder_error(Path(text))
    if Path(text).suffix or os.sep in text or "/" in text:
        return FileNotFoundError(f"checkpoint file not found: {Path(text)}.")
    return ValueError(f"unknown model {text!r}: expected {others}one of {', '.join(PRETRAINED)} or a checkpoint path.")


def network_def_of(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The constructor call (``{"_target_": ..., **arguments}``) of the network whose weights the file ``path``
    holds, where it can be told without reading the file: its sidecar (:func:`sidecar_path`); for a training
    checkpoint ``<run>/checkpoints/checkpoint_*.pt``, the run's ``<run>/model.json``; for a file named after a
    registry model (or a link to one), that model's. None where none of these says.

    Raises:
        ValueError: a sidecar that is not valid JSON or not a JSON object.
    """
    described = _described_network(Path(path))
    return None if described is None else described[0]


def _described_network(path: Path) -> tuple[dict[str, Any], str] | None:
    """:func:`network_def_of` and where it was read (a sidecar's path, or ``registry model NAME``)."""
    candidates = [sidecar_path(path)]
    if path.parent.name == "checkpoints":
        candidates.append(path.parent.parent / "model.json")
    for sidecar in candidates:
        if sidecar.is_file():
            try:
                config = json.loads(sidecar.read_text())
            except json.JSONDecodeError as e:
                raise ValueError(f"architecture sidecar {sidecar} is not valid JSON: {e}.") from e
            if not isinstance(config, dict):
                raise ValueError(
                    f"architecture sidecar {sidecar} must hold a JSON object, got {type(config).__name__}."
                )
            source = f"architecture sidecar {sidecar}"
            name = _registry_name(path)
            if name is not None and path.resolve() == pretrained_path(name).resolve():  # the registry's own file
                _check_registry_promise(name, config, source, path)
            return config, source
    name = _registry_name(path)
    if name is not None:
        entry = PRETRAINED[name]
        return {"_target_": entry.network.__name__, **entry.kwargs}, f"registry model {name}"
    return None


def _registry_name(path: Path) -> str | None:
    """The registry name a weights file is named after, itself or through a symbolic link (``models/model.pt``)."""
    for candidate in (path, path.resolve()):
        if candidate.suffix == ".pt" and candidate.stem in PRETRAINED:
            return candidate.stem
    return None


def described_network(path: str | os.PathLike[str]) -> tuple[nn.Module, str] | None:
    """The network the architecture of the checkpoint ``path`` is described as, freshly initialised, and where that
    was read: its sidecar, its run's ``model.json``, or the registry name it is named after (as
    :func:`untrained_network` reads them); None where nothing describes it (the file alone, unread).

    Raises:
        ValueError: a sidecar that is not valid JSON or no valid constructor call, naming it.
    """
    described = _described_network(Path(path))
    if described is None:
        return None
    config, source = described
    try:
        return build_network(config), source
    except ValueError as e:
        raise ValueError(f"{source}: {e}") from e


def untrained_network(model: str | os.PathLike[str]) -> nn.Module:
    """The architecture of a registry model or of a checkpoint file, with freshly initialised weights.

    Args:
        model: a registry name (:func:`list_pretrained`), or a checkpoint path whose architecture comes
            from, in this order, a sidecar JSON file next to it, ``<path without suffix>.json``, holding
            the constructor call as in a bundle's ``network_def``, e.g.
            ``{"_target_": "RMISR", "spatial_dims": 2, "in_channels": 1, "scale": 2, "image_residual": true}``;
            for a training checkpoint ``<run>/checkpoints/checkpoint_*.pt``, its run's ``model.json``;
            or the registry, when the file is named ``<registry name>.pt`` or is a symbolic link to such a
            file (the bundle's ``models/model.pt``). The file itself is read only when none of these says the
            architecture, to tell a file that is no checkpoint from one without a sidecar.

    This is the bundle's ``network_def`` in ``configs/inference.json``: the architecture of its ``model``,
    so that MONAI's ``verify_net_in_out`` and ``ckpt_export`` check the network that the run uses.

    Raises:
        FileNotFoundError: ``model`` is neither a registry name nor an existing file (a mistyped path).
        ValueError: the architecture cannot be determined, or the sidecar is not a valid constructor call.
    """
    path = _weights_file(model)
    sidecar = sidecar_path(path)
    described = described_network(path)
    if described is not None:
        return described[0]
    if not path.is_file():
        raise missing_model_error(model)
    load_state_dict(path)  # a file that is no checkpoint at all is named as such: a sidecar would not help it
    raise ValueError(
        f"cannot tell the architecture of checkpoint {path}: write a sidecar {sidecar.name} with the "
        'constructor call, e.g. {"_target_": "RMISR", "spatial_dims": 2, "in_channels": 1, "scale": 2, '
        '"image_residual": true} (from Python you may instead pass the network: '
        "model=load_checkpoint(path, RMISR(...)))."
    )


def load_checkpoint(path: str | os.PathLike[str], network: nn.Module | None = None) -> nn.Module:
    """A network with the weights of a checkpoint file, in eval mode, on the CPU.

    Args:
        path: the checkpoint file; a registry name stands for its shipped weights file (:func:`pretrained_path`).
        network: an instance of the right architecture (its weights are replaced); default: the
            architecture :func:`untrained_network` finds for ``path`` (its sidecar, or its registry file name).

    A network with an ``adapt_state_dict(state)`` method maps the file's state dict first:
    :class:`~monai_rmisr.networks.nets.IMDN` reads the IMDN authors' published RGB checkpoints
    (``IMDN_x4.pth``) that way, folded to grey for a one-channel network.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the architecture cannot be determined, or the weights do not fit it.
    """
    path = _weights_file(path)
    state = load_state_dict(path)
    if network is None:
        network = untrained_network(path)
    adapt = getattr(network, "adapt_state_dict", None)
    if callable(adapt):  # a network that reads another layout too (IMDN: the authors' checkpoints)
        state = adapt(state)
    misfit = state_dict_misfit(state, network.state_dict())
    if misfit is not None:
        raise ValueError(
            f"the weights in {path} do not fit {type(network).__name__}: {misfit}. Weights of another network or scale?"
        )
    network.load_state_dict(state)
    return network.eval()


def load_pretrained(name: str, device: str | torch.device = "cpu") -> nn.Module:
    """The registry network ``name`` with its shipped weights, in eval mode, on ``device``.

    Args:
        name: one of :func:`list_pretrained` (``"rmisr_bl_x2"``, ``"rmisr_bl_x3"``, ``"rmisr_bl_x4"``,
            ``"rmisr_vp_x4"``, ``"rmisr_meta"``).
        device: where to put the network.

    Returns:
        the network; it expects (B, 1, H, W) images in [0, 1] and returns (B, 1, H*s, W*s), not clipped.

    Raises:
        ValueError: unknown ``name`` (the message lists the known ones).
        FileNotFoundError: the weights file of ``name`` is not there (the model is not trained/shipped yet).
    """
    _check_name(name)
    path = pretrained_path(name)
    if not path.is_file():
        available = ", ".join(list_pretrained(True)) or "none"
        if os.environ.get(MODELS_ENV):
            lacks = f"which holds no {name}.pt" if path.parent.is_dir() else "which does not exist"
            raise FileNotFoundError(
                f"pretrained model {name!r} is not available: ${MODELS_ENV} is set to '{path.parent}', {lacks}. "
                f"Put the file there, or unset ${MODELS_ENV} to use the shipped weights. Available there now: "
                f"{available}."
            )
        raise FileNotFoundError(
            f"pretrained model {name!r} is not available: its weights file {path} does not exist (the model "
            f"has not been trained/shipped yet). Train it with the rmisr bundle, or set ${MODELS_ENV} to a "
            f"folder holding {name}.pt. Available now: {available}."
        )
    network = untrained_network(name)  # the registry's architecture, or its sidecar's (checked against the name)
    state = load_state_dict(path)
    misfit = state_dict_misfit(state, network.state_dict())
    if misfit is not None:
        raise ValueError(f"the weights file {path} does not fit the {name!r} architecture: {misfit}.")
    network.load_state_dict(state)
    return network.to(device).eval()


#: What a registry name promises of its network, whatever a sidecar beside its weights changes: these arguments.
_PROMISED_ARGUMENTS = ("spatial_dims", "in_channels", "out_channels", "upsampler")


def _check_registry_promise(name: str, config: Mapping[str, Any], source: str, path: Path) -> None:
    """Refuse a sidecar beside the weights of registry model ``name`` (a fine-tuned run's ``model.json`` copied as
    ``<name>.json`` into ``$MONAI_RMISR_MODELS``) that changes what the name promises: the network class, its
    channels and up-sampler, and a dedicated model's scale. Other settings (``image_residual``) it may change: a run
    with ``--image_residual false`` was built with the residual, its output up to half the range off."""
    entry = PRETRAINED[name]
    defaults = {
        key: parameter.default
        for key, parameter in inspect.signature(entry.network).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    promised = [*_PROMISED_ARGUMENTS, *(["scale"] if entry.scale is not None else [])]
    target = str(config.get("_target_", "")).rsplit(".", 1)[-1]
    differing = [f"_target_ {target!r}, not {entry.network.__name__!r}"] if target != entry.network.__name__ else []
    for key in promised:
        wanted, given = entry.kwargs.get(key, defaults.get(key)), config.get(key, defaults.get(key))
        if given != wanted:
            differing.append(f"{key} {given!r}, not {wanted!r}")
    if differing:
        raise ValueError(
            f"{source} describes another network than the registry's {name!r} ({'; '.join(differing)}): give the "
            f"file by its path (--model {path}), or rename the two files."
        )
