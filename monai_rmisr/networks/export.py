"""Export trained networks to TorchScript and ONNX (dynamic batch and spatial size)."""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from ..io.output import atomic_output
from .blocks.meta_upsample import has_meta_upsampler

__all__ = ["export_onnx", "export_torchscript"]


@contextlib.contextmanager
def _in_eval_mode(network: nn.Module) -> Iterator[nn.Module]:
    """``network`` in eval mode for the export, its own mode (training, mid-run) restored after."""
    was_training = network.training
    try:
        yield network.eval()
    finally:
        network.train(was_training)


def _target(path: str | os.PathLike) -> Path:
    """``path`` as a ``Path``, in a folder that exists (an export makes no folders)."""
    target = Path(path)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"output folder does not exist: {target.parent}")
    return target


def export_torchscript(network: nn.Module, path: str | os.PathLike) -> Path:
    """Script ``network`` (in eval mode; its own mode is restored after) and save it to ``path``, written
    atomically.

    The scripted module keeps the ``forward(x, scale=None)`` signature, so an arbitrary-scale
    network still takes its scale at call time.
    """
    target = _target(path)
    with atomic_output(target) as tmp, _in_eval_mode(network):
        torch.jit.script(network).save(str(tmp))
    return target


#: the weights inside the .onnx file: the dynamo exporter (torch >= 2.5) writes them to a file of their own, named
#: after the temporary file the export writes, by default, so the .onnx did not load once moved or renamed
_one_file = {"external_data": False} if "external_data" in inspect.signature(torch.onnx.export).parameters else {}


def export_onnx(
    network: nn.Module,
    path: str | os.PathLike,
    in_channels: int,
    spatial_dims: int = 2,
    example_size: int = 32,
    opset_version: int = 18,
) -> Path:
    """Export ``network`` (in eval mode; its own mode is restored after) to ONNX with dynamic batch and spatial
    axes.

    The graph input is ``lr`` (B, in_channels, *spatial) and its output ``sr``. ONNX has no
    call-time Python arguments, so an arbitrary-scale (meta) network is exported at its
    constructed default ``scale``; export once per scale you need. Sub-pixel networks go
    through the TorchScript-based exporter (fast); networks with a meta upsampler, whose
    output size is computed from the input size, through ``torch.export`` (dynamo), which
    keeps that computation symbolic.

    Returns:
        the path written (atomically: nothing is left behind on failure), one file holding the weights too.
    """
    example = torch.rand(1, in_channels, *([example_size] * spatial_dims))
    names = ["h", "w", "d"][:spatial_dims]
    dynamic_axes = {
        "lr": {0: "batch", **{2 + i: n for i, n in enumerate(names)}},
        "sr": {0: "batch", **{2 + i: n.upper() for i, n in enumerate(names)}},
    }
    use_dynamo = has_meta_upsampler(network) and not isinstance(network, torch.jit.ScriptModule)  # dynamo: eager
    target = _target(path)
    # the exporters print progress and warnings that mean nothing to a user: the tracer's "might not generalize to
    # other inputs" about the networks' shape checks (the graph does, at other sizes: tests/networks)
    with (
        atomic_output(target) as tmp,
        _in_eval_mode(network),
        contextlib.redirect_stdout(io.StringIO()),
        torch.no_grad(),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            network,
            (example,),
            str(tmp),
            input_names=["lr"],
            output_names=["sr"],
            dynamic_axes=dynamic_axes,
            opset_version=opset_version,
            dynamo=use_dynamo,
            **({"verbose": False} if use_dynamo else {}),
            **_one_file,
        )
    return target
