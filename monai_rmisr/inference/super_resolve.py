"""One-call super-resolution of a 2-D image or of every slice of a volume, whole or in tiles (the tiles:
:mod:`.tiling`)."""

from __future__ import annotations

import copy
import itertools
import os
from pathlib import Path
from typing import Any, overload

import numpy as np
import torch
from monai.data import MetaTensor
from monai.data.meta_obj import get_track_meta
from torch import nn
from tqdm import tqdm

from ..networks.regroup import inference_network
from ..networks.utils import forward_at_scale, scaled_size
from ..transforms.resize import resized_affine, with_meta_of
from .bicubic import BICUBIC, BicubicUpsampler
from .pretrained import (
    PRETRAINED,
    hashed_load,
    load_checkpoint,
    load_pretrained,
    missing_model_error,
    weights_sha256,
)
from .self_ensemble import self_ensemble_forward
from .settings import (
    AUTO_TILE,
    check_device,
    check_model_scale,
    check_precision,
    check_scale,
    check_tile,
    check_tile_statistics,
    compute_autocast,
    model_in_channels,
    model_scale_limits,
    model_spatial_dims,
    registry_model,
)
from .tiling import auto_tile, tiled_forward

__all__ = ["resolve_model", "super_resolve"]

#: Tolerance on the ``[0, 1]`` input range (float round-off of a min-max normalisation).
RANGE_TOLERANCE = 1e-6
#: Smallest H and W of a volume (C, H, W, D): a (B, C, H, W) batch with C <= 4 given by mistake has H = C < 8.
MIN_VOLUME_PLANE = 8


def _check_image(image: Any) -> torch.Tensor:
    """Validate the input and return it as a (C, H, W) or (C, H, W, D) float32 CPU/device tensor (not copied when
    possible)."""
    if isinstance(image, np.ndarray):
        if not np.issubdtype(image.dtype, np.floating):
            raise ValueError(
                f"image must be a float array with values in [0, 1], got dtype {image.dtype} (e.g. divide a uint8 "
                "image by 255, or min-max normalise a medical image)."
            )
        native = image.dtype.newbyteorder("=")  # torch takes native byte order only (a big-endian array from a file)
        tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=native))
    elif isinstance(image, torch.Tensor):
        if not image.is_floating_point():
            raise ValueError(f"image must be a float tensor with values in [0, 1], got dtype {image.dtype}.")
        tensor = image.detach()
    else:
        raise ValueError(f"image must be a numpy array or a torch tensor, got {type(image).__name__}.")
    if tensor.dim() not in (2, 3, 4):
        raise ValueError(
            f"image must be 2-D (H, W), channel-first (C, H, W) or a channel-first volume (C, H, W, D), got shape "
            f"{tuple(tensor.shape)}" + (" (add/remove batch or channel axes)." if tensor.dim() else ".")
        )
    spatial_shape = tuple(int(n) for n in image.meta.get("spatial_shape", ())) if isinstance(image, MetaTensor) else ()
    if image.ndim == 3 and getattr(image, "spatial_ndim", None) == 3 and tuple(image.shape) == spatial_shape:
        # MONAI's LoadImage without ensure_channel_first: a volume (H, W, D) read here as (C, H, W) would come back
        # with its first axis kept and its slice axis resized, the geometry silently wrong
        raise ValueError(
            f"image is a 3-D MetaTensor without a channel axis (spatial_ndim 3, shape {tuple(image.shape)}): a volume "
            "(H, W, D); add the channel axis first (LoadImage(ensure_channel_first=True) or EnsureChannelFirst) to "
            "give (1, H, W, D)."
        )
    if tensor.dim() == 2:
        tensor = tensor[None]
    if any(n == 0 for n in tensor.shape):
        raise ValueError(f"image is empty, got shape {tuple(image.shape)}.")
    if tensor.dim() == 4 and min(tensor.shape[1:3]) < MIN_VOLUME_PLANE:
        raise ValueError(
            f"a 4-D image is a channel-first volume (C, H, W, D) with H and W >= {MIN_VOLUME_PLANE}, got shape "
            f"{tuple(image.shape)}; a batch (B, C, H, W) goes one image at a time, or through SuperResolutionInferer."
        )
    bad = ~torch.isfinite(tensor)
    if bad.any():
        raise ValueError(f"image has {int(bad.sum())} non-finite (NaN or infinite) pixels; fix or mask them first.")
    low, high = float(tensor.min()), float(tensor.max())
    if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise ValueError(
            f"image values must be in [0, 1], got [{low:.6g}, {high:.6g}]; rescale it first (e.g. "
            "monai.transforms.ScaleIntensity() or a CT/MR window) - super_resolve does not guess an intensity mapping."
        )
    return tensor.float()


def resolve_model(
    model: str | os.PathLike[str] | nn.Module,
    scale: float,
    device: str | torch.device = "cpu",
    compute_dtype: torch.dtype = torch.float32,
) -> tuple[nn.Module, float, str]:
    """The network ``model`` means at ``scale``, the scale to pass to it, and a name for it.

    Resolves ``model`` as :func:`super_resolve` does (``"auto"``, a registry name, a checkpoint
    path or an ``nn.Module``), so a caller that runs many images loads the weights once. All
    scale checks happen before any file is read.

    Returns:
        ``(network on device, scale for its forward, name)``: the name is the registry name
        (``"auto"`` resolved), the checkpoint's file name, or the module's class name. A network it loads
        (a registry name, a checkpoint) comes on the CPU in the form inference runs there in ``compute_dtype``
        (:func:`~monai_rmisr.networks.regroup.cpu_inference_network`: RMISR's convolutions rewritten exactly; its
        ``state_dict`` has other names and shapes, so save :func:`load_pretrained`'s network instead),
        so that callers that keep it (the MONAI Label app, the viewer) rewrite it once; an ``nn.Module`` given
        comes back as it is where its weights are on ``device``, else as a copy on ``device`` (the caller's module
        stays where it is; a caller running many images moves its network to ``device`` first, or each call copies
        it).

    Raises:
        ValueError, FileNotFoundError: as :func:`super_resolve`.
    """
    scale = check_scale(scale)
    device = torch.device(device)
    if isinstance(model, nn.Module):
        weights = {str(p.dtype).removeprefix("torch.") for p in model.parameters() if p.is_floating_point()}
        if weights - {"float32"}:  # tiles' statistics overflow in float16; bfloat16 everywhere loses ~0.01 of range
            raise ValueError(
                f"the network's weights are {', '.join(sorted(weights))}: super_resolve runs float32 networks; for "
                "reduced precision give precision='bfloat16' (an autocast that keeps the sensitive steps in float32) "
                "and the float32 network (.float())."
            )
        fixed, max_scale = model_scale_limits(model)
        name = type(model).__name__
        scale = check_model_scale(scale, fixed, max_scale, name)
        if not _is_on(model, device):  # Module.to moves the caller's module itself
            model = copy.deepcopy(model).to(device)
        return model, scale, name
    if isinstance(model, str) and model == BICUBIC:
        return BicubicUpsampler().to(device), scale, BICUBIC
    if isinstance(model, str) and (model == "auto" or model in PRETRAINED):
        name, scale = registry_model(model, scale)
        return inference_network(load_pretrained(name, device=device), device, compute_dtype)[0], scale, name
    if isinstance(model, (str, os.PathLike)):
        path = Path(model)
        if not path.is_file():
            raise missing_model_error(model, others=f"'auto', '{BICUBIC}', an nn.Module, ")
        network = load_checkpoint(path)
        fixed, max_scale = model_scale_limits(network)
        scale = check_model_scale(scale, fixed, max_scale, f"checkpoint {path.name}")
        return inference_network(network.to(device), device, compute_dtype)[0], scale, path.name
    raise ValueError(f"model must be 'auto', a registry name, a checkpoint path or an nn.Module, got {model!r}.")


def resolve_model_and_digest(
    model: str | os.PathLike[str] | nn.Module,
    scale: float,
    device: str | torch.device = "cpu",
    compute_dtype: torch.dtype = torch.float32,
) -> tuple[nn.Module, float, str, str | None]:
    """:func:`resolve_model`, and the SHA-256 a derived image records of the weights it loaded
    (:func:`~monai_rmisr.inference.pretrained.weights_sha256`; None for plain bicubic interpolation).

    A weights file is hashed before and after it is loaded, so the digest is of the weights the network holds: one
    that changed in between (a training run saving its ``model.pt``) is refused.

    Raises:
        ValueError, FileNotFoundError: as :func:`resolve_model`; a weights file that changed while it was loaded.
    """
    if isinstance(model, nn.Module) or (isinstance(model, str) and model == BICUBIC):
        network, run_scale, name = resolve_model(model, scale, device, compute_dtype)
        digest = None if isinstance(network, BicubicUpsampler) else weights_sha256(model)
        return network, run_scale, name, digest
    if isinstance(model, str) and model == "auto":
        model = registry_model(model, scale)[0]  # the shipped file the scale chooses, hashed and loaded alike
    (network, run_scale, name), digest = hashed_load(model, lambda: resolve_model(model, scale, device, compute_dtype))
    return network, run_scale, name, digest


def _is_on(module: nn.Module, device: torch.device) -> bool:
    """Whether every parameter and buffer of ``module`` is on ``device`` (``cuda`` without an index: any GPU)."""
    return all(
        t.device.type == device.type and (device.index is None or t.device.index == device.index)
        for t in itertools.chain(module.parameters(), module.buffers())
    )


@overload
def super_resolve(
    image: np.ndarray,
    scale: float,
    model: str | os.PathLike[str] | nn.Module = ...,
    tile: int | str | None = ...,
    device: str | torch.device = ...,
    *,
    overlap: float = ...,
    self_ensemble: bool = ...,
    tile_statistics: str = ...,
    progress: bool = ...,
    precision: str = ...,
) -> np.ndarray: ...


@overload
def super_resolve(
    image: torch.Tensor,
    scale: float,
    model: str | os.PathLike[str] | nn.Module = ...,
    tile: int | str | None = ...,
    device: str | torch.device = ...,
    *,
    overlap: float = ...,
    self_ensemble: bool = ...,
    tile_statistics: str = ...,
    progress: bool = ...,
    precision: str = ...,
) -> torch.Tensor: ...


def super_resolve(
    image: np.ndarray | torch.Tensor,
    scale: float,
    model: str | os.PathLike[str] | nn.Module = "auto",
    tile: int | str | None = AUTO_TILE,
    device: str | torch.device = "cpu",
    *,
    overlap: float = 0.25,
    self_ensemble: bool = False,
    tile_statistics: str = "image",
    progress: bool = False,
    precision: str = "float32",
) -> np.ndarray | torch.Tensor:
    """Super-resolve a 2-D image, or every slice of a volume in-plane, by ``scale`` with a pretrained or given RMISR
    network.

    Args:
        image: (H, W) or channel-first (C, H, W) float image in ``[0, 1]`` (numpy or torch), or a channel-first
            volume (C, H, W, D) as MONAI's ``LoadImage`` gives one (``EnsureChannelFirst``): each of its D slices
            is super-resolved in-plane (H and W; D is kept: thick-slice through-plane SR is ``rmisr upscale --axis
            z`` / :meth:`~monai_rmisr.inference.Upscaler.through_plane`). A 3-D array is always (C, H, W); a 4-D
            one always (C, H, W, D), with H and W >= 8 (so a (B, C, H, W) batch given by mistake is refused).
            Values outside ``[0, 1]`` (beyond 1e-6 of round-off) are an error rather than silently
            clipped: they almost always mean an image that was not normalised (CT in HU, 12-bit
            raw values), and the networks were trained on ``[0, 1]`` min-max normalised images.
        scale: up-sampling factor, a finite number > 1 (the dedicated models: exactly 2, 3 or 4;
            the arbitrary-scale model: up to 8).
        model: one of

            * ``"auto"``: the shipped dedicated RMISR-BL network for x2, x3 and x4 (falling back,
              with a warning, to ``"rmisr_meta"`` while a dedicated one is not shipped), the
              arbitrary-scale ``"rmisr_meta"`` for any other scale;
            * a name from :func:`~monai_rmisr.inference.list_pretrained`; a fixed-scale one
              must be asked for its own scale;
            * ``"bicubic"``: MATLAB-bicubic interpolation
              (:class:`~monai_rmisr.inference.bicubic.BicubicUpsampler`), the baseline, any scale;
            * an ``nn.Module`` with its weights loaded (its ``scale`` attribute, or a meta
              upsampler, decides which scales it accepts);
            * a checkpoint path (a state dict, or a MONAI checkpoint dict with ``"model"`` or
              ``"network"``), whose architecture comes from a sidecar ``<path stem>.json``
              (``{"_target_": "RMISR", ...constructor kwargs}``) or, for a file named
              ``<registry name>.pt``, from the registry; see :func:`~monai_rmisr.inference.load_checkpoint`.
        tile: ``"auto"`` (default) runs the whole image when the network's working memory for it
            (:func:`~.tiling.forward_bytes`) fits the device's budget (:func:`~.tiling.tile_memory_budget`: 1152 MiB
            on the CPU, a 512 x 512 image at x2-x4; a quarter of the available memory on a GPU), else tiles
            of the size :func:`~.tiling.auto_tile` chooses; ``None`` runs the
            whole image at once whatever its size; ``N`` (>= 64) runs LR tiles of N x N pixels
            with ``overlap``, blended without seams (:func:`~.tiling.tiled_forward`), bounding memory.
            Tiles are close to but not exactly the whole-image result (the convolutions' zero padding at tile
            borders): a radiograph with the automatic tiles within 2e-4, a photograph with tiles of 64 within 0.004
            (docs/inference.md, "Tiles").
        device: device to run the network on; the result comes back to the input's device (numpy: CPU).
        overlap: fraction of a tile shared with each neighbour, in ``[0, 1)``; the blend that hides the tiles'
            borders needs one (``0`` butts tiles together, and their borders then differ from the whole image's result
            far more than with the default 0.25: docs/inference.md, "Tiles").
        self_ensemble: average the network's outputs over the eight flips / quarter turns of
            the image (:func:`~monai_rmisr.inference.self_ensemble.self_ensemble_forward`):
            a little closer to the truth (``rmisr_bl_x4``: +0.07 dB on the benchmark), 8x the time.
        tile_statistics: where the networks' channel attention (ICCA) takes its statistics when the image is
            tiled: ``"image"`` (default), the whole image's, gathered tile by tile before the tiles run (two more
            passes over the image, about 2.6x the time); ``"tile"``, each tile its own (faster, but a tile's
            pixels move by up to about 0.1 from the whole-image result).
        progress: when the image is tiled, show a tqdm bar of the tiles on stderr (per channel).
        precision: the network's compute dtype: ``"float32"`` (default), ``"bfloat16"`` (autocast; refused
            where the device would emulate it) or ``"auto"`` (bfloat16 where native, else float32); see
            :func:`~monai_rmisr.inference.settings.check_precision`. The input, the output and the tile
            blending stay float32; ``docs/inference.md`` gives the speed and the PSNR change.

    Returns:
        the SR image, clipped to ``[0, 1]``, of spatial size ``round(H * scale) x round(W * scale)``
        (halves rounded up; a volume's D unchanged), with the input's shape convention ((H', W'), (C, H', W') or
        (C, H', W', D)), type
        (numpy, torch or MONAI ``MetaTensor``) and float dtype. A ``MetaTensor`` keeps its metadata, with its affine
        moved to the SR pixel grid (the in-plane spacing divided by the scale, the origin at the first SR pixel's
        centre; a volume's slice spacing kept), but
        not its transform history (``applied_operations``: done on the LR grid). Do not give the result to MONAI's
        ``Invertd`` with the input's key as ``orig_keys``: it replaces the result's metadata by the LR image's and
        replays the LR transforms, so the SR pixels would get the LR spacing (twice the extent at x2). To undo
        an orientation, undo it on the LR image first (or save the SR image with its own affine: ``SaveImage``
        writes it where the LR image's field of view is).

    Colour images: the shipped models are single-channel. A (C, H, W) image with C <= 4 is
    super-resolved channel by channel (each channel as its own grey image), which keeps every
    channel's full detail and needs no colour-space assumption (RGB, RGBA or two-channel images
    alike); it costs C network runs. A network built for C channels gets the image as it is. A volume costs
    D times a slice (one slice at a time: the memory of the output and of one slice's forward pass; ``tile``
    applies to each slice, ``progress`` is one bar over the slices).

    Raises:
        ValueError: a bad scale (not > 1, NaN, infinite, above the model's maximum, or not the
            fixed scale of the chosen model), a bad image (wrong dimensionality or dtype,
            non-finite pixels, values outside ``[0, 1]``, channels the model cannot take), an
            unknown model name, or a checkpoint of unknown architecture.
        FileNotFoundError: the weights of the chosen model are not shipped yet, or a checkpoint path does not exist.

    Example::

        from monai_rmisr import super_resolve

        sr = super_resolve(ct_slice, 2)  # numpy (512, 512) in [0, 1] -> numpy (1024, 1024)
        big = super_resolve(xray, 4)  # a 2000 x 2000 radiograph: tiled automatically, bounded memory
        ct = LoadImage(ensure_channel_first=True)("ct.nii.gz")  # MetaTensor (1, 512, 512, 120) in HU
        sr = super_resolve(ScaleIntensityRange(-1000, 1000, 0, 1, clip=True)(ct), 2)  # (1, 1024, 1024, 120)
    """
    scale = check_scale(scale)
    squeeze = isinstance(image, (np.ndarray, torch.Tensor)) and image.ndim == 2
    tensor = _check_image(image)
    volume = tensor.dim() == 4
    tile = check_tile(tile)
    tile_statistics = check_tile_statistics(tile_statistics)
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}.")
    device = torch.device(check_device(device))
    compute_dtype = check_precision(precision, device)
    network, run_scale, _ = resolve_model(model, scale, device, compute_dtype)
    dims = model_spatial_dims(network)
    if dims not in (None, 2):
        raise ValueError(
            f"super_resolve runs 2-D networks (a volume slice by slice), got a {dims}-D one; "
            "call a 3-D network directly, or through MONAI's SlidingWindowInferer."
        )
    plane = list(tensor.shape[1:3])
    if tile == AUTO_TILE:
        tile = auto_tile(network, plane, run_scale, device=device, overlap=overlap)

    channels = tensor.shape[0]
    in_channels = model_in_channels(network)
    if in_channels == channels:
        groups = [slice(0, channels)]
    elif in_channels in (1, None) and channels <= 4:
        groups = [slice(c, c + 1) for c in range(channels)]
    else:
        takes = f"{in_channels}-channel images" if in_channels else "one channel at a time"
        shape = tuple(image.shape)
        # (H, W, C) as PIL, imageio and matplotlib give it: C last, and few
        hint = " (channels last? move them first: np.moveaxis(x, -1, 0))" if len(shape) == 3 and shape[-1] <= 4 else ""
        raise ValueError(
            f"the model takes {takes}, got {channels} channels (shape {shape}){hint}; single-channel models "
            "take (H, W), (C, H, W) or (C, H, W, D) with C <= 4 (each channel super-resolved on its own)."
        )

    was_training = network.training
    network.eval()
    runner, channels_last = inference_network(network, device, compute_dtype)
    expected = scaled_size(plane, run_scale)
    forward = self_ensemble_forward if self_ensemble else forward_at_scale
    out_device = tensor.device if isinstance(image, torch.Tensor) else torch.device("cpu")
    depth = tensor.shape[-1] if volume else 1
    result = torch.empty((channels, *expected, *([depth] if volume else [])), device=out_device)
    slices = range(depth)
    if volume and progress:  # one bar over the slices (not one per slice's tiles)
        slices, progress = tqdm(slices, desc="slices", unit="slice"), False
    try:
        with torch.inference_mode(), compute_autocast(compute_dtype, device):
            for d in slices:
                lr_plane = tensor[..., d] if volume else tensor
                for group in groups:
                    batch = lr_plane[group][None].to(device)
                    if tile is None:
                        out = forward(runner, batch, run_scale, channels_last).float()
                    else:
                        out = tiled_forward(
                            runner,
                            batch,
                            run_scale,
                            tile,
                            overlap=overlap,
                            sw_device=device,
                            channels_last=channels_last,
                            self_ensemble=self_ensemble,
                            statistics=tile_statistics,
                            progress=progress,
                        )
                    if list(out.shape[2:]) != expected:
                        raise RuntimeError(
                            f"the network returned spatial size {list(out.shape[2:])} for x{run_scale:g}, "
                            f"expected {expected}."
                        )
                    (result[group, ..., d] if volume else result[group]).copy_(out[0].clamp_(0.0, 1.0))
    finally:
        network.train(was_training)
    if squeeze:
        result = result[0]
    if isinstance(image, np.ndarray):
        return result.contiguous().numpy().astype(image.dtype, copy=False)
    result = result.contiguous().to(dtype=image.dtype, device=image.device)
    if isinstance(image, MetaTensor) and get_track_meta():  # its affine moved to the SR grid (in-plane axes)
        scales = [n / m for n, m in zip(expected, plane)]
        result = with_meta_of(result, image, resized_affine(image.affine, (0, 1), scales))  # no LR-grid history
    return result
