"""``rmisr listen``: a DICOM listener (C-STORE SCP) receives a series, super-resolves it and sends it on.

Everything runs on loopback: a modality (pynetdicom SCU) sends a CT series to the listener, which
forwards the derived series to a destination (a pynetdicom storage SCP standing in for the PACS).
``test_a_series_sent_by_orthanc_is_super_resolved`` has a real Orthanc (DCMTK's C-STORE) send the
series; Orthanc is not the destination, as its DICOM port cannot be bound to loopback only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
import requests
from pynetdicom import AE, StoragePresentationContexts, evt
from pynetdicom.sop_class import Verification

from monai_rmisr.__main__ import main
from monai_rmisr.cli import build_parser
from monai_rmisr.cli.common import derivation_upscaler
from monai_rmisr.inference.upscale import Upscaler
from monai_rmisr.pacs import DERIVED_BY_US, DicomNode, ListenerResult, listen, parse_dicom_node
from tests.helpers import free_port, one_thread_fixture, write_ct_series
from tests.pacs.conftest import start_orthanc, stop_orthanc

# the second tier (processes, servers, whole runs): `make test-integration`; .ci/run runs both
pytestmark = pytest.mark.integration

_one_thread = one_thread_fixture()
SLICES = 3


class Destination:
    """A storage SCP on loopback that keeps what it receives (the PACS the listener forwards to)."""

    def __init__(self, ae_title: str = "PACS") -> None:
        self.received: list[pydicom.Dataset] = []
        self.callers: list[str] = []
        self.port = free_port()
        self.node = DicomNode(ae_title, "127.0.0.1", self.port)
        self._ae = AE(ae_title=ae_title)
        self._ae.supported_contexts = StoragePresentationContexts
        self._server = None

    def _on_store(self, event) -> int:
        dataset = event.dataset
        dataset.file_meta = event.file_meta
        self.received.append(dataset)
        self.callers.append(event.assoc.requestor.ae_title)
        return 0x0000

    def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._server = self._ae.start_server(
            ("127.0.0.1", self.port),
            block=False,
            evt_handlers=[(evt.EVT_C_STORE, self._on_store)],
            ssl_context=ssl_context,
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def wait_for(self, count: int, seconds: float = 60.0) -> list[pydicom.Dataset]:
        deadline = time.monotonic() + seconds
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.received) >= count, f"the destination got {len(self.received)} of {count} instances"
        return self.received


class RunningListener:
    """``listen()`` in a thread, stopped through its event."""

    def __init__(
        self,
        spool: Path,
        forward: DicomNode,
        port: int | None = None,
        scale: float = 2,
        upscaler: Upscaler | None = None,
        **options,
    ) -> None:
        self.port = port or free_port()
        self.stop_event = threading.Event()
        self.result: ListenerResult | None = None
        self.error: BaseException | None = None
        ready = threading.Event()

        def run() -> None:
            try:
                self.result = listen(
                    upscaler or Upscaler(scale),
                    spool,
                    forward,
                    port=self.port,
                    stop=self.stop_event,
                    on_ready=ready.set,
                    **{"series_timeout": 1.0, "backoff": 0.2, **options},
                )
            except BaseException as err:  # surfaced by stop()
                self.error = err
                ready.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(30), "the listener did not open its port"
        if self.error is not None:
            raise self.error

    def stop(self) -> ListenerResult:
        self.stop_event.set()
        self.thread.join(60)
        assert not self.thread.is_alive(), "the listener did not stop"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def send(
    port: int,
    files: list[Path],
    calling: str = "MODALITY",
    called: str = "RMISR",
    tls: ssl.SSLContext | None = None,
) -> list[int]:
    """Send files to the listener as a modality would; the C-STORE statuses (empty: association refused)."""
    ae = AE(ae_title=calling)
    ae.requested_contexts = StoragePresentationContexts[:100]
    ae.acse_timeout = ae.network_timeout = 10
    assoc = ae.associate("127.0.0.1", port, ae_title=called, tls_args=(tls, "127.0.0.1") if tls else None)
    if not assoc.is_established:
        return []
    try:
        return [int(assoc.send_c_store(pydicom.dcmread(path)).Status) for path in files]
    finally:
        assoc.release()


def wait_until(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def sent_until_given_up(listener: RunningListener, spool: Path, files: list[Path]) -> ListenerResult:
    """Send ``files`` (each accepted), wait until the listener gives their series up (``failed/``), stop it."""
    try:
        assert send(listener.port, files) == [0x0000] * len(files)
        wait_until(lambda: any(spool.glob("failed/*/error.txt")))
    finally:
        result = listener.stop()
    return result


@pytest.fixture
def destination():
    node = Destination()
    node.start()
    yield node
    node.stop()


@pytest.fixture
def ct_series(tmp_path) -> list[Path]:
    write_ct_series(tmp_path / "ct", n=SLICES)
    return sorted((tmp_path / "ct").iterdir())


def test_a_received_series_is_super_resolved_and_sent_on(tmp_path, destination, ct_series):
    listener = RunningListener(tmp_path / "spool", destination.node)
    try:
        assert send(listener.port, ct_series) == [0x0000] * SLICES
        received = destination.wait_for(SLICES)
    finally:
        result = listener.stop()
    sources = [pydicom.dcmread(path) for path in ct_series]
    source_series = str(sources[0].SeriesInstanceUID)
    assert len(received) == SLICES
    assert {str(ds.StudyInstanceUID) for ds in received} == {str(sources[0].StudyInstanceUID)}
    assert len({str(ds.SeriesInstanceUID) for ds in received}) == 1
    assert str(received[0].SeriesInstanceUID) != source_series
    assert all(DERIVED_BY_US in str(ds.DerivationDescription) for ds in received)
    assert all((ds.Rows, ds.Columns) == (2 * sources[0].Rows, 2 * sources[0].Columns) for ds in received)
    referenced = {str(item.ReferencedSOPInstanceUID) for ds in received for item in ds.SourceImageSequence}
    assert referenced == {str(ds.SOPInstanceUID) for ds in sources}
    assert destination.callers == ["RMISR"] * SLICES
    assert result.sent == {source_series: [str(received[0].SeriesInstanceUID)]} and not result.failed
    # the spool keeps nothing of a series that was sent
    assert not any((tmp_path / "spool").rglob("*.dcm"))


def idle(spool: Path) -> bool:
    """Nothing received that is not yet handled."""
    return not any(spool.glob("incoming/*")) and not any(spool.glob("work/*"))


def test_the_same_series_sent_again_is_not_derived_again(tmp_path, destination, ct_series):
    """A routing rule that fires twice must not give the PACS a second, identical derived series; other instances,
    or the same ones once the record is old, are derived again."""
    spool = tmp_path / "spool"
    series = str(pydicom.dcmread(ct_series[0]).SeriesInstanceUID)
    listener = RunningListener(spool, destination.node)
    try:
        assert send(listener.port, ct_series) == [0x0000] * SLICES
        destination.wait_for(SLICES)
        assert send(listener.port, ct_series) == [0x0000] * SLICES
        wait_until(lambda: idle(spool))
    finally:
        first = listener.stop()
    (derived,) = {str(ds.SeriesInstanceUID) for ds in destination.received}
    assert len(destination.received) == SLICES
    assert first.sent == {series: [derived]} and first.repeated == {series: [derived]}
    (record_path,) = (spool / "done").glob(f"{series}.*.json")
    record = json.loads(record_path.read_text())
    assert record["derived_series"] == [derived] and record["instances"] == SLICES and record["scale"] == 2.0
    # UIDs, digests and settings: nothing of the patient
    assert set(record) == {
        "instances_sha256",
        "instances",
        "model",
        "weights_sha256",
        "scale",
        "axis",
        "roi",
        "self_ensemble",
        "precision",
        "derived_series",
    }

    # after a restart: the record is kept; a part of the series is other instances, derived again
    listener = RunningListener(spool, destination.node)
    try:
        assert send(listener.port, ct_series) == [0x0000] * SLICES
        wait_until(lambda: idle(spool))
        assert len(destination.received) == SLICES
        assert send(listener.port, ct_series[:2]) == [0x0000] * 2
        destination.wait_for(SLICES + 2)
        wait_until(lambda: idle(spool))
        assert send(listener.port, ct_series) == [0x0000] * SLICES  # the part did not replace the whole's record
        wait_until(lambda: idle(spool))
    finally:
        second = listener.stop()
    assert len(destination.received) == SLICES + 2
    assert second.repeated == {series: [derived, derived]} and len(second.sent[series]) == 1
    assert second.sent[series] != [derived]

    # another scale is another derived series
    listener = RunningListener(spool, destination.node, scale=3)
    try:
        assert send(listener.port, ct_series) == [0x0000] * SLICES
        destination.wait_for(2 * SLICES + 2)
    finally:
        third = listener.stop()
    assert list(third.sent) == [series] and not third.repeated

    # records older than --remember-days are removed at start: the same instances are derived again
    old = time.time() - 31 * 86400
    for path in (spool / "done").glob("*.json"):
        os.utime(path, (old, old))
    listener = RunningListener(spool, destination.node)
    try:
        assert send(listener.port, ct_series) == [0x0000] * SLICES
        destination.wait_for(3 * SLICES + 2)
    finally:
        fourth = listener.stop()
    assert list(fourth.sent) == [series] and not fourth.repeated


def test_with_remember_days_0_every_copy_is_derived(tmp_path, destination, ct_series):
    spool = tmp_path / "spool"
    listener = RunningListener(spool, destination.node, remember_days=0)
    try:
        for copy in (1, 2):
            assert send(listener.port, ct_series) == [0x0000] * SLICES
            destination.wait_for(copy * SLICES)
            wait_until(lambda: idle(spool))
    finally:
        result = listener.stop()
    assert len({str(ds.SeriesInstanceUID) for ds in destination.received}) == 2
    assert not result.repeated and not any((spool / "done").iterdir())


def test_derived_and_non_image_instances_are_accepted_and_dropped(tmp_path, destination, ct_series):
    """A routing rule that sends everything, our own results included, must not make a loop."""
    derived_by_us = pydicom.dcmread(ct_series[0])
    derived_by_us.DerivationDescription = f"Super-resolved x2 in-plane {DERIVED_BY_US} 1.0"
    derived_by_us.SOPInstanceUID = pydicom.uid.generate_uid()
    without_pixels = pydicom.dcmread(ct_series[1])
    del without_pixels.PixelData
    without_pixels.SOPInstanceUID = pydicom.uid.generate_uid()
    files = []
    for name, ds in (("ours.dcm", derived_by_us), ("nopixels.dcm", without_pixels)):
        ds.save_as(tmp_path / name)
        files.append(tmp_path / name)
    listener = RunningListener(tmp_path / "spool", destination.node)
    try:
        assert send(listener.port, files) == [0x0000, 0x0000]
        time.sleep(2.5)  # more than two series timeouts
    finally:
        result = listener.stop()
    assert destination.received == [] and result.sent == {} and result.failed == {}
    assert not any((tmp_path / "spool").rglob("*.dcm"))


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
@pytest.mark.parametrize("keyword", ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"])
def test_an_instance_whose_uid_could_name_a_folder_is_refused(tmp_path, destination, ct_series, keyword):
    ds = pydicom.dcmread(ct_series[0])
    setattr(ds, keyword, "..")
    ds.save_as(tmp_path / "bad.dcm")
    listener = RunningListener(tmp_path / "spool", destination.node)
    try:
        assert send(listener.port, [tmp_path / "bad.dcm"]) == [0xC000]
    finally:
        listener.stop()
    assert sorted(p.name for p in (tmp_path / "spool").iterdir()) == [
        ".lock",
        "done",
        "failed",
        "incoming",
        "trash",
        "work",
    ]
    assert not any((tmp_path / "spool").rglob("*.dcm")) and destination.received == []


def test_associations_are_accepted_only_for_our_ae_title_and_allowed_callers(tmp_path, destination, ct_series, caplog):
    listener = RunningListener(tmp_path / "spool", destination.node, allowed_callers=["CT1"])
    try:
        with caplog.at_level(logging.WARNING, logger="monai_rmisr.pacs.listener"):
            assert send(listener.port, ct_series[:1], calling="MODALITY") == []  # not an allowed caller
            assert send(listener.port, ct_series[:1], calling="CT1", called="OTHER") == []  # not our AE title
        # the sender is told only "rejected": the listener's log says who was refused and why
        refused = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused an association")]
        assert len(refused) == 2 and "from AE 'MODALITY' at 127.0.0.1" in refused[0]
        assert "called AE 'OTHER'; this listener is 'RMISR', allowed callers: CT1" in refused[1]
        assert send(listener.port, ct_series, calling="CT1") == [0x0000] * SLICES
        destination.wait_for(SLICES)
    finally:
        listener.stop()
    assert len(destination.received) == SLICES


def test_a_series_waits_for_its_destination_and_survives_a_restart(tmp_path, ct_series):
    """Destination down: the derived series is kept and retried; a restarted listener sends the same instances."""
    down = Destination()  # not started: its port refuses connections
    spool = tmp_path / "spool"
    listener = RunningListener(spool, down.node, backoff=0.2, max_attempts=1000)
    try:
        assert send(listener.port, ct_series) == [0x0000] * SLICES
        wait_until(lambda: any(spool.glob("work/*/derived.complete")))
        time.sleep(1.0)  # a few failed tries
    finally:
        first = listener.stop()
    assert first.sent == {} and first.failed == {}
    (tries,) = spool.glob("work/*/tries.json")  # the count a restart goes on from
    assert json.loads(tries.read_text())["started"] >= 1
    kept = sorted(spool.glob("work/*/derived/**/*.dcm"))
    assert len(kept) == SLICES
    kept_uids = {str(pydicom.dcmread(path).SOPInstanceUID) for path in kept}
    down.start()
    try:
        listener = RunningListener(spool, down.node, max_attempts=1000)
        try:
            received = down.wait_for(SLICES)
        finally:
            second = listener.stop()
    finally:
        down.stop()
    assert {str(ds.SOPInstanceUID) for ds in received} == kept_uids  # the same instances, not a second series
    assert len(second.sent) == 1 and not any(spool.rglob("*.dcm"))


def test_a_kept_derivation_made_with_other_settings_is_made_again(tmp_path, ct_series):
    """A listener restarted with another scale does not send (nor record) what the old scale made."""
    down = Destination()
    spool = tmp_path / "spool"
    listener = RunningListener(spool, down.node, backoff=0.2, max_attempts=1000)
    try:
        assert send(listener.port, ct_series) == [0x0000] * SLICES
        wait_until(lambda: any(spool.glob("work/*/derived.complete")))
    finally:
        listener.stop()
    down.start()
    try:
        listener = RunningListener(spool, down.node, scale=3)
        try:
            received = down.wait_for(SLICES)
        finally:
            result = listener.stop()
    finally:
        down.stop()
    rows = pydicom.dcmread(ct_series[0]).Rows
    assert {ds.Rows for ds in received} == {3 * rows} and len(result.sent) == 1
    (record_path,) = spool.glob("done/*.json")
    assert json.loads(record_path.read_text())["scale"] == 3.0


def test_a_series_that_keeps_failing_moves_to_failed_with_its_reason(tmp_path, ct_series):
    down = Destination()
    spool = tmp_path / "spool"
    listener = RunningListener(spool, down.node, backoff=0.05, max_attempts=2, timeout=5)
    result = sent_until_given_up(listener, spool, ct_series)
    series = str(pydicom.dcmread(ct_series[0]).SeriesInstanceUID)
    assert list(result.failed) == [series] and "did not accept an association" in result.failed[series]
    (failed,) = spool.glob("failed/*")
    assert failed.name == f"{series}.1"
    assert len(list((failed / "source").glob("*.dcm"))) == SLICES  # the received series is kept for a look
    assert not any(spool.glob("work/*")) and not any(spool.glob("incoming/*"))
    files = [path for path in failed.rglob("*") if path.is_file()]
    others = {str(path.relative_to(failed)): oct(path.stat().st_mode & 0o777) for path in files}
    others = {name: mode for name, mode in others.items() if mode != "0o600"}
    assert files and others == {}, others  # error.txt and the derived files were 0644 among the patient's files
    assert oct((spool / ".lock").stat().st_mode & 0o777) == "0o600"  # the spool's every file (it was 0644)


def test_tries_are_counted_across_restarts(tmp_path, ct_series, caplog):
    """A series whose tries were all started by earlier listeners (the last one stopped while deriving it: out of
    memory, say) is given up at once instead of stopping every restart; one with tries left goes on counting."""
    down = Destination()  # not started: every try to send fails
    spool = tmp_path / "spool"
    exhausted, one_left, lowered = (f"1.2.826.0.1.3680043.8.498.{k}" for k in (1, 2, 3))
    for series, started, error in ((exhausted, 3, ""), (one_left, 2, "lost"), (lowered, 4, "lost")):
        source = spool / "work" / f"{series}.1" / "source"  # as stopped listeners leave them
        source.mkdir(parents=True)
        for path in ct_series:
            (source / path.name).write_bytes(path.read_bytes())
        (source.parent / "tries.json").write_text(json.dumps({"started": started, "last_error": error}))
    caplog.set_level("INFO", logger="monai_rmisr.pacs.listener")
    listener = RunningListener(spool, down.node, backoff=0.05, max_attempts=3, timeout=5)
    try:
        wait_until(lambda: not any(spool.glob("work/*")))
    finally:
        result = listener.stop()
    assert "3 tries were started by earlier runs" in result.failed[exhausted]
    assert "did not accept an association" in result.failed[one_left]
    assert result.failed[lowered] == "4 tries, counted across restarts; the last failed: lost"  # --max-attempts lowered
    assert not [record for record in caplog.records if "retrying" in record.getMessage()]  # its third try, the last
    for series in (exhausted, one_left, lowered):
        failed = spool / "failed" / f"{series}.1"
        assert len(list((failed / "source").glob("*.dcm"))) == SLICES
        assert not (failed / "tries.json").exists()  # moved back into work/ by hand, it starts a new count
    assert "the last one never ended" in (spool / "failed" / f"{exhausted}.1" / "error.txt").read_text()


def test_a_series_that_cannot_be_read_fails_at_once(tmp_path, destination, ct_series):
    """Retrying cannot mend a series that cannot be read: it moves to failed/ on its first try, the reason kept.
    (A slice that does not decode is refused when it arrives: test_an_instance_whose_pixels_cannot_be_read...;
    this one decodes, but is half the size of the others.)"""
    broken = pydicom.dcmread(ct_series[1])
    half = broken.pixel_array[::2, ::2].copy()
    broken.Rows, broken.Columns, broken.PixelData = half.shape[0], half.shape[1], half.tobytes()
    broken.save_as(ct_series[1])
    spool = tmp_path / "spool"
    listener = RunningListener(spool, destination.node, backoff=3600, max_attempts=5)
    result = sent_until_given_up(listener, spool, ct_series)
    (error,) = result.failed.values()
    assert "is 64x64 but the series is 128x128" in error and str(broken.SOPInstanceUID) in error, error
    (failed,) = spool.glob("failed/*")
    kept = (failed / "error.txt").read_text()  # names the file where it now is, not where it was in work/
    assert f"{failed}/source/" in kept and "/work/" not in kept, kept
    assert f"{failed}/source/" in error and "/work/" not in error, error  # the log line too
    assert destination.received == [] and not any(spool.glob("work/*"))


def test_a_series_larger_than_max_instances_is_given_up_without_deriving(tmp_path, destination, ct_series):
    spool = tmp_path / "spool"
    listener = RunningListener(spool, destination.node, backoff=3600, max_attempts=5, max_instances=SLICES - 1)
    result = sent_until_given_up(listener, spool, ct_series)
    (error,) = result.failed.values()
    assert f"the series has {SLICES} image instances, more than --max-instances {SLICES - 1}" in error
    (failed,) = spool.glob("failed/*")
    assert not (failed / "derived").exists() and len(list((failed / "source").glob("*.dcm"))) == SLICES
    assert destination.received == []


def _leave_in_incoming(spool: Path, destination: Destination, files: list[Path]) -> None:
    """Send ``files`` to a listener that takes no series yet, and stop it: the series waits in ``incoming/``."""
    listener = RunningListener(spool, destination.node, series_timeout=3600)
    try:
        assert send(listener.port, files) == [0x0000] * len(files)
    finally:
        listener.stop()


def test_an_incoming_series_left_by_a_stopped_listener_is_taken_up(tmp_path, destination, ct_series):
    spool = tmp_path / "spool"
    _leave_in_incoming(spool, destination, ct_series)
    assert len(list(spool.glob("incoming/*/*.dcm"))) == SLICES and destination.received == []
    # what a listener killed at a bad moment leaves: an instance half-written, an empty series folder, a work
    # folder made just before a move into it, a removal cut short
    (series_folder,) = spool.glob("incoming/*")
    (series_folder / ".half.tmp").write_bytes(b"DICM")
    (spool / "incoming" / "1.2.3").mkdir()
    (spool / "work" / "1.2.4.1").mkdir()
    (spool / "trash" / "1.2.5.1" / "source").mkdir(parents=True)
    listener = RunningListener(spool, destination.node, series_timeout=0.01)
    try:
        received = destination.wait_for(SLICES)
    finally:
        result = listener.stop()
    assert len(received) == SLICES and list(result.sent) == [series_folder.name] and not result.failed
    (record,) = spool.glob(f"done/{series_folder.name}.*.json")
    assert sorted(str(p.relative_to(spool)) for p in spool.rglob("*")) == [
        ".lock",
        "done",
        str(record.relative_to(spool)),
        "failed",
        "incoming",
        "trash",
        "work",
    ]


def test_a_compressed_series_is_accepted_and_read(tmp_path, destination, ct_series):
    """Senders may keep their compression: the listener accepts what pydicom decodes here (RLE, JPEG, ...)."""
    from pydicom.uid import RLELossless

    for path in ct_series:
        ds = pydicom.dcmread(path)
        ds.compress(RLELossless)
        ds.save_as(path)
    listener = RunningListener(tmp_path / "spool", destination.node)
    try:
        ae = AE(ae_title="MODALITY")
        ae.add_requested_context(pydicom.dcmread(ct_series[0]).SOPClassUID, RLELossless)  # only RLE offered
        assoc = ae.associate("127.0.0.1", listener.port, ae_title="RMISR")
        assert assoc.is_established
        try:
            assert [int(assoc.send_c_store(path).Status) for path in ct_series] == [0x0000] * SLICES
        finally:
            assoc.release()
        received = destination.wait_for(SLICES)
    finally:
        listener.stop()
    assert all((ds.Rows, ds.Columns) == (256, 256) for ds in received)


def test_c_echo_is_answered(tmp_path, destination):
    """A PACS "tests" a new DICOM node with C-ECHO before sending to it."""
    listener = RunningListener(tmp_path / "spool", destination.node)
    try:
        ae = AE(ae_title="PACS")
        ae.add_requested_context(Verification)
        assoc = ae.associate("127.0.0.1", listener.port, ae_title="RMISR")
        assert assoc.is_established
        try:
            assert int(assoc.send_c_echo().Status) == 0x0000
        finally:
            assoc.release()
    finally:
        listener.stop()


def test_a_spool_in_use_is_refused(tmp_path, destination):
    spool = tmp_path / "spool"
    listener = RunningListener(spool, destination.node)
    try:
        with pytest.raises(ValueError, match="is in use by another rmisr listen"):
            listen(Upscaler(2), spool, destination.node, port=free_port())
    finally:
        listener.stop()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("PACS@10.0.0.5:104", DicomNode("PACS", "10.0.0.5", 104)),
        ("ORTHANC@pacs.example.org:4242", DicomNode("ORTHANC", "pacs.example.org", 4242)),
        ("A B@[::1]:11112", DicomNode("A B", "::1", 11112)),
    ],
)
def test_parse_dicom_node(text, expected):
    assert parse_dicom_node(text) == expected


@pytest.mark.parametrize(
    "text",
    ["PACS@host", "@host:104", "host:104", "PACS@:104", "PACS@host:0", "PACS@host:x", "A" * 17 + "@h:1", "A\\B@h:1"],
)
def test_a_bad_forward_is_refused_naming_the_option(text):
    with pytest.raises(ValueError, match="--forward"):
        parse_dicom_node(text)


def test_cli_bad_arguments_exit_2_and_create_nothing(tmp_path, capsys):
    spool = tmp_path / "new" / "spool"  # its parent is new too
    base = ["listen", "--spool", str(spool), "--scale", "2"]
    assert main([*base, "--forward", "PACS@host"]) == 2
    assert "--forward must look like AE_TITLE@HOST:PORT" in capsys.readouterr().err
    assert main([*base, "--forward", "PACS@127.0.0.1:104", "--ae-title", "x" * 17]) == 2
    assert "--ae-title" in capsys.readouterr().err
    for bad in ("-1", "0"):  # 0 would take a series as complete while its instances still arrive
        assert main([*base, "--forward", "PACS@127.0.0.1:104", "--series-timeout", bad]) == 2
        assert "--series-timeout must be > 0 seconds" in capsys.readouterr().err
    assert main([*base, "--forward", "PACS@127.0.0.1:104", "--remember-days", "-1"]) == 2
    assert "--remember-days must be >= 0 days" in capsys.readouterr().err
    assert main([*base, "--forward", "PACS@127.0.0.1:104", "--max-instances", "0"]) == 2
    assert "--max-instances must be a whole number >= 1, got 0" in capsys.readouterr().err
    for timeout in ("inf", "1e12"):  # an OverflowError traceback from pynetdicom, after the spool was made
        assert main([*base, "--forward", "PACS@127.0.0.1:104", "--timeout", timeout]) == 2
        assert "--timeout must be at most 86400 seconds" in capsys.readouterr().err
    assert not spool.exists()
    busy = Destination()
    busy.start()
    try:
        assert main([*base, "--forward", "PACS@127.0.0.1:104", "--port", str(busy.port)]) == 2
    finally:
        busy.stop()
    assert f"cannot listen on 127.0.0.1:{busy.port}" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()  # the folders it had made are removed again
    spool_file = tmp_path / "file"
    spool_file.write_text("not a folder")
    assert main(["listen", "--spool", str(spool_file), "--scale", "2", "--forward", "PACS@127.0.0.1:104"]) == 2
    assert "is not a folder" in capsys.readouterr().err and spool_file.read_text() == "not a folder"
    assert main(["listen", "--spool", str(spool_file / "spool"), "--scale", "2", "--forward", "P@127.0.0.1:104"]) == 2
    assert "--spool" in capsys.readouterr().err and spool_file.read_text() == "not a folder"


@pytest.mark.parametrize("options", [[], ["--axis", "z", "--skip-bad-slices"]])
def test_the_derived_pixels_are_what_rmisr_upscale_writes(tmp_path, destination, ct_series, options):
    """The listener adds no processing of its own: its result equals ``rmisr upscale SERIES_FOLDER``'s, with the
    derivation options of ``rmisr listen`` (the same as ``rmisr upscale``'s; ``--axis z`` adds slices)."""
    forward = ["--forward", str(destination.node)]
    args = build_parser().parse_args(["listen", "--spool", str(tmp_path / "spool"), "--scale", "2", *forward, *options])
    upscaler = derivation_upscaler(args)
    slices = 2 * SLICES if "z" in options else SLICES
    if "--skip-bad-slices" in options:  # a slice of another size in the series: left out, not the series refused
        odd = pydicom.dcmread(ct_series[0])
        odd.SOPInstanceUID = odd.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
        odd.InstanceNumber = 99
        odd.Rows, odd.Columns = odd.Rows // 2, odd.Columns // 2
        odd.PixelData = odd.pixel_array[::2, ::2].copy().tobytes()
        odd.save_as(ct_series[0].parent / "odd.dcm")
        ct_series = [*ct_series, ct_series[0].parent / "odd.dcm"]
    listener = RunningListener(tmp_path / "spool", destination.node, upscaler=upscaler)
    try:
        send(listener.port, ct_series)
        received = destination.wait_for(slices)
    finally:
        listener.stop()
    upscaled = tmp_path / "upscaled"
    assert main(["upscale", str(ct_series[0].parent), "-o", str(upscaled), "--scale", "2", *options]) == 0
    expected = {tuple(ds.ImagePositionPatient): ds for ds in map(pydicom.dcmread, sorted(upscaled.rglob("*.dcm")))}
    assert len(received) == len(expected) == slices
    for ds in received:
        made = expected[tuple(ds.ImagePositionPatient)]
        assert str(ds.DerivationDescription) == str(made.DerivationDescription)
        np.testing.assert_array_equal(ds.pixel_array, made.pixel_array)


def test_a_series_sent_by_orthanc_is_super_resolved(tmp_path, destination, ct_series):
    """A real PACS as the sender: Orthanc (its DICOM server off) C-STOREs a series to the listener, as a routing
    rule or a user's "send to modality" would."""
    port = free_port()
    process, orthanc = start_orthanc(tmp_path / "orthanc", DicomModalities={"rmisr": ["RMISR", "127.0.0.1", port]})
    try:
        uploaded = orthanc.upload(ct_series)
        listener = RunningListener(tmp_path / "spool", destination.node, port=port)
        try:
            response = requests.post(
                f"{orthanc.url}/modalities/rmisr/store",
                json={"Resources": [uploaded[0]["ParentSeries"]], "Synchronous": True},
                auth=orthanc.auth,
                timeout=60,
            )
            assert response.ok, response.text
            received = destination.wait_for(SLICES)
        finally:
            result = listener.stop()
    finally:
        stop_orthanc(process)
    source_series = str(pydicom.dcmread(ct_series[0]).SeriesInstanceUID)
    assert list(result.sent) == [source_series] and len(received) == SLICES
    assert all(DERIVED_BY_US in str(ds.DerivationDescription) for ds in received)


def test_the_command_runs_until_sigterm(tmp_path, destination, ct_series):
    """``rmisr listen`` as a service: it receives and forwards, and SIGTERM stops it with exit code 0."""
    port = free_port()
    command = [sys.executable, "-m", "monai_rmisr", "listen", "--spool", str(tmp_path / "spool"), "--scale", "2"]
    command += ["--forward", str(destination.node), "--port", str(port), "--series-timeout", "1"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        wait_until(lambda: _port_open(port) or process.poll() is not None, seconds=120)
        assert process.poll() is None, process.communicate()[1]
        assert send(port, ct_series) == [0x0000] * SLICES
        destination.wait_for(SLICES)
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, log
    source_series = str(pydicom.dcmread(ct_series[0]).SeriesInstanceUID)
    assert f"series {source_series} -> " in log and "received SIGTERM" in log
    assert str(pydicom.dcmread(ct_series[0]).PatientName) not in log  # logs never name the patient


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    """A CA, a certificate for 127.0.0.1 (the listener and the destination), a modality's certificate, and a
    certificate from another CA (PEM files: key and chain in one)."""
    import trustme

    folder = tmp_path_factory.mktemp("pki")
    ca, other_ca = trustme.CA(), trustme.CA()
    ca.cert_pem.write_to_path(folder / "ca.pem")
    other_ca.cert_pem.write_to_path(folder / "other_ca.pem")
    for name, issuer, host in (
        ("node", ca, "127.0.0.1"),
        ("modality", ca, "ct1.example"),
        ("stranger", other_ca, "127.0.0.1"),
    ):
        issuer.issue_cert(host).private_key_and_cert_chain_pem.write_to_path(folder / f"{name}.pem")
    return {name: folder / f"{name}.pem" for name in ("ca", "other_ca", "node", "modality", "stranger")}


def client_tls(pki: dict[str, Path], certificate: str | None) -> ssl.SSLContext:
    """A sender's TLS context: the listener verified against our CA; ``certificate`` presented, if any."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=pki["ca"])
    if certificate is not None:
        context.load_cert_chain(pki[certificate])
    return context


def server_tls(pki: dict[str, Path], certificate: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki[certificate])
    return context


@pytest.mark.parametrize(
    ("destination_certificate", "forward_tls_ca"),
    [("node", None), ("stranger", "other_ca")],  # under our CA (--tls-ca), or another (--forward-tls-ca)
)
def test_dicom_over_tls_in_and_on(tmp_path, pki, ct_series, destination_certificate, forward_tls_ca):
    """A TLS port that wants a certificate from our CA; the derived series sent on over TLS, the destination's
    certificate verified against --tls-ca, or against --forward-tls-ca where that names its other CA."""
    destination = Destination()
    destination.start(server_tls(pki, destination_certificate))
    node = str(pki["node"])
    options = {"tls_cert": node, "tls_key": node, "tls_ca": pki["ca"], "forward_tls": True}
    if forward_tls_ca is not None:
        options["forward_tls_ca"] = pki[forward_tls_ca]
    try:
        listener = RunningListener(tmp_path / "spool", destination.node, **options)
        try:
            assert send(listener.port, ct_series[:1]) == []  # plain TCP to a TLS port
            assert send(listener.port, ct_series[:1], tls=client_tls(pki, None)) == []  # no certificate
            assert send(listener.port, ct_series[:1], tls=client_tls(pki, "stranger")) == []  # another CA's
            assert send(listener.port, ct_series, tls=client_tls(pki, "modality")) == [0x0000] * SLICES
            received = destination.wait_for(SLICES)
        finally:
            result = listener.stop()
    finally:
        destination.stop()
    assert len(received) == SLICES and len(result.sent) == 1 and not result.failed


def test_a_destination_whose_certificate_does_not_verify_gets_nothing(tmp_path, pki, ct_series):
    destination = Destination()
    destination.start(server_tls(pki, "stranger"))  # issued by a CA the listener does not trust
    try:
        listener = RunningListener(
            tmp_path / "spool", destination.node, tls_ca=pki["ca"], forward_tls=True, max_attempts=1
        )
        result = sent_until_given_up(listener, tmp_path / "spool", ct_series)  # its own port is plain here
    finally:
        destination.stop()
    assert destination.received == []
    (error,) = result.failed.values()
    assert "with TLS" in error and "--tls-ca" in error, error


def test_tls_options_are_checked_naming_them(tmp_path, pki, capsys):
    from monai_rmisr.pacs.listener import tls_contexts

    node = pki["node"]
    with pytest.raises(ValueError, match="--tls-cert and --tls-key go together"):
        tls_contexts(cert=node)
    with pytest.raises(ValueError, match="--tls-ca needs"):
        tls_contexts(ca=pki["ca"])
    with pytest.raises(ValueError, match=r"--tls-ca '.*missing\.pem' cannot be loaded"):
        tls_contexts(node, node, tmp_path / "missing.pem")
    with pytest.raises(ValueError, match="--forward-tls-ca needs --forward-tls"):
        tls_contexts(node, node, forward_ca=pki["other_ca"])
    with pytest.raises(ValueError, match=r"--tls-ca needs .* \(without --forward-tls-ca\)"):  # it would check nothing
        tls_contexts(ca=pki["ca"], forward_tls=True, forward_ca=pki["other_ca"])
    with pytest.raises(ValueError, match=r"--forward-tls-ca '.*missing\.pem' cannot be loaded"):
        tls_contexts(node, node, pki["ca"], forward_tls=True, forward_ca=tmp_path / "missing.pem")
    listening, forwarding = tls_contexts(node, node, pki["ca"], forward_tls=True)
    assert listening.verify_mode == ssl.CERT_REQUIRED and forwarding.check_hostname
    assert tls_contexts(node, node)[0].verify_mode == ssl.CERT_NONE and tls_contexts(node, node)[1] is None
    (tmp_path / "not.pem").write_text("not a certificate")
    spool = tmp_path / "spool"
    base = ["listen", "--spool", str(spool), "--scale", "2", "--forward", "PACS@127.0.0.1:104"]
    assert main([*base, "--tls-cert", str(tmp_path / "not.pem"), "--tls-key", str(tmp_path / "not.pem")]) == 2
    assert "--tls-cert" in capsys.readouterr().err and not spool.exists()
    assert main([*base, "--forward-tls-ca", str(pki["other_ca"])]) == 2
    assert "--forward-tls-ca needs --forward-tls" in capsys.readouterr().err and not spool.exists()


def test_a_silent_connection_holds_up_neither_the_tls_port_nor_the_stop(tmp_path, pki, destination, ct_series):
    """A port scan or a half-open link that never starts its TLS handshake must not block other senders, nor the
    listener's stop (the handshake runs in each association's own thread, under its timeout). Run in a thread, so
    that a regression fails here instead of hanging the test run."""
    node = str(pki["node"])
    listener = RunningListener(tmp_path / "spool", destination.node, tls_cert=node, tls_key=node, timeout=5)
    silent = socket.create_connection(("127.0.0.1", listener.port))
    outcome: dict[str, object] = {}

    def sender_then_stop() -> None:
        try:
            outcome["statuses"] = send(listener.port, ct_series, tls=client_tls(pki, None))
            destination.wait_for(SLICES, seconds=30)
        except BaseException as err:
            outcome["error"] = err
        started = time.monotonic()
        listener.stop_event.set()
        listener.thread.join(60)
        outcome["stopping"] = time.monotonic() - started

    worker = threading.Thread(target=sender_then_stop, daemon=True)
    try:
        worker.start()
        worker.join(120)
    finally:
        silent.close()
    assert not worker.is_alive(), "a silent connection held up the TLS port or the listener's stop"
    assert "error" not in outcome, outcome.get("error")
    assert outcome["statuses"] == [0x0000] * SLICES
    assert outcome["stopping"] < 15 and not listener.thread.is_alive(), outcome


def test_idle_connections_from_one_host_do_not_lock_other_senders_out(tmp_path, destination, ct_series):
    """16 connections that send nothing (no AE title needed) took every association slot: every C-ECHO and C-STORE
    was refused ("Local Limit Exceeded") until they timed out, and opened again they kept the PACS out. One host
    now holds at most MAX_CONNECTIONS_PER_HOST; a sender from another address (127.0.0.2 on loopback) gets in."""
    from monai_rmisr.pacs.listener import MAX_ASSOCIATIONS, MAX_CONNECTIONS_PER_HOST

    listener = RunningListener(tmp_path / "spool", destination.node)
    idle = [socket.create_connection(("127.0.0.1", listener.port)) for _ in range(MAX_ASSOCIATIONS // 2)]
    try:
        time.sleep(0.5)
        closed = 0
        for connection in idle:
            connection.settimeout(0.5)
            with contextlib.suppress(TimeoutError):  # a timeout: held, waiting for an association request
                closed += connection.recv(1) == b""  # closed by the listener at once
        assert closed == len(idle) - MAX_CONNECTIONS_PER_HOST
        ae = AE(ae_title="MODALITY")
        ae.requested_contexts = StoragePresentationContexts[:100]
        ae.acse_timeout = ae.network_timeout = 10
        assoc = ae.associate("127.0.0.1", listener.port, ae_title="RMISR", bind_address=("127.0.0.2", 0))
        assert assoc.is_established
        try:
            statuses = [int(assoc.send_c_store(pydicom.dcmread(path)).Status) for path in ct_series]
        finally:
            assoc.release()
        assert statuses == [0x0000] * len(ct_series)
    finally:
        for connection in idle:
            connection.close()
        listener.stop()


@pytest.mark.parametrize("skip_bad_slices", [False, True])
def test_an_instance_whose_pixels_cannot_be_read_is_refused_at_once(tmp_path, destination, ct_series, skip_bad_slices):
    """Truncated pixel data was accepted (status 0x0000) and the whole series then failed: the sender believed it
    delivered. It is refused when it arrives (0xC000). The rest of the series was then derived and sent as if whole
    (and Orthanc stops sending a series at a refusal: a derived series of its first slices went on); now the series
    is not derived, naming the instance refused, unless --skip-bad-slices, which derives the instances that came."""
    broken = tmp_path / "broken.dcm"
    ds = pydicom.dcmread(ct_series[0])
    ds.PixelData = ds.PixelData[:1000]
    ds.save_as(broken)
    spool = tmp_path / "spool"
    listener = RunningListener(spool, destination.node, upscaler=Upscaler(2, skip_bad_slices=skip_bad_slices))
    try:
        statuses = send(listener.port, [broken, *ct_series[1:]])
        assert statuses == [0xC000] + [0x0000] * (SLICES - 1)
        if skip_bad_slices:
            received = destination.wait_for(SLICES - 1)
        else:
            wait_until(lambda: any(spool.glob("failed/*/error.txt")))
            received = destination.received
    finally:
        result = listener.stop()
    series = str(ds.SeriesInstanceUID)
    if skip_bad_slices:
        assert len(received) == SLICES - 1 and not result.failed
        # the derived series records the instance it lacks, so a reader in the archive sees it is not whole
        left_out = f"; 1 source slice left out (SOP Instance UID {ds.SOPInstanceUID}); not for primary"
        assert all(left_out in ds_received.DerivationDescription for ds_received in received)
        return
    assert received == [] and list(result.failed) == [series]
    said = result.failed[series]
    assert f"1 instance(s) of the series were refused when they came, their images unreadable ({ds.SOPInstanceUID}" in (
        said
    )
    assert "--skip-bad-slices derives it from the instances that came" in said


def _open_association(port: int) -> Any:
    ae = AE(ae_title="MODALITY")
    ae.requested_contexts = StoragePresentationContexts[:100]
    ae.acse_timeout = ae.network_timeout = 10
    assoc = ae.associate("127.0.0.1", port, ae_title="RMISR")
    assert assoc.is_established
    return assoc


def _store(assoc: Any, files: list[Path]) -> None:
    assert [int(assoc.send_c_store(pydicom.dcmread(path)).Status) for path in files] == [0x0000] * len(files)


def _begin_a_c_store(assoc: Any, path: Path, head: int = 0) -> str:
    """Send the command set of a C-STORE of ``path`` and the first fragment of its data set, never the rest (as a
    large instance over a slow link is, or one cut off); its SOP Instance UID. The fragment is the data set's first
    ``head`` bytes, or with ``head`` 0 sixteen bytes that tell nothing (its series cannot be read from them)."""
    from pynetdicom.dsutils import encode

    dataset = pydicom.dcmread(path)
    context = next(c for c in assoc.accepted_contexts if c.abstract_syntax == dataset.SOPClassUID)
    syntax = context.transfer_syntax[0]
    encoded_data = encode(dataset, syntax.is_implicit_VR, syntax.is_little_endian, syntax.is_deflated)
    first = encoded_data[:head] if head else b"\x08\x00" * 8
    command = pydicom.Dataset()
    command.AffectedSOPClassUID = dataset.SOPClassUID
    command.CommandField = 0x0001  # C-STORE-RQ
    command.MessageID = 99
    command.Priority = 0
    command.CommandDataSetType = 0x0000  # a data set follows
    command.AffectedSOPInstanceUID = dataset.SOPInstanceUID
    encoded = encode(command, True, True)
    pdvs = b""
    for header, fragment in ((0x03, encoded), (0x00, first)):  # PS3.8 E.2: command, last; data, not last
        item = bytes([context.context_id, header]) + fragment
        pdvs += len(item).to_bytes(4, "big") + item
    assoc.dul.socket.send(bytes([0x04, 0x00]) + len(pdvs).to_bytes(4, "big") + pdvs)  # one P-DATA-TF PDU
    return str(dataset.SOPInstanceUID)


def _cut(assoc: Any) -> None:
    """Close the connection under ``assoc`` without a release or an abort (a network failure, a crashed sender);
    an orderly close, so that the listener reads what was sent before."""
    connection = assoc.dul.socket.socket
    connection.shutdown(socket.SHUT_RDWR)
    connection.close()


@pytest.mark.parametrize("sent_again", ["the lost instance", "another instance", "nothing"])
def test_a_series_cut_off_mid_instance_waits_for_the_lost_instance(tmp_path, destination, ct_series, sent_again):
    """An association that ends while an instance is arriving has lost that instance: its series was taken as
    complete after --series-timeout and derived with a slice missing. Now it waits for that instance (by its SOP
    Instance UID, in a later association) up to --resend-wait, then fails underived, naming it."""
    series = str(pydicom.dcmread(ct_series[0]).SeriesInstanceUID)
    spool = tmp_path / "spool"
    listener = RunningListener(spool, destination.node, series_timeout=0.3, resend_wait=3.0, backoff=3600)
    try:
        assoc = _open_association(listener.port)
        _store(assoc, [ct_series[0], ct_series[2]])
        lost = _begin_a_c_store(assoc, ct_series[1])
        _cut(assoc)
        wait_until(lambda: any(spool.glob("incoming/*/interrupted.json")))
        time.sleep(1.0)  # more than --series-timeout: the series waits
        assert not any(spool.glob("work/*")) and not any(spool.glob("failed/*"))
        if sent_again != "nothing":
            send(listener.port, [ct_series[1] if sent_again == "the lost instance" else ct_series[2]])
        if sent_again == "the lost instance":
            received = destination.wait_for(SLICES)
            wait_until(lambda: not any(spool.glob("work/*")))
        else:
            wait_until(lambda: any(spool.glob("failed/*/error.txt")))
    finally:
        result = listener.stop()
    if sent_again == "the lost instance":
        assert list(result.sent) == [series] and not result.failed and len(received) == SLICES
    else:
        assert list(result.failed) == [series] and destination.received == []
        error = result.failed[series]
        assert "an instance was arriving" in error and f"instance {lost} was lost" in error
        (failed,) = spool.glob("failed/*")
        assert len(list((failed / "source").glob("*.dcm"))) == SLICES - 1
        assert not list(failed.rglob(".receiving-*"))
        assert oct((failed / "source" / "interrupted.json").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("association", ["the same", "a new one"])
def test_a_series_is_not_taken_while_an_instance_of_it_arrives(tmp_path, destination, ct_series, association):
    """A large instance over a slow link can take longer than --series-timeout: its series waits for it, also when
    it is the first instance of a new association (a sender that opens one per instance, or a retry)."""
    spool = tmp_path / "spool"
    listener = RunningListener(spool, destination.node, series_timeout=0.3, resend_wait=60, backoff=3600)
    try:
        first = _open_association(listener.port)
        _store(first, ct_series[:1])
        if association == "a new one":
            first.release()
        slow = first if association == "the same" else _open_association(listener.port)
        _begin_a_c_store(slow, ct_series[1])
        time.sleep(1.5)  # five series timeouts
        assert len(list(spool.glob("incoming/*/*.dcm"))) == 1 and not any(spool.glob("work/*"))
        _cut(slow)  # the instance is lost: the series waits for it
        wait_until(lambda: any(spool.glob("incoming/*/interrupted.json")))
        assert send(listener.port, ct_series[1:]) == [0x0000] * (SLICES - 1)
        received = destination.wait_for(SLICES)
        wait_until(lambda: not any(spool.glob("work/*")))
    finally:
        result = listener.stop()
    assert len(received) == SLICES and len({str(d.SeriesInstanceUID) for d in received}) == 1 and not result.failed


def test_a_series_waits_while_its_newest_instance_is_checked(tmp_path, destination, ct_series, monkeypatch):
    """The last message has come whole, but the instance is not in its series' folder until it is checked and
    written: taken meanwhile, the series went out without it, and the instance as a second derived series."""
    import monai_rmisr.pacs.listener as listener_module

    slow_uid = str(pydicom.dcmread(ct_series[-1]).SOPInstanceUID)
    check = listener_module.check_pixel_data

    def slow_check(dataset, uid, *args, **kwargs):
        if uid == slow_uid:
            time.sleep(1.5)
        return check(dataset, uid, *args, **kwargs)

    monkeypatch.setattr(listener_module, "check_pixel_data", slow_check)
    spool = tmp_path / "spool"
    listener = RunningListener(spool, destination.node, series_timeout=0.3)
    try:
        assert send(listener.port, ct_series) == [0x0000] * SLICES
        received = destination.wait_for(SLICES)
        wait_until(lambda: not any(spool.glob("work/*")) and not any(spool.glob("incoming/*")))
        time.sleep(0.5)
    finally:
        result = listener.stop()
    assert len(received) == SLICES and len({str(d.SeriesInstanceUID) for d in destination.received}) == 1
    assert len(result.sent) == 1 and len(next(iter(result.sent.values()))) == 1


def test_a_sender_that_aborts_between_instances_has_its_series_derived(tmp_path, destination, ct_series, caplog):
    """Some senders end each association with an abort: nothing is cut off that the listener can tell."""
    caplog.set_level("WARNING", logger="monai_rmisr.pacs.listener")
    spool = tmp_path / "spool"
    listener = RunningListener(spool, destination.node, series_timeout=0.5)
    try:
        assoc = _open_association(listener.port)
        _store(assoc, ct_series)
        assoc.abort()
        received = destination.wait_for(SLICES)
        wait_until(lambda: not any(spool.glob("work/*")))
    finally:
        result = listener.stop()
    assert len(received) == SLICES and len(result.sent) == 1 and not result.failed
    assert any("ended an association without releasing it" in r.getMessage() for r in caplog.records)


def _kill_a_listener_mid_transfer(
    spool: Path, destination: Destination, files: list[Path], arriving: Path, head: int = 0
) -> None:
    """Run ``rmisr listen`` as a process, send ``files``, begin a C-STORE of ``arriving`` (its data set's first
    ``head`` bytes: :func:`_begin_a_c_store`) on a new association (the first instance of an association: a sender
    that opens one per instance), and SIGKILL the process once the marker is in the series of ``arriving``."""
    port = free_port()
    command = [sys.executable, "-m", "monai_rmisr", "listen", "--spool", str(spool), "--scale", "2"]
    command += ["--forward", str(destination.node), "--port", str(port), "--series-timeout", "3600"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        wait_until(lambda: _port_open(port) or process.poll() is not None, seconds=120)
        assert process.poll() is None, process.communicate()[1]
        assert send(port, files) == [0x0000] * len(files)
        _begin_a_c_store(_open_association(port), arriving, head)
        series = str(pydicom.dcmread(arriving).SeriesInstanceUID)
        wait_until(lambda: any(spool.glob(f"incoming/{series}/.receiving-*")))
    finally:
        process.kill()
        process.wait()


def _stop_a_listener_mid_transfer(spool: Path, destination: Destination, files: list[Path], arriving: Path) -> Any:
    """Send ``files`` to a listener, begin a C-STORE of ``arriving``, stop the listener; the sender's association."""
    listener = RunningListener(spool, destination.node, series_timeout=3600)
    try:
        assoc = _open_association(listener.port)
        _store(assoc, files)
        _begin_a_c_store(assoc, arriving)
        wait_until(lambda: any(spool.glob("incoming/*/.receiving-*")))
    finally:
        listener.stop()
    return assoc


@pytest.mark.parametrize("how", ["stopped", "killed"])
def test_a_series_being_received_when_the_listener_stops_is_derived_once_sent_again(
    tmp_path, destination, ct_series, how
):
    """A listener stopped (or killed) while an instance is arriving does not have it: a restart took the series as
    complete. Now the series waits for it (for a later association, where which instance it was is not known: a
    kill), also when the listener was down for longer than --resend-wait."""
    series = str(pydicom.dcmread(ct_series[0]).SeriesInstanceUID)
    spool = tmp_path / "spool"
    if how == "stopped":
        assoc = _stop_a_listener_mid_transfer(spool, destination, ct_series[:-1], ct_series[-1])
        wait_until(lambda: assoc.is_aborted)  # the sender is told at once
        (folder,) = spool.glob("incoming/*")
        assert (folder / "interrupted.json").exists() and not list(folder.glob(".receiving-*"))
    else:
        _kill_a_listener_mid_transfer(spool, destination, ct_series[:-1], ct_series[-1])
        (folder,) = spool.glob("incoming/*")
        assert list(folder.glob(".receiving-*")) and not (folder / "interrupted.json").exists()
    hours_ago = time.time() - 7200  # down for two hours
    for path in folder.iterdir():
        os.utime(path, (hours_ago, hours_ago))
    listener = RunningListener(spool, destination.node, series_timeout=0.3, resend_wait=60)
    try:
        time.sleep(1.0)  # more than --series-timeout: the series waits
        assert not any(spool.glob("work/*"))
        assert send(listener.port, ct_series[-1:]) == [0x0000]
        received = destination.wait_for(SLICES)
        wait_until(lambda: not any(spool.glob("work/*")))
    finally:
        result = listener.stop()
    assert list(result.sent) == [series] and not result.failed and len(received) == SLICES


def test_an_association_idle_at_a_stop_cuts_nothing(tmp_path, destination, ct_series):
    """A sender that keeps its association open after its last instance (pooling; Orthanc's close delay) when the
    listener stops lost nothing: its series is derived after the restart."""
    spool = tmp_path / "spool"
    listener = RunningListener(spool, destination.node, series_timeout=3600)
    try:
        _store(_open_association(listener.port), ct_series)
    finally:
        listener.stop()
    (folder,) = spool.glob("incoming/*")
    assert [path.suffix for path in folder.iterdir()] == [".dcm"] * SLICES  # no marker, no record of a cut
    listener = RunningListener(spool, destination.node, series_timeout=0.3, resend_wait=60)
    try:
        received = destination.wait_for(SLICES)
        wait_until(lambda: not any(spool.glob("work/*")))
    finally:
        result = listener.stop()
    assert len(received) == SLICES and not result.failed


def test_a_cut_off_series_not_sent_again_fails_and_can_be_derived_by_hand(tmp_path, destination, ct_series):
    """Not sent again within --resend-wait, the series moves to failed/ saying why and how to derive what came;
    doing as it says (with --max-attempts 1) derives it."""
    series = str(pydicom.dcmread(ct_series[0]).SeriesInstanceUID)
    spool = tmp_path / "spool"
    _stop_a_listener_mid_transfer(spool, destination, ct_series[:-1], ct_series[-1])
    listener = RunningListener(spool, destination.node, series_timeout=0.3, resend_wait=1.0, max_attempts=1)
    try:
        wait_until(lambda: any(spool.glob("failed/*/error.txt")))
    finally:
        result = listener.stop()
    error = result.failed[series]
    lost = pydicom.dcmread(ct_series[-1]).SOPInstanceUID
    assert f"instance {lost} was lost" in error and f"{SLICES - 1} instance(s) came" in error
    (failed,) = spool.glob("failed/*")
    record = failed / "source" / "interrupted.json"
    assert f"delete {record}, move the folder back into work/" in error and destination.received == []
    record.unlink()
    failed.rename(spool / "work" / failed.name)
    listener = RunningListener(spool, destination.node, series_timeout=0.3, max_attempts=1)
    try:
        received = destination.wait_for(SLICES - 1)
        wait_until(lambda: not any(spool.glob("work/*")))
    finally:
        result = listener.stop()
    assert list(result.sent) == [series] and not result.failed and len(received) == SLICES - 1


def test_a_record_of_a_cut_that_cannot_be_read_fails_closed(tmp_path, destination, ct_series):
    """A record cut short by a power cut still counts as a cut: the series is not derived."""
    spool = tmp_path / "spool"
    _leave_in_incoming(spool, destination, ct_series)
    (folder,) = spool.glob("incoming/*")
    (folder / "interrupted.json").write_text('[{"at": 17')
    listener = RunningListener(spool, destination.node, series_timeout=0.3, resend_wait=1.0)
    try:
        wait_until(lambda: any(spool.glob("failed/*/error.txt")))
    finally:
        result = listener.stop()
    assert "interrupted.json cannot be read" in next(iter(result.failed.values())) and destination.received == []


def test_a_cut_in_series_sent_interleaved_holds_each_of_them(tmp_path, destination, ct_series):
    """One association sending two series interleaved (a flat folder's files in name order) is cut while an
    instance of the first arrives: which series it was is not known before its data set has come, so both wait for
    it (the cut was put on the association's newest series only, and the other went out a slice short)."""
    write_ct_series(tmp_path / "other", n=2, seed=1)
    other = sorted((tmp_path / "other").iterdir())
    spool = tmp_path / "spool"
    listener = RunningListener(spool, destination.node, series_timeout=0.3, resend_wait=60, backoff=3600)
    try:
        assoc = _open_association(listener.port)
        _store(assoc, [ct_series[0], other[0], ct_series[2], other[1]])
        _begin_a_c_store(assoc, ct_series[1])
        _cut(assoc)
        wait_until(lambda: len(list(spool.glob("incoming/*/interrupted.json"))) == 2)
        time.sleep(1.0)  # more than --series-timeout: both wait
        assert not any(spool.glob("work/*")) and destination.received == []
        assert send(listener.port, ct_series[1:2]) == [0x0000]  # the lost instance mends both
        received = destination.wait_for(SLICES + 2)
        wait_until(lambda: not any(spool.glob("work/*")) and not any(spool.glob("incoming/*")))
    finally:
        result = listener.stop()
    assert len(result.sent) == 2 and not result.failed and len(received) == SLICES + 2


def test_a_cut_whose_instance_told_its_series_holds_that_series_alone(tmp_path, destination, ct_series):
    """Where the lost instance's data set had begun to come, its SeriesInstanceUID told its series: only that one is
    cut off, and the other series the association sent (complete) is derived at once; it waited for an instance of
    another series, and failed after --resend-wait unless that instance was sent again."""
    write_ct_series(tmp_path / "other", n=2, seed=1)
    other = sorted((tmp_path / "other").iterdir())
    series = str(pydicom.dcmread(ct_series[0]).SeriesInstanceUID)
    spool = tmp_path / "spool"
    listener = RunningListener(spool, destination.node, series_timeout=0.3, resend_wait=60, backoff=3600)
    try:
        assoc = _open_association(listener.port)
        _store(assoc, [ct_series[0], other[0], ct_series[2], other[1]])
        lost = _begin_a_c_store(assoc, ct_series[1], head=4096)  # the header, not the pixels
        _cut(assoc)
        wait_until(lambda: (spool / "incoming" / series / "interrupted.json").exists())
        derived_other = len(destination.wait_for(2))  # the other series went on, complete; this one waits
        assert (spool / "incoming" / series).is_dir()
        assert [cut["lost"] for cut in json.loads((spool / "incoming" / series / "interrupted.json").read_text())] == [
            lost
        ]
        assert list(spool.glob("incoming/*/interrupted.json")) == [spool / "incoming" / series / "interrupted.json"]
        assert send(listener.port, ct_series[1:2]) == [0x0000]
        received = destination.wait_for(SLICES + 2)
        wait_until(lambda: not any(spool.glob("work/*")) and not any(spool.glob("incoming/*")))
    finally:
        result = listener.stop()
    assert derived_other == 2 and len(received) == SLICES + 2 and len(result.sent) == 2 and not result.failed


def test_a_kill_mid_instance_marks_the_series_its_data_set_names(tmp_path, destination, ct_series):
    """A listener killed while an instance arrives leaves its marker in the series the instance's data set names,
    not in the series its sender sent last (series sent interleaved): after the restart that series waits for a
    new transfer, the other is derived (it waited, and the cut one could go out a slice short)."""
    write_ct_series(tmp_path / "other", n=2, seed=1)
    other = sorted((tmp_path / "other").iterdir())
    series = str(pydicom.dcmread(ct_series[0]).SeriesInstanceUID)
    spool = tmp_path / "spool"
    _kill_a_listener_mid_transfer(
        spool, destination, [ct_series[0], other[0], ct_series[2], other[1]], ct_series[1], 4096
    )
    assert [path.parent.name for path in spool.glob("incoming/*/.receiving-*")] == [series]
    listener = RunningListener(spool, destination.node, series_timeout=0.3, resend_wait=60)
    try:
        derived_other = len(destination.wait_for(2))  # the other series, derived; this one waits
        assert (spool / "incoming" / series / "interrupted.json").exists()
        assert send(listener.port, ct_series[1:2]) == [0x0000]
        received = destination.wait_for(SLICES + 2)
        wait_until(lambda: not any(spool.glob("work/*")) and not any(spool.glob("incoming/*")))
    finally:
        result = listener.stop()
    assert derived_other == 2 and len(received) == SLICES + 2 and len(result.sent) == 2 and not result.failed
