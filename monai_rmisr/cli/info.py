"""``rmisr info`` and ``rmisr demo``."""

from __future__ import annotations

import argparse
from typing import Any

from .._version import __version__
from .common import print_result

__all__ = ["add_command"]


def _info(_: argparse.Namespace) -> int:
    import monai
    import torch

    from ..inference.pretrained import PRETRAINED, models_dir, pretrained_path, weights_sha256
    from ..networks import nets

    print_result(f"monai-rmisr {__version__} (torch {torch.__version__}, MONAI {monai.__version__})")
    print_result(f"shipped models (rmisr upscale --model NAME), weights files in {models_dir()}:")
    print_result(f"{'name':<14} {'scale':<8} {'weights':<8} description")
    for name, entry in PRETRAINED.items():
        scale = f"x{entry.scale:g}" if entry.scale is not None else f"(1,{entry.max_scale:g}]"
        weights = "present" if pretrained_path(name).is_file() else "missing"
        print_result(f"{name:<14} {scale:<8} {weights:<8} {entry.description}")
    present = [name for name in PRETRAINED if pretrained_path(name).is_file()]
    if present:
        print_result("")
        print_result("weights SHA-256 (what a derived image records of its model; sha256sum of the file):")
        for name in present:
            print_result(f"{name:<14} {weights_sha256(name)}")
    print_result("")
    print_result(f"{'network':<14} {'parameters, 1 channel':>24} {'parameters, 3 channels':>24}")
    for scale in (2, 3, 4):
        for name in nets.__all__:
            counts = []
            for channels in (1, 3):
                net = getattr(nets, name)(spatial_dims=2, in_channels=channels, scale=scale)
                counts.append(sum(p.numel() for p in net.parameters()))
            print_result(f"{name + f' x{scale}':<14} {counts[0]:>24,} {counts[1]:>24,}")
    meta = [sum(p.numel() for p in nets.RMISR(2, c, upsampler="meta").parameters()) for c in (1, 3)]
    print_result(f"{'RMISR meta':<14} {meta[0]:>24,} {meta[1]:>24,}")
    return 0


def _demo(_: argparse.Namespace) -> int:
    from ..demo import main as demo_main

    return demo_main([])


def add_command(commands: Any) -> None:
    """Add the command to ``commands``, the ``rmisr`` parser's subparsers (``add_subparsers()``)."""
    commands.add_parser(
        "info",
        help="versions, the shipped models (whether their weights are here, their SHA-256), every network's size",
    ).set_defaults(run=_info)
    commands.add_parser("demo", help="run the demo on the embedded images").set_defaults(run=_demo)
