"""The MONAI Label app served for real (FastAPI TestClient): needs ``monailabel``, so it runs in
``make test-monailabel``'s environment and is skipped in the main one."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

pytest.importorskip("monailabel", reason="MONAI Label lives in its own environment: make test-monailabel")

from monai_rmisr.io import read_image
from monai_rmisr.monailabel.infer import UPLOAD_KEY
from tests.helpers import dicom_testdata

REPO = Path(__file__).resolve().parents[2]
CT = dicom_testdata("CT_small.dcm")


#: A result limit the tests can pass (a 512x512 result is 262,144 pixels) and exceed.
MAX_OUTPUT_PIXELS = 300_000


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """The server's folders: ``app``, ``studies`` (``ct``, ``ramp``, ``gone``, ``twin`` (a PNG and a NIfTI) and
    ``link``, a link to a file elsewhere) and ``elsewhere/patient.nii.gz``, an image on the server's disk outside
    the datastore."""
    return tmp_path_factory.mktemp("monailabel")


@pytest.fixture(scope="module")
def client(root):
    """A server of apps/monailabel (copied: the server writes logs into its app folder) over the studies."""
    app_dir = root / "app"
    shutil.copytree(REPO / "apps" / "monailabel", app_dir)
    studies = root / "studies"
    studies.mkdir()
    hu = read_image(CT).array[0]
    nib.save(nib.Nifti1Image(hu.T[:, :, None].astype(np.int16), np.diag([0.6, 0.6, 2.0, 1.0])), studies / "ct.nii.gz")
    Image.fromarray(np.tile(np.arange(0, 240, 4, dtype=np.uint8), (40, 1))).save(studies / "ramp.png")
    shutil.copy(studies / "ramp.png", studies / "gone.png")  # deleted by a test once the datastore lists it
    shutil.copy(studies / "ramp.png", studies / "twin.png")  # two files of one datastore id, "twin"
    shutil.copy(studies / "ct.nii.gz", studies / "twin.nii.gz")
    (root / "elsewhere").mkdir()
    shutil.copy(studies / "ct.nii.gz", root / "elsewhere" / "patient.nii.gz")
    (studies / "link.nii.gz").symlink_to(root / "elsewhere" / "patient.nii.gz")

    from monai_rmisr.monailabel import compat

    compat.install()
    from monailabel.config import settings

    settings.MONAI_LABEL_APP_DIR = str(app_dir)
    settings.MONAI_LABEL_STUDIES = str(studies)
    settings.MONAI_LABEL_DATASTORE_AUTO_RELOAD = False
    settings.MONAI_LABEL_APP_CONF = {
        "models": "rmisr_x2,rmisr_x4,rmisr_any_scale,bicubic",
        "max_output_pixels": str(MAX_OUTPUT_PIXELS),
    }
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


def test_uploaded_dicom_comes_back_as_dicom(client):  # with params that do not name an image
    with open(CT, "rb") as f:
        response = client.post(
            "/infer/rmisr_x4?output=image", files={"file": ("scan.dcm", f)}, data={"params": json.dumps({"scale": 4})}
        )
    assert response.status_code == 200, response.text
    import pydicom

    ds = pydicom.dcmread(io.BytesIO(response.content))
    assert (ds.Rows, ds.Columns) == (512, 512)
    assert "DERIVED" in ds.ImageType and "x4" in ds.DerivationDescription
    # named after the file the client sent, not the temporary name the server saved it under (tmpk3j9x2ab_sr.dcm)
    assert re.fullmatch(
        r'attachment; filename="rmisr-[0-9a-f]{12}-scan_sr\.dcm"', response.headers["content-disposition"]
    )


@pytest.mark.parametrize(
    "sent, result",
    [
        ("../../etc/passwd.dcm", "passwd_sr.dcm"),
        ("C:\\scans\\my scan.dcm", "my_scan_sr.dcm"),
        (".hidden.dcm", "hidden_sr.dcm"),
        ("1.2.840.113619.2.55.dcm", "1.2.840.113619_sr.2.55.dcm"),  # a UID-named file keeps most of its UID
        ("...", None),  # nothing safe left: named after the temporary file, as before
    ],
)
def test_an_uploads_result_is_named_by_the_safe_part_of_the_client_name(client, sent, result):
    with open(CT, "rb") as f:
        response = client.post(
            "/infer/rmisr_x2?output=image", files={"file": (sent, f)}, data={"params": json.dumps({"scale": 2})}
        )
    assert response.status_code == 200, response.text
    named = re.fullmatch(r'attachment; filename="rmisr-[0-9a-f]{12}-(.*)"', response.headers["content-disposition"])
    assert named is not None
    assert named.group(1) == result if result is not None else re.fullmatch(r"tmp[a-z0-9_]{8}_sr", named.group(1))


def test_a_client_cannot_name_the_result_of_its_upload_a_path(client, tmp_path):
    """The result's name was the client's own ``rmisr_upload_name`` where its file name left nothing safe: a path
    outside the server's private folder, which the answer then overwrote and moved away."""
    precious = tmp_path / "keep_sr"
    precious.write_text("precious")
    params = {"scale": 2, "rmisr_upload_name": str(tmp_path / "keep")}
    for sent in ("...", "scan.dcm"):
        with open(CT, "rb") as f:
            response = client.post(
                "/infer/rmisr_x2?output=image", files={"file": (sent, f)}, data={"params": json.dumps(params)}
            )
        assert response.status_code == 200, response.text
        assert precious.read_text() == "precious"
        assert str(tmp_path) not in response.headers["content-disposition"]


@pytest.mark.parametrize(
    "task, params, message",
    [
        ("rmisr_x2", {"scale": "x2"}, "'scale' must be a finite number in (1, 8], got 'x2'."),
        ("rmisr_x4", {"scale": 3}, "model 'rmisr_bl_x4' is a fixed x4 network, got scale=3"),
        ("bicubic", {"scale": 60}, "'scale' must be a finite number in (1, 8], got 60."),
        ("rmisr_any_scale", {"scale": 60}, "'scale' must be a finite number in (1, 8], got 60."),
        ("rmisr_x2", {"device": "foo"}, "'device': device 'foo' is not a device; use cpu, cuda or cuda:N."),
        # --conf models left rmisr_vp_x4 and rmisr_x3 out: a request cannot load their networks (it could)
        (
            "rmisr_x2",
            {"network": "rmisr_vp_x4", "scale": 4},
            "network 'rmisr_vp_x4' (at x4) is not offered by this server, which offers rmisr_bl_x2, rmisr_bl_x4, "
            "rmisr_meta, bicubic.",
        ),
        (
            "rmisr_any_scale",
            {"scale": 5},
            "the result at x5 would be over this server's limit of 300,000 (it holds 128x128x1 voxels = 16,384 values, "
            "more than the 12,000 allowed); ask a smaller 'scale' or a 'roi'.",
        ),
    ],
)
def test_a_bad_request_is_a_400_that_says_why(client, task, params, message):
    response = client.post(f"/infer/{task}?image=ct&output=json", data={"params": json.dumps(params)})
    assert response.status_code == 400, response.text
    assert message in response.json()["detail"]


def test_auto_is_the_best_offered_network_for_the_scale(client):
    """--conf models left rmisr_x3 out: "auto" at x3 (rmisr_bl_x3 elsewhere) runs rmisr_meta, which is offered, where
    it was refused; at x2 it stays the dedicated x2, which is offered."""
    for scale, model in ((3, "rmisr_meta"), (2, "rmisr_bl_x2")):
        params = {"network": "auto", "scale": scale}
        response = client.post("/infer/rmisr_any_scale?image=ct&output=json", data={"params": json.dumps(params)})
        assert response.status_code == 200, response.text
        assert response.json()["model"] == model


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The paths the server's infer task reads (in this process: the test client runs the app here)."""
    from monai_rmisr.inference.upscale import Upscaler

    paths: list[str] = []
    real = Upscaler.read

    def recorded(self, path, *args, **kwargs):  # the tasks read through Upscaler.read (its size limits)
        paths.append(str(path))
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(Upscaler, "read", recorded)
    return paths


def test_a_file_outside_the_datastore_is_refused_unread(client, root, reads):
    patient = root / "elsewhere" / "patient.nii.gz"
    for query, params in [
        (f"image={patient}", {}),  # a path in the query
        ("image=ct", {"image": str(patient)}),  # params over the query's datastore id
        (f"image={root / 'studies'}/../elsewhere/patient.nii.gz", {}),  # out of the datastore through ".."
        ("image=link", {}),  # a datastore id whose file is a link to elsewhere
    ]:
        response = client.post(f"/infer/rmisr_x2?{query}&output=image", data={"params": json.dumps(params)})
        assert response.status_code == 403, (query, response.text)
        assert "is not in this server's datastore: name a datastore image by its id" in response.json()["detail"]
        assert "elsewhere" not in response.json()["detail"] or "elsewhere" in query + str(params)  # not a link's target
    assert reads == []
    # the control: a datastore image is read, and the fixture sees it (so reads == [] above means unread)
    assert client.post("/infer/rmisr_x2?image=ct&output=json").status_code == 200
    assert len(reads) == 1 and Path(reads[0]).name.startswith("ct")


def test_params_cannot_replace_an_upload(client, root, reads):
    for image in (str(root / "elsewhere" / "patient.nii.gz"), "ct"):
        form = {"params": json.dumps({"image": image})}
        with open(CT, "rb") as f:
            response = client.post("/infer/rmisr_x2?output=image", files={"file": ("scan.dcm", f)}, data=form)
        assert response.status_code == 400, response.text
        expected = f"'params' names an image ({image!r}) beside an uploaded file: send one or the other."
        assert response.json()["detail"] == expected
    assert reads == []


def test_another_requests_upload_cannot_be_named(client, reads):
    """A file named as the endpoint names uploads, in the temporary folder, owned by the server: only the
    request that uploaded it may have it read (guessing another upload's name gets a 403)."""
    with tempfile.NamedTemporaryFile(suffix=".dcm", delete=False) as named:  # as MONAI Label saves an upload
        named.write(Path(CT).read_bytes())
    try:
        for query, form in ((f"image={named.name}", {}), ("image=ct", {"params": json.dumps({"image": named.name})})):
            response = client.post(f"/infer/rmisr_x2?{query}&output=json", data=form)
            assert response.status_code == 403, response.text
            assert "is not in this server's datastore" in response.json()["detail"]
            marked = {"params": json.dumps({UPLOAD_KEY: "guessed"})}  # nor can a client mark its request
            response = client.post(f"/infer/rmisr_x2?image={named.name}&output=json", data=marked)
            assert response.status_code == 403, response.text
    finally:
        os.unlink(named.name)
    assert reads == []


def test_an_unknown_id_or_missing_path_gets_the_same_403(client, root):
    for image in ("nosuchimage", str(root / "elsewhere" / "no_such_patient.nii.gz")):
        response = client.post(f"/infer/rmisr_x2?image={image}&output=json")
        assert response.status_code == 403, response.text
        assert response.json()["detail"] == (
            f"image '{image}' is not in this server's datastore: name a datastore image by its id, or upload the file."
        )


def test_a_datastore_image_whose_file_has_gone_is_a_404(client, root):
    gone = root / "studies" / "gone.png"
    gone.unlink()  # after the datastore listed it (no auto-reload here)
    response = client.post("/infer/rmisr_x2?image=gone&output=json")
    assert response.status_code == 404, response.text
    assert response.json()["detail"] == "image 'gone' does not exist."  # not the server's path to it


def test_the_tasks_share_one_bounded_network_cache(client):
    from monailabel.interfaces.utils.app import app_instance

    from monai_rmisr.monailabel.infer import NETWORK_CACHE_SIZE

    for k in range(6):  # every request its own ROI and scale
        params = {"scale": 1.5 + k / 2, "roi": f"{k},{k},{20 + k},{30 + k}"}
        response = client.post("/infer/rmisr_any_scale?image=ramp&output=json", data={"params": json.dumps(params)})
        assert response.status_code == 200, response.text
    networks = app_instance().networks
    keys = networks.keys()
    assert networks.size == NETWORK_CACHE_SIZE and len(keys) <= NETWORK_CACHE_SIZE
    assert keys.count(("rmisr_meta", "cpu")) == 1 and keys[-1] == ("rmisr_meta", "cpu")
    assert {name for name, _ in keys} >= {"rmisr_bl_x2", "rmisr_bl_x4", "bicubic"}  # the tasks' defaults, kept


@pytest.mark.parametrize("warm", ["true", "false"])
def test_each_tasks_network_is_warmed_up_at_start_up_unless_told(tmp_path, monkeypatch, warm):
    from monailabel.config import settings

    from monai_rmisr.monailabel import task as task_module
    from monai_rmisr.monailabel.app import RMISRApp

    warmed: list[str] = []
    monkeypatch.setattr(task_module, "warm_up", lambda upscaler: warmed.append(upscaler.model_name) or 0.0)
    monkeypatch.setattr(settings, "MONAI_LABEL_SESSIONS", False)
    monkeypatch.setattr(settings, "MONAI_LABEL_DATASTORE_AUTO_RELOAD", False)
    (tmp_path / "studies").mkdir()
    app = RMISRApp(str(tmp_path / "app"), str(tmp_path / "studies"), {"models": "bicubic,rmisr_x4", "warm_up": warm})
    assert set(app.info()["models"]) == {"bicubic", "rmisr_x4"}
    assert warmed == (["bicubic", "rmisr_bl_x4"] if warm == "true" else [])


def test_the_offered_networks_are_those_of_the_tasks_the_app_made(tmp_path, monkeypatch):
    # a copied app's own task (a checkpoint as its default) is offered too, and a task left out for missing weights
    # is not: the list is taken from the tasks made, not from the task names asked for
    from monailabel.config import settings

    from monai_rmisr.inference import MODELS_ENV
    from monai_rmisr.monailabel.app import RMISRApp
    from monai_rmisr.monailabel.task import SuperResolutionTask

    monkeypatch.setattr(settings, "MONAI_LABEL_SESSIONS", False)
    monkeypatch.setattr(settings, "MONAI_LABEL_DATASTORE_AUTO_RELOAD", False)
    (tmp_path / "studies").mkdir()
    mine = tmp_path / "mine.pt"
    shutil.copy(REPO / "bundles" / "rmisr" / "models" / "rmisr_bl_x2.pt", mine)
    shutil.copy(REPO / "bundles" / "rmisr" / "models" / "model.json", tmp_path / "mine.json")  # its architecture

    class CopiedApp(RMISRApp):
        def init_infers(self):
            tasks = super().init_infers()
            folder = str(tmp_path / "studies")
            tasks["mine"] = SuperResolutionTask(2, str(mine), datastore=folder, networks=self.networks)
            return tasks

    app = CopiedApp(str(tmp_path / "app"), str(tmp_path / "studies"), {"models": "rmisr_x2", "warm_up": "false"})
    assert app.networks.offered == ("rmisr_bl_x2", str(mine), "bicubic")
    monkeypatch.setenv(MODELS_ENV, str(tmp_path / "no_weights"))  # rmisr_x3's weights are not there
    app = RMISRApp(str(tmp_path / "app"), str(tmp_path / "studies"), {"models": "rmisr_x3", "warm_up": "false"})
    assert app.networks.offered == ("bicubic",)


def test_a_bad_warm_up_setting_is_refused_at_start_up(tmp_path):
    from monai_rmisr.monailabel.app import RMISRApp

    with pytest.raises(ValueError, match=r"^--conf warm_up must be true or false, got 'maybe'\.$"):
        RMISRApp(str(tmp_path / "app"), str(tmp_path / "studies"), {"warm_up": "maybe"})


def test_the_datastore_is_read_only_and_its_reads_stay_in_the_studies_folder(client, root):
    outside = root / "outside"
    outside.mkdir(exist_ok=True)
    before = sorted(p.name for p in (root / "studies").iterdir())
    with open(CT, "rb") as f:  # an upload whose id climbs out of the studies folder
        response = client.put("/datastore/image?image=../outside/evil", files={"file": ("x.sh", f)})
    assert response.status_code == 403 and "datastore writes are turned off" in response.json()["detail"]
    assert list(outside.iterdir()) == []
    for method, url in (
        ("delete", "/datastore/image?id=ct"),
        ("delete", "/datastore/label?id=ct&tag=final"),
        ("put", "/datastore/image/info?image=ct"),
    ):
        response = getattr(client, method)(url)
        assert response.status_code == 403, (method, url, response.text)
    assert sorted(p.name for p in (root / "studies").iterdir()) == before  # nothing deleted
    # a link in the studies folder to a file elsewhere: neither its bytes nor its path are served
    for url in ("/datastore/image?image=link", "/datastore/image/info?image=link"):
        response = client.get(url)
        assert response.status_code == 403 and "is not in this server's datastore" in response.json()["detail"]
        assert "elsewhere" not in response.text
    assert client.get("/datastore/image?image=ct").status_code == 200  # the datastore's own images are served


def test_the_datastore_answers_without_server_paths(client, root):
    # /image/info answered the file's path on the server, and {} (a 200) for an unknown id; output=train listed
    # image / label pairs by their server paths
    studies = str((root / "studies").resolve())
    info = client.get("/datastore/image/info?image=ct")
    assert info.status_code == 200 and info.json()["name"] == "ct.nii.gz" and "path" not in info.json()
    for unknown in ("nothere", "../secret"):
        response = client.get(f"/datastore/image/info?image={unknown}")
        assert response.status_code == 404 and "is no id of this server's datastore" in response.json()["detail"]
    listed = client.get("/datastore/?output=all")
    assert listed.status_code == 200 and "ct" in listed.json()["objects"] and studies not in listed.text
    assert "link" not in listed.json()["objects"]  # a link to a file elsewhere: listed, then refused at every use
    response = client.get("/datastore/?output=train")
    assert response.status_code == 403 and "trains nothing" in response.json()["detail"]
    assert client.get("/datastore/").status_code == 200  # the counts


def test_what_monai_label_answered_with_a_bare_500_is_a_4xx_that_says_why(client):
    for url, form, status, message in (
        ("/infer/nosuch?image=ct&output=json", {}, 404, "no task 'nosuch' on this server; its tasks are "),
        ("/infer/rmisr_x2?image=ct&output=json", {"params": json.dumps({"model": "nosuch"})}, 404, "no task 'nosuch'"),
        ("/infer/rmisr_x2?image=ct&output=json", {"params": "{not json"}, 400, "params must be a JSON object: "),
        ("/infer/rmisr_x2?image=ct&output=json", {"params": "[1, 2]"}, 400, "params must be a JSON object, got list"),
        ("/infer/rmisr_x2?output=json", {}, 400, "the request names no image"),
    ):
        response = client.post(url, data=form)
        assert response.status_code == status, (url, form, response.text)
        assert message in response.json()["detail"]


def test_an_id_that_two_files_share_is_refused_naming_both(client):
    """MONAI Label serves one of ``twin.png`` and ``twin.nii.gz`` under the id ``twin``, whichever it listed last:
    neither the task nor the datastore's own endpoints answer for it."""
    message = "image id 'twin' names 2 files of the datastore (twin.nii.gz, twin.png)"
    for method, url in (
        ("post", "/infer/rmisr_x2?image=twin&output=json"),
        ("get", "/datastore/image?image=twin"),
        ("get", "/datastore/image/info?image=twin"),
    ):
        response = getattr(client, method)(url)
        assert response.status_code == 409, (url, response.text)
        assert response.json()["detail"].startswith(message)
    assert client.post("/infer/rmisr_x2?image=ramp&output=json").status_code == 200  # one file, one id


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", "/proxy/dicom/qido/studies"),  # a DICOMweb datastore's whole PACS, with the server's credentials
        ("post", "/proxy/dicom/stow/studies"),
        ("post", "/batch/infer/bicubic?run_sync=true"),  # wrote a result of every image at a client's label_tag
        ("get", "/batch/infer"),
        ("put", "/session/"),  # stored uploads under the server user's home
        ("get", "/logs/?text=true"),  # the server's log: paths, every request's parameters
        ("get", "/model/rmisr_x2"),
        ("put", "/model/rmisr_x2"),  # replaced a task's weights
        ("post", "/reload"),
        ("post", "/train/"),
        ("post", "/activelearning/random"),
        ("post", "/scoring/"),
        ("get", "/datastore/dataset"),  # the whole datastore as one zip
        ("put", "/datastore/updatelabelinfo"),
        ("get", "/ohif/index.html"),
        ("post", "/infer/wsi_v2/rmisr_x2"),
    ],
)
def test_only_what_super_resolution_needs_is_served(client, root, method, url):
    before = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    response = getattr(client, method)(url)
    assert response.status_code == 403, (method, url, response.text)
    assert "is not served: this server super-resolves images" in response.json()["detail"]
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == before


def test_what_clients_use_is_still_served(client):
    assert client.get("/info/").status_code == 200 and client.get("/info").status_code == 200  # (a redirect)
    assert client.get("/datastore/?output=all").status_code == 200
    assert client.head("/datastore/image?image=ct").status_code == 200
    assert client.get("/docs").status_code == 200 and client.get("/openapi.json").status_code == 200


def test_a_result_is_never_saved_as_a_label(client, root, tmp_path):
    """MONAI Label saves an infer result as a label where the request asks (``save_label``), at the request's
    ``label_tag``, which it joins into a path unchecked: any folder the server user may write."""
    target = tmp_path / "outside"
    asked = ({"save_label": True}, {"save_label": "true", "label_tag": str(target)}, {"save_label": 1})
    for params in (*asked, {"save_label": "maybe"}):  # neither true nor false: MONAI Label would save it
        before = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
        response = client.post("/infer/bicubic?image=ramp&output=json", data={"params": json.dumps(params)})
        assert response.status_code == 403, response.text
        assert "this server stores nothing (save_label)" in response.json()["detail"]
        assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == before and not target.exists()
    declined = ({"save_label": False}, {"save_label": "false", "label_tag": str(target)}, {"save_label": "no"})
    for params in (*declined, {"save_label": "Off"}, {"save_label": ""}):
        # MONAI Label saves for any true value, the text "false" included: accepted here, and never saved
        before = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
        response = client.post("/infer/bicubic?image=ramp&output=json", data={"params": json.dumps(params)})
        assert response.status_code == 200, response.text
        assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == before and not target.exists()


def test_an_upload_is_removed_whatever_the_answer(client, tmp_path, monkeypatch):
    """MONAI Label's endpoint left the upload (a patient's file, mode 0644) in the temporary folder after every
    refused request; a label upload is not an input of super-resolution."""
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(uploads))
    seen: list[str] = []
    real_copy = shutil.copyfileobj

    def copied(source, target, *args):  # the modes of the upload as written
        real_copy(source, target, *args)
        seen.append(oct(os.stat(target.name if hasattr(target, "name") else target).st_mode & 0o777))

    monkeypatch.setattr(shutil, "copyfileobj", copied)
    for params, status in (({"scale": 9}, 400), ({"sacle": 2}, 400), ({"tile": 8}, 400), ({}, 200)):
        with open(CT, "rb") as f:
            form = {"params": json.dumps(params)}
            response = client.post("/infer/rmisr_x2?output=json", files={"file": ("scan.dcm", f)}, data=form)
        assert response.status_code == status, (params, response.text)
        assert list(uploads.iterdir()) == [], params
        assert str(uploads) not in response.text  # the upload is "the uploaded file", not its path
    assert seen and set(seen) == {"0o600"}
    with open(CT, "rb") as f, open(CT, "rb") as g:
        response = client.post("/infer/rmisr_x2?output=json", files={"file": ("scan.dcm", f), "label": ("l.dcm", g)})
    assert response.status_code == 400 and "a label is not an input of super-resolution" in response.text
    assert list(uploads.iterdir()) == []
    with io.BytesIO(b"not an image") as junk:
        response = client.post("/infer/rmisr_x2?output=json", files={"file": ("junk.png", junk)})
    assert response.status_code == 400 and "the uploaded file" in response.json()["detail"], response.text
    assert str(uploads) not in response.text and list(uploads.iterdir()) == []


def test_the_launcher_starts_the_server_as_documented(tmp_path):
    """``python -m monai_rmisr.monailabel start_server`` for real (the tests above use FastAPI's test client): it
    stopped at start with "Object of type AnyHttpUrl is not JSON serializable" whenever an origin was named (its
    own default too), and the origin named was never let in (pydantic wrote it with a trailing '/')."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    shutil.copytree(REPO / "apps" / "monailabel", tmp_path / "app")  # the server writes into its app folder
    (tmp_path / "studies").mkdir()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    temporary = tmp_path / "tmp"  # MONAI Label left its logging config there at every start
    temporary.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MONAI_LABEL_CORS_ORIGINS": '["http://viewer-host:3000"]'}
    env["TMPDIR"] = str(temporary)
    command = [sys.executable, "-m", "monai_rmisr.monailabel", "start_server", "--app", str(tmp_path / "app")]
    command += ["--studies", str(tmp_path / "studies"), "--port", str(port), "--conf", "warm_up", "false"]
    with open(tmp_path / "server.log", "wb") as log:
        server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                request = urllib.request.Request(f"{url}/info/", headers={"Origin": "http://viewer-host:3000"})
                with urllib.request.urlopen(request, timeout=5) as response:
                    assert response.headers["access-control-allow-origin"] == "http://viewer-host:3000"
                    assert json.load(response)["name"] == "monai-rmisr"
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()[-3000:]
                time.sleep(1)
        other = urllib.request.Request(f"{url}/info/", headers={"Origin": "http://elsewhere:3000"})
        with urllib.request.urlopen(other, timeout=5) as response:
            assert "access-control-allow-origin" not in response.headers  # another page may not read it
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}/proxy/dicom/qido/studies", timeout=5)
        assert refused.value.code == 403
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert list(temporary.glob("tmp*.json")) == []  # its logging config is the app's own, replaced at each start
    assert json.loads((tmp_path / "app" / "logs" / "logging.json").read_text())["root"]


def test_a_request_being_super_resolved_holds_up_no_other(client, monkeypatch):
    # MONAI Label ran the task in the event loop's thread: GET /info/ waited 12.5 s behind a 13 s request
    import threading
    import time

    from monai_rmisr.monailabel import task as task_module

    run = task_module.run_infer_request
    started = threading.Event()

    def slow(*args, **kwargs):
        started.set()
        time.sleep(4)
        return run(*args, **kwargs)

    monkeypatch.setattr(task_module, "run_infer_request", slow)
    answers = []
    request = threading.Thread(target=lambda: answers.append(client.post("/infer/rmisr_x2?image=ct&output=json")))
    request.start()
    try:
        assert started.wait(30)
        begin = time.monotonic()
        assert client.get("/info/").status_code == 200
        waited = time.monotonic() - begin
    finally:
        request.join(60)
    assert answers and answers[0].status_code == 200, answers
    assert waited < 2.5, f"GET /info/ waited {waited:.1f} s behind a request being super-resolved"
