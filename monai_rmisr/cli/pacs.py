"""``rmisr pacs``: DICOMweb retrieve, super-resolve, store; ``--watch``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .common import (
    add_derivation_arguments,
    derivation_upscaler,
    path_argument,
    print_result,
    report_error,
    service_logging,
)

__all__ = ["MIN_INTERVAL", "add_command"]

#: The shortest ``--watch --interval``: a poll a second is already more than a PACS needs.
MIN_INTERVAL = 1.0
#: The options of ``--watch`` runs and their defaults (None on the command line: a one-shot run refuses them).
WATCH_DEFAULTS = {
    "state": None,
    "modality": None,
    "interval": 30.0,
    "queue_size": 16,
    "max_attempts": 5,
    "settle": 60.0,
}


def _pacs(args: argparse.Namespace) -> int:
    from ..pacs import (
        PacsError,
        SeriesTooLargeError,
        check_series_in_study,
        connect,
        earlier_derivation,
        is_source_series,
        study_derivations,
        study_series,
        super_resolve_series,
        watch,
    )
    from ..pacs.service import check_count, check_seconds, is_dicom_uid

    service_logging(args.quiet, "dicomweb_client")  # its INFO lines carry query URLs
    try:
        for name in ("study", "series"):
            uid = getattr(args, name)
            if uid is not None and not is_dicom_uid(uid):
                raise ValueError(f"--{name} {uid!r} is not a DICOM UID (digits and dots, at most 64 characters).")
        watch_only = [f"--{name.replace('_', '-')}" for name in WATCH_DEFAULTS if getattr(args, name) is not None]
        if not args.watch and watch_only:  # they would be ignored
            raise ValueError(f"{', '.join(watch_only)} {'is' if len(watch_only) == 1 else 'are'} for --watch runs.")
        for name, default in WATCH_DEFAULTS.items():
            if getattr(args, name) is None:
                setattr(args, name, default)
        if args.watch and args.state is None:
            raise ValueError("--watch needs --state FILE (what was done, so that a restart repeats nothing).")
        if not args.watch and args.study is None:
            raise ValueError("give --study UID (and optionally --series UID), or --watch.")
        if args.series is not None and args.study is None:
            raise ValueError("--series needs --study.")
        if args.max_instances is not None:
            check_count(args.max_instances, "max-instances")
        if args.watch and args.again:
            raise ValueError("--again is for one-shot runs (--watch keeps its own record, in --state).")
        if args.watch and not args.interval >= MIN_INTERVAL:  # 0 polled a PACS 55 times a second
            raise ValueError(f"--interval must be at least {MIN_INTERVAL:g} second(s), got {args.interval:g}.")
        check_seconds(args.settle, "settle")
        upscaler = derivation_upscaler(args)
        client = connect(args.url, ca_bundle=args.ca_bundle, timeout=args.timeout, retries=args.retries)
    except (ValueError, FileNotFoundError, ImportError, OSError) as err:
        return report_error("pacs", err)
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
                max_instances=args.max_instances,
                settle=args.settle,
            )
            failed = [uid for uid, entry in state.series.items() if entry["status"] == "failed"]
            return 1 if failed else 0
        if args.series is not None:
            check_series_in_study(client, args.study, args.series)
            if not is_source_series(client, args.study, args.series):
                raise ValueError(
                    f"--series {args.series} is not a series to super-resolve: monai-rmisr derived it, or it holds no "
                    "images to super-resolve (a report, a segmentation, an RT dose, floating-point pixels)."
                )
        series = [args.series] if args.series is not None else study_series(client, args.study)
        if not series:
            raise PacsError(f"study {args.study} has no image series to super-resolve.")
        left_out, failed = [], []
        derivations = {} if args.again else study_derivations(client, upscaler, args.study)  # read once
        for series_uid in series:
            earlier = earlier_derivation(client, args.study, series_uid, derivations)
            if earlier:  # their UIDs, as if just made: a script gets the derived series either way
                print_result("\n".join(earlier))
                continue
            try:
                new_uids = super_resolve_series(
                    client, upscaler, args.study, series_uid, max_instances=args.max_instances
                )
            except SeriesTooLargeError as err:  # the others of a study still go on
                print(f"rmisr pacs: {err}", file=sys.stderr, flush=True)
                left_out.append(series_uid)
                continue
            except PacsError:  # the PACS failed or refused (a RuntimeError too): the run ends, exit 1
                raise
            except (ValueError, RuntimeError) as err:  # this series' images (a broken slice): the others go on
                print(f"rmisr pacs: series {series_uid} not derived: {err}", file=sys.stderr, flush=True)
                failed.append(series_uid)
                continue
            for new_uid in new_uids:
                print_result(new_uid)
        if left_out and len(left_out) == len(series):
            raise PacsError(f"every series was left out by --max-instances {args.max_instances}; nothing derived.")
        if failed:
            raise PacsError(f"{len(failed)} of {len(series)} series not derived (above): {', '.join(failed)}.")
    except ValueError as err:
        return report_error("pacs", err)
    except (PacsError, RuntimeError, OSError) as err:
        return report_error("pacs", err, 1)
    return 0


def add_command(commands: Any) -> None:
    """Add the command to ``commands``, the ``rmisr`` parser's subparsers (``add_subparsers()``)."""
    pacs = commands.add_parser(
        "pacs",
        help="pull a series from a PACS (DICOMweb), super-resolve it, store the derived series back",
        description=(
            "Retrieve a series (WADO-RS), super-resolve it as 'rmisr upscale' does and store the derived series "
            "in the same study (STOW-RS); prints each new SeriesInstanceUID. Without --series: every image "
            "series of the study that monai-rmisr did not derive. A series derived before the same way (same "
            "package version, model and weights (SHA-256), scale, axis, region, self-ensemble and precision) is not "
            "derived again: its derived series UID is printed (--again "
            "derives it anew). --watch polls for new series until SIGTERM. "
            "Credentials: MONAI_RMISR_PACS_TOKEN, or MONAI_RMISR_PACS_USER + MONAI_RMISR_PACS_PASSWORD, or "
            "~/.netrc; never in the URL. docs/pacs.md. Exit codes: 2 bad arguments, 1 the PACS failed."
        ),
    )
    pacs.add_argument("--url", required=True, help="DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web")
    pacs.add_argument("--study", default=None, metavar="UID", help="StudyInstanceUID")
    pacs.add_argument("--series", default=None, metavar="UID", help="SeriesInstanceUID (default: all of the study)")
    add_derivation_arguments(pacs)
    pacs.add_argument("--ca-bundle", default=None, metavar="PEM", help="certificate authorities for https://")
    pacs.add_argument("--timeout", type=float, default=60.0, metavar="S", help="seconds per HTTP request (60)")
    pacs.add_argument(
        "--retries", type=int, default=4, metavar="N", help="HTTP retries per request, after 2, 4, 8, ... s (4)"
    )
    pacs.add_argument(
        "--again",
        action="store_true",
        help="derive and store a series again even where the study holds its derived series made the same way",
    )
    pacs.add_argument(
        "--max-instances",
        type=int,
        default=None,
        metavar="N",
        help="leave out a series of more than N image instances (no limit by default; a watcher skips it for good)",
    )
    pacs.add_argument("--watch", action="store_true", help="poll for new series until SIGTERM / Ctrl-C")
    pacs.add_argument(
        "--state", default=None, type=path_argument, metavar="FILE", help="--watch: state file (JSON) of what was done"
    )
    pacs.add_argument("--modality", nargs="+", default=None, metavar="M", help="--watch: only these modalities")
    pacs.add_argument(
        "--interval", type=float, default=None, metavar="S", help="--watch: seconds between polls (30; at least 1)"
    )
    pacs.add_argument("--queue-size", type=int, default=None, metavar="N", help="--watch: series taken per poll (16)")
    pacs.add_argument("--max-attempts", type=int, default=None, metavar="N", help="--watch: tries per series (5)")
    pacs.add_argument(
        "--settle",
        type=float,
        default=None,
        metavar="S",
        help="--watch: take a new series once its instance count has not changed for S seconds (60; 0: at once)",
    )
    pacs.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    pacs.set_defaults(run=_pacs)
