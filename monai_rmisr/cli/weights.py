"""``rmisr average-weights``: the uniform average of several checkpoints' weights."""

from __future__ import annotations

import argparse
from typing import Any

from .common import path_argument, print_result, report_error

__all__ = ["add_command"]


def _average_weights(args: argparse.Namespace) -> int:
    import torch

    from ..engines import average_checkpoints
    from ..io.output import atomic_output, check_output_path

    try:
        output = check_output_path(args.output, args.checkpoints, args.overwrite)
        averaged = average_checkpoints(args.checkpoints)
        with atomic_output(output) as temporary:
            torch.save(averaged, temporary)
    except (ValueError, FileNotFoundError, OSError, RuntimeError) as err:
        return report_error("average-weights", err)
    print_result(f"wrote {output} (the average of {len(args.checkpoints)} checkpoints)")
    return 0


def add_command(commands: Any) -> None:
    """Add the command to ``commands``, the ``rmisr`` parser's subparsers (``add_subparsers()``)."""
    average = commands.add_parser(
        "average-weights",
        help="average the network weights of several checkpoints of one training run",
        description=(
            "Write the uniform average of the network weights in CHECKPOINT... to OUTPUT (a state dict that "
            "--model, load_pretrained and --init_weights read). Use checkpoints of one run at a constant learning "
            "rate; keep them with the bundle's --keep_checkpoints. Errors: exit code 2, nothing written."
        ),
    )
    average.add_argument("output", type=path_argument, help="the averaged weights, a new .pt file")
    average.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT", help="checkpoint or state-dict files")
    average.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    average.set_defaults(run=_average_weights)
