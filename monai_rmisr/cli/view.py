"""``rmisr view``: the viewer, in a window or rendered to a file."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from .common import add_series_argument, path_argument, print_result, report_error

__all__ = ["add_command"]


def _view(args: argparse.Namespace) -> int:
    import matplotlib

    from ..inference.batch import select_series
    from ..inference.settings import check_device, check_scale_text
    from ..io import ImageReadError
    from ..io.output import OutputPathError, check_output_path

    def fail(err: BaseException) -> int:
        return report_error("view", err)

    if args.save is not None:
        matplotlib.use("agg")  # a file, no window: works with no screen
    from matplotlib import pyplot as plt

    from ..viewer import SRViewer, ViewerSession

    if args.save is None and plt.get_backend().lower() in ("agg", "cairo", "pdf", "pgf", "ps", "svg", "template"):
        return fail(
            RuntimeError(
                f"no screen for a window (matplotlib backend {plt.get_backend()!r}; on Linux $DISPLAY is unset or "
                "tkinter is missing); render to a file with --save FIGURE.png, or set MPLBACKEND (e.g. QtAgg)."
            )
        )
    try:
        if args.save is not None:  # before the model runs: matplotlib would refuse the name only at the end
            from pathlib import Path

            from matplotlib.backend_bases import FigureCanvasBase

            check_output_path(args.save, [args.input], args.overwrite)  # a folder, the input, an existing file
            kinds = FigureCanvasBase.get_supported_filetypes()
            suffix = Path(args.save).suffix.lower().lstrip(".")
            if suffix not in kinds:
                raise ValueError(
                    f"--save '{args.save}': give the figure's file type by its extension: "
                    f"{', '.join('.' + kind for kind in sorted(kinds))}."
                )
        scale = check_scale_text(args.scale)
        check_device(args.device)
        # a folder: its one DICOM series, or the one --series names (a folder of several lists them); --series on a
        # file is refused there, as by rmisr upscale
        chooses = os.path.isdir(args.input) or args.series is not None
        source = select_series(args.input, args.series) if chooses else args.input
        session = ViewerSession(source, device=args.device)
        session.network(args.model, scale)  # a missing model or one of another scale: an argument error
        if args.slice is not None:
            if not 1 <= args.slice <= session.depth:
                raise ValueError(f"--slice {args.slice} is not a slice of '{args.input}' (1 to {session.depth}).")
            session.set_slice(args.slice - 1)
        if args.volume is not None:
            if not 1 <= args.volume <= session.volumes:
                held = (
                    f"1 to {session.volumes}"
                    if session.volumes > 1
                    else "it holds one volume" + (" (its three channels are colour)" if session.colour else "")
                )
                raise ValueError(f"--volume {args.volume} is not a volume of '{args.input}' ({held}).")
            session.set_volume(args.volume - 1)
        figure = plt.figure(figsize=(14, 8.5), num=f"rmisr view: {session.name}")
        viewer = SRViewer(
            session,
            scale=scale,
            model=args.model,
            mode=args.mode,
            roi=args.roi,
            window=args.window,
            figure=figure,
        )
    except (ValueError, FileNotFoundError, ImageReadError, OSError) as err:  # OutputPathError: a ValueError
        return fail(err)
    if viewer.error is not None:
        print(f"rmisr view: {viewer.error}", file=sys.stderr)
    if viewer.comparison is not None and not args.quiet:
        print_result(viewer.comparison.summary())
        if viewer.comparison.mode == "upscale":
            print_result("as a file: " + session.upscale_command(viewer.roi, viewer.scale, viewer.models[viewer.model]))
    if args.save is None:
        plt.show()
        return 0
    try:
        written = viewer.save(args.save, overwrite=args.overwrite)
    except (OutputPathError, ValueError, OSError) as err:
        return fail(err)
    if not args.quiet:
        print_result(f"wrote {written}")
    return 0 if viewer.error is None else 1


def add_command(commands: Any) -> None:
    """Add the command to ``commands``, the ``rmisr`` parser's subparsers (``add_subparsers()``)."""
    view = commands.add_parser(
        "view",
        help="the viewer: select a region with the mouse, compare bicubic and a model, check a model",
        description=(
            "Open INPUT in the viewer: drag a rectangle to super-resolve that region; choose the model, the "
            "mode and the scale on the left. 'check' mode takes the region as the truth, degrades it with "
            "MATLAB bicubic and scores bicubic and the model (PSNR, SSIM, Laplacian-map PSNR: the benchmark "
            "protocol). With --save the figure is written to a file and no window opens (no screen needed); "
            "the exit code is then 1 if the comparison failed. Bad arguments or input: exit code 2."
        ),
    )
    view.add_argument("input", help="DICOM file, DICOM series folder, NIfTI, PNG/JPEG/TIFF/BMP")
    add_series_argument(view)
    view.add_argument("--scale", default="2", help="up-sampling factor (default 2)")
    view.add_argument("--model", default="auto", help="'auto' (default), a registry name or a checkpoint path")
    view.add_argument("--mode", choices=("upscale", "check"), default="upscale", help="the first mode")
    view.add_argument("--roi", default=None, metavar="x0,y0,x1,y1", help="the first region (default: central 128x128)")
    view.add_argument(
        "--slice", type=int, default=None, help="volumes: the slice shown first, from 1 (default: the middle one)"
    )
    view.add_argument(
        "--volume",
        type=int,
        default=None,
        help="images of several volumes (a 4-D NIfTI, e.g. fMRI time points): the volume shown first, from 1 "
        "(default 1)",
    )
    view.add_argument(
        "--window",
        default="auto",
        help="display window: auto (the DICOM window, else 0.5-99.5 percentiles), full, lung, soft_tissue, bone, "
        "brain or CENTRE,WIDTH (display only)",
    )
    view.add_argument(
        "--save",
        default=None,
        type=path_argument,
        metavar="FIGURE",
        help="write the figure (.png, .pdf, .svg); no window",
    )
    view.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    view.add_argument("--overwrite", action="store_true", help="replace FIGURE if it exists")
    view.add_argument("-q", "--quiet", action="store_true", help="no messages")
    view.set_defaults(run=_view)
