"""The app over a DICOMweb datastore (``--studies http://.../dicom-web``): a real Orthanc on loopback
(tests/pacs/conftest.py's ``start_orthanc``; skipped where Orthanc is not installed), MONAI Label's own
DICOMweb datastore, served through FastAPI's test client. Needs ``monailabel``: make test-monailabel."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pydicom
import pytest

pytest.importorskip("monailabel", reason="MONAI Label lives in its own environment: make test-monailabel")

from tests.helpers import one_thread_fixture, write_ct_series
from tests.pacs.conftest import start_orthanc, stop_orthanc

REPO = Path(__file__).resolve().parents[2]
SLICES = 3

_one_thread = one_thread_fixture()


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    """A real Orthanc holding one 3-slice CT series: ``(server, sources)``, the sources as uploaded."""
    root = tmp_path_factory.mktemp("orthanc")
    process, server = start_orthanc(root / "server")
    write_ct_series(root / "ct", n=SLICES)
    files = sorted((root / "ct").iterdir())
    server.upload(files)
    yield server, [pydicom.dcmread(file) for file in files]
    stop_orthanc(process)


@pytest.fixture(scope="module")
def served(orthanc, tmp_path_factory):
    """The app over Orthanc's DICOMweb root, with MONAI Label's defaults (series converted to NIfTI) and
    dcmqi's download recorded and failing, as it does offline: ``(client, downloads, cache folder)``."""
    server, _ = orthanc
    root = tmp_path_factory.mktemp("monailabel-dicomweb")
    app_dir = root / "app"
    shutil.copytree(REPO / "apps" / "monailabel", app_dir)
    (app_dir / "logs").mkdir(exist_ok=True)
    (app_dir / "logs" / "app.log").touch()

    from monai_rmisr.monailabel import compat

    compat.install()
    import monailabel.interfaces.app as monailabel_app
    from fastapi.testclient import TestClient
    from monailabel.app import app
    from monailabel.config import settings
    from monailabel.interfaces.utils.app import clear_cache

    downloads: list[str] = []

    def offline(url, *args, **kwargs):
        downloads.append(url)
        raise OSError(f"no network in this test: {url}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(monailabel_app, "download_and_extract", offline)
        patch.setenv("PATH", "/usr/bin:/bin")  # no dcmqi on it
        for key, value in {
            "MONAI_LABEL_APP_DIR": str(app_dir),
            "MONAI_LABEL_STUDIES": server.dicomweb,
            "MONAI_LABEL_APP_CONF": {"models": "rmisr_x2"},
            "MONAI_LABEL_DICOMWEB_USERNAME": server.auth[0],
            "MONAI_LABEL_DICOMWEB_PASSWORD": server.auth[1],
            "MONAI_LABEL_DICOMWEB_CACHE_PATH": str(root / "cache"),
            "MONAI_LABEL_DICOMWEB_CONVERT_TO_NIFTI": True,  # MONAI Label's default, said out loud
            "MONAI_LABEL_SESSION_PATH": str(root / "sessions"),
        }.items():
            patch.setattr(settings, key, value)
            patch.setenv(key, json.dumps(value) if isinstance(value, (list, dict, bool)) else str(value))
        clear_cache()
        with TestClient(app) as client:
            yield client, downloads, root / "cache"
        clear_cache()


def test_the_server_starts_offline_without_downloading_dcmqi(served):
    client, downloads, _ = served
    info = client.get("/info/").json()
    assert set(info["models"]) == {"rmisr_x2"}
    assert downloads == []
    from monailabel.config import settings

    assert settings.MONAI_LABEL_DICOMWEB_CONVERT_TO_NIFTI is True  # the app's datastore read series; setting restored


def test_the_datastore_lists_the_servers_series_before_any_is_fetched(served, orthanc):
    # MONAI Label listed only its local cache: {} until a request had named a series, so no client could find one
    client, _, _ = served
    _, sources = orthanc
    listed = client.get("/datastore/?output=all")
    assert listed.status_code == 200, listed.text
    assert str(sources[0].SeriesInstanceUID) in listed.json()["objects"]


def test_a_series_comes_back_as_a_derived_series_of_its_study(served, orthanc):
    client, _, cache = served
    _, sources = orthanc
    series_uid = str(sources[0].SeriesInstanceUID)
    response = client.post(f"/infer/rmisr_x2?image={series_uid}&output=image")
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        derived = [pydicom.dcmread(io.BytesIO(archive.read(name))) for name in sorted(archive.namelist())]
    assert len(derived) == SLICES
    source = sources[0]
    assert {str(ds.SeriesInstanceUID) for ds in derived} != {series_uid}
    assert len({str(ds.SeriesInstanceUID) for ds in derived}) == 1
    for ds in derived:
        assert (ds.Rows, ds.Columns) == (2 * source.Rows, 2 * source.Columns)
        assert ds.StudyInstanceUID == source.StudyInstanceUID and ds.PatientID == source.PatientID
        assert "DERIVED" in ds.ImageType
    assert not list(cache.rglob("*.nii*"))  # the series was read as DICOM, never converted

    info = client.post(f"/infer/rmisr_x2?image={series_uid}&output=json").json()
    assert info["format"] == "dicom-series"
    assert info["input_shape"] == [source.Rows, source.Columns, SLICES]


def test_an_unknown_series_uid_gets_the_datastore_403(served):
    client, _, cache = served
    before = sorted(cache.rglob("*"))
    response = client.post("/infer/rmisr_x2?image=1.2.3.4.5&output=json")
    assert response.status_code == 403, response.text
    assert response.json()["detail"] == (
        "image '1.2.3.4.5' is not in this server's datastore: name a datastore image by its id, or upload the file."
    )
    assert sorted(cache.rglob("*")) == before


@pytest.mark.parametrize("failing", ["get_image_uri", "list_images"])
def test_a_dicomweb_server_that_fails_is_a_502_that_says_so(served, monkeypatch, failing):
    """Down when the series is fetched, or refusing the listing (as with a wrong password)."""
    import requests
    from monailabel.interfaces.utils.app import app_instance

    client, _, _ = served
    errors = {
        "get_image_uri": requests.ConnectionError("Connection refused"),
        "list_images": requests.HTTPError("401 Client Error: Unauthorized for url: http://pacs/dicom-web/series"),
    }

    def fail(*args, **kwargs):
        raise errors[failing]

    monkeypatch.setattr(app_instance().datastore(), failing, fail)
    response = client.post("/infer/rmisr_x2?image=1.2.3.4.6&output=json")
    assert response.status_code == 502, response.text
    assert response.json()["detail"] == f"the datastore's server did not answer: {errors[failing]}"


def test_dicom_seg_output_is_refused_before_anything_runs(served, orthanc):
    client, _, _ = served
    _, sources = orthanc
    response = client.post(f"/infer/rmisr_x2?image={sources[0].SeriesInstanceUID}&output=dicom_seg")
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(
        "output=dicom_seg makes a DICOM SEG of a segmentation; super-resolution returns an image"
    )
