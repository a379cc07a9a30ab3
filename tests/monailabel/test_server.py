"""The MONAI Label app served for real (FastAPI TestClient): needs ``monailabel``, so it runs in
``make test-monailabel``'s environment and is skipped in the main one."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

pytest.importorskip("monailabel", reason="MONAI Label lives in its own environment: make test-monailabel")

from monai_rmisr.io import read_image
from tests.helpers import dicom_testdata

REPO = Path(__file__).resolve().parents[2]
CT = dicom_testdata("CT_small.dcm")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """A server of apps/monailabel (copied: the server writes logs into its app folder) over two studies."""
    root = tmp_path_factory.mktemp("monailabel")
    app_dir = root / "app"
    shutil.copytree(REPO / "apps" / "monailabel", app_dir)
    studies = root / "studies"
    studies.mkdir()
    hu = read_image(CT).array[0]
    nib.save(nib.Nifti1Image(hu.T[:, :, None].astype(np.int16), np.diag([0.6, 0.6, 2.0, 1.0])), studies / "ct.nii.gz")
    Image.fromarray(np.tile(np.arange(0, 240, 4, dtype=np.uint8), (40, 1))).save(studies / "ramp.png")

    from monai_rmisr.monailabel import compat

    compat.install()
    from monailabel.config import settings

    settings.MONAI_LABEL_APP_DIR = str(app_dir)
    settings.MONAI_LABEL_STUDIES = str(studies)
    settings.MONAI_LABEL_DATASTORE_AUTO_RELOAD = False
    settings.MONAI_LABEL_APP_CONF = {"models": "rmisr_x2,rmisr_x4,rmisr_any_scale,bicubic"}
    settings.MONAI_LABEL_SESSION_PATH = str(root / "sessions")
    for key, value in settings.model_dump().items():
        os.environ[key] = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    (app_dir / "logs").mkdir(exist_ok=True)
    (app_dir / "logs" / "app.log").touch()

    from fastapi.testclient import TestClient
    from monailabel.app import app
    from monailabel.interfaces.utils.app import clear_cache

    clear_cache()
    with TestClient(app) as test_client:
        yield test_client


def test_info_lists_the_tasks(client):
    info = client.get("/info/").json()
    assert info["name"] == "monai-rmisr"
    assert set(info["models"]) == {"rmisr_x2", "rmisr_x4", "rmisr_any_scale", "bicubic"}
    assert info["models"]["rmisr_x2"]["type"] == "others"
    assert info["models"]["rmisr_x2"]["config"]["scale"] == 2.0
    assert info["trainers"] == {}


def test_datastore_image_comes_back_super_resolved(client, tmp_path):
    response = client.post("/infer/rmisr_x2?image=ct&output=image")
    assert response.status_code == 200, response.text
    out = tmp_path / "ct_sr.nii.gz"
    out.write_bytes(response.content)
    result = read_image(out)
    assert result.array.shape == (1, 256, 256)
    np.testing.assert_allclose(result.meta["spacing"][:2], (0.3, 0.3))
    original = read_image(CT).array
    assert original.min() - 1 <= result.array.min() and result.array.max() <= original.max() + 1


def test_json_result_and_per_request_params(client):
    response = client.post("/infer/rmisr_any_scale?image=ramp&output=json", data={"params": json.dumps({"scale": 3.5})})
    assert response.status_code == 200, response.text
    info = response.json()
    assert info["model"] == "rmisr_meta" and info["scale"] == 3.5
    assert info["input_shape"] == [40, 60] and info["output_shape"] == [140, 210]


def test_uploaded_dicom_comes_back_as_dicom(client):
    with open(CT, "rb") as f:
        response = client.post("/infer/rmisr_x4?output=image", files={"file": ("scan.dcm", f)})
    assert response.status_code == 200, response.text
    import pydicom

    ds = pydicom.dcmread(io.BytesIO(response.content))
    assert (ds.Rows, ds.Columns) == (512, 512)
    assert "DERIVED" in ds.ImageType and "x4" in ds.DerivationDescription


def test_a_bad_request_is_a_400_that_says_why(client):
    response = client.post("/infer/rmisr_x2?image=ct&output=json", data={"params": json.dumps({"scale": "x2"})})
    assert response.status_code == 400
    assert "'scale' must be a finite number > 1" in response.json()["detail"]
    response = client.post("/infer/rmisr_x4?image=ct&output=json", data={"params": json.dumps({"scale": 3})})
    assert response.status_code == 400 and "fixed x4 network" in response.json()["detail"]
