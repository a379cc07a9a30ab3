"""Small helpers shared by the super-resolution networks."""

from __future__ import annotations

import copy
import inspect
import math
import numbers
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "DEFAULT_MAX_SCALE",
    "accepts_scale",
    "check_integer_scale",
    "check_network_io",
    "check_scale",
    "copied_parameter",
    "forward_at_scale",
    "rewritten_copy",
    "scaled_size",
    "unwrapped_network",
    "upsample_image",
    "zero_output_layer",
]


#: The largest factor a network takes where its architecture sets no other limit.
DEFAULT_MAX_SCALE = 8.0


@torch.jit.unused
def _check_real(scale: Any) -> None:
    """Refuse what is not a real number (a bool, a string, None; a one-value real tensor passes); outside
    TorchScript, where a scale is a float."""
    real_tensor = isinstance(scale, torch.Tensor) and not scale.is_complex() and scale.dtype != torch.bool
    if real_tensor and scale.numel() == 1:
        return
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise ValueError(f"scale must be a real number, got {scale!r}.")


def _number_text(value: float) -> str:
    """``value`` for a message, a whole number without its fraction ("8", where TorchScript writes "8.")."""
    if abs(value) < 2.0**53 and value == math.floor(value):  # whole, and exactly an int64
        return str(int(value))
    return str(value)


def check_scale(scale: float, max_scale: float = math.inf, allow_one: bool = False) -> float:
    """An up-sampling factor: a real number (not a bool) > 1 (>= 1 with ``allow_one``), finite and at most
    ``max_scale``; returned as a float. The one rule for a scale, wherever one enters (networks, inference).

    Raises:
        ValueError: anything else, naming the value and the range.
    """
    if not torch.jit.is_scripting():
        _check_real(scale)
    value = float(scale)
    above_one = value >= 1.0 if allow_one else value > 1.0  # False for NaN
    if not (above_one and value <= max_scale and value < math.inf):
        lower = "[1" if allow_one else "(1"
        upper = "inf)" if max_scale == math.inf else f"{_number_text(max_scale)}]"
        given = _number_text(value) if torch.jit.is_scripting() else str(scale)  # as the caller wrote it
        raise ValueError(f"scale must be a finite number in {lower}, {upper}, got {given}.")
    return value


def check_network_io(
    name: str, spatial_dims: int, in_channels: int, out_channels: int | None, image_residual: bool = False
) -> int:
    """Validate the common constructor arguments of an SR network; return ``out_channels``
    (defaulting to ``in_channels``). Messages name the network and the value. ``image_residual``: the
    network adds the interpolated input to its output, which needs as many output channels as input ones."""
    if spatial_dims not in (2, 3):
        raise ValueError(f"{name} supports spatial_dims 2 or 3, got {spatial_dims}.")
    out_channels = in_channels if out_channels is None else out_channels
    if in_channels < 1 or out_channels < 1:
        raise ValueError(f"{name} needs in_channels, out_channels >= 1, got {in_channels}, {out_channels}.")
    if image_residual and out_channels != in_channels:
        raise ValueError(
            f"{name} adds the interpolated input to its output (image_residual), so it needs out_channels == "
            f"in_channels, got in_channels={in_channels}, out_channels={out_channels}."
        )
    return out_channels


def check_integer_scale(name: str, scale: float, allowed: tuple[int, ...] | None = None, why: str = "") -> int:
    """``scale`` as an int after :func:`check_scale`, for networks with a fixed integer factor.

    Args:
        name: the network, for the message.
        scale: the requested factor.
        allowed: the only factors the architecture supports (e.g. x2 stages: 2, 4, 8), if any.
        why: what needs an integer, e.g. ``"pixel shuffle"``.
    """
    value = check_scale(scale, DEFAULT_MAX_SCALE, allow_one=True)
    if allowed is not None:
        if value not in allowed:
            raise ValueError(f"{name} supports scale {', '.join(map(str, allowed))}, got {scale}.")
    elif value != int(value):
        raise ValueError(f"{name} needs an integer scale{f' ({why})' if why else ''}, got {scale}.")
    return int(value)


def scaled_size(spatial_shape: list[int], scale: float) -> list[int]:
    """Output size of an up-sampling by ``scale``: ``floor(n * scale + 0.5)`` per axis.

    This is ``round(n * scale)`` with halves rounded up (Python's ``round`` rounds halves to even,
    which would make ``5 * 2.5`` give 12 rather than 13).
    """
    return [math.floor(n * scale + 0.5) for n in spatial_shape]


def upsample_image(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Interpolate a batch of images to ``scaled_size(x.shape[2:], scale)``.

    Bicubic for 2-D, trilinear for 3-D, linear for 1-D (PyTorch has no N-D bicubic), half-pixel
    centres (``align_corners=False``), the convention of the bicubic degradation used for training.

    Args:
        x: (B, C, *spatial) tensor.
        scale: up-sampling factor >= 1.

    Returns:
        (B, C, *round(spatial * scale)) tensor.
    """
    spatial_dims = x.dim() - 2
    mode = "bicubic" if spatial_dims == 2 else ("trilinear" if spatial_dims == 3 else "linear")
    if scale == math.floor(scale):
        # scale_factor keeps ONNX/TorchScript graphs valid for any input size
        return F.interpolate(x, scale_factor=float(scale), mode=mode, align_corners=False)
    size = scaled_size([int(s) for s in x.shape[2:]], scale)
    return F.interpolate(x, size=size, mode=mode, align_corners=False)


def copied_parameter(source: torch.Tensor, value: torch.Tensor | None = None) -> nn.Parameter:
    """A new parameter holding a copy of ``value`` (default: ``source``'s values), trainable as ``source`` is.

    For the rewritten layers of an inference form (``monai_rmisr.networks.regroup``, ``monai_rmisr.networks.nnpack``):
    they share no memory with the module they were made from, which stays as it was.
    """
    value = source if value is None else value
    return nn.Parameter(value.detach().clone(), requires_grad=source.requires_grad)


def zero_output_layer(module: nn.Module) -> None:
    """Zero the parameters of the last layer with parameters in ``module`` (in registration order).

    With an image-space skip this makes an untrained network return exactly the interpolated
    input; the zeroed layer still receives gradients (its input is not zero), so training
    starts from the interpolation instead of from noise added to it.
    """
    last = None
    for child in module.modules():
        if any(True for _ in child.parameters(recurse=False)):
            last = child
    if last is None:
        raise ValueError(f"{type(module).__name__} has no parameters to zero.")
    with torch.no_grad():
        for parameter in last.parameters(recurse=False):
            parameter.zero_()


def is_module_of(module: nn.Module, classes: type[nn.Module] | tuple[type[nn.Module], ...]) -> bool:
    """``isinstance(module, classes)``, true also of a TorchScript module scripted from one of ``classes``
    (``torch.jit.script`` and ``torch.jit.load`` give a ``RecursiveScriptModule`` that keeps the class's name only,
    as ``original_name``, and the attributes it was scripted with)."""
    if isinstance(module, classes):
        return True
    names = {cls.__name__ for cls in (classes if isinstance(classes, tuple) else (classes,))}
    return isinstance(module, torch.jit.ScriptModule) and getattr(module, "original_name", None) in names


def unwrapped_network(network: nn.Module) -> nn.Module:
    """The module inside wrappers: ``DistributedDataParallel`` (``.module``), ``torch.compile`` (``._orig_mod``)."""
    while True:
        inner = getattr(network, "module", None)
        inner = inner if isinstance(inner, nn.Module) else getattr(network, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            return network
        network = inner


def accepts_scale(network: nn.Module) -> bool:
    """Whether ``network.forward`` takes a ``scale`` argument (RMISR, RMISR-VP), looking through wrappers
    (``DistributedDataParallel``; ``torch.compile``, whose own ``forward`` takes ``*args``: without looking
    through it a compiled arbitrary-scale model ran at its default scale), TorchScript modules too."""
    module = unwrapped_network(network)
    if isinstance(module, torch.jit.ScriptModule):  # a TorchScript module's forward has a schema, no signature
        return any(argument.name == "scale" for argument in module.forward.schema.arguments)
    try:
        return "scale" in inspect.signature(module.forward).parameters
    except (TypeError, ValueError):  # e.g. compiled callables without a Python signature
        return False


def is_planar(network: nn.Module) -> bool:
    """Whether every parameter of ``network`` is at most 4-D: a 2-D network, which channels-last memory is for (its
    ``.to(memory_format=torch.channels_last)`` fails on a 3-D network's 5-D convolution weights)."""
    return all(p.dim() <= 4 for p in network.parameters())


def in_channels_last(network: nn.Module, wanted: bool = True) -> tuple[nn.Module, bool]:
    """``(network, channels_last)``: a 2-D ``network`` converted in place to channels-last memory where ``wanted``,
    and whether it was (a 3-D network, or ``wanted`` False, as it is): the engines' ``channels_last`` setting."""
    channels_last = wanted and is_planar(network)
    return (network.to(memory_format=torch.channels_last) if channels_last else network), channels_last


def forward_at_scale(
    network: nn.Module, x: torch.Tensor, scale: float | None, channels_last: bool = False
) -> torch.Tensor:
    """``network(x, scale)`` when its ``forward`` takes a scale (RMISR, RMISR-VP), else ``network(x)``.

    With ``channels_last`` a 4-D input is passed in the channels-last memory format (for a network
    converted with ``.to(memory_format=torch.channels_last)``; on the CPU RMISR with the paper's groups
    runs 1.3x faster than in contiguous memory, and faster still in its CPU inference form:
    :func:`~monai_rmisr.networks.regroup.cpu_inference_network`).
    """
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return network(x, scale) if accepts_scale(network) else network(x)


def rewritten_copy(
    network: nn.Module, rewrite_of: Callable[[nn.Module], Callable[[nn.Module], nn.Module] | None]
) -> nn.Module:
    """``network`` with every module that has a rewrite replaced by it, the first one on each path from the root.

    Args:
        network: any module; it is not changed.
        rewrite_of: for a module, the function that rewrites it (into a new module), or None to look inside it.
            The rewritten modules are looked inside too.

    Returns:
        ``network`` itself when no module has a rewrite (so a second call is free), else a rewritten copy.
    """
    if not any(rewrite_of(module) is not None for module in network.modules()):
        return network
    rewrite = rewrite_of(network)
    rewritten = copy.deepcopy(network) if rewrite is None else rewrite(network)
    _rewrite_within(rewritten, rewrite_of)
    return rewritten


def _rewrite_within(
    module: nn.Module, rewrite_of: Callable[[nn.Module], Callable[[nn.Module], nn.Module] | None]
) -> None:
    for name, child in list(module.named_children()):
        rewrite = rewrite_of(child)
        if rewrite is not None:
            child = rewrite(child)
            setattr(module, name, child)
        _rewrite_within(child, rewrite_of)  # e.g. a merged pyramid block's 1x1 projection
