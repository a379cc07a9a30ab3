"""A real Orthanc (Debian packages ``orthanc`` + ``orthanc-dicomweb``) on loopback, for the PACS tests.

``.ci/run`` installs the packages; where they are missing the tests are skipped and say so. The
server gets its own configuration, storage and free ports in a temporary folder, refuses remote
clients (``RemoteAccessAllowed`` false; Orthanc 1.10 has no bind-address setting), has its DICOM
port off and requires a user name and password; it is stopped by its PID.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.helpers import free_port

PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
USER, PASSWORD = "rmisr", "orthanc-test-secret"


@dataclass(frozen=True)
class OrthancServer:
    url: str  # the REST root, http://127.0.0.1:PORT
    dicomweb: str  # the DICOMweb root
    auth: tuple[str, str]
    log: Path

    def get(self, path: str) -> object:
        response = requests.get(f"{self.url}{path}", auth=self.auth, timeout=30)
        response.raise_for_status()
        return response.json()

    def upload(self, files: list[Path]) -> list[dict]:
        uploaded = []
        for file in files:
            response = requests.post(f"{self.url}/instances", data=file.read_bytes(), auth=self.auth, timeout=30)
            response.raise_for_status()
            uploaded.append(response.json())
        return uploaded


def start_orthanc(folder: Path, **extra: object) -> tuple[subprocess.Popen, OrthancServer]:
    """Start Orthanc with a configuration of its own under ``folder``; skip the test if it is not installed."""
    executable = shutil.which("Orthanc")
    if executable is None or not PLUGIN.is_file():
        pytest.skip(
            "Orthanc is not installed (apt-get install orthanc orthanc-dicomweb; .ci/run installs it): "
            "the PACS round-trip tests need a real one and are skipped"
        )
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = {
        "Name": "rmisr-test",
        "StorageDirectory": str(folder / "db"),
        "IndexDirectory": str(folder / "db"),
        "HttpPort": port,
        "DicomServerEnabled": False,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {USER: PASSWORD},
        "Plugins": [str(PLUGIN)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        **extra,
    }
    (folder / "orthanc.json").write_text(json.dumps(config))
    log = folder / "orthanc.log"
    with log.open("w") as out:
        process = subprocess.Popen([executable, str(folder / "orthanc.json")], stdout=out, stderr=subprocess.STDOUT)
    scheme = "https" if extra.get("SslEnabled") else "http"
    server = OrthancServer(
        f"{scheme}://127.0.0.1:{port}", f"{scheme}://127.0.0.1:{port}/dicom-web", (USER, PASSWORD), log
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            verify = extra.get("SslCertificate", True)
            if requests.get(f"{server.url}/system", auth=server.auth, timeout=2, verify=verify).ok:
                return process, server
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_orthanc(process)
            pytest.fail(f"Orthanc did not start; its log:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def stop_orthanc(process: subprocess.Popen) -> None:
    """Stop the server by its PID (SIGTERM, then SIGKILL after 20 s)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    process, server = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    yield server
    stop_orthanc(process)
