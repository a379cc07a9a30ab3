"""PACS round trip against a real Orthanc: rmisr pacs pulls, super-resolves and stores back."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pydicom
import pytest

from monai_rmisr.__main__ import main
from monai_rmisr.inference.upscale import Upscaler
from monai_rmisr.pacs import (
    PACS_PASSWORD_ENV,
    PACS_TOKEN_ENV,
    PACS_USER_ENV,
    PacsError,
    WatchState,
    connect,
    super_resolve_series,
    watch,
)
from tests.helpers import one_thread_fixture, write_ct_series

# the second tier (processes, servers, whole runs): `make test-integration`; .ci/run runs both
pytestmark = pytest.mark.integration

_one_thread = one_thread_fixture()
SLICES = 3


@pytest.fixture
def credentials(monkeypatch, orthanc):
    monkeypatch.delenv(PACS_TOKEN_ENV, raising=False)
    monkeypatch.setenv(PACS_USER_ENV, orthanc.auth[0])
    monkeypatch.setenv(PACS_PASSWORD_ENV, orthanc.auth[1])
    monkeypatch.setenv("NETRC", "/nonexistent-netrc")


def _upload_ct(orthanc, folder) -> tuple[str, str, list[pydicom.Dataset]]:
    """Upload a fresh 3-slice CT series (CT_small slices, a new study each time): (study, series, sources)."""
    write_ct_series(folder, n=SLICES)
    study_uid = pydicom.uid.generate_uid()
    files = sorted(folder.iterdir())
    sources = []
    for file in files:
        ds = pydicom.dcmread(file)
        ds.StudyInstanceUID = study_uid
        ds.save_as(file)
        sources.append(ds)
    orthanc.upload(files)
    return study_uid, str(sources[0].SeriesInstanceUID), sources


def _series_in_study(orthanc, study_uid: str) -> dict[str, list[dict]]:
    """SeriesInstanceUID -> instances' tags, from Orthanc's own REST API (not through our client)."""
    found = {}
    for series_id in orthanc.get("/series"):
        series = orthanc.get(f"/series/{series_id}")
        parent = orthanc.get(f"/studies/{series['ParentStudy']}")
        if parent["MainDicomTags"]["StudyInstanceUID"] != study_uid:
            continue
        found[series["MainDicomTags"]["SeriesInstanceUID"]] = [
            orthanc.get(f"/instances/{instance}/simplified-tags") for instance in series["Instances"]
        ]
    return found


def test_round_trip_stores_a_derived_series_in_the_source_study(orthanc, credentials, tmp_path, capsys, caplog):
    study_uid, series_uid, sources = _upload_ct(orthanc, tmp_path / "ct")
    args = ["pacs", "--url", orthanc.dicomweb, "--study", study_uid, "--series", series_uid, "--scale", "2"]
    with caplog.at_level(logging.DEBUG):
        assert main(args) == 0
    (new_uid,) = capsys.readouterr().out.split()
    series = _series_in_study(orthanc, study_uid)
    assert set(series) == {series_uid, new_uid}
    derived, source = series[new_uid], sources[0]
    assert len(derived) == SLICES
    for tags in derived:
        assert tags["PatientID"] == source.PatientID and tags["PatientName"] == str(source.PatientName)
        assert tags["StudyInstanceUID"] == study_uid
        assert int(tags["Rows"]) == 2 * source.Rows and int(tags["Columns"]) == 2 * source.Columns
        spacing = [float(v) for v in tags["PixelSpacing"].split("\\")]
        np.testing.assert_allclose(spacing, [float(v) / 2 for v in source.PixelSpacing], rtol=1e-6)
        assert tags["ImageType"].split("\\")[0] == "DERIVED"
        assert tags["SeriesNumber"] != str(source.SeriesNumber)
    new_sops = {tags["SOPInstanceUID"] for tags in derived}
    assert len(new_sops) == SLICES and not new_sops & {str(ds.SOPInstanceUID) for ds in sources}
    # no patient name or ID in any log line (ours, dicomweb-client's, requests')
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert str(source.PatientName) not in text and str(source.PatientID) not in text
    assert orthanc.auth[1] not in text

    # a second run on the same series finds the first one's derived series: its UID again, nothing stored
    assert main(args) == 0
    assert capsys.readouterr().out.split() == [new_uid]
    assert set(_series_in_study(orthanc, study_uid)) == {series_uid, new_uid}
    # the study without --series: only the source series is taken (never our derived one), and found done
    assert main(args[:5] + args[7:]) == 0
    assert capsys.readouterr().out.split() == [new_uid]
    assert len(_series_in_study(orthanc, study_uid)) == 2

    # --again: another derived series, with another SeriesNumber
    assert main([*args, "--again"]) == 0
    (second_uid,) = capsys.readouterr().out.split()
    series = _series_in_study(orthanc, study_uid)
    assert set(series) == {series_uid, new_uid, second_uid}
    assert series[second_uid][0]["SeriesNumber"] != series[new_uid][0]["SeriesNumber"]
    # another scale is another derivation
    assert main([*args[:-1], "3"]) == 0
    (third_uid,) = capsys.readouterr().out.split()
    assert third_uid not in (new_uid, second_uid) and len(_series_in_study(orthanc, study_uid)) == 4
    # rmisr upscale's options: --axis z is another derivation again, a series with slices added along z
    assert main([*args, "--axis", "z", "--model", "bicubic"]) == 0
    (through_plane_uid,) = capsys.readouterr().out.split()
    added = _series_in_study(orthanc, study_uid)[through_plane_uid]
    assert len(added) == 2 * SLICES and "through-plane (z)" in added[0]["DerivationDescription"]
    assert (int(added[0]["Rows"]), int(added[0]["Columns"])) == (source.Rows, source.Columns)


def test_credentials_are_needed_and_never_shown(orthanc, monkeypatch, tmp_path, capsys):
    study_uid, series_uid, _ = _upload_ct(orthanc, tmp_path / "ct")
    for name in (PACS_TOKEN_ENV, PACS_USER_ENV, PACS_PASSWORD_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    args = ["pacs", "--url", orthanc.dicomweb, "--study", study_uid, "--series", series_uid, "--scale", "2"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "HTTP 401" in err and "credentials" in err and len(err.strip().splitlines()) == 1
    # in the URL: refused before anything is sent, and the password is not echoed
    user, password = orthanc.auth
    url = orthanc.dicomweb.replace("://", f"://{user}:{password}@")
    assert main(["pacs", "--url", url, "--study", study_uid, "--scale", "2"]) == 2
    err = capsys.readouterr().err
    assert "must not contain a user name or password" in err and password not in err
    # a ~/.netrc entry for the host works
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login {user} password {password}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert main(args) == 0
    assert len(capsys.readouterr().out.split()) == 1
    # a wrong password: 401, one line
    monkeypatch.setenv(PACS_USER_ENV, user)
    monkeypatch.setenv(PACS_PASSWORD_ENV, "wrong")
    assert main(args) == 1
    assert "HTTP 401" in capsys.readouterr().err


def test_bad_arguments_exit_2_before_any_request(capsys):
    cases = [
        (["--url", "ftp://host/dicom-web", "--study", "1.2", "--scale", "2"], "http:// or https://"),
        (["--url", "http://127.0.0.1:9/dicom-web", "--scale", "2"], "give --study UID"),
        (
            ["--url", "http://127.0.0.1:9/dicom-web", "--series", "1.2", "--scale", "2", "--watch", "--state", "s"],
            "--series needs --study",
        ),
        (["--url", "http://127.0.0.1:9/dicom-web", "--watch", "--scale", "2"], "--watch needs --state"),
        (["--url", "http://127.0.0.1:9/dicom-web", "--study", "1.2", "--scale", "0.5"], "scale"),
        (
            ["--url", "http://127.0.0.1:9/dicom-web", "--watch", "--state", "s", "--scale", "2", "--interval", "0"],
            "--interval must be at least 1 second(s), got 0.",  # 0 polled a PACS 55 times a second
        ),
        (
            ["--url", "http://127.0.0.1:9/dicom-web", "--watch", "--state", "s", "--scale", "2", "--again"],
            "--again is for one-shot runs",
        ),
        (
            ["--url", "http://127.0.0.1:9/dicom-web", "--study", "1.2", "--scale", "2", "--max-instances", "0"],
            "--max-instances must be a whole number >= 1, got 0",
        ),
        # a deadline past the platform's time was an OverflowError traceback from inside urllib3
        (["--url", "http://127.0.0.1:9/dicom-web", "--study", "1.2", "--scale", "2", "--timeout", "inf"], "at most"),
        (["--url", "http://127.0.0.1:9/dicom-web", "--study", "1.2", "--scale", "2", "--timeout", "1e12"], "at most"),
        (["--url", "http://127.0.0.1:9/dicom-web", "--study", "1.2", "--scale", "2", "--timeout", "0"], "--timeout"),
        (["--url", "http://127.0.0.1:9/dicom-web", "--study", "1.2", "--scale", "2", "--timeout", "nan"], "--timeout"),
        (["--url", "http://127.0.0.1:9/dicom-web", "--study", "no-uid", "--scale", "2"], "--study 'no-uid' is not"),
        (
            ["--url", "http://127.0.0.1:9/dicom-web", "--study", "1.2", "--series", "", "--scale", "2"],
            "--series '' is not a DICOM UID",
        ),
        (  # watch options on a one-shot run were accepted and ignored (an MR series was derived with --modality CT)
            ["--url", "http://127.0.0.1:9/dicom-web", "--study", "1.2", "--scale", "2", "--modality", "CT"],
            "--modality is for --watch runs",
        ),
        (
            ["--url", "http://127.0.0.1:9/dicom-web", "--study", "1.2", "--scale", "2", "--settle", "5"],
            "--settle is for",
        ),
        (
            ["--url", "http://127.0.0.1:9/dicom-web", "--watch", "--state", "s", "--scale", "2", "--settle", "-1"],
            "--settle must be >= 0 seconds, got -1.0",
        ),
    ]
    for args, message in cases:
        assert main(["pacs", *args]) == 2, args
        assert message in capsys.readouterr().err


def test_an_unreachable_pacs_is_one_line_exit_1(credentials, capsys):
    port_nobody_listens_on = "http://127.0.0.1:9/dicom-web"
    args = ["pacs", "--url", port_nobody_listens_on, "--study", "1.2.3", "--series", "1.2.4", "--scale", "2"]
    assert main([*args, "--retries", "0"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach the PACS" in err and len(err.strip().splitlines()) == 1


class _FlakyStore:
    """A client whose first ``store_instances`` fails as a dropped connection would (after the derived
    files are written): the watcher must store the same files at the next try, not a second series."""

    def __init__(self, client):
        self.client, self.failures = client, 1

    def __getattr__(self, name):
        return getattr(self.client, name)

    def store_instances(self, *args, **kwargs):
        if self.failures:
            self.failures -= 1
            import requests

            raise requests.ConnectionError("connection dropped")
        return self.client.store_instances(*args, **kwargs)


def test_watch_derives_each_new_series_once_across_failures_and_restarts(orthanc, credentials, tmp_path):
    study_uid, series_uid, _ = _upload_ct(orthanc, tmp_path / "ct")
    client = connect(orthanc.dicomweb)
    upscaler = Upscaler(2)
    state_file = tmp_path / "state.json"
    # first watcher: the store fails once; the series stays pending with its derived files kept
    state = watch(
        _FlakyStore(client), upscaler, state_file, study=study_uid, interval=0, backoff=0, max_polls=1, settle=0
    )
    entry = state.series[series_uid]
    assert entry["status"] == "pending" and entry["attempts"] == 1 and "cannot reach the PACS" in entry["error"]
    assert len(_series_in_study(orthanc, study_uid)) == 1
    assert (state.work_dir.stat().st_mode & 0o777) == 0o700  # the waiting patient images: owner only
    # a restart with the same state file: the kept files are stored; one derived series
    state = watch(client, upscaler, state_file, study=study_uid, interval=0, max_polls=2, settle=0)
    assert state.series[series_uid]["status"] == "done"
    series = _series_in_study(orthanc, study_uid)
    assert len(series) == 2 and set(state.series[series_uid]["outputs"]) == set(series) - {series_uid}
    assert not (state.work_dir / series_uid).exists()
    # polls after that find nothing new: our own series is never taken as input
    again = watch(client, upscaler, state_file, study=study_uid, interval=0, max_polls=2, settle=0)
    assert set(again.series) == {series_uid} and len(_series_in_study(orthanc, study_uid)) == 2
    assert WatchState.load(state_file).series == again.series
    # a watcher whose state file was lost finds the derived series and records it, storing nothing
    fresh = watch(client, upscaler, tmp_path / "new-state.json", study=study_uid, interval=0, max_polls=1, settle=0)
    assert fresh.series[series_uid]["status"] == "done"
    assert fresh.series[series_uid]["outputs"] == state.series[series_uid]["outputs"]
    assert len(_series_in_study(orthanc, study_uid)) == 2


def test_watch_waits_for_a_series_still_arriving(orthanc, credentials, tmp_path):
    # Orthanc lists NumberOfSeriesRelatedInstances when asked (QIDO-RS includefield): the watcher's settle clock
    from monai_rmisr.pacs.watch import _poll

    write_ct_series(tmp_path / "ct", n=SLICES)
    study_uid = pydicom.uid.generate_uid()
    files = sorted((tmp_path / "ct").iterdir())
    for file in files:
        ds = pydicom.dcmread(file)
        ds.StudyInstanceUID = study_uid
        ds.save_as(file)
    series_uid = str(ds.SeriesInstanceUID)
    orthanc.upload(files[:2])
    client = connect(orthanc.dicomweb)
    state = WatchState.load(tmp_path / "s.json")
    assert _poll(client, state, study_uid, (), now=0.0, settle=60)[0] == [] and state.arrivals[series_uid] == (2, 0.0)
    orthanc.upload(files[2:])
    assert _poll(client, state, study_uid, (), now=70.0, settle=60)[0] == [] and state.arrivals[series_uid] == (3, 70.0)
    assert _poll(client, state, study_uid, (), now=130.0, settle=60)[0] == [(study_uid, series_uid)]


def test_max_instances_leaves_out_a_larger_series(orthanc, credentials, tmp_path, capsys):
    study_uid, series_uid, _ = _upload_ct(orthanc, tmp_path / "ct")
    args = ["pacs", "--url", orthanc.dicomweb, "--study", study_uid, "--scale", "2"]
    assert main([*args, "--max-instances", str(SLICES - 1)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"series {series_uid} has more than {SLICES - 1} image instances (--max-instances)" in captured.err
    assert "every series was left out by --max-instances" in captured.err
    assert set(_series_in_study(orthanc, study_uid)) == {series_uid}
    # the watcher skips it for good (no retry), its retrieved part removed
    client = connect(orthanc.dicomweb)
    state = watch(
        client, Upscaler(2), tmp_path / "s.json", study=study_uid, interval=0, max_polls=2, max_instances=2, settle=0
    )
    entry = state.series[series_uid]
    assert entry["status"] == "skipped" and entry["attempts"] == 0 and "more than 2 image instances" in entry["error"]
    assert not (state.work_dir / series_uid).exists() and set(_series_in_study(orthanc, study_uid)) == {series_uid}
    # at the limit: derived
    assert main([*args, "--max-instances", str(SLICES)]) == 0
    assert len(capsys.readouterr().out.split()) == 1 and len(_series_in_study(orthanc, study_uid)) == 2


def test_a_series_that_cannot_be_read_is_named_and_the_others_are_derived(
    orthanc, credentials, tmp_path, capsys, monkeypatch
):
    # a study of a series with a cut-off slice and a good one: the first ended the run (exit 2, "a bad argument"),
    # the good series never derived, the error naming a deleted temporary file and an option rmisr pacs lacks
    study_uid, good_uid, _ = _upload_ct(orthanc, tmp_path / "good")
    write_ct_series(tmp_path / "bad", n=SLICES)
    bad_uid = pydicom.uid.generate_uid()
    files = sorted((tmp_path / "bad").iterdir())
    for file in files:
        ds = pydicom.dcmread(file)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, bad_uid
        if file == files[1]:
            ds.PixelData = ds.PixelData[:1000]
            cut_uid = str(ds.SOPInstanceUID)
        ds.save_as(file)
    orthanc.upload(files)
    assert main(["pacs", "--url", orthanc.dicomweb, "--study", study_uid, "--scale", "2"]) == 1
    captured = capsys.readouterr()
    derived = captured.out.split()
    assert len(derived) == 1 and set(_series_in_study(orthanc, study_uid)) == {good_uid, bad_uid, derived[0]}
    assert f"rmisr pacs: series {bad_uid} not derived: cannot read image 'instance {cut_uid} of series {bad_uid}'" in (
        captured.err
    )
    assert f"1 of 2 series not derived (above): {bad_uid}." in captured.err
    assert "rmisr-pacs-" not in captured.err and "skip" not in captured.err
    # a failure of the PACS (a PacsError is a RuntimeError too) still ends the run at once, exit 1
    import monai_rmisr.pacs as pacs

    calls = []

    def refused(client, upscaler, study, series, **kwargs):
        calls.append(series)
        raise PacsError("storing 3 instances failed: HTTP 503.")

    monkeypatch.setattr(pacs, "super_resolve_series", refused)
    assert main(["pacs", "--url", orthanc.dicomweb, "--study", study_uid, "--scale", "2", "--again"]) == 1
    assert len(calls) == 1 and "HTTP 503" in capsys.readouterr().err


class _DroppingStore:
    """A client whose PACS keeps all but the first instance of a store and answers that it stored them all, as a
    PACS filter rule that drops an instance may (Orthanc's STOW answer lists it as stored)."""

    def __init__(self, client):
        self.client = client

    def __getattr__(self, name):
        return getattr(self.client, name)

    def store_instances(self, datasets, study_uid=None):
        response = self.client.store_instances(datasets[1:], study_uid)
        response.ReferencedSOPSequence.append(response.ReferencedSOPSequence[0])  # "stored", like the others
        return response


def test_a_store_the_pacs_kept_in_part_is_an_error(orthanc, credentials, tmp_path):
    study_uid, series_uid, _ = _upload_ct(orthanc, tmp_path / "ct")
    client = connect(orthanc.dicomweb)
    with pytest.raises(PacsError, match=rf"holds {SLICES - 1} of its {SLICES} instances"):
        super_resolve_series(_DroppingStore(client), Upscaler(2), study_uid, series_uid)
    assert super_resolve_series(client, Upscaler(2), study_uid, series_uid)  # stored whole: no error


def test_a_derived_series_named_with_series_is_refused(orthanc, credentials, tmp_path, capsys):
    study_uid, series_uid, _ = _upload_ct(orthanc, tmp_path / "ct")
    [derived] = super_resolve_series(connect(orthanc.dicomweb), Upscaler(2), study_uid, series_uid)
    args = ["pacs", "--url", orthanc.dicomweb, "--study", study_uid, "--series", derived, "--scale", "2"]
    assert main(args) == 2
    assert f"--series {derived} is not a series to super-resolve: monai-rmisr derived it" in capsys.readouterr().err
    assert len(_series_in_study(orthanc, study_uid)) == 2


def test_an_unknown_study_is_named_as_not_on_the_pacs(orthanc, credentials, capsys):
    # it said "study ... has no image series to super-resolve", as for a study of reports only
    assert main(["pacs", "--url", orthanc.dicomweb, "--study", "1.2.3.999", "--scale", "2"]) == 2
    assert "study 1.2.3.999 is not on the PACS" in capsys.readouterr().err


def test_an_unknown_series_is_a_bad_argument_as_an_unknown_study_is(orthanc, credentials, tmp_path, capsys):
    # it was the PACS's HTTP 404 to the metadata request, exit 1 ("the PACS failed"), where an unknown study is exit 2
    study_uid, _, _ = _upload_ct(orthanc, tmp_path / "ct")
    args = ["pacs", "--url", orthanc.dicomweb, "--study", study_uid, "--series", "1.2.3.999", "--scale", "2"]
    assert main(args) == 2
    assert f"series 1.2.3.999 is not on the PACS in study {study_uid}" in capsys.readouterr().err


def test_watch_takes_series_of_any_modality_given(orthanc, credentials, tmp_path):
    # `--modality CT MR` (docs/pacs.md) was one search for the DICOM multi-value CT\MR, which Orthanc matched to
    # nothing: the watcher found no series, ever
    study_uid, series_uid, _ = _upload_ct(orthanc, tmp_path / "ct")
    client = connect(orthanc.dicomweb)
    state = watch(client, Upscaler(2), tmp_path / "mr.json", study=study_uid, modalities=["MR"], max_polls=1, settle=0)
    assert state.series == {}
    state = watch(
        client, Upscaler(2), tmp_path / "s.json", study=study_uid, modalities=["MR", "CT"], max_polls=1, settle=0
    )
    assert state.series[series_uid]["status"] == "done" and len(_series_in_study(orthanc, study_uid)) == 2


def test_watch_stops_on_the_stop_event_and_refuses_a_foreign_state_file(orthanc, credentials, tmp_path):
    client = connect(orthanc.dicomweb)
    stop = threading.Event()
    stop.set()
    state = watch(client, Upscaler(2), tmp_path / "state.json", interval=3600, stop=stop, settle=0)
    assert state.series == {}
    with pytest.raises(ValueError, match=r"its folder .* does not exist; make it first"):
        watch(client, Upscaler(2), tmp_path / "missing" / "state.json", max_polls=1, settle=0)
    assert not (tmp_path / "missing").exists()
    foreign = tmp_path / "notes.txt"
    foreign.write_text("my notes")
    with pytest.raises(ValueError, match="is not a watch state file"):
        watch(client, Upscaler(2), foreign, max_polls=1, settle=0)
    assert foreign.read_text() == "my notes"


def test_a_missing_series_is_one_pacs_error_and_writes_nothing(orthanc, credentials, tmp_path):
    from monai_rmisr.pacs import derive_series

    client = connect(orthanc.dicomweb)
    with pytest.raises(PacsError, match=r"retrieving series 1\.2\.3\.4\.5 failed: HTTP 404"):
        derive_series(client, Upscaler(2), "1.2.3.4", "1.2.3.4.5", tmp_path / "work")
    assert not (tmp_path / "work").exists()


def test_watch_process_stops_cleanly_on_sigterm(orthanc, credentials, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    state = tmp_path / "state.json"
    # a study with no series yet: the first poll finds nothing, then the watcher waits an hour
    args = ["pacs", "--url", orthanc.dicomweb, "--watch", "--state", str(state), "--scale", "2", "--interval", "3600"]
    args += ["--study", "1.2.826.0.1.3680043.8.498.1"]
    log = tmp_path / "watch.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "monai_rmisr", *args], stderr=out, env=dict(os.environ))
    try:
        deadline = time.monotonic() + 120
        while "poll 1:" not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
    assert "received SIGTERM" in log.read_text()


def _tls_proxy(target: str, cert, key):
    """An HTTPS front for the plain-HTTP Orthanc, on loopback (Debian's Orthanc 1.10 dies on its own TLS
    handshakes under OpenSSL 3; a hospital would put nginx there). Returns (server, https root)."""
    import http.client
    import ssl
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import urlsplit

    upstream = urlsplit(target)

    class Forward(BaseHTTPRequestHandler):
        def setup(self) -> None:  # the TLS handshake in this connection's thread, not in the accept loop
            self.request.settimeout(30)
            self.request.do_handshake()
            super().setup()

        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
            connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            self.send_response(response.status)
            for name, value in response.getheaders():
                if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _forward  # noqa: N815 (http.server's method names)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    # a handshake that fails or stalls (the test's first client refuses the certificate) must not hold up the next
    # connection: under load, one did ("cannot reach the PACS" for the client that trusts it)
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"https://127.0.0.1:{server.server_address[1]}/dicom-web"


def test_tls_with_a_private_certificate_authority(orthanc, tmp_path, credentials, capsys):
    import subprocess

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    study_uid, series_uid, _ = _upload_ct(orthanc, tmp_path / "ct")
    server, url = _tls_proxy(orthanc.url, cert, key)
    try:
        args = ["pacs", "--url", url, "--study", study_uid, "--series", series_uid, "--scale", "2", "--retries", "0"]
        assert main(args) == 1  # a certificate no system CA signed
        assert "not trusted (give its CA with --ca-bundle PEM)" in capsys.readouterr().err
        assert main([*args, "--ca-bundle", str(cert)]) == 0
        (new_uid,) = capsys.readouterr().out.split()
        assert new_uid in _series_in_study(orthanc, study_uid)
        assert main([*args, "--ca-bundle", str(tmp_path / "missing.pem")]) == 2
        assert "--ca-bundle" in capsys.readouterr().err
    finally:
        server.shutdown()
