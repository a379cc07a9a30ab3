"""``rmisr listen``: a DICOM listener (C-STORE SCP) that super-resolves each series it receives and sends it on."""

from __future__ import annotations

import argparse
from typing import Any

from .common import add_derivation_arguments, derivation_upscaler, path_argument, report_error, service_logging

__all__ = ["add_command"]


def _listen(args: argparse.Namespace) -> int:
    from ..pacs import listen, parse_dicom_node

    service_logging(args.quiet, "pynetdicom")  # its INFO lines describe every association
    try:
        forward = parse_dicom_node(args.forward)
        upscaler = derivation_upscaler(args)
        result = listen(
            upscaler,
            args.spool,
            forward,
            host=args.host,
            port=args.port,
            ae_title=args.ae_title,
            allowed_callers=args.allow_ae or (),
            series_timeout=args.series_timeout,
            resend_wait=args.resend_wait,
            max_attempts=args.max_attempts,
            timeout=args.timeout,
            remember_days=args.remember_days,
            max_instances=args.max_instances,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            tls_ca=args.tls_ca,
            forward_tls=args.forward_tls,
            forward_tls_ca=args.forward_tls_ca,
        )
    except (ValueError, FileNotFoundError, ImportError) as err:
        return report_error("listen", err)
    except OSError as err:  # the spool cannot be written
        return report_error("listen", err, 1)
    return 1 if result.failed else 0


def add_command(commands: Any) -> None:
    """Add the command to ``commands``, the ``rmisr`` parser's subparsers (``add_subparsers()``)."""
    command = commands.add_parser(
        "listen",
        help="DICOM listener (C-STORE SCP): super-resolve each series sent to it, send the result on (C-STORE)",
        description=(
            "Receive series over DICOM (DIMSE C-STORE) as AE --ae-title on --host:--port, keep them in --spool, "
            "and once a series has received nothing for --series-timeout seconds, super-resolve it as 'rmisr "
            "upscale' does and send the derived series to --forward. Restart-safe (the spool is the state); "
            "SIGTERM / Ctrl-C stop after the series in hand. docs/pacs.md. Exit codes: 2 bad arguments, "
            "1 some series failed (kept under SPOOL/failed/)."
        ),
    )
    command.add_argument(
        "--forward", required=True, metavar="AET@HOST:PORT", help="where derived series go, e.g. PACS@10.0.0.5:104"
    )
    command.add_argument(
        "--spool", required=True, type=path_argument, metavar="DIR", help="the listener's folder (created)"
    )
    add_derivation_arguments(command)
    command.add_argument("--ae-title", default="RMISR", metavar="AET", help="the listener's AE title (RMISR)")
    command.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (127.0.0.1; 0.0.0.0 for every interface)"
    )
    command.add_argument("--port", type=int, default=11112, help="TCP port (11112)")
    command.add_argument(
        "--allow-ae", nargs="+", default=None, metavar="AET", help="accept associations only from these AE titles"
    )
    command.add_argument(
        "--series-timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds (> 0) without a new instance after which a series is complete (30)",
    )
    command.add_argument(
        "--resend-wait",
        type=float,
        default=1800.0,
        metavar="S",
        help="seconds a series whose transfer was cut off (an instance lost mid-way) waits to be sent again before "
        "it moves to SPOOL/failed/ underived (1800; at least --series-timeout)",
    )
    command.add_argument(
        "--max-attempts", type=int, default=5, metavar="N", help="tries per series, counted across restarts (5)"
    )
    command.add_argument(
        "--max-instances",
        type=int,
        default=None,
        metavar="N",
        help="give up a series of more than N image instances without deriving it (no limit by default)",
    )
    command.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds a peer may take to answer or stay silent: --forward, and senders (60)",
    )
    command.add_argument(
        "--remember-days",
        type=float,
        default=30.0,
        metavar="D",
        help="days a series sent on is remembered: the same instances received again are not derived again (30; "
        "0: always derive)",
    )
    tls = command.add_argument_group("DICOM over TLS (docs/pacs.md)")
    tls.add_argument("--tls-cert", metavar="PEM", help="this node's certificate (chain): the port then speaks TLS only")
    tls.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")
    tls.add_argument(
        "--tls-ca",
        metavar="PEM",
        help="CA certificates: senders must present a certificate they issued; --forward-tls verifies against them",
    )
    tls.add_argument(
        "--forward-tls",
        action="store_true",
        help="send to --forward over TLS (its certificate verified against --forward-tls-ca, else --tls-ca, else the "
        "system's CAs)",
    )
    tls.add_argument(
        "--forward-tls-ca",
        metavar="PEM",
        help="CA certificates the --forward-tls destination is verified against, where they are not --tls-ca's",
    )
    command.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    command.set_defaults(run=_listen)
