"""``rmisr average-weights``: the uniform average of several checkpoints' weights."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .common import path_argument, print_result, report_error

__all__ = ["add_command"]


def _average_weights(args: argparse.Namespace) -> int:
    import torch

    from ..engines import average_checkpoints
    from ..inference.pretrained import network_def_of, save_sidecar, sidecar_path
    from ..io.output import atomic_output, check_output_path

    try:
        output = check_output_path(args.output, args.checkpoints, args.overwrite)
        sidecar = sidecar_path(output)
        if sidecar == output:
            raise ValueError(
                f"OUTPUT '{output}' ends in .json, the name its architecture file takes: name the weights "
                f"'{output.with_suffix('.pt')}'."
            )
        described = {path: network_def_of(path) for path in args.checkpoints}
        kinds = {json.dumps(call, sort_keys=True) for call in described.values() if call is not None}
        if len(kinds) > 1:
            raise ValueError(
                "the checkpoints are of different networks: "
                + "; ".join(f"'{path}': {call}" for path, call in described.items() if call is not None)
            )
        if sidecar.exists() and not args.overwrite:  # written with the weights, or removed: an old one would lie
            raise ValueError(f"'{sidecar}', the architecture file of OUTPUT, already exists; pass --overwrite.")
        averaged = average_checkpoints(args.checkpoints)
        with atomic_output(output) as temporary:
            torch.save(averaged, temporary)
            # last before the weights are renamed into place: a failure up to here leaves neither file
            if kinds:
                save_sidecar(output, json.loads(next(iter(kinds))))
            elif sidecar.exists():  # --overwrite: an earlier average's architecture is not this one's
                sidecar.unlink()
    except (ValueError, FileNotFoundError, OSError, RuntimeError) as err:
        return report_error("average-weights", err)
    architecture = (
        f"; its architecture in {sidecar.name}, so --model reads it"
        if kinds
        else f"; no checkpoint says its architecture: --init_weights reads it, --model with a {sidecar.name} beside it"
    )
    print_result(f"wrote {output} (the average of {len(args.checkpoints)} checkpoints{architecture})")
    return 0


def add_command(commands: Any) -> None:
    """Add the command to ``commands``, the ``rmisr`` parser's subparsers (``add_subparsers()``)."""
    average = commands.add_parser(
        "average-weights",
        help="average the network weights of several checkpoints of one training run",
        description=(
            "Write the uniform average of the network weights in CHECKPOINT... to OUTPUT, a state dict that "
            "--init_weights reads; with its architecture file beside it (OUTPUT with the suffix .json: swa.pt, "
            "swa.json) where the checkpoints say theirs "
            "(their own .json, their run's model.json, or a shipped model's name), which --model and "
            "load_checkpoint then read too. Use checkpoints of one run at a constant learning rate; keep them with "
            "the bundle's --keep_checkpoints. Errors: exit code 2, nothing written."
        ),
    )
    average.add_argument("output", type=path_argument, help="the averaged weights, a new .pt file")
    average.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT", help="checkpoint or state-dict files")
    average.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    average.set_defaults(run=_average_weights)
