"""Inference: the registry of shipped networks and one-call (optionally tiled) super-resolution."""

from .bicubic import BICUBIC, BicubicUpsampler
from .inferer import SuperResolutionInferer
from .pretrained import (
    MODELS_ENV,
    PRETRAINED,
    PretrainedModel,
    build_network,
    list_pretrained,
    load_checkpoint,
    load_checkpoint_and_digest,
    load_pretrained,
    load_state_dict,
    models_dir,
    models_search_path,
    network_def_of,
    pretrained_path,
    save_sidecar,
    sidecar_path,
    sidecar_text,
    untrained_network,
    weights_sha256,
)
from .self_ensemble import self_ensemble_forward
from .super_resolve import resolve_model, super_resolve
from .tiling import blend_weights, scale_period, tiled_forward

__all__ = [
    "BICUBIC",
    "MODELS_ENV",
    "PRETRAINED",
    "BicubicUpsampler",
    "PretrainedModel",
    "SuperResolutionInferer",
    "blend_weights",
    "build_network",
    "list_pretrained",
    "load_checkpoint",
    "load_checkpoint_and_digest",
    "load_pretrained",
    "load_state_dict",
    "models_dir",
    "models_search_path",
    "network_def_of",
    "pretrained_path",
    "resolve_model",
    "save_sidecar",
    "scale_period",
    "self_ensemble_forward",
    "sidecar_path",
    "sidecar_text",
    "super_resolve",
    "tiled_forward",
    "untrained_network",
    "weights_sha256",
]
