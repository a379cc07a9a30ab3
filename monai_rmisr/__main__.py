"""Command line: ``rmisr`` or ``python -m monai_rmisr``."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import warnings
from collections.abc import Callable, Iterator

from ._version import __version__

__all__ = ["main"]


def _info(_: argparse.Namespace) -> int:
    import monai
    import torch

    from .inference.pretrained import PRETRAINED, models_dir, pretrained_path
    from .networks import nets

    print(f"monai-rmisr {__version__} (torch {torch.__version__}, MONAI {monai.__version__})")
    print(f"shipped models (rmisr upscale --model NAME), weights files in {models_dir()}:")
    print(f"{'name':<14} {'scale':<8} {'weights':<8} description")
    for name, entry in PRETRAINED.items():
        scale = f"x{entry.scale:g}" if entry.scale is not None else f"(1,{entry.max_scale:g}]"
        weights = "present" if pretrained_path(name).is_file() else "missing"
        print(f"{name:<14} {scale:<8} {weights:<8} {entry.description}")
    print()
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


@contextlib.contextmanager
def _collected_warnings() -> Iterator[Callable[[], list[str]]]:
    """Python warnings and WARNING records of pydicom's and monai_rmisr's loggers, kept instead of printed.

    Yields a function that returns them so far, one line each and without repeats (pydicom logs and
    warns the same text), so that a command can fold them into its one error line or print them
    after its result.
    """
    logged: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logged.append(record.getMessage())

    handler = Keep(logging.WARNING)
    loggers = [logging.getLogger(name) for name in ("pydicom", "monai_rmisr")]
    propagate = [logger.propagate for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.propagate = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield lambda: list(dict.fromkeys(" ".join(str(t).split()) for t in [*logged, *(w.message for w in caught)]))
    finally:
        for logger, flag in zip(loggers, propagate):
            logger.removeHandler(handler)
            logger.propagate = flag


def _upscale(args: argparse.Namespace) -> int:
    with _collected_warnings() as notes:
        code = _upscale_run(args, notes)
        if code == 0 and not args.quiet:
            for note in notes():
                print(f"rmisr upscale: warning: {note}", file=sys.stderr)
    return code


def _upscale_run(args: argparse.Namespace, notes: Callable[[], list[str]]) -> int:
    from pathlib import Path

    from .inference.settings import check_scale_text
    from .inference.upscale import Upscaler, distributed_rank, find_inputs, upscale_batch
    from .io.writers import check_output, output_name

    def fail(err: BaseException, code: int = 2) -> int:
        text = " ".join(str(err).split())  # one line, whatever the message held
        folded = "; ".join(notes())
        if folded:
            text += f" (warnings: {folded if len(folded) <= 300 else folded[:297] + '...'})"
        print(f"rmisr upscale: error: {text}", file=sys.stderr)
        return code

    try:
        scale = check_scale_text(args.scale)
        source = Path(args.input)
        if not source.exists():
            raise FileNotFoundError(f"input '{source}' does not exist.")
        rank, world_size, local_rank = distributed_rank()
        device = args.device
        if device == "cuda" and world_size > 1:
            device = f"cuda:{local_rank}"
        items = find_inputs(source) if source.is_dir() else [source]
        if not items:
            raise ValueError(f"found no images under '{source}' (DICOM, NIfTI, PNG, JPEG, TIFF, BMP).")
        batch = source.is_dir() and items != [source]
        output = Path(args.output)
        if not batch and source.is_file() and output.is_dir():  # like cp: a file into a folder
            output = output / output_name(source)
        if not batch:
            check_output(output, source, args.overwrite)
        upscaler = Upscaler(
            scale,
            model=args.model,
            tile=args.tile,
            axis=args.axis,
            device=device,
            roi=args.roi,
            self_ensemble=args.self_ensemble,
            precision=args.precision,
            skip_bad_slices=args.skip_bad_slices,
            progress=not (batch or args.quiet),  # a batch has its own bar, of images
        )
    except (ValueError, FileNotFoundError, OSError) as err:
        return fail(err)

    if batch:
        try:
            report = upscale_batch(
                upscaler,
                source,
                args.output,
                items=items,
                overwrite=args.overwrite,
                rank=rank,
                world_size=world_size,
                progress=not args.quiet,
            )
        except ValueError as err:
            return fail(err)
        print(("" if world_size == 1 else f"rank {rank}: ") + report.summary())
        return 1 if report.failed else 0
    try:
        written = upscaler.file(source, output, overwrite=args.overwrite)
    except (ValueError, FileNotFoundError, OSError) as err:
        return fail(err)
    if not args.quiet:
        print(f"wrote {written} (x{scale:g}, model {upscaler.model_name}, axis {args.axis})")
    return 0


def _view(args: argparse.Namespace) -> int:
    import matplotlib

    from .inference.settings import check_scale_text
    from .io import ImageReadError
    from .io.output import OutputPathError

    def fail(err: BaseException) -> int:
        print(f"rmisr view: error: {err}", file=sys.stderr)
        return 2

    if args.save is not None:
        matplotlib.use("agg")  # a file, no window: works with no screen
    from matplotlib import pyplot as plt

    from .viewer import SRViewer, ViewerSession

    if args.save is None and plt.get_backend().lower() in ("agg", "cairo", "pdf", "pgf", "ps", "svg", "template"):
        return fail(
            RuntimeError(
                f"no screen for a window (matplotlib backend {plt.get_backend()!r}; on Linux $DISPLAY is unset or "
                "tkinter is missing); render to a file with --save FIGURE.png, or set MPLBACKEND (e.g. QtAgg)."
            )
        )
    try:
        scale = check_scale_text(args.scale)
        session = ViewerSession(args.input, device=args.device)
        if args.slice is not None:
            if not 1 <= args.slice <= session.depth:
                raise ValueError(f"--slice {args.slice} is not a slice of '{args.input}' (1 to {session.depth}).")
            session.set_slice(args.slice - 1)
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
    except (ValueError, FileNotFoundError, ImageReadError, OSError) as err:
        return fail(err)
    if viewer.error is not None:
        print(f"rmisr view: {viewer.error}", file=sys.stderr)
    if viewer.comparison is not None and not args.quiet:
        print(viewer.comparison.summary())
        if viewer.comparison.mode == "upscale":
            print("as a file: " + session.upscale_command(viewer.roi, viewer.scale, viewer.models[viewer.model]))
    if args.save is None:
        plt.show()
        return 0
    try:
        written = viewer.save(args.save, overwrite=args.overwrite)
    except (OutputPathError, ValueError, OSError) as err:
        return fail(err)
    if not args.quiet:
        print(f"wrote {written}")
    return 0 if viewer.error is None else 1


def _pacs(args: argparse.Namespace) -> int:
    import logging

    from .inference.settings import check_scale_text
    from .inference.upscale import Upscaler
    from .pacs import PacsError, connect, study_series, super_resolve_series, watch

    def fail(err: BaseException, code: int) -> int:
        print(f"rmisr pacs: error: {err}", file=sys.stderr)
        return code

    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("dicomweb_client").setLevel(logging.WARNING)  # its INFO lines carry query URLs
    try:
        if args.watch and args.state is None:
            raise ValueError("--watch needs --state FILE (what was done, so that a restart repeats nothing).")
        if not args.watch and args.study is None:
            raise ValueError("give --study UID (and optionally --series UID), or --watch.")
        if args.series is not None and args.study is None:
            raise ValueError("--series needs --study.")
        scale = check_scale_text(args.scale)
        client = connect(args.url, ca_bundle=args.ca_bundle, timeout=args.timeout, retries=args.retries)
        upscaler = Upscaler(scale, model=args.model, tile=args.tile, device=args.device)
    except (ValueError, FileNotFoundError, ImportError, OSError) as err:
        return fail(err, 2)
    try:
        if args.watch:
            state = watch(
                client,
                upscaler,
                args.state,
                study=args.study,
                modalities=args.modality or (),
                interval=args.interval,
                queue_size=args.queue_size,
                max_attempts=args.max_attempts,
            )
            failed = [uid for uid, entry in state.series.items() if entry["status"] == "failed"]
            return 1 if failed else 0
        series = [args.series] if args.series is not None else study_series(client, args.study)
        if not series:
            raise PacsError(f"study {args.study} has no image series to super-resolve.")
        for series_uid in series:
            for new_uid in super_resolve_series(client, upscaler, args.study, series_uid):
                print(new_uid, flush=True)
    except ValueError as err:
        return fail(err, 2)
    except (PacsError, RuntimeError, OSError) as err:
        return fail(err, 1)
    return 0


def _export_corpus(args: argparse.Namespace) -> int:
    from .data.export import DEFAULT_VAL_NAMES, export_corpus

    val_names = DEFAULT_VAL_NAMES if args.val_names is None else args.val_names
    try:
        datalist = export_corpus(
            args.output,
            natural=not args.no_natural,
            extra=args.extra,
            val_names=val_names,
            ultrasound_frames=args.ultrasound_frames,
            val_synthetic=args.val_synthetic,
        )
    except (FileExistsError, FileNotFoundError, ValueError, RuntimeError, OSError) as err:
        print(f"rmisr export-corpus: error: {err}", file=sys.stderr)
        return 2
    entries = json.loads(datalist.read_text())
    print(f"wrote {datalist} ({len(entries['training'])} training, {len(entries['validation'])} validation images)")
    return 0


def _average_weights(args: argparse.Namespace) -> int:
    import torch

    from .engines import average_checkpoints
    from .io.output import atomic_output, check_output_path

    try:
        output = check_output_path(args.output, args.checkpoints, args.overwrite)
        averaged = average_checkpoints(args.checkpoints)
        with atomic_output(output) as temporary:
            torch.save(averaged, temporary)
    except (ValueError, FileNotFoundError, OSError, RuntimeError) as err:
        print(f"rmisr average-weights: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {output} (the average of {len(args.checkpoints)} checkpoints)")
    return 0


TILE_HELP = (
    "LR tile size in pixels; 'auto' (default): images too large for a 768 MiB working-memory budget are tiled "
    "(results within a few 1e-3 of the whole image), smaller ones run whole; 0: always the whole image"
)


def _tile_argument(text: str) -> int | str | None:
    """``--tile``: ``"auto"``, ``0`` (None: the whole image) or a size (checked by the Upscaler)."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto', 0 (whole image) or a size, got {text!r}") from None
    return None if value == 0 else value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rmisr", description="RMISR medical image super-resolution (MONAI plugin).")
    parser.add_argument("--version", action="version", version=f"monai-rmisr {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "info", help="versions, the shipped models (and whether their weights are here), every network's size"
    ).set_defaults(run=_info)
    commands.add_parser("demo", help="run the demo on the embedded images").set_defaults(run=_demo)
    upscale = commands.add_parser(
        "upscale",
        help="super-resolve a DICOM file or series, NIfTI, PNG/JPEG/TIFF, or a folder of them",
        description=(
            "Super-resolve INPUT and write OUTPUT in the input's format (DICOM: a new derived series). "
            "A folder of several images is a batch: OUTPUT is then a folder, existing outputs are skipped, "
            "failures are listed at the end (exit code 1); under torchrun each process takes its share. "
            "Bad arguments or a bad single input: exit code 2 and no output."
        ),
    )
    upscale.add_argument(
        "input", help="DICOM file, DICOM series folder, NIfTI, PNG/JPEG/TIFF/BMP, or a folder of these"
    )
    upscale.add_argument("-o", "--output", required=True, help="output file, series folder, or folder (batch)")
    upscale.add_argument(
        "--scale", required=True, help="up-sampling factor > 1 (dedicated models: 2, 3, 4; meta: up to 8)"
    )
    upscale.add_argument(
        "--model",
        default="auto",
        help="'auto' (default), 'bicubic' (the baseline), a registry name (rmisr info) or a checkpoint path",
    )
    upscale.add_argument(
        "--roi", default=None, metavar="x0,y0,x1,y1", help="super-resolve only this region (pixels, x = column)"
    )
    upscale.add_argument("--tile", type=_tile_argument, default="auto", metavar="N", help=TILE_HELP)
    upscale.add_argument(
        "--axis", choices=("xy", "z"), default="xy", help="xy: in-plane (default); z: add slices (volumes)"
    )
    upscale.add_argument(
        "--self-ensemble",
        action="store_true",
        help="average the network's outputs over 8 flips/rotations: slightly more faithful, 8x slower",
    )
    upscale.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    upscale.add_argument(
        "--precision",
        default="float32",
        help="the network's compute dtype: float32 (default), bfloat16 (where the CPU has AVX512-BF16 / AMX or the "
        "GPU bfloat16: 1.7x faster on an AVX512-BF16 CPU, docs/inference.md; refused where it would be emulated) "
        "or auto (bfloat16 where native)",
    )
    upscale.add_argument(
        "--skip-bad-slices",
        action="store_true",
        help="a DICOM series with broken slices: write one series from the readable ones, naming those left out "
        "(default: the series is refused)",
    )
    upscale.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    upscale.add_argument("-q", "--quiet", action="store_true", help="no progress bars (tiles, batch) or messages")
    upscale.set_defaults(run=_upscale)
    pacs = commands.add_parser(
        "pacs",
        help="pull a series from a PACS (DICOMweb), super-resolve it, store the derived series back",
        description=(
            "Retrieve a series (WADO-RS), super-resolve it as 'rmisr upscale' does and store the derived series "
            "in the same study (STOW-RS); prints each new SeriesInstanceUID. Without --series: every image "
            "series of the study that monai-rmisr did not derive. --watch polls for new series until SIGTERM. "
            "Credentials: MONAI_RMISR_PACS_TOKEN, or MONAI_RMISR_PACS_USER + MONAI_RMISR_PACS_PASSWORD, or "
            "~/.netrc; never in the URL. docs/pacs.md. Exit codes: 2 bad arguments, 1 the PACS failed."
        ),
    )
    pacs.add_argument("--url", required=True, help="DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web")
    pacs.add_argument("--study", default=None, metavar="UID", help="StudyInstanceUID")
    pacs.add_argument("--series", default=None, metavar="UID", help="SeriesInstanceUID (default: all of the study)")
    pacs.add_argument("--scale", required=True, help="up-sampling factor > 1 (as rmisr upscale)")
    pacs.add_argument("--model", default="auto", help="as rmisr upscale --model")
    pacs.add_argument("--tile", type=_tile_argument, default="auto", metavar="N", help=TILE_HELP)
    pacs.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    pacs.add_argument("--ca-bundle", default=None, metavar="PEM", help="certificate authorities for https://")
    pacs.add_argument("--timeout", type=float, default=60.0, metavar="S", help="seconds per HTTP request (60)")
    pacs.add_argument(
        "--retries", type=int, default=4, metavar="N", help="HTTP retries per request, after 2, 4, 8, ... s (4)"
    )
    pacs.add_argument("--watch", action="store_true", help="poll for new series until SIGTERM / Ctrl-C")
    pacs.add_argument("--state", default=None, metavar="FILE", help="--watch: state file (JSON) of what was done")
    pacs.add_argument("--modality", nargs="+", default=None, metavar="M", help="--watch: only these modalities")
    pacs.add_argument("--interval", type=float, default=30.0, metavar="S", help="--watch: seconds between polls (30)")
    pacs.add_argument("--queue-size", type=int, default=16, metavar="N", help="--watch: series taken per poll (16)")
    pacs.add_argument("--max-attempts", type=int, default=5, metavar="N", help="--watch: tries per series (5)")
    pacs.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    pacs.set_defaults(run=_pacs)
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
    view.add_argument("--scale", default="2", help="up-sampling factor (default 2)")
    view.add_argument("--model", default="auto", help="'auto' (default), a registry name or a checkpoint path")
    view.add_argument("--mode", choices=("upscale", "check"), default="upscale", help="the first mode")
    view.add_argument("--roi", default=None, metavar="x0,y0,x1,y1", help="the first region (default: central 128x128)")
    view.add_argument(
        "--slice", type=int, default=None, help="volumes: the slice shown first, from 1 (default: the middle one)"
    )
    view.add_argument(
        "--window",
        default="auto",
        help="display window: auto (the DICOM window, else 0.5-99.5 percentiles), full, lung, soft_tissue, bone, "
        "brain or CENTRE,WIDTH (display only)",
    )
    view.add_argument("--save", default=None, metavar="FIGURE", help="write the figure (.png, .pdf, .svg); no window")
    view.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    view.add_argument("--overwrite", action="store_true", help="replace FIGURE if it exists")
    view.add_argument("-q", "--quiet", action="store_true", help="no messages")
    view.set_defaults(run=_view)
    export = commands.add_parser(
        "export-corpus",
        help="write the embedded training corpus as NIfTI files + dataset.json (for a machine without it)",
        description=(
            "Write the TRAIN split (validation images in their own list), the NATURAL split and, with "
            "--extra, the EXTRA split of the embedded corpus as 2-D NIfTI files with a MONAI datalist; "
            "train from it with --dataset_dir OUTPUT --dataset_preset datalist. OUTPUT must not exist yet."
        ),
    )
    export.add_argument("output", help="a new folder")
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
        help="procedural validation images (default 1, the bundle's val_synthetic_images)",
    )
    export.set_defaults(run=_export_corpus)
    average = commands.add_parser(
        "average-weights",
        help="average the network weights of several checkpoints of one training run",
        description=(
            "Write the uniform average of the network weights in CHECKPOINT... to OUTPUT (a state dict that "
            "--model, load_pretrained and --init_weights read). Use checkpoints of one run at a constant learning "
            "rate; keep them with the bundle's --keep_checkpoints. Errors: exit code 2, nothing written."
        ),
    )
    average.add_argument("output", help="the averaged weights, a new .pt file")
    average.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT", help="checkpoint or state-dict files")
    average.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    average.set_defaults(run=_average_weights)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
