"""``rmisr export-corpus``: the embedded training corpus as NIfTI files and a MONAI datalist."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .common import path_argument, print_result, report_error

__all__ = ["add_command"]


def _export_corpus(args: argparse.Namespace) -> int:
    from ..data.export import DEFAULT_VAL_NAMES, export_corpus

    val_names = DEFAULT_VAL_NAMES if args.val_names is None else args.val_names
    try:
        datalist = export_corpus(
            args.output,
            natural=not args.no_natural,
            extra=args.extra,
            val_names=val_names,
            ultrasound_frames=args.ultrasound_frames,
            val_synthetic=args.val_synthetic,
            val_aperture=args.val_aperture,
            val_ct_phantoms=args.val_ct_phantoms,
        )
    except (FileExistsError, FileNotFoundError, ValueError, RuntimeError, OSError) as err:
        return report_error("export-corpus", err)
    entries = json.loads(datalist.read_text())
    print_result(
        f"wrote {datalist} ({len(entries['training'])} training, {len(entries['validation'])} validation images)"
    )
    return 0


def add_command(commands: Any) -> None:
    """Add the command to ``commands``, the ``rmisr`` parser's subparsers (``add_subparsers()``)."""
    export = commands.add_parser(
        "export-corpus",
        help="write the embedded training corpus as NIfTI files + dataset.json (for a machine without it)",
        description=(
            "Write the TRAIN split (validation images in their own list), the NATURAL split and, with "
            "--extra, the EXTRA split of the embedded corpus as 2-D NIfTI files with a MONAI datalist; "
            "train from it with --dataset_dir OUTPUT --dataset_preset datalist. OUTPUT must not exist yet."
        ),
    )
    export.add_argument("output", type=path_argument, help="a new folder")
    export.add_argument("--no-natural", action="store_true", help="leave out the NATURAL split")
    export.add_argument(
        "--extra",
        action="store_true",
        help="add the EXTRA split (the bundle's extra_images; needs PyWavelets, scikit-learn)",
    )
    export.add_argument(
        "--ultrasound-frames",
        action="store_true",
        help="add the FRAMES split: the TRAIN ultrasound images uncropped (the bundle's ultrasound_frames)",
    )
    export.add_argument(
        "--val-names",
        nargs="+",
        metavar="NAME",
        help="name prefixes of the validation images (default: the bundle's val_names, "
        "CT_small MR_small microaneurysms OBXXXX1A; ultrasound ones as full frames)",
    )
    export.add_argument(
        "--val-synthetic",
        type=int,
        default=1,
        metavar="N",
        help="procedural validation display frames (default 1, the bundle's val_synthetic_images)",
    )
    export.add_argument(
        "--val-aperture",
        type=int,
        default=0,
        metavar="N",
        help="procedural validation fields of view on black (default 0, the bundle's val_aperture_images)",
    )
    export.add_argument(
        "--val-ct-phantoms",
        type=int,
        default=0,
        metavar="N",
        help="procedural validation CT slices in air (default 0, the bundle's val_ct_phantom_images)",
    )
    export.set_defaults(run=_export_corpus)
