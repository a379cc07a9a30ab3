"""``rmisr listen``: a DICOM listener (C-STORE SCP) that super-resolves the series sent to it.

A PACS routing rule or a modality sends series to the listener's AE title (DIMSE C-STORE; C-ECHO is
answered too). Each image instance is written to ``SPOOL/incoming/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``
as it arrives. A series that has received nothing for ``series_timeout`` seconds is taken as complete
(as Orthanc's "stable series"): its folder moves to ``SPOOL/work/<series>.<n>/source``, goes through
exactly what ``rmisr upscale SERIES_FOLDER`` does (:func:`~monai_rmisr.pacs.roundtrip.derive_folder`)
into ``derived/``, and the derived series is sent to the destination AE (C-STORE SCU,
:func:`send_files`); then the work folder is moved to ``SPOOL/trash/`` and removed.

Restart-safe: the spool is the state, and every step that changes it is one rename. A listener started
again on the same spool takes up the incoming series (stable once their newest file is
``series_timeout`` old), derives again a series whose derivation was cut short (no ``derived.complete``
marker), and sends again a derived series the destination has not confirmed (the same SOP instances,
which an archive keeps once). A series whose transfer was cut off (an association ended while an instance was
arriving: the sender aborted or the connection was lost, or the listener stopped or was killed) is recorded as
such (``interrupted.json`` in its folder): it is derived once the lost instance comes again (or, where which one was
lost is not known, once a later association sends the series), else it moves to ``failed/`` after
``resend_wait``. A lock file keeps a second listener off a spool in use. Tries are counted across
restarts (``tries.json`` in the work folder, written as each try starts), so a series that stops the listener each
time it is derived is given up after ``max_attempts`` of them.

A series sent on leaves a record, ``SPOOL/done/<SeriesInstanceUID>.<digest>.json`` (a digest of its SOP Instance
UIDs, the derivation settings with a digest of the model's weights, the derived series UIDs). The same instances sent
again with the same settings (a routing rule that fires twice, a modality that repeats a transfer) are then not
derived a second time: the destination would otherwise get a second, identical derived series. Other instances
(more or fewer, a late part of a series) or other settings are derived again. Records older than
``remember_days`` are removed (at start and hourly); removing a record by hand makes the next copy of its
instances derived again. The marker of a kept derivation holds its settings: a listener restarted with another
model or scale derives the series again rather than sending what the old settings made.

DICOM over TLS (PS3.15 Annex B; BCP 195): with ``tls_cert`` and ``tls_key`` the listening port speaks TLS (1.2 or
later) only, and with ``tls_ca`` every sender must present a certificate issued by that CA; with ``forward_tls`` the
destination is reached over TLS, its certificate verified against ``forward_tls_ca`` (else ``tls_ca``, else the
system's CAs) and its host name, this node's certificate presented where it has one. Python's :mod:`ssl` does the TLS.

Uses the maintained `pynetdicom <https://pydicom.github.io/pynetdicom/>`_ (``pip install
"monai-rmisr[pacs]"``).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shutil
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..io import ImageReadError
from ..io.dicom import check_pixel_data
from ..io.output import make_private
from ..io.pydicom_messages import read_dataset
from .connection import PacsError
from .roundtrip import dataset_has_image, dataset_is_derived_by_us, derive_folder, derived_files, series_uids
from .service import (
    MAX_NETWORK_TIMEOUT,
    check_count,
    check_seconds,
    install_signal_handlers,
    is_dicom_uid,
    retry_delay,
    write_json_atomically,
)

__all__ = [
    "STATUS_CANNOT_UNDERSTAND",
    "STATUS_OUT_OF_RESOURCES",
    "STATUS_SUCCESS",
    "DicomNode",
    "ListenerResult",
    "accepted_transfer_syntaxes",
    "check_ae_title",
    "check_port",
    "listen",
    "parse_dicom_node",
    "send_files",
    "tls_contexts",
]

logger = logging.getLogger(__name__)

#: DIMSE status: success; "cannot understand" (a refused instance); out of resources (the spool cannot be written).
STATUS_SUCCESS, STATUS_CANNOT_UNDERSTAND, STATUS_OUT_OF_RESOURCES = 0x0000, 0xC000, 0xA700

_AE_TITLE = re.compile(r"[\x20-\x5b\x5d-\x7e]{1,16}")  # PS3.5 AE: 16 characters at most, no backslash or controls
_NODE = re.compile(r"(?P<ae>.+)@(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(?P<port>[0-9]{1,5})")
_DONE_MARKER = "derived.complete"
_REFUSED_FILE = "refused.jsonl"  # in a series' folder: the instances refused when they came, one JSON line each
_INTERRUPTED_FILE = "interrupted.json"  # in a series' folder: its transfers cut off (:func:`_cuts`)
_RECEIVING_PREFIX = ".receiving-"  # in an incoming series' folder: an instance arriving (most likely) into it
_STOPPED = "the listener stopped (or was killed) while an instance was arriving"
_C_STORE_RQ = 0x0001  # a DIMSE command set's CommandField
_SERIES_INSTANCE_UID = 0x0020000E
#: how much of an arriving data set is read for its SeriesInstanceUID, as received and (a deflated one) inflated: it
#: comes before group 0020's end, after elements rarely more than a few kB (private ones, referenced-image lists)
_HEAD_LIMIT = 256 << 10
_TRIES_FILE = "tries.json"  # in a work folder: the tries started, so that a restart does not start the count again
_PRUNE_EVERY = 3600.0  # seconds between removals of old done records


@dataclass(frozen=True)
class DicomNode:
    """A DICOM application entity on the network: its AE title, host and port."""

    ae_title: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.ae_title}@{host}:{self.port}"


def check_ae_title(text: Any, name: str) -> str:
    """``text`` if it is a valid AE title (1-16 printable characters, no backslash, not only spaces), stripped.

    Raises:
        ValueError: naming the option ``name``.
    """
    if not isinstance(text, str) or _AE_TITLE.fullmatch(text) is None or not text.strip():
        raise ValueError(f"{name} must be an AE title of 1-16 printable characters without '\\', got {text!r}.")
    return text.strip()


def check_port(port: Any, name: str) -> int:
    """``port`` if it is a TCP port number (1-65535).

    Raises:
        ValueError: naming the option ``name``.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"{name} must be a TCP port, 1-65535, got {port!r}.")
    return port


def parse_dicom_node(text: str, name: str = "--forward") -> DicomNode:
    """Parse ``AE_TITLE@HOST:PORT`` (e.g. ``ORTHANC@127.0.0.1:4242``; an IPv6 host in brackets).

    Raises:
        ValueError: naming the option ``name`` and the expected form.
    """
    match = _NODE.fullmatch(str(text))
    if match is None:
        raise ValueError(f"{name} must look like AE_TITLE@HOST:PORT (e.g. PACS@10.0.0.5:104), got {text!r}.")
    host = match["host"].strip("[]")
    return DicomNode(check_ae_title(match["ae"], name), host, check_port(int(match["port"]), name))


def accepted_transfer_syntaxes() -> list[str]:
    """The transfer syntaxes the listener accepts: the uncompressed ones, and every compressed one that pydicom
    can decode here (JPEG, JPEG-LS, JPEG 2000, RLE with the installed plugins), so a series is never accepted
    that cannot then be read."""
    from pydicom import uid
    from pydicom.pixels import get_decoder

    accepted = []
    for syntax in uid.AllTransferSyntaxes:
        if not syntax.is_compressed:
            accepted.append(syntax)
            continue
        try:
            if get_decoder(syntax).is_available:
                accepted.append(syntax)
        except NotImplementedError:
            continue
    return accepted


class _HandshakeInAssociation(ssl.SSLContext):
    """A server context whose sockets do their TLS handshake on their first read, in the association's own thread
    under its timeouts, not in pynetdicom's accept loop (where one silent connection would block every other
    sender, and the listener's stop, for as long as it stays open)."""

    def wrap_socket(self, sock: Any, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        kwargs["do_handshake_on_connect"] = False
        return super().wrap_socket(sock, *args, **kwargs)


def tls_contexts(
    cert: str | os.PathLike[str] | None = None,
    key: str | os.PathLike[str] | None = None,
    ca: str | os.PathLike[str] | None = None,
    forward_tls: bool = False,
    forward_ca: str | os.PathLike[str] | None = None,
) -> tuple[ssl.SSLContext | None, ssl.SSLContext | None]:
    """The TLS contexts of a listener: ``(listening, forwarding)``, each ``None`` where that side is plain TCP.

    Args:
        cert, key: this node's certificate chain and private key (PEM): the listening port then speaks TLS, and
            the certificate is presented to a TLS destination.
        ca: CA certificates (PEM): senders must present a certificate they issued (the listening side), and the
            destination's certificate is verified against them without ``forward_ca`` (with neither: against the
            system's CAs).
        forward_tls: reach the destination over TLS.
        forward_ca: CA certificates (PEM) the destination's certificate is verified against instead of ``ca``
            (a PACS under another CA than the senders', or a private CA for the destination on a port that
            asks senders for no certificate).

    Raises:
        ValueError: a file that cannot be loaded, or options that do not go together, naming the option.
    """
    if (cert is None) != (key is None):
        raise ValueError("--tls-cert and --tls-key go together (this node's certificate and its private key).")
    if forward_ca is not None and not forward_tls:
        raise ValueError("--forward-tls-ca needs --forward-tls (it verifies the destination's certificate).")
    if ca is not None and cert is None and (not forward_tls or forward_ca is not None):
        raise ValueError(
            "--tls-ca needs --tls-cert and --tls-key (a TLS port) or --forward-tls (without --forward-tls-ca)."
        )

    def load(context: ssl.SSLContext, cafile: str | os.PathLike[str] | None, option: str) -> ssl.SSLContext:
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if cert is not None:
            try:
                context.load_cert_chain(cert, key)
            except (OSError, ssl.SSLError) as err:
                raise ValueError(f"--tls-cert '{cert}' / --tls-key '{key}' cannot be loaded: {err}.") from None
        if cafile is not None:
            try:
                context.load_verify_locations(cafile=cafile)
            except (OSError, ssl.SSLError) as err:
                raise ValueError(f"{option} '{cafile}' cannot be loaded: {err}.") from None
        return context

    listening = None
    if cert is not None:
        listening = load(_HandshakeInAssociation(ssl.PROTOCOL_TLS_SERVER), ca, "--tls-ca")
        listening.verify_mode = ssl.CERT_REQUIRED if ca is not None else ssl.CERT_NONE
    forwarding = None
    if forward_tls:  # the destination's certificate and host name checked: against the CAs given only, where given
        client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if forward_ca is None and ca is None:
            client.load_default_certs(ssl.Purpose.SERVER_AUTH)
        own = forward_ca is not None
        forwarding = load(client, forward_ca if own else ca, "--forward-tls-ca" if own else "--tls-ca")
    return listening, forwarding


def _pynetdicom() -> Any:
    """The ``pynetdicom`` module, or an ImportError saying how to install it."""
    try:
        import pynetdicom
    except ImportError as err:
        raise ImportError(
            f"rmisr listen needs pynetdicom ({err}); install it with: pip install 'monai-rmisr[pacs]'"
        ) from err
    return pynetdicom


def send_files(
    node: DicomNode,
    files: Sequence[str | os.PathLike[str]],
    calling_ae_title: str,
    timeout: float = 60.0,
    tls: ssl.SSLContext | None = None,
) -> int:
    """Send DICOM files to ``node`` over one association (C-STORE); the number sent.

    Uncompressed files are offered in their own transfer syntax and in Implicit VR Little Endian (which every
    storage SCP accepts; pynetdicom converts); compressed files in their own. With ``tls`` (a client context,
    :func:`tls_contexts`) the association runs over TLS, the node's certificate checked against its host.

    Raises:
        PacsError: the node cannot be reached, refuses the association, a file's SOP class or transfer syntax,
            or an instance (its C-STORE status), or the association is lost.
    """
    import pydicom
    from pydicom.uid import ImplicitVRLittleEndian

    pynetdicom = _pynetdicom()
    if not files:
        raise PacsError("nothing to send: no derived instance was written.")
    contexts: dict[str, set[str]] = {}
    for path in files:
        meta = read_dataset(path, report=False, stop_before_pixels=True).file_meta
        syntax = pydicom.uid.UID(str(meta.TransferSyntaxUID))
        offered = contexts.setdefault(str(meta.MediaStorageSOPClassUID), set())
        offered.update([syntax, ImplicitVRLittleEndian] if not syntax.is_compressed else [syntax])
    ae = pynetdicom.AE(ae_title=calling_ae_title)
    ae.connection_timeout = ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    for sop_class, syntaxes in sorted(contexts.items()):
        ae.add_requested_context(sop_class, sorted(syntaxes))
    tls_args = (tls, node.host) if tls is not None else None
    assoc = ae.associate(node.host, node.port, ae_title=node.ae_title, tls_args=tls_args)
    if not assoc.is_established:
        check = ", and does its certificate verify against --forward-tls-ca or --tls-ca" if tls is not None else ""
        raise PacsError(
            f"{node} did not accept an association (is it running{' with TLS' if tls else ''}, does it know "
            f"{calling_ae_title}{check}?)"
        )
    try:
        for path in files:
            try:
                status = assoc.send_c_store(path)
            except (RuntimeError, ValueError, AttributeError) as err:  # association lost; no accepted context
                raise PacsError(f"sending {Path(path).name} to {node} failed: {err}") from err
            code = getattr(status, "Status", None)
            if code is None:
                raise PacsError(f"{node} did not answer a C-STORE (association lost or timed out).")
            if pynetdicom.status.code_to_category(code) not in ("Success", "Warning"):
                raise PacsError(f"{node} refused an instance: C-STORE status 0x{code:04X}.")
    finally:
        if assoc.is_established:
            assoc.release()
    return len(files)


@dataclass
class ListenerResult:
    """What a listener did: source series UIDs sent on (with their derived series), those given up (with the
    reason), and those received again unchanged and not derived again (with the derived series sent before)."""

    sent: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    repeated: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Policy:
    """How each series is handled: the model, the destination, and the listener's options."""

    upscaler: Any
    forward: DicomNode
    ae_title: str
    timeout: float
    max_attempts: int
    backoff: float
    remember: float
    forward_tls: ssl.SSLContext | None
    settings: dict[str, Any]  # _derivation_settings(upscaler), computed once
    max_instances: int | None = None
    resend_wait: float = 1800.0


@dataclass
class _Pending:
    """A work folder waiting for its next try; ``attempts``: the tries started on it, in this listener or an
    earlier one on the same spool (a try cut short by a stop or a crash counts)."""

    folder: Path
    attempts: int = 0
    next_try: float = 0.0
    #: the error that ended the last try, where it ended in a failure ("" while a try runs, or after a stop)
    last_error: str = ""

    @classmethod
    def of(cls, folder: Path) -> _Pending:
        """The work folder with the tries it records (none for a folder never tried or a record unreadable)."""
        record = _read_json(folder / _TRIES_FILE)
        record = record if isinstance(record, dict) else {}
        started, error = record.get("started"), record.get("last_error")
        attempts = started if isinstance(started, int) and not isinstance(started, bool) and started > 0 else 0
        return cls(folder, attempts, last_error=error if isinstance(error, str) and attempts else "")

    def start_try(self) -> None:
        """Count one more try, in the folder first: a series that stops the listener each time it is tried (out of
        memory, say) is given up after ``--max-attempts`` restarts instead of being tried for ever."""
        self.attempts += 1
        self.last_error = ""
        self._record()

    def end_try(self, error: str) -> None:
        """Record how the try just started failed (a restart finding the tries used up gives this reason)."""
        self.last_error = error
        self._record()

    def _record(self) -> None:
        try:
            write_json_atomically(self.folder / _TRIES_FILE, {"started": self.attempts, "last_error": self.last_error})
        except OSError as err:
            logger.error("series %s: could not record its try in %s: %s", self.series, self.folder, err)

    @property
    def series(self) -> str:
        return _series_of_folder(self.folder)


def _series_of_folder(folder: Path) -> str:
    """The SeriesInstanceUID in a work or failed folder's name ``<series>.<n>``."""
    return folder.name.rpartition(".")[0]


def _append_json_line(path: Path, entry: dict[str, Any]) -> None:
    """Append ``entry`` to the JSON-lines record ``path`` (mode 0600: a spool's files hold patient data)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
    make_private(path)


def _json_lines(path: Path) -> list[dict[str, Any]]:
    """The entries of the JSON-lines record ``path`` ([] where there is none); a line that is no JSON object (cut
    short by a crash while it was written) is an empty entry, so that it still counts."""
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                entry = json.loads(line)
            except ValueError:
                entry = {}
            entries.append(entry if isinstance(entry, dict) else {})
    return entries


def _cuts(folder: Path) -> list[dict[str, Any]]:
    """The cut-off transfers recorded in a series' folder (:data:`_INTERRUPTED_FILE`: ``{"at", "reason", "lost"}``
    each); one that cannot be read counts as a cut at its file's time whose lost instance is not known."""
    record = folder / _INTERRUPTED_FILE
    if not record.exists():
        return []
    cuts = _read_json(record)
    if not isinstance(cuts, list) or not all(isinstance(cut, dict) for cut in cuts):
        return [{"at": record.stat().st_mtime, "reason": f"{record} cannot be read", "lost": None}]
    return cuts


def _write_cuts(folder: Path, cuts: list[dict[str, Any]]) -> None:
    """Record ``cuts`` in ``folder`` (whole or not at all, mode 0600); none: the record removed."""
    if cuts:
        write_json_atomically(folder / _INTERRUPTED_FILE, cuts)
    else:
        (folder / _INTERRUPTED_FILE).unlink(missing_ok=True)


def _command_instance(command: bytes) -> str | None:
    """The SOP Instance UID a DIMSE command set (Implicit VR Little Endian, PS3.7 E) asks to store; None for another
    command (a C-ECHO) or one that cannot be read."""
    from pynetdicom.dsutils import decode

    try:
        fields = decode(io.BytesIO(command), True, True)
        if int(fields.get("CommandField", 0)) != _C_STORE_RQ:
            return None
        uid = str(fields.get("AffectedSOPInstanceUID", ""))
    except Exception:  # what a peer sends is not ours to trust
        return None
    return uid if is_dicom_uid(uid) else None


def _past_series(tag: int, vr: str | None, length: int) -> bool:
    return tag > _SERIES_INSTANCE_UID


def _dataset_series(head: bytes, transfer_syntax: str) -> tuple[str | None, bool]:
    """The SeriesInstanceUID of a data set from its first ``head`` bytes, encoded in ``transfer_syntax`` (the
    presentation context's, PS3.5 A; a deflated one inflated as far as it goes): ``(uid, True)`` once it is read
    whole, ``(None, True)`` where the data set has none (an element past it came first) or cannot be read in that
    syntax, ``(None, False)`` where more of it is needed."""
    import zlib

    from pydicom.filereader import data_element_generator
    from pydicom.uid import UID

    syntax = UID(transfer_syntax)
    if not syntax.is_transfer_syntax:
        return None, True
    try:
        # inflated no further than the limit: a small deflated head may inflate a thousandfold
        data = zlib.decompressobj(-zlib.MAX_WBITS).decompress(head, _HEAD_LIMIT) if syntax.is_deflated else head
        stream = io.BytesIO(data)
        for element in data_element_generator(stream, syntax.is_implicit_VR, syntax.is_little_endian, _past_series):
            if element.tag != _SERIES_INSTANCE_UID:
                continue
            value = element.value if isinstance(element.value, bytes) else b""
            if len(value) < element.length:  # its value is cut in this head
                return None, False
            uid = value.decode("ascii", "replace").rstrip("\0 ")
            return (uid if is_dicom_uid(uid) else None), True
    except zlib.error:
        return None, True
    except Exception:  # cut inside an element of undefined length, or not a data set at all: more may tell
        return None, False
    return None, stream.tell() < len(data)  # stopped at an element past it, or at the end of what came


def _context_syntax(assoc: Any, context_id: int) -> str:
    """The transfer syntax the association accepted for presentation context ``context_id`` ("" for none)."""
    for context in assoc.accepted_contexts:
        if context.context_id == context_id and context.transfer_syntax:
            return str(context.transfer_syntax[0])
    return ""


def _caller(assoc: Any) -> str:
    """The calling AE title and address of an association."""
    requestor = assoc.requestor
    return f"{str(requestor.ae_title).strip()}@{requestor.address}"


@dataclass
class _Transfer:
    """What one sender's association is doing, as the listener sees it (pynetdicom calls the event handlers from the
    association's threads)."""

    caller: str  # the calling AE title and address
    token: str = field(default_factory=lambda: uuid.uuid4().hex)  # names its markers
    started: float = field(default_factory=time.time)
    last_series: str = ""  # the series of its newest instance
    delivered_to: set[str] = field(default_factory=set)  # the series of its instances
    #: a message is being received: from its first P-DATA PDU until it is handled (a C-STORE's instance stored)
    arriving: bool = False
    arriving_instance: str | None = None  # that C-STORE's SOP Instance UID, once its command set has come whole
    arriving_series: str | None = None  # its SeriesInstanceUID, once read from its data set's first fragments
    head: bytearray = field(default_factory=bytearray)  # those fragments, until the series is read or cannot be
    head_read: bool = False  # the series is read, or cannot be, from what came of the data set
    head_tried: int = 0  # how much of the head the last attempt read (the next waits for twice as much)
    last_data: float = 0.0  # when its newest P-DATA PDU came
    command: bytearray = field(default_factory=bytearray)  # the command set being received
    marked: set[str] = field(default_factory=set)  # the series whose folders hold its marker now
    ended: bool = False  # its connection closed (a handler still running makes no marker after)


class _Transfers:
    """The open associations' transfers, and each caller's newest series (the first instance of an association is
    most likely of the series its caller was sending)."""

    _CALLERS_KEPT = 1024  # the callers whose newest series is remembered (the most recent ones)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[Any, _Transfer] = {}
        self._last_series_of: dict[str, str] = {}

    def _of(self, assoc: Any) -> _Transfer:
        transfer = self._open.get(assoc)
        if transfer is None:
            transfer = self._open[assoc] = _Transfer(_caller(assoc))
        return transfer

    def _candidate(self, transfer: _Transfer) -> str:  # with the lock held
        return transfer.arriving_series or transfer.last_series or self._last_series_of.get(transfer.caller, "")

    def data(self, assoc: Any, pdu: Any) -> tuple[_Transfer, bool, str | None]:
        """A P-DATA-TF PDU came: a message is arriving; a C-STORE's SOP Instance UID is read once its command set is
        whole, its SeriesInstanceUID from its data set's first fragments (PS3.8 E.2: each fragment's first byte says
        command or data set, and last or not; :func:`_dataset_series`).

        Returns:
            the association's transfer, whether this PDU begins a message, and the series this PDU has made known
            (None where it made none known).
        """
        with self._lock:
            transfer = self._of(assoc)
            began = not transfer.arriving
            transfer.arriving, transfer.last_data = True, time.time()
            syntax = None
            for item in pdu.presentation_data_value_items:
                if not item.data:
                    continue
                header, fragment = item.data[0], item.data[1:]
                if header & 0x01:
                    transfer.command += fragment
                    if header & 0x02:
                        transfer.arriving_instance = _command_instance(bytes(transfer.command))
                        transfer.command.clear()
                elif not transfer.head_read:
                    transfer.head += fragment[: _HEAD_LIMIT - len(transfer.head)]
                    syntax = _context_syntax(assoc, item.presentation_context_id)
            # read again once the head has doubled (or is whole): each byte is parsed a few times at most
            ready = len(transfer.head) >= min(2 * transfer.head_tried, _HEAD_LIMIT)
            head = bytes(transfer.head) if syntax is not None and ready else b""
            transfer.head_tried = len(head) or transfer.head_tried
        if not head:
            return transfer, began, None
        series, read = _dataset_series(head, syntax)  # outside the lock: other associations go on meanwhile
        with self._lock:
            if transfer.head_read or not transfer.arriving:  # handled meanwhile (a message of its own is next)
                return transfer, began, None
            if read or len(transfer.head) >= _HEAD_LIMIT:
                transfer.head_read, transfer.head = True, bytearray()
            transfer.arriving_series = series
            return transfer, began, series

    def current(self, assoc: Any) -> _Transfer:
        """The association's transfer (one whose connection has closed meanwhile: a detached, ended one)."""
        with self._lock:
            transfer = self._open.get(assoc)
        return transfer if transfer is not None else _Transfer(_caller(assoc), ended=True)

    def message(self, assoc: Any, message: Any) -> _Transfer | None:
        """A whole DIMSE message came: a C-STORE's instance is still arriving until it is handled (:meth:`handled`);
        any other (a C-ECHO) is handled now: its transfer is returned, None otherwise."""
        if type(message).__name__ == "C_STORE_RQ":
            return None
        transfer = self.current(assoc)
        self.handled(transfer)
        return transfer

    def handled(self, transfer: _Transfer) -> None:
        with self._lock:
            transfer.arriving, transfer.arriving_instance, transfer.arriving_series = False, None, None
            transfer.head, transfer.head_read, transfer.head_tried = bytearray(), False, 0

    def delivered(self, transfer: _Transfer, series: str) -> None:
        """An instance of ``series`` came on ``transfer`` (stored or refused)."""
        with self._lock:
            transfer.last_series = series
            transfer.delivered_to.add(series)
            self._last_series_of.pop(transfer.caller, None)
            self._last_series_of[transfer.caller] = series
            if len(self._last_series_of) > self._CALLERS_KEPT:
                del self._last_series_of[next(iter(self._last_series_of))]

    def candidate(self, transfer: _Transfer) -> str:
        """The series an instance arriving on ``transfer`` most likely belongs to ("" where none is known)."""
        with self._lock:
            return self._candidate(transfer)

    def suspects(self, transfer: _Transfer) -> list[str]:
        """The series an instance cut off on ``transfer`` may belong to: its own, where its data set's first fragments
        told it; else its :meth:`candidate` and every series it delivered to (one association may send several
        series interleaved: a flat folder's files in name order), each of those still being received recorded as
        cut off, and the lost instance mending all of them."""
        with self._lock:
            if transfer.arriving_series:
                return [transfer.arriving_series]
            return sorted({self._candidate(transfer), *transfer.delivered_to} - {""})

    def end(self, assoc: Any) -> _Transfer | None:
        """The association's transfer, ended (None where it had none, or it was ended before)."""
        with self._lock:
            transfer = self._open.pop(assoc, None)
            if transfer is not None:
                transfer.ended = True
            return transfer

    def end_all(self) -> list[_Transfer]:
        """Every open transfer, ended."""
        with self._lock:
            transfers, self._open = list(self._open.values()), {}
            for transfer in transfers:
                transfer.ended = True
            return transfers

    def arriving_series(self) -> set[str]:
        """The series of the instances arriving now, as far as they can be told (:meth:`candidate`)."""
        with self._lock:
            return {self._candidate(t) for t in self._open.values() if t.arriving} - {""}


class _Spool:
    """The listener's folders: ``incoming/`` (being received), ``work/`` (derived and sent), ``failed/``,
    ``trash/`` (being removed), ``done/`` (a record per series sent), and the lock file that keeps a second
    listener away."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.incoming, self.work, self.failed, self.trash, self.done = (
            root / name for name in ("incoming", "work", "failed", "trash", "done")
        )
        #: one writer at a time against a series folder moving to work/ (re-entrant: a closing association's end is
        #: decided and recorded under it, the recording taking it again)
        self.lock = threading.RLock()
        self.last_arrival: dict[str, float] = {}
        #: the SOP Instance UIDs lost in a cut-off transfer, each with the series waiting for it to come again
        self.awaited: dict[str, set[str]] = {}
        #: cuts whose record could not be written (a full disk): ``series -> (reason, lost, at)``, written again at
        #: each turn; the series is not taken meanwhile, and its marker stays for a restart
        self.unrecorded: dict[str, tuple[str, str | None, float]] = {}
        self._lock_file: Any = None

    def open(self) -> None:
        """Create the folders (mode 0700: they hold patient data), take the spool's lock and tidy what a stopped
        listener left: partial files, empty folders, removals cut short. A series into which an instance was
        arriving when the listener stopped or was killed (a marker is there) is recorded as cut off.

        Raises:
            ValueError: the spool cannot be made or is in use by another listener.
        """
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._lock_file = open(self.root / ".lock", "a")  # noqa: SIM115 - held for the listener's life
            make_private(self.root / ".lock")  # as every file of the spool (it holds nothing; one rule for all)
        except OSError as err:
            raise ValueError(f"--spool '{self.root}' cannot be used: {err.strerror or err}.") from err
        try:
            import fcntl

            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # no fcntl (Windows): one listener per spool is then the user's to keep
            pass
        except OSError as err:
            self.close()
            raise ValueError(f"--spool '{self.root}' is in use by another rmisr listen.") from err
        for folder in (self.incoming, self.work, self.failed, self.trash, self.done):
            folder.mkdir(mode=0o700, exist_ok=True)
        for partial in self.done.glob(".*.tmp"):  # a record being written when the listener stopped
            partial.unlink()
        for folder in self.trash.iterdir():  # a removal cut short
            shutil.rmtree(folder, ignore_errors=True)
        for partial in self.work.glob(f"*/.{_TRIES_FILE}.*.tmp"):  # a count being written when the listener stopped
            partial.unlink()
        for folder in self.work.iterdir():  # made just before a move into it that did not happen
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        now = time.time()
        for series in sorted(self.incoming.iterdir()):  # from an earlier run: stable once its newest file is old
            for partial in series.glob(".*.tmp"):  # an instance or a record being written when the listener stopped
                partial.unlink()
            markers = list(series.glob(f"{_RECEIVING_PREFIX}*"))
            if markers:
                self._cut(series, _STOPPED, None, now)
                for marker in markers:
                    marker.unlink()
            times = [path.stat().st_mtime for path in [*series.glob("*.dcm"), *series.glob(_REFUSED_FILE)]]
            if not times:  # nothing came (a record of a cut at most): nothing to derive
                shutil.rmtree(series)
                continue
            cuts = _cuts(series)
            for cut in cuts:
                if cut.get("lost"):
                    self.awaited.setdefault(str(cut["lost"]), set()).add(series.name)
            # a cut-off series waits for its sender from now: the listener was not there to receive it again
            self.last_arrival[series.name] = now if cuts else max(times)

    def close(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # releases the lock
            self._lock_file = None

    def store(self, dataset: Any, transfer: _Transfer) -> None:
        """Write one received instance under ``incoming/<series>/`` (a temporary file, then a rename), after the
        marker of the association delivering it; a cut-off transfer that this instance makes whole again is
        forgotten (:meth:`_came_again`)."""
        series, instance = str(dataset.SeriesInstanceUID), str(dataset.SOPInstanceUID)
        with self.lock:
            folder = self._receiving_folder(series, transfer)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as f:
                    dataset.save_as(f, enforce_file_format=True)
                os.replace(tmp, folder / f"{instance}.dcm")
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            self.last_arrival[series] = time.time()
            self._came_again(series, instance, transfer.started)

    def note_refused(self, series: str, instance: str, reason: str, transfer: _Transfer) -> None:
        """Record in ``incoming/<series>/`` that its instance ``instance`` was refused when it came (its image
        cannot be read): the series is incomplete, whatever arrives after (a PACS may stop sending the series at
        the refusal), and :func:`_process` says so rather than derive it as if it were whole."""
        with self.lock:
            folder = self._receiving_folder(series, transfer)
            _append_json_line(folder / _REFUSED_FILE, {"instance": instance, "reason": reason})
            self.last_arrival[series] = time.time()
            self._came_again(series, instance, transfer.started)

    def came_again(self, series: str, instance: str, started: float) -> None:
        """An instance that is not kept (no image to super-resolve) came: it may be one a cut lost."""
        with self.lock:
            self._came_again(series, instance, started)

    def _receiving_folder(self, series: str, transfer: _Transfer) -> Path:
        """``incoming/<series>/``, made where needed, with the marker of ``transfer`` (:meth:`mark`)."""
        folder = self.incoming / series
        folder.mkdir(mode=0o700, exist_ok=True)
        self.mark(transfer, series)
        return folder

    def mark(self, transfer: _Transfer, series: str) -> None:
        """Put the marker of ``transfer`` in ``incoming/<series>/`` where that folder is there: an instance is
        arriving (most likely) into it, and a listener killed before it is stored leaves the marker, which tells the
        next one that the series is cut off. :meth:`unmark` removes it once the instance is handled."""
        with self.lock:
            marker = self._marker(series, transfer)
            if transfer.ended or not marker.parent.is_dir():
                return
            if not marker.exists():
                marker.touch(mode=0o600)
            transfer.marked.add(series)

    def mark_only(self, transfer: _Transfer, series: str) -> None:
        """Move the markers of ``transfer`` into ``incoming/<series>/`` (:meth:`mark`), where its arriving instance is
        known to belong: the series it was guessed to belong to are not cut off if it is."""
        with self.lock:
            transfer.marked = self._remove_markers(transfer, but=series)
            self.mark(transfer, series)

    def unmark(self, transfer: _Transfer) -> None:
        """Remove the markers of ``transfer`` (a cut whose record could not be written keeps its marker)."""
        with self.lock:
            self._remove_markers(transfer)
            transfer.marked.clear()

    def _remove_markers(self, transfer: _Transfer, but: str | None = None) -> set[str]:
        """Remove the markers of ``transfer`` but that of the series ``but`` and those of cuts whose record could not
        be written (errors logged); the series whose marker is still there."""
        kept = set()
        for series in transfer.marked:
            if series == but or series in self.unrecorded:
                kept.add(series)
                continue
            try:
                self._marker(series, transfer).unlink(missing_ok=True)
            except OSError as err:
                logger.error("series %s: could not remove a marker of its sender: %s", series, err)
                kept.add(series)
        return kept

    def _marker(self, series: str, transfer: _Transfer) -> Path:
        return self.incoming / series / f"{_RECEIVING_PREFIX}{transfer.token}"

    def _came_again(self, series: str, instance: str, started: float) -> None:
        """Forget the cuts that ``instance`` of ``series``, delivered by an association begun at ``started``, mends:
        those that lost this very instance (in whichever series they were recorded), and those of ``series`` whose
        lost instance is not known, recorded before that association began (its sender is sending the series
        again). Errors are logged: the cut then stays, and the series fails rather than go out incomplete."""
        for name in self.awaited.pop(instance, set()) | {series}:
            folder = self.incoming / name
            try:
                cuts = _cuts(folder)
                kept = [
                    cut
                    for cut in cuts
                    if cut.get("lost") != instance
                    and (cut.get("lost") or name != series or not float(cut.get("at") or 0.0) < started)
                ]
                if len(kept) < len(cuts):
                    _write_cuts(folder, kept)
                    if not kept:
                        logger.info("series %s: sent again after its transfer was cut off; taken as whole", name)
            except (OSError, TypeError, ValueError) as err:
                logger.error("series %s: could not update its record of a cut-off transfer: %s", name, err)

    def cut(self, series: Sequence[str], reason: str, lost: str | None, at: float) -> None:
        """Record that a transfer of each of ``series`` still being received was cut off (at the time ``at``;
        ``lost``: the SOP Instance UID that was arriving, where known). A lost instance that has come again
        meanwhile (its file is there) is no cut. A record that cannot be written is kept in memory and written
        again at the next turns (:meth:`take_stable`), the series not taken meanwhile."""
        with self.lock:
            for name in series:
                folder = self.incoming / name
                if not folder.is_dir() or (lost is not None and (folder / f"{lost}.dcm").exists()):
                    continue
                try:
                    self._cut(folder, reason, lost, at)
                except OSError as err:
                    self.unrecorded[name] = (reason, lost, at)
                    logger.error("series %s: could not record that its transfer was cut off (retried): %s", name, err)

    def _cut(self, folder: Path, reason: str, lost: str | None, at: float) -> None:
        _write_cuts(folder, [*_cuts(folder), {"at": at, "reason": reason, "lost": lost}])
        if lost is not None:
            self.awaited.setdefault(lost, set()).add(folder.name)
        self.last_arrival[folder.name] = time.time()  # its sender's time to send it again counts from now
        logger.warning("series %s: %s; it is derived only if it is sent again", folder.name, reason)

    def take_stable(
        self, series_timeout: float, resend_wait: float, now: float, arriving: Callable[[], set[str]]
    ) -> list[Path]:
        """Move every series quiet for ``series_timeout`` seconds (a cut-off one: ``resend_wait``, then to fail)
        into a new work folder, except those with an instance ``arriving()`` (asked with the spool locked: a large
        instance over a slow link can take longer than the timeout); the work folders."""
        taken = []
        with self.lock:
            for name, (reason, lost, at) in list(self.unrecorded.items()):
                try:
                    if (self.incoming / name).is_dir():
                        self._cut(self.incoming / name, reason, lost, at)
                    del self.unrecorded[name]
                except OSError:
                    pass
            busy = arriving()
            for series, arrival in sorted(self.last_arrival.items(), key=lambda item: item[1]):
                if now - arrival < series_timeout or series in busy or series in self.unrecorded:
                    continue
                if now - arrival < resend_wait and (self.incoming / series / _INTERRUPTED_FILE).exists():
                    continue  # cut off: its sender's time to send it again (resend_wait >= series_timeout)
                del self.last_arrival[series]
                if not (self.incoming / series).is_dir():  # removed by hand meanwhile
                    continue
                work = self._new_folder(self.work, series)
                work.mkdir(mode=0o700)
                (self.incoming / series).rename(work / "source")
                for marker in (work / "source").glob(f"{_RECEIVING_PREFIX}*"):  # its senders' ends no longer matter
                    marker.unlink()
                for lost in list(self.awaited):  # its cuts moved with it
                    self.awaited[lost].discard(series)
                    if not self.awaited[lost]:
                        del self.awaited[lost]
                count = sum(1 for _ in (work / "source").glob("*.dcm"))
                logger.info("series %s: %d instances received, taken as complete", series, count)
                taken.append(work)
        return taken

    def give_up(self, work: Path, error: str) -> Path:
        """Move a work folder to ``failed/`` with ``error.txt`` (paths in the error named as they are there now);
        the new place."""
        target = self._new_folder(self.failed, _series_of_folder(work))
        work.rename(target)
        (target / "error.txt").write_text(error.replace(str(work), str(target)) + "\n")
        make_private(target / "error.txt")  # like every file of the spool (it may quote a file of the patient's)
        try:
            (target / _TRIES_FILE).unlink(missing_ok=True)  # moved back into work/ by hand, it starts a new count
        except OSError as err:
            logger.error(
                "series %s: %s could not be removed (delete it before moving the folder back): %s",
                target.name,
                _TRIES_FILE,
                err,
            )
        return target

    def remove(self, work: Path) -> None:
        """Remove a work folder whose series was sent: one rename out of ``work/``, then the deletion."""
        target = self.trash / work.name
        work.rename(target)
        shutil.rmtree(target, ignore_errors=True)

    def record_path(self, series: str, digest: str) -> Path:
        """Where the record of these instances (``digest``: :func:`_instances_digest`) of ``series`` is kept: one
        file per series and set of instances, so that a late part of a series does not replace the whole's."""
        return self.done / f"{series}.{digest[:16]}.json"

    def forget_before(self, oldest: float) -> None:
        """Remove the done records written before the time ``oldest``."""
        for path in self.done.glob("*.json"):
            try:
                if path.stat().st_mtime < oldest:
                    path.unlink()
            except FileNotFoundError:
                pass

    @staticmethod
    def _new_folder(parent: Path, series: str) -> Path:
        number = 1
        while (parent / f"{series}.{number}").exists():
            number += 1
        return parent / f"{series}.{number}"


def _derivation_settings(upscaler: Any) -> dict[str, Any]:
    """What, besides the instances, decides a derived series: how it is made (``Upscaler.derivation``: model name,
    the SHA-256 of its weights, so that a checkpoint trained on at the same path counts as another model, method
    where it is interpolation, scale, axis, ROI, self-ensemble, precision). In JSON's terms (a region as a list), as
    the records hold it."""
    settings = json.loads(json.dumps(dict(upscaler.derivation)))
    if settings.get("method") == "super-resolution":  # as the records of versions without "method" hold it
        del settings["method"]
    return settings


def _instances_digest(source: Path) -> tuple[str, int]:
    """SHA-256 of the sorted SOP Instance UIDs in a received series folder (its file names), and their count."""
    uids = sorted(path.stem for path in source.glob("*.dcm"))
    return hashlib.sha256("\n".join(uids).encode()).hexdigest(), len(uids)


def _done_record(work: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """The record of a work folder's instances derived with ``settings`` (without the derived series)."""
    digest, count = _instances_digest(work / "source")
    return {"instances_sha256": digest, "instances": count, **settings}


def _sent_before(record_path: Path, expected: dict[str, Any]) -> list[str] | None:
    """The derived series UIDs if the record at ``record_path`` is ``expected`` (:func:`_done_record`): these
    instances were derived with these settings and sent. A record that cannot be read is not trusted."""
    record = _read_json(record_path)
    if not isinstance(record, dict):
        return None
    outputs = record.pop("derived_series", None)
    if record != expected or not isinstance(outputs, list):
        return None
    return [str(uid) for uid in outputs]


def _read_json(path: Path) -> Any:
    """The JSON in ``path``, or ``None`` where there is none or it cannot be read (a write cut short)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _give_up(item: _Pending, pending: list[_Pending], store: _Spool, result: ListenerResult, error: str) -> None:
    """Move a series that will not be tried again to ``failed/`` (``error`` in its ``error.txt``)."""
    try:
        place = store.give_up(item.folder, error)
    except OSError as move_error:  # kept in work/: looked at again after a restart
        logger.error("series %s failed and could not be moved to failed/: %s", item.series, move_error)
        place = item.folder
    pending.remove(item)
    error = error.replace(str(item.folder), str(place))  # its files named where they are now, as in error.txt
    result.failed[item.series] = error
    logger.error("series %s failed (%d tries), kept in %s: %s", item.series, item.attempts, place, error)


def _check_nothing_refused(source: Path, skip_bad_slices: bool) -> list[dict[str, str]]:
    """Refuse to derive a series some of whose instances were refused when they came (:meth:`_Spool.note_refused`):
    it is incomplete (a PACS may stop sending a series at a refused instance: Orthanc does), and a derived series
    with slices missing would look whole. With ``skip_bad_slices`` (``--skip-bad-slices``) it is derived from the
    instances that came, the refused ones named in the log; they are returned (``{"instance", "reason"}`` each), for
    the derived series to record.

    Raises:
        ValueError: naming the refused instances (the series then moves to ``failed/``, not tried again).
    """
    refused = _json_lines(source / _REFUSED_FILE)
    if not refused:
        return []
    named = "; ".join(f"{item.get('instance', '?')}: {item.get('reason', '?')}" for item in refused[:3])
    named += "; ..." if len(refused) > 3 else ""
    if not skip_bad_slices:
        raise ValueError(
            f"{len(refused)} instance(s) of the series were refused when they came, their images unreadable ({named}): "
            "the series is incomplete (a sender may also stop at a refusal) and is not derived; --skip-bad-slices "
            "derives it from the instances that came."
        )
    logger.warning(
        "series %s: derived without %d instance(s) refused when they came (--skip-bad-slices): %s",
        _series_of_folder(source.parent),
        len(refused),
        named,
    )
    return [{"instance": str(item.get("instance", "?")), "reason": str(item.get("reason", "?"))} for item in refused]


def _check_transfer_whole(source: Path, resend_wait: float) -> None:
    """Refuse to derive a series whose transfer was cut off (:meth:`_Spool.cut`) and not sent again within
    ``resend_wait`` seconds: an instance was lost on the way, or may have been, and a derived series with slices
    missing would look whole.

    Raises:
        ValueError: saying what cut it off (the series then moves to ``failed/``, not tried again).
    """
    cuts = _cuts(source)
    if cuts:
        received = sum(1 for _ in source.glob("*.dcm"))
        lost = [str(cut["lost"]) for cut in cuts if cut.get("lost")]
        what = f"instance {', '.join(lost)} was lost" if lost else "whether all of it came is not known"
        raise ValueError(
            f"the transfer of the series was cut off ({cuts[-1].get('reason', '?')}; {what}) and it was not sent "
            f"again within --resend-wait {resend_wait:g} s: it may be incomplete ({received} instance(s) came) and "
            f"is not derived. Send the series again; to derive what came, delete {source / _INTERRUPTED_FILE}, move "
            "the folder back into work/ and restart the listener."
        )


def _process(work: Path, policy: _Policy) -> list[str]:
    """Derive (unless a complete derivation with these settings is there) and send one work folder; the derived
    series UIDs. The marker holds the settings of the derivation: a listener restarted with another model or
    scale derives the kept series again rather than sending (and recording) what the old settings made."""
    derived, marker = work / "derived", work / _DONE_MARKER
    _check_transfer_whole(work / "source", policy.resend_wait)
    refused = _check_nothing_refused(work / "source", policy.upscaler.skip_bad_slices)
    if policy.max_instances is not None:
        received = sum(1 for _ in (work / "source").glob("*.dcm"))
        if received > policy.max_instances:  # a ValueError: not tried again, moved to failed/
            limit = policy.max_instances
            raise ValueError(f"the series has {received} image instances, more than --max-instances {limit}.")
    if _read_json(marker) != policy.settings:
        marker.unlink(missing_ok=True)
        shutil.rmtree(derived, ignore_errors=True)  # a derivation cut short, or made with other settings
        if not derive_folder(policy.upscaler, work / "source", derived, left_out=refused):
            raise ValueError("the series gave no derived DICOM file.")
        write_json_atomically(marker, policy.settings)  # mode 0600, whole or absent
    files = derived_files(derived)
    outputs = series_uids(files)
    send_files(policy.forward, files, policy.ae_title, policy.timeout, policy.forward_tls)
    logger.info("series %s: sent %d derived instances", _series_of_folder(work), len(files))
    return outputs


#: Connections (each an association's thread) the listener holds at once, counted from the connection on.
MAX_ASSOCIATIONS = 32
#: Connections one host may hold at once: a PACS sends over a few; 16 idle connections from one host (which need
#: no AE title: they send nothing) took every slot, and every sender was refused until they timed out.
MAX_CONNECTIONS_PER_HOST = 8


def _connection_limit() -> Callable[[Any, Any], bool]:
    """A ``verify_request`` for the listener's server (socketserver's hook, run in its accept loop before a
    connection becomes an association): refuse, by closing it at once, a connection from a host that already
    holds :data:`MAX_CONNECTIONS_PER_HOST` open ones, or any once :data:`MAX_ASSOCIATIONS` are open (pynetdicom's
    own limit counts only when an association is asked, so idle connections were never refused). A connection
    counts until its socket is closed (the end of its association, or its timeout), which the loop itself sees:
    no count lags behind a thread starting."""
    held: dict[str, list[Any]] = {}

    def verify_request(request: Any, client_address: Any) -> bool:
        host = str(client_address[0] if isinstance(client_address, tuple) else client_address)
        for peer in list(held):
            held[peer] = [connection for connection in held[peer] if connection.fileno() != -1]  # -1: closed
            if not held[peer]:
                del held[peer]
        if len(held.get(host, ())) >= MAX_CONNECTIONS_PER_HOST:
            logger.warning(
                "refused a connection from %s: it holds %d open already (the most one host may)", host, len(held[host])
            )
            return False
        if sum(map(len, held.values())) >= MAX_ASSOCIATIONS:
            logger.warning(
                "refused a connection from %s: %d are open (the most the listener holds)", host, MAX_ASSOCIATIONS
            )
            return False
        held.setdefault(host, []).append(request)
        return True

    return verify_request


def listen(
    upscaler: Any,
    spool: str | os.PathLike[str],
    forward: DicomNode,
    host: str = "127.0.0.1",
    port: int = 11112,
    ae_title: str = "RMISR",
    allowed_callers: Sequence[str] = (),
    series_timeout: float = 30.0,
    resend_wait: float = 1800.0,
    max_attempts: int = 5,
    backoff: float = 30.0,
    timeout: float = 60.0,
    remember_days: float = 30.0,
    max_instances: int | None = None,
    tls_cert: str | os.PathLike[str] | None = None,
    tls_key: str | os.PathLike[str] | None = None,
    tls_ca: str | os.PathLike[str] | None = None,
    forward_tls: bool = False,
    forward_tls_ca: str | os.PathLike[str] | None = None,
    stop: threading.Event | None = None,
    on_ready: Callable[[], None] | None = None,
) -> ListenerResult:
    """Receive series (C-STORE SCP on ``host:port`` as ``ae_title``), super-resolve each and send it to ``forward``.

    Runs until ``stop`` is set (SIGTERM and SIGINT set it when called from the main thread); the series in hand
    is finished first. Associations must be addressed to ``ae_title``; with ``allowed_callers``, only those
    calling AE titles are accepted.

    Args:
        upscaler: an :class:`~monai_rmisr.inference.upscale.Upscaler` (scale, model, tiling).
        spool: the listener's folder (created; its ``incoming/``, ``work/``, ``failed/``, ``trash/``).
        forward: where derived series are sent (:func:`parse_dicom_node`).
        series_timeout: seconds without a new instance after which a series is taken as complete (> 0).
        resend_wait: seconds a series whose transfer was cut off (an association that ended while an instance was
            arriving, also by a stop or a kill of the listener) waits to be sent again (at least
            ``series_timeout``); not sent again, it moves to ``failed/`` underived.
        max_attempts, backoff: tries per series, and the wait before the second (doubling, at most an hour).
        timeout: seconds a peer may take to answer or stay silent: the destination (connection, association,
            each C-STORE) and a sender (an idle association is closed).
        remember_days: days a done record is kept (the same instances received again within them are not
            derived again); 0 keeps none.
        max_instances: the most image instances a series may have to be derived (None: no limit); a larger one
            is given up at once (``SPOOL/failed/``, the reason in its ``error.txt``).
        tls_cert, tls_key, tls_ca, forward_tls, forward_tls_ca: DICOM over TLS (:func:`tls_contexts`): the
            listening port with ``tls_cert`` and ``tls_key``, senders' certificates checked against ``tls_ca``; the
            destination with ``forward_tls``, its certificate checked against ``forward_tls_ca`` (else ``tls_ca``).
        on_ready: called once the port is open (tests).

    Returns:
        what was sent and what was given up (the latter also under ``SPOOL/failed/``).

    Raises:
        ValueError: a bad argument, a spool that cannot be made or is in use, or a port that cannot be opened
            (a spool made by this call is removed again then).
        ImportError: ``pynetdicom`` is not installed (``pip install "monai-rmisr[pacs]"``).
    """
    pynetdicom = _pynetdicom()
    ae_title = check_ae_title(ae_title, "--ae-title")
    if isinstance(allowed_callers, str):
        raise ValueError(f"--allow-ae takes a list of AE titles, got the string {allowed_callers!r}.")
    allowed = [check_ae_title(title, "--allow-ae") for title in allowed_callers]
    check_port(port, "--port")
    check_seconds(series_timeout, "series-timeout", allow_zero=False)  # 0 would split a series as it arrives
    resend_wait = max(check_seconds(resend_wait, "resend-wait"), series_timeout)
    check_seconds(backoff, "backoff")
    check_seconds(timeout, "timeout", allow_zero=False, maximum=MAX_NETWORK_TIMEOUT)
    check_count(max_attempts, "max-attempts")
    if max_instances is not None:
        check_count(max_instances, "max-instances")
    remember = check_seconds(remember_days, "remember-days", unit="days") * 86400.0
    listening_tls, forwarding_tls = tls_contexts(tls_cert, tls_key, tls_ca, forward_tls, forward_tls_ca)
    spool_root = Path(spool)
    if spool_root.exists() and not spool_root.is_dir():
        raise ValueError(f"--spool '{spool_root}' is not a folder.")
    first_new = next((p for p in reversed([spool_root, *spool_root.parents]) if not p.exists()), None)
    store = _Spool(spool_root)
    store.open()

    largest_input = upscaler.input_value_limit()  # what the derivation reads; larger is refused from the header
    transfers = _Transfers()
    stopping = threading.Event()  # set first when the listener stops: what comes after is refused or cut off
    from pynetdicom.pdu import P_DATA_TF  # pynetdicom is there (above)

    def on_pdu_received(event: Any) -> None:
        if isinstance(event.pdu, P_DATA_TF):
            transfer, began, learned = transfers.data(event.assoc, event.pdu)
            series = transfers.candidate(transfer) if began else ""
            if series:  # a message begins, most likely an instance of this series: marked until it is handled
                store.mark(transfer, series)
            if learned:  # its data set has told its series: the marker is there alone
                store.mark_only(transfer, learned)

    def on_message_received(event: Any) -> None:
        handled = transfers.message(event.assoc, event.message)
        if handled is not None:  # a C-ECHO: no instance came
            store.unmark(handled)

    def cut_off(transfer: _Transfer, reason: str) -> None:  # its arriving instance is lost
        store.cut(transfers.suspects(transfer), reason, transfer.arriving_instance, transfer.last_data)

    def on_connection_closed(event: Any) -> None:
        with store.lock:  # decided and recorded at once: a series is not taken between the two
            transfer = transfers.end(event.assoc)
            if transfer is None:
                return
            if transfer.arriving and not event.assoc.is_released:  # that instance is lost
                cut_off(
                    transfer,
                    _STOPPED
                    if stopping.is_set()
                    else "the association ended while an instance was arriving (an abort, or the connection was lost)",
                )
            elif not event.assoc.is_released and transfer.last_series and not stopping.is_set():
                logger.warning(  # some senders end every association so
                    "%s ended an association without releasing it (an abort, a lost connection or --timeout), "
                    "between instances: nothing was cut off, its series are taken as sent",
                    transfer.caller,
                )
            store.unmark(transfer)

    def on_c_store(event: Any) -> int:
        transfer = transfers.current(event.assoc)
        if stopping.is_set():  # left arriving: the stop records its series as cut off; the sender sends it again
            return STATUS_OUT_OF_RESOURCES
        try:
            return store_instance(event, transfer)
        finally:
            with store.lock:  # stored (or refused): its series may be taken now
                transfers.handled(transfer)
                store.unmark(transfer)

    def store_instance(event: Any, transfer: _Transfer) -> int:
        caller = event.assoc.requestor.ae_title
        try:
            dataset = event.dataset
            dataset.file_meta = event.file_meta
            uids = [str(dataset.get(key, "")) for key in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")]
        except Exception as err:  # a data set pydicom cannot decode
            logger.warning("refused an instance from %s: unreadable (%s)", caller, type(err).__name__)
            return STATUS_CANNOT_UNDERSTAND
        if not all(is_dicom_uid(uid) for uid in uids):
            logger.warning("refused an instance from %s: its UIDs are not DICOM UIDs", caller)
            return STATUS_CANNOT_UNDERSTAND
        if not dataset_has_image(dataset) or dataset_is_derived_by_us(dataset):
            logger.info(
                "series %s: dropped an instance without an image to super-resolve (a report, a segmentation, a dose) "
                "or derived by monai-rmisr",
                uids[1],
            )
            store.came_again(uids[1], uids[2], transfer.started)  # it may be one a cut lost
            return STATUS_SUCCESS
        try:  # an instance accepted here and unreadable later failed its whole series, the sender none the wiser
            check_pixel_data(dataset, uids[2], largest_input)
        except ImageReadError as err:
            logger.warning(
                "series %s: refused instance %s, whose image cannot be read: %s", uids[1], uids[2], err.reason
            )
            transfers.delivered(transfer, uids[1])
            store.note_refused(uids[1], uids[2], err.reason, transfer)  # incomplete: said when it is taken
            return STATUS_CANNOT_UNDERSTAND
        try:
            transfers.delivered(transfer, uids[1])
            store.store(dataset, transfer)
        except OSError as err:
            logger.error("series %s: could not write an instance to the spool: %s", uids[1], err.strerror or err)
            return STATUS_OUT_OF_RESOURCES
        except Exception as err:  # pydicom cannot encode it as it came
            logger.warning("series %s: refused an instance that cannot be written (%s)", uids[1], type(err).__name__)
            return STATUS_CANNOT_UNDERSTAND
        return STATUS_SUCCESS

    def on_rejected(event: Any) -> None:  # the sender sees only "rejected": say why here, for whoever sets it up
        requestor = event.assoc.requestor
        called = getattr(getattr(requestor, "primitive", None), "called_ae_title", "?")  # the A-ASSOCIATE-RQ's
        callers = ", ".join(allowed) if allowed else "any"
        logger.warning(
            "refused an association from AE %r at %s (called AE %r; this listener is %r, allowed callers: %s)",
            str(requestor.ae_title).strip(),
            requestor.address,
            str(called).strip(),
            ae_title,
            callers,
        )

    ae = pynetdicom.AE(ae_title=ae_title)
    ae.require_called_aet = True
    if allowed:
        ae.require_calling_aet = allowed
    syntaxes = accepted_transfer_syntaxes()
    for context in pynetdicom.AllStoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, syntaxes)
    ae.add_supported_context(pynetdicom.sop_class.Verification)  # C-ECHO: a PACS's "test" of a new node
    ae.maximum_associations = MAX_ASSOCIATIONS
    ae.network_timeout = ae.acse_timeout = ae.dimse_timeout = timeout
    try:
        server = ae.start_server(
            (host, port),
            block=False,
            evt_handlers=[
                (pynetdicom.evt.EVT_C_STORE, on_c_store),
                (pynetdicom.evt.EVT_REJECTED, on_rejected),
                (pynetdicom.evt.EVT_PDU_RECV, on_pdu_received),
                (pynetdicom.evt.EVT_DIMSE_RECV, on_message_received),
                (pynetdicom.evt.EVT_CONN_CLOSE, on_connection_closed),
            ],
            ssl_context=listening_tls,
        )
    except OSError as err:
        store.close()
        if first_new is not None:
            shutil.rmtree(first_new, ignore_errors=True)
        raise ValueError(f"--host/--port: cannot listen on {host}:{port} ({err.strerror or err}).") from err
    server.verify_request = _connection_limit()
    logger.info(
        "listening as %s on %s:%d%s; derived series go to %s%s",
        ae_title,
        host,
        port,
        " (TLS)" if listening_tls else "",
        forward,
        " (TLS)" if forwarding_tls else "",
    )
    result = ListenerResult()
    pending = [_Pending.of(folder) for folder in sorted(store.work.iterdir()) if folder.is_dir()]
    stop = stop or threading.Event()
    restore = install_signal_handlers(stop)
    policy = _Policy(
        upscaler,
        forward,
        ae_title,
        timeout,
        max_attempts,
        backoff,
        remember,
        forwarding_tls,
        _derivation_settings(upscaler),
        max_instances,
        resend_wait,
    )
    next_prune = 0.0
    try:
        if on_ready is not None:
            on_ready()
        while not stop.is_set():
            now = time.time()
            if now >= next_prune:
                next_prune = now + _PRUNE_EVERY
                try:
                    store.forget_before(now - remember)
                except OSError as err:
                    logger.error("could not remove old records from done/: %s", err)
            try:
                taken = store.take_stable(series_timeout, resend_wait, now, transfers.arriving_series)
                pending.extend(_Pending(folder) for folder in taken)
            except OSError as err:  # a full or failing disk: the series stay in incoming/, taken at a later turn
                logger.error("could not move a received series into work/: %s", err)
            for item in [item for item in pending if item.next_try <= now]:
                if stop.is_set():
                    break
                _try(item, pending, store, result, policy)
            stop.wait(0.2)
    finally:
        stopping.set()
        server.shutdown()  # no new association; the open ones are aborted: their senders learn at once
        for assoc in server.active_associations:
            if assoc.is_established:  # (one still negotiating ends under --timeout, as before)
                assoc.abort()
        with store.lock:
            for transfer in transfers.end_all():  # those whose end the abort did not report (yet)
                if transfer.arriving:
                    cut_off(transfer, _STOPPED)
                store.unmark(transfer)
        restore()
        store.close()
    return result


def _try(
    item: _Pending,
    pending: list[_Pending],
    store: _Spool,
    result: ListenerResult,
    policy: _Policy,
) -> None:
    """One try of one work folder: sent (or sent before) and removed, or scheduled again, or given up (also
    before a try, when its tries were used up before this listener started)."""
    series = item.series
    expected = _done_record(item.folder, policy.settings)  # the record this try leaves once the series is sent
    record_path = store.record_path(series, expected["instances_sha256"])
    before = _sent_before(record_path, expected) if policy.remember > 0 else None
    if before is not None:
        pending.remove(item)
        result.repeated.setdefault(series, []).extend(before)
        logger.info(
            "series %s: the same instances were derived and sent before (as %s), not again; remove %s to derive "
            "them again",
            series,
            ", ".join(before),
            record_path,
        )
        try:
            store.remove(item.folder)
        except OSError as err:
            logger.error("series %s: its work folder could not be removed: %s", series, err)
        return
    if item.attempts >= policy.max_attempts:  # used up before this listener started
        if item.last_error:  # the last try failed (and --max-attempts was lowered, or the move to failed/ failed)
            reason = f"{item.attempts} tries, counted across restarts; the last failed: {item.last_error}"
        else:
            reason = (
                f"{item.attempts} tries were started by earlier runs of the listener on this spool and the last one "
                "never ended: the listener stopped (out of memory? killed?) while handling this series"
            )
        _give_up(item, pending, store, result, reason)
        return
    item.start_try()
    try:
        outputs = _process(item.folder, policy)
    except Exception as err:  # one series never stops the listener
        error = " ".join(str(err).split()) or type(err).__name__
        item.end_try(error)
        # the destination or the disk may come back; a series that cannot be read will not change
        if item.attempts < policy.max_attempts and isinstance(err, (PacsError, OSError)):
            delay = retry_delay(policy.backoff, item.attempts)
            item.next_try = time.time() + delay
            logger.warning("series %s failed (try %d), retrying in %.0f s: %s", series, item.attempts, delay, error)
            return
        _give_up(item, pending, store, result, error)
        return
    pending.remove(item)
    try:
        if policy.remember > 0:
            write_json_atomically(record_path, {**expected, "derived_series": outputs})
        store.remove(item.folder)
    except OSError as err:
        logger.error("series %s was sent but its done record or work folder could not be written: %s", series, err)
    result.sent.setdefault(series, []).extend(outputs)
    logger.info("series %s -> %s sent to %s", series, ", ".join(outputs), policy.forward)
