"""Command line: ``rmisr`` or ``python -m monai_rmisr``."""

from __future__ import annotations

import argparse
import sys

from ._version import __version__

__all__ = ["main"]


def _info(_: argparse.Namespace) -> int:
    import torch

    from .networks import nets

    print(f"monai-rmisr {__version__} (torch {torch.__version__})")
    print(f"{'network':<14} {'parameters, 1 channel':>24} {'parameters, 3 channels':>24}")
    for scale in (2, 3, 4):
        for name in nets.__all__:
            counts = []
            for channels in (1, 3):
                net = getattr(nets, name)(spatial_dims=2, in_channels=channels, scale=scale)
                counts.append(sum(p.numel() for p in net.parameters()))
            print(f"{name + f' x{scale}':<14} {counts[0]:>24,} {counts[1]:>24,}")
    meta = [sum(p.numel() for p in nets.RMISR(2, c, upsampler="meta").parameters()) for c in (1, 3)]
    print(f"{'RMISR meta':<14} {meta[0]:>24,} {meta[1]:>24,}")
    return 0


def _demo(_: argparse.Namespace) -> int:
    from .demo import main as demo_main

    return demo_main([])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rmisr", description="RMISR medical image super-resolution (MONAI plugin).")
    parser.add_argument("--version", action="version", version=f"monai-rmisr {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="version and the parameter count of every network").set_defaults(run=_info)
    commands.add_parser("demo", help="run the demo on the embedded images").set_defaults(run=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
