"""The PACS connection and the watcher's state, without a server."""

from __future__ import annotations

import importlib
import json
import re

import pytest

from monai_rmisr.io import ImageReadError
from monai_rmisr.io.output import OutputPathError
from monai_rmisr.pacs import (
    PACS_PASSWORD_ENV,
    PACS_TOKEN_ENV,
    PACS_USER_ENV,
    WatchState,
    check_pacs_url,
    connect,
    watch,
)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://pacs/dicom-web", "http:// or https://"),
        ("pacs:8042/dicom-web", "http:// or https://"),
        ("http:///dicom-web", "http:// or https://"),
        ("https://user:secret@pacs/dicom-web", "must not contain a user name or password"),
        ("https://user@pacs/dicom-web", "must not contain a user name or password"),
        ("http://pacs/dicom-web?token=abc", re.escape("without '?' or '#' parts")),
    ],
)
def test_bad_urls_are_refused(url, message):
    with pytest.raises(ValueError, match=message) as error:
        check_pacs_url(url)
    assert "secret" not in str(error.value) and "abc" not in str(error.value)


def test_a_good_url_loses_its_trailing_slash():
    assert check_pacs_url("https://pacs.example.org:8443/dicom-web/") == "https://pacs.example.org:8443/dicom-web"


def test_credentials_come_from_the_environment():
    token = connect("https://pacs/dicom-web", environ={PACS_TOKEN_ENV: "t0ken", PACS_USER_ENV: "ignored"})
    assert token._session.auth is None and token._session.headers["Authorization"] == "Bearer t0ken"
    basic = connect("https://pacs/dicom-web", environ={PACS_USER_ENV: "rmisr", PACS_PASSWORD_ENV: "pw"})
    assert basic._session.auth == ("rmisr", "pw") and "Authorization" not in basic._session.headers
    anonymous = connect("https://pacs/dicom-web", environ={})
    assert anonymous._session.auth is None and anonymous._session.trust_env  # ~/.netrc applies
    with pytest.raises(ValueError, match=f"{PACS_PASSWORD_ENV} is not set"):
        connect("https://pacs/dicom-web", environ={PACS_USER_ENV: "rmisr"})
    with pytest.raises(ValueError, match=re.escape("--ca-bundle '/nonexistent.pem' is not a file")):
        connect("https://pacs/dicom-web", ca_bundle="/nonexistent.pem", environ={})


def test_an_explicit_ca_bundle_wins_over_the_environment(tmp_path, monkeypatch):
    ca = tmp_path / "hospital-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    session = connect("https://pacs/dicom-web", ca_bundle=str(ca), environ={})._session
    settings = session.merge_environment_settings("https://pacs/dicom-web", {}, None, None, None)
    assert settings["verify"] == str(ca)
    default = connect("https://pacs/dicom-web", environ={})._session
    settings = default.merge_environment_settings("https://pacs/dicom-web", {}, None, None, None)
    assert settings["verify"] == "/etc/ssl/certs/ca-certificates.crt"


def test_a_state_folder_that_takes_no_files_is_refused_before_the_watch_starts(tmp_path, monkeypatch, capsys):
    # a read-only --state folder was taken: the watcher ran until its first series, then died (exit 1, a restart
    # loop under systemd's Restart=on-failure). A write test, as root passes os.access on a read-only mount.
    import errno
    import tempfile

    from monai_rmisr.__main__ import main

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "TemporaryFile", read_only)
    with pytest.raises(ValueError, match=r"--state: output '.*state\.json' cannot be written: .* takes no new files"):
        WatchState.load(tmp_path / "state.json")
    args = ["pacs", "--url", "http://127.0.0.1:9/dicom-web", "--watch", "--state", str(tmp_path / "state.json")]
    assert main([*args, "--scale", "2", "--model", "bicubic", "-q"]) == 2
    assert "takes no new files (Read-only file system)" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_watch_state_round_trips_and_decides_what_to_retry(tmp_path):
    state = WatchState.load(tmp_path / "state.json")
    assert state.series == {} and not state.path.exists()
    state.series["1.1"] = {
        "study": "1",
        "status": "done",
        "attempts": 0,
        "next_try": 0.0,
        "outputs": ["9.1"],
        "error": "",
    }
    state.series["1.2"] = {
        "study": "1",
        "status": "retry",
        "attempts": 1,
        "next_try": 100.0,
        "outputs": [],
        "error": "x",
    }
    state.series["1.3"] = {
        "study": "1",
        "status": "failed",
        "attempts": 5,
        "next_try": 0.0,
        "outputs": [],
        "error": "x",
    }
    state.ours.add("9.1")
    state.save()
    again = WatchState.load(state.path)
    assert again.series == state.series and again.ours == {"9.1"}
    assert json.loads(state.path.read_text())["ours"] == ["9.1"]
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary file left
    assert again.wants("1.4", now=0.0)  # new
    assert not again.wants("1.1", now=0.0) and not again.wants("9.1", now=0.0)  # done; ours
    assert not again.wants("1.2", now=99.0) and again.wants("1.2", now=100.0)  # back-off
    assert not again.wants("1.3", now=1e9)  # given up
    assert again.work_dir == tmp_path / "state.json.work"


def _watch_deriving_with(monkeypatch, derive):
    """The watch module with a new, not yet derived source series, ``derive`` standing in for its derivation."""
    watch_module = importlib.import_module("monai_rmisr.pacs.watch")  # the module: the package exports watch()
    monkeypatch.setattr(watch_module, "is_source_series", lambda *args: True)
    monkeypatch.setattr(watch_module, "study_derivations", lambda *args: {})
    monkeypatch.setattr(watch_module, "earlier_derivation", lambda *args: [])
    monkeypatch.setattr(watch_module, "derive_series", derive)
    return watch_module


def test_a_series_whose_first_try_was_cut_short_is_taken_up_again(tmp_path, monkeypatch):
    # a second SIGTERM / Ctrl-C while the series was derived (KeyboardInterrupt, not an Exception): the state file
    # kept it as "new", which the watcher never tried again ("0 series new" for ever)
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    watch_module = _watch_deriving_with(monkeypatch, interrupted)
    state = WatchState.load(tmp_path / "state.json")
    with pytest.raises(KeyboardInterrupt):
        watch_module._process(None, None, state, "1.2", "1.2.3", 5, 30.0, None, {})
    again = WatchState.load(tmp_path / "state.json")
    assert again.series["1.2.3"]["status"] == "new" and again.wants("1.2.3", now=0.0)


@pytest.mark.parametrize(
    "error, status",
    [
        (ImageReadError("s", "2 slices: too few for --axis z"), "failed"),
        (OSError("disk full"), "retry"),
        (OutputPathError("output 'x' cannot be written: Too many open files"), "retry"),  # the disk, not the images
    ],
)
def test_a_series_that_cannot_be_derived_is_not_tried_again(tmp_path, monkeypatch, error, status):
    """It was retrieved and refused five times over (the listener gives such a series up at once); a disk or a PACS
    that may come back is tried again."""

    def refused(*args, **kwargs):
        raise error

    watch_module = _watch_deriving_with(monkeypatch, refused)
    state = WatchState.load(tmp_path / "state.json")
    watch_module._process(None, None, state, "1.2", "1.2.3", 5, 30.0, None, {})
    entry = WatchState.load(tmp_path / "state.json").series["1.2.3"]
    assert (entry["status"], entry["attempts"]) == (status, 1) and str(error).split(":")[-1].strip() in entry["error"]
    assert state.wants("1.2.3", now=1e12) == (status == "retry")


def test_a_store_that_fails_is_tried_again_with_the_derived_files_kept(tmp_path, monkeypatch):
    """A PACS's odd answer to a store (JSON that is no DICOM JSON raises a ValueError) is not the series' images."""

    def refused_store(*args, **kwargs):
        raise ValueError("Data element 'message' must be a dict")

    watch_module = _watch_deriving_with(monkeypatch, lambda *args, **kwargs: [])
    monkeypatch.setattr(watch_module, "store_series", refused_store)
    state = WatchState.load(tmp_path / "state.json")
    state.series["1.2.3"] = {
        "study": "1.2",
        "status": "pending",
        "attempts": 0,
        "next_try": 0.0,
        "outputs": ["9.9"],
        "error": "",
    }
    kept = state.work_dir / "1.2.3" / "derived" / "00001.dcm"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"derived")
    watch_module._process(None, None, state, "1.2", "1.2.3", 5, 30.0, None, {})
    entry = WatchState.load(tmp_path / "state.json").series["1.2.3"]
    assert (entry["status"], entry["attempts"]) == ("pending", 1) and kept.is_file()


def test_a_new_series_is_taken_once_its_instance_count_has_settled(tmp_path):
    # the watcher took a series as listed: one still arriving was derived from its first slices, recorded done,
    # and the later slices never derived (the PACS then held a derived series of part of it)
    from monai_rmisr.pacs.watch import _poll

    class Listing:
        def __init__(self):
            self.counts = {"1.2.1": 2, "1.2.2": None}  # None: a PACS that does not give the count

        def search_for_series(self, study, search_filters=None, fields=None, get_remaining=False):
            assert fields == ["00201209"]
            entries = []
            for uid, count in self.counts.items():
                entry = {"0020000E": {"Value": [uid]}, "0020000D": {"Value": ["1.2"]}}
                if count is not None:
                    entry["00201209"] = {"vr": "IS", "Value": [count]}
                entries.append(entry)
            return entries

    pacs = Listing()
    state = WatchState.load(tmp_path / "state.json")
    assert _poll(pacs, state, None, (), now=0.0, settle=60)[0] == []  # first listed: the clock starts
    pacs.counts["1.2.1"] = 3  # a slice arrives: the clock starts again
    assert _poll(pacs, state, None, (), now=30.0, settle=60)[0] == []
    assert _poll(pacs, state, None, (), now=61.0, settle=60)[0] == [("1.2", "1.2.2")]  # listed 61 s ago, no count
    # 1.2.1: 3 since t = 30, 59 s; 1.2.2 not taken at t = 61 (a full queue): still settled, not made to wait again
    assert _poll(pacs, state, None, (), now=89.0, settle=60)[0] == [("1.2", "1.2.2")]
    assert _poll(pacs, state, None, (), now=90.0, settle=60)[0] == [("1.2", "1.2.1"), ("1.2", "1.2.2")]
    del pacs.counts["1.2.2"]  # gone from the PACS before it was taken: its clock goes too
    assert _poll(pacs, state, None, (), now=92.0, settle=60)[0] == [("1.2", "1.2.1")] and "1.2.2" not in state.arrivals
    pacs.counts["1.2.3"] = 1
    assert _poll(pacs, WatchState.load(tmp_path / "state.json"), None, (), now=0.0, settle=0)[0] == [
        ("1.2", "1.2.1"),
        ("1.2", "1.2.3"),
    ]  # settle 0: at once
    state.series["1.2.1"] = {"study": "1.2", "status": "retry", "attempts": 1, "next_try": 0.0, "outputs": []}
    pacs.counts["1.2.1"] = 4
    assert ("1.2", "1.2.1") in _poll(pacs, state, None, (), now=91.0, settle=60)[0]  # a retry does not wait again
    with pytest.raises(ValueError, match="--settle must be >= 0 seconds"):
        watch(pacs, object(), tmp_path / "state.json", max_polls=1, settle=-1)


def test_watch_skips_a_series_listed_with_an_invalid_uid(tmp_path, caplog):
    """A UID names the watcher's work folder (removed after each series): one like '..' must never be used."""
    from monai_rmisr.pacs.service import is_dicom_uid
    from monai_rmisr.pacs.watch import watch

    class ListingOnly:
        def search_for_series(self, study, search_filters=None, fields=None, get_remaining=False):
            listed = [
                {"0020000E": {"Value": [uid]}, "0020000D": {"Value": ["1.2"]}} for uid in ("..", "/tmp", "1.2/..")
            ]
            return listed + [{"0020000D": {"Value": ["1.2"]}}]  # no SeriesInstanceUID at all: was a KeyError

        def __getattr__(self, name):  # any other call would mean the series was processed
            raise AssertionError(f"the watcher called {name} for an invalid UID")

    (tmp_path / "keep.txt").write_text("x")
    with caplog.at_level("WARNING"):
        (tmp_path / "work").mkdir()
        state = watch(ListingOnly(), object(), tmp_path / "work" / "state.json", interval=0, max_polls=1)
    assert state.series == {} and (tmp_path / "keep.txt").read_text() == "x"
    assert caplog.text.count("invalid UID") == 4
    assert is_dicom_uid("1.2.840.10008.5.1.4.1.1.2") and is_dicom_uid("1.2.840.113619.2.55.3.0604688119")
    assert not any(map(is_dicom_uid, ("", "1.", ".1", "1..2", "1.2a", "1." + "2" * 63)))


def test_watch_says_when_the_pacs_lists_no_series_of_its_study(tmp_path, caplog):
    # rmisr pacs --watch --study UID of a mistyped UID polled for ever with "0 series new" and nothing else
    from monai_rmisr.pacs.watch import watch

    class Arriving:
        def __init__(self):
            self.polls = 0

        def search_for_series(self, study, search_filters=None, fields=None, get_remaining=False):
            self.polls += 1
            if self.polls in (2, 3):  # the study arrives at the second poll, and is gone again at the fourth
                return [{"0020000E": {"Value": ["1.2.3"]}, "0020000D": {"Value": [study]}}]
            return []

    class Empty:
        def search_for_series(self, study, search_filters=None, fields=None, get_remaining=False):
            return []

    with caplog.at_level("WARNING"):
        watch(Arriving(), object(), tmp_path / "state.json", study="1.2", interval=0, max_polls=5, settle=60)
    said = [record.getMessage() for record in caplog.records if "lists no series" in record.getMessage()]
    assert (
        said
        == ["the PACS lists no series of study 1.2: a mistyped UID, or a study still to come (watching for it)"] * 2
    )
    caplog.clear()
    with caplog.at_level("WARNING"):
        watch(Empty(), object(), tmp_path / "state.json", study="1.2", modalities=("CT", "MR"), max_polls=1)
    assert "the PACS lists no CT/MR series of study 1.2" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        watch(Empty(), object(), tmp_path / "state.json", interval=0, max_polls=2)  # every study: nothing to say
    assert "lists no" not in caplog.text


@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
def test_a_first_signal_stops_the_service_after_the_series_in_hand_a_second_at_once(signum):
    """The watcher and the listener set ``stop`` on the first Ctrl-C / SIGTERM (they finish the series in hand);
    the second one reaches the handler that was there before (a watcher waiting out a PACS's retry back-off, or
    a long derivation, can be stopped at once)."""
    import os
    import signal
    import threading

    from monai_rmisr.pacs.service import install_signal_handlers

    number = getattr(signal, signum)

    class SecondSignalError(Exception):
        pass

    def before(_signum, _frame):
        raise SecondSignalError

    outside = signal.signal(number, before)
    stop = threading.Event()
    try:
        restore = install_signal_handlers(stop)
        assert signal.getsignal(number) is not before
        os.kill(os.getpid(), number)  # delivered to the main thread before kill returns to Python code
        assert stop.is_set() and signal.getsignal(number) is before
        with pytest.raises(SecondSignalError):
            os.kill(os.getpid(), number)
        restore()
        assert signal.getsignal(number) is before
    finally:
        signal.signal(number, outside)


def test_the_listener_holds_few_connections_per_host_and_in_all():
    """pynetdicom counts associations only when one is asked: idle connections were never refused, and 16 from
    one host locked every sender out. The accept loop's check: 8 per host, 32 in all, until a socket closes."""
    from monai_rmisr.pacs.listener import MAX_ASSOCIATIONS, MAX_CONNECTIONS_PER_HOST, _connection_limit

    class Connection:
        def __init__(self):
            self.open = True

        def fileno(self):
            return 5 if self.open else -1

    verify = _connection_limit()
    first = [Connection() for _ in range(MAX_CONNECTIONS_PER_HOST)]
    assert all(verify(c, ("10.0.0.1", 1000 + i)) for i, c in enumerate(first))
    assert not verify(Connection(), ("10.0.0.1", 2000))  # that host is full; another is not
    assert verify(Connection(), ("10.0.0.2", 2000))
    first[0].open = False  # one of its connections ends: its place is free again
    assert verify(Connection(), ("10.0.0.1", 2001))
    hosts = [f"10.0.1.{n}" for n in range(MAX_ASSOCIATIONS)]
    admitted = sum(verify(Connection(), (host, 1)) for host in hosts)
    assert admitted == MAX_ASSOCIATIONS - MAX_CONNECTIONS_PER_HOST - 1  # the rest of the 32 places, no more


@pytest.mark.parametrize(
    "syntax",
    [
        "1.2.840.10008.1.2",
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2.2",
        "1.2.840.10008.1.2.1.99",
        "1.2.840.10008.1.2.4.50",
    ],
)
def test_an_arriving_data_set_tells_its_series_once_its_uid_has_come_whole(syntax):
    """The listener reads an arriving instance's SeriesInstanceUID from its data set's first fragments, in the
    presentation context's transfer syntax (deflated too): not from a head that cuts the UID short (a prefix of a UID
    is a UID of another series), and never from one that is no data set."""
    import pydicom
    from pydicom.data import get_testdata_file
    from pynetdicom.dsutils import encode

    from monai_rmisr.pacs.listener import _dataset_series

    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    uid = pydicom.uid.UID(syntax)
    encoded = encode(dataset, uid.is_implicit_VR, uid.is_little_endian, uid.is_deflated)
    series = str(dataset.SeriesInstanceUID)
    assert _dataset_series(encoded, syntax) == (series, True)
    assert _dataset_series(encoded[:8], syntax) == (None, False)  # more is needed
    if not uid.is_deflated:  # the UID's value cut after its first digits: not read yet
        start = encoded.index(series.encode())
        assert _dataset_series(encoded[: start + 10], syntax) == (None, False)
        assert _dataset_series(encoded[: start + len(series) + 1], syntax) == (series, True)
    without = pydicom.Dataset()
    without.PatientID, without.Rows = "x", 2  # (0028,0010) comes past (0020,000E): the data set has none
    assert _dataset_series(encode(without, uid.is_implicit_VR, uid.is_little_endian, uid.is_deflated), syntax) == (
        None,
        True,
    )
    assert _dataset_series(encoded, "1.2.3.4") == (None, True)  # not a transfer syntax pydicom reads


def test_an_arriving_deflated_data_set_is_inflated_no_further_than_needed():
    # 64 kB of deflated zeros inflate to 64 MB: inflated whole (at every fragment) it took 24 s and 590 MB
    import time
    import zlib

    from monai_rmisr.pacs.listener import _dataset_series

    squeeze = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    bomb = squeeze.compress(bytes(64 << 20)) + squeeze.flush()
    start = time.perf_counter()
    series, _ = _dataset_series(bomb, "1.2.840.10008.1.2.1.99")
    assert series is None and time.perf_counter() - start < 2.0
