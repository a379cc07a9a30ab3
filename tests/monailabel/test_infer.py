"""run_infer_request: a MONAI Label request -> the super-resolved file in the input's format, and its JSON."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from PIL import Image

from monai_rmisr.inference import pretrained_path, weights_sha256
from monai_rmisr.inference import upscale as upscale_module
from monai_rmisr.inference.upscale import Upscaler
from monai_rmisr.io import ImageReadError, read_image
from monai_rmisr.monailabel import DEFAULTS, parse_request, run_infer_request
from monai_rmisr.monailabel.__main__ import with_default_host
from monai_rmisr.monailabel.infer import (
    IMAGE_NAME_KEY,
    MAX_SCALE,
    UPLOAD_KEY,
    UPLOAD_NAME,
    NetworkCache,
    check_image,
    client_message,
    files_of_image_id,
    is_upload_request,
    read_checked_image,
    save_upload,
    upload_params,
    warm_up,
)
from tests.helpers import dicom_testdata, one_thread_fixture, write_ct_series

CT = dicom_testdata("CT_small.dcm")


_one_thread = one_thread_fixture()


@pytest.fixture
def studies(tmp_path):
    """A datastore folder holding a copy of CT_small.dcm as ``ct.dcm``."""
    folder = tmp_path / "studies"
    folder.mkdir()
    shutil.copy(CT, folder / "ct.dcm")
    return folder


def test_nifti_volume_comes_back_as_nifti_on_the_new_grid(tmp_path):
    source = tmp_path / "ct.nii.gz"
    volume = np.stack([read_image(CT).array[0, :48, :40] + 10 * k for k in range(3)], -1)
    affine = np.diag([0.7, 0.7, 3.0, 1.0])
    nib.save(nib.Nifti1Image(volume.astype(np.int16), affine), source)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    path, info = run_infer_request({"image": str(source), "device": "cpu"}, tmp_path, output_dir=out_dir)
    assert path.endswith("ct_sr.nii.gz") and path.startswith(str(out_dir))
    result = read_image(path)
    assert result.array.shape == (1, 96, 80, 3)
    np.testing.assert_allclose(result.meta["spacing"], (0.35, 0.35, 3.0))
    expected = Upscaler(2.0).image(read_image(source)).array
    np.testing.assert_allclose(result.array, np.round(expected), atol=0.51)  # int16 kept
    assert info["model"] == "rmisr_bl_x2" and info["scale"] == 2.0 and info["format"] == "nifti"
    assert info["input_shape"] == [48, 40, 3] and info["output_shape"] == [96, 80, 3] and info["channels"] == 1
    assert info["output_spacing"] == pytest.approx([0.35, 0.35, 3.0])
    json.dumps(info)  # what MONAI Label sends back must be JSON


def test_a_4d_nifti_says_how_many_volumes_it_held(tmp_path):
    """The shapes are the spatial axes: a time series of 2 volumes said only [48, 40, 3]."""
    source = tmp_path / "fmri.nii.gz"
    volumes = np.stack([read_image(CT).array[0, :48, :40, None].repeat(3, -1) + 10 * t for t in range(2)], -1)
    nib.save(nib.Nifti1Image(volumes.astype(np.int16), np.diag([0.7, 0.7, 3.0, 1.0])), source)
    _, info = run_infer_request({"image": str(source), "device": "cpu"}, tmp_path, output_dir=tmp_path)
    assert info["input_shape"] == [48, 40, 3] and info["channels"] == 2


def test_dicom_file_with_params_over_the_task_defaults(tmp_path, studies):
    request = {"image": str(studies / "ct.dcm"), "scale": "3", "roi": "10,20,74,60", "device": "cuda"}  # strings
    path, info = run_infer_request(request, studies, defaults={"scale": 2.0}, output_dir=tmp_path)
    result = read_image(path)
    assert result.meta["format"] == "dicom" and result.array.shape == (1, 120, 192)
    assert info["model"] == "rmisr_bl_x3" and info["roi"] == [10, 20, 74, 60]
    assert info["device"] == ("cuda" if torch.cuda.is_available() else "cpu")  # no GPU: served on the CPU


def test_dicom_series_comes_back_as_a_zip_of_a_derived_series(tmp_path):
    write_ct_series(tmp_path / "series", n=3)
    path, info = run_infer_request(
        {"image": str(tmp_path / "series"), "network": "bicubic", "scale": 2}, tmp_path, output_dir=tmp_path / "out"
    )
    assert path.endswith("series_sr.zip") and info["format"] == "dicom-series" and info["model"] == "bicubic"
    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist())
        archive.extractall(tmp_path / "unzipped")
    assert names == ["00001.dcm", "00002.dcm", "00003.dcm"]
    assert read_image(tmp_path / "unzipped").array.shape == (1, 256, 256, 3)
    assert [p.name for p in (tmp_path / "out").iterdir()] == [Path(path).name]  # the series folder is gone


def test_png_any_scale_and_the_network_cache(tmp_path):
    source = tmp_path / "ramp.png"
    Image.fromarray(np.tile(np.arange(0, 240, 6, dtype=np.uint8), (30, 1))).save(source)
    cache = NetworkCache()
    request = {"image": str(source), "scale": 2.5, "network": "auto"}
    first, info = run_infer_request(request, tmp_path, output_dir=tmp_path, networks=cache)
    second, _ = run_infer_request(request, tmp_path, output_dir=tmp_path, networks=cache)
    assert first != second  # two distinct result files
    assert info["model"] == "rmisr_meta" and Image.open(first).size == (100, 75)
    for path in (first, second):
        assert path.endswith("ramp_sr.png")
    # other scales, ROIs, tiles and self-ensemble reuse the one network
    for scale, roi in [(3.5, "0,0,20,10"), (1.5, "4,4,30,20"), (7, "")]:
        again = {**request, "scale": scale, "roi": roi, "tile": 64, "self_ensemble": "true"}
        path, info = run_infer_request(again, tmp_path, output_dir=tmp_path, networks=cache)
        assert info["model"] == "rmisr_meta" and info["scale"] == scale
    assert cache.keys() == [("rmisr_meta", "cpu")]


def _sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_the_network_cache_is_bounded_and_least_recently_used_goes_first():
    cache = NetworkCache(size=2)
    bicubic = cache.upscaler(parse_request({"network": "bicubic", "scale": 3}))
    x2 = cache.upscaler(parse_request({"scale": 2}))
    assert cache.keys() == [("bicubic", "cpu"), ("rmisr_bl_x2", "cpu")]
    assert cache.upscaler(parse_request({"network": "bicubic", "scale": 5})).network is bicubic.network  # kept
    assert cache.keys() == [("rmisr_bl_x2", "cpu"), ("bicubic", "cpu")]
    meta = cache.upscaler(parse_request({"scale": 2.5}))
    assert meta.model_name == "rmisr_meta" and meta.run_scale == 2.5
    assert cache.keys() == [("bicubic", "cpu"), ("rmisr_meta", "cpu")]  # rmisr_bl_x2 dropped
    assert cache.upscaler(parse_request({"scale": 2})).network is not x2.network  # loaded again
    # what the outputs record of the weights: the shipped file's SHA-256 (rmisr info's), not a digest of the CPU's
    # rewritten network that the cache keeps
    assert x2.derivation["weights_sha256"] == weights_sha256("rmisr_bl_x2") == _sha256(pretrained_path("rmisr_bl_x2"))
    assert meta.derivation["weights_sha256"] == weights_sha256("rmisr_meta") and bicubic.weights_sha256 is None
    with pytest.raises(ValueError, match="at least one network"):
        NetworkCache(size=0)


@pytest.mark.parametrize(
    "request_, error, message",
    [
        ({"image": None}, ValueError, "names no image"),
        ({"image": ""}, ValueError, "names no image"),  # what MONAI Label makes of an unknown id
        ({"image": "missing.nii.gz"}, FileNotFoundError, "does not exist"),
        ({"scale": "0.5"}, ValueError, r"'scale' must be a finite number in \(1, 8\], got '0.5'"),
        ({"scale": "x2"}, ValueError, r"'scale' must be a finite number in \(1, 8\], got 'x2'"),
        ({"scale": 60, "network": "bicubic"}, ValueError, r"'scale' must be a finite number in \(1, 8\], got 60"),
        ({"scale": "8.5"}, ValueError, r"in \(1, 8\], got '8.5'"),
        ({"tile": 3}, ValueError, "'tile': tile must be 'auto', an integer >= 64"),
        ({"tile": "big"}, ValueError, "'tile': tile must be 'auto', 0 \\(the whole image\\) or an integer >= 64"),
        ({"tile": "8"}, ValueError, "'tile': tile must be 'auto', an integer >= 64"),  # 160x a whole image's time
        ({"tile": 63}, ValueError, "'tile': tile must be 'auto', an integer >= 64"),
        ({"self_ensemble": "maybe"}, ValueError, "'self_ensemble' must be true or false"),
        ({"roi": "1,2,3"}, ValueError, "four integers"),
        ({"network": "rmisr_vp_x4"}, ValueError, "model 'rmisr_vp_x4' is a fixed x4 network, got scale=2"),
        ({"network": "/etc/passwd"}, ValueError, "'network' must be one of auto, bicubic, rmisr_bl_x2"),
        ({"device": "foo"}, ValueError, "'device': device 'foo' is not a device; use cpu, cuda or cuda:N"),
        ({"device": "cuda:x"}, ValueError, "'device': device 'cuda:x' is not a device"),
        ({"device": "meta"}, ValueError, "'device': device 'meta' cannot run the networks"),
        ({"sacle": 4}, ValueError, "'sacle' is not a setting of this task: did you mean 'scale'\\?"),
        ({"self_ensamble": True}, ValueError, "did you mean 'self_ensemble'"),
        ({"netwrok": "bicubic"}, ValueError, "did you mean 'network'"),
    ],
)
def test_bad_requests(tmp_path, studies, request_, error, message):
    request = {"image": str(studies / "ct.dcm"), **request_}
    if request_.get("image"):
        request["image"] = str(studies / request_["image"])
    (tmp_path / "out").mkdir()
    with pytest.raises(error, match=message):
        run_infer_request(request, studies, output_dir=tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_an_unreadable_image_leaves_nothing(tmp_path):
    bad = tmp_path / "in" / "notes.png"
    bad.parent.mkdir()
    bad.write_text("not an image")
    (tmp_path / "out").mkdir()
    with pytest.raises(ImageReadError, match=r"notes\.png"):
        run_infer_request({"image": str(bad)}, tmp_path / "in", output_dir=tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_an_image_outside_the_datastore_is_refused_unread(tmp_path, studies, monkeypatch):
    def no_read(path, *args, **kwargs):
        raise AssertionError(f"{path} was read")

    monkeypatch.setattr(upscale_module, "read_image", no_read)  # what the server reads through
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(CT, elsewhere / "patient.dcm")
    (studies / "link.dcm").symlink_to(elsewhere / "patient.dcm")
    (studies / "linked_folder").symlink_to(elsewhere, target_is_directory=True)
    for image in [
        CT,  # an existing file elsewhere
        elsewhere / "patient.dcm",
        studies / ".." / "elsewhere" / "patient.dcm",  # out through ".."
        studies / "link.dcm",  # a link in the datastore to a file elsewhere
        studies / "linked_folder" / "patient.dcm",
        elsewhere / "no_such_file.dcm",  # refused the same way: no telling which files exist
        tmp_path,
    ]:
        with pytest.raises(PermissionError, match=f"image '{image}' is not in this server's datastore"):
            run_infer_request({"image": str(image)}, studies, output_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "studies"]  # nothing written


def test_check_image_allows_the_datastore_and_the_endpoints_uploads_only(tmp_path, studies, monkeypatch):
    assert check_image(str(studies / "ct.dcm"), studies) == studies / "ct.dcm"
    assert check_image(studies, studies) == studies  # a DICOM series datastore hands over folders
    monkeypatch.chdir(studies)
    assert check_image("ct.dcm", studies) == Path("ct.dcm")  # relative, as MONAI Label leaves an existing path
    monkeypatch.chdir(tmp_path)
    assert check_image("studies/ct.dcm", "studies") == Path("studies/ct.dcm")  # a relative --studies

    uploads = tmp_path / "tmp"
    uploads.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(uploads))
    with tempfile.NamedTemporaryFile(suffix=".nii.gz") as named:  # how MONAI Label's /infer names an upload
        upload = Path(named.name)
    assert upload.parent == uploads and not upload.exists()
    shutil.copy(CT, upload)
    assert check_image(str(upload), studies, uploaded=True) == upload
    with pytest.raises(PermissionError, match="not in this server's datastore"):
        check_image(str(upload), studies)  # the same file named by a request without an upload
    with tempfile.NamedTemporaryFile() as named:  # an upload named without a suffix
        no_suffix = Path(named.name)
    no_suffix.write_bytes(b"x")
    assert check_image(no_suffix, studies, uploaded=True) == no_suffix

    (uploads / "notes.txt").write_text("not an upload")
    (uploads / "sub").mkdir()
    shutil.copy(CT, uploads / "sub" / upload.name)
    (uploads / "tmplinkabcd.dcm").symlink_to(CT)
    (uploads / "tmpfolder_1").mkdir()
    for image in [
        uploads / "notes.txt",  # not the endpoint's name
        uploads / "sub" / upload.name,  # not directly in the temporary folder
        uploads / "tmplinkabcd.dcm",  # the endpoint's name, but a link
        uploads / "tmpfolder_1",  # the endpoint's name, but a folder
        uploads / "tmpmissing1.dcm",  # the endpoint's name, no file
    ]:
        with pytest.raises(PermissionError, match="not in this server's datastore"):
            check_image(str(image), studies, uploaded=True)
    for image in (None, "", 3):
        with pytest.raises(ValueError, match="names no image"):
            check_image(image, studies)


def test_an_upload_is_saved_for_its_user_only_where_check_image_takes_it(tmp_path, studies, monkeypatch):
    import io
    import stat

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    cases = [("scan.nii.gz", ".nii.gz"), ("ct.dcm", ".dcm"), (None, ""), ("a b/../x.dc\x00m", "")]
    cases += [("patient.t1.2024.nii.gz", ".2024.nii.gz"), ("CT 2024.01.05.nii.gz", ".05.nii.gz"), ("x.b@d.png", ".png")]
    for filename, suffix in cases:  # more than three extensions dropped them all (a NIfTI was then "not DICOM")
        path = save_upload(io.BytesIO(b"data"), filename)
        assert path.parent == tmp_path and UPLOAD_NAME.fullmatch(path.name) and path.name.endswith(suffix)
        assert path.read_bytes() == b"data" and stat.S_IMODE(path.stat().st_mode) == 0o600  # 0644 in MONAI Label
        assert check_image(str(path), studies, uploaded=True) == path

    class Broken(io.BytesIO):
        def read(self, *args):
            raise OSError("connection reset")

    before = set(tmp_path.iterdir())
    with pytest.raises(OSError, match="connection reset"):
        save_upload(Broken(), "ct.dcm")
    assert set(tmp_path.iterdir()) == before  # nothing half-written left


def test_client_message_names_no_server_path(tmp_path, studies, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (studies / "series").mkdir()
    (studies / "link.png").symlink_to(tmp_path / "secret" / "target.png")
    request = {"image": str(studies / "link.png"), IMAGE_NAME_KEY: "link"}
    message = f"cannot read image '{studies / 'link.png'}' ('{tmp_path / 'secret' / 'target.png'}' is broken)"
    assert client_message(message, request, studies) == "cannot read image 'link' ('link' is broken)"
    request = {"image": str(studies / "series"), IMAGE_NAME_KEY: "1.2.3"}
    slice_message = f"slice '{studies / 'series' / 'a.dcm'}' of '{studies / 'series'}' has no pixels"
    assert client_message(slice_message, request, studies) == "slice '1.2.3/a.dcm' of '1.2.3' has no pixels"
    upload = {"image": str(tmp_path / "tmp" / "tmpabcdefgh.png"), IMAGE_NAME_KEY: "the uploaded file"}
    assert client_message(f"'{upload['image']}' is not a PNG", upload, studies) == "'the uploaded file' is not a PNG"
    other = f"'{tmp_path / 'tmp' / 'tmpzzzzzzzz.png'}'"
    assert client_message(other, upload, studies) == "'<temporary folder>/tmpzzzzzzzz.png'"
    assert client_message(f"'{studies / 'ct.dcm'}'", {"image": str(studies / "ct.dcm")}, studies) == "'the image'"


def test_upload_params_refuse_an_image_and_mark_the_request_as_an_upload():
    for params in ('{"scale": 3}', "", "{}"):
        marked = json.loads(upload_params(params))
        assert is_upload_request(marked) and marked.get("scale", 3) == 3
    assert upload_params("not json") == "not json"  # left to MONAI Label's endpoint, which refuses it
    assert upload_params('["image"]') == '["image"]'
    with pytest.raises(ValueError, match="'params' names an image \\('/etc/passwd'\\) beside an uploaded file"):
        upload_params('{"image": "/etc/passwd", "scale": 2}')
    # a client cannot mark its own request: the mark is a secret of the server's process
    assert not is_upload_request({})
    assert not is_upload_request({UPLOAD_KEY: "true"})
    assert not is_upload_request({UPLOAD_KEY: json.loads(upload_params("{}"))[UPLOAD_KEY][:-1]})


def test_too_large_a_result_is_refused_before_it_is_made(tmp_path, studies, monkeypatch):
    (tmp_path / "out").mkdir()
    request = {"image": str(studies / "ct.dcm"), "scale": 4}
    decoded = []
    monkeypatch.setattr("monai_rmisr.io.dicom.pixel_array", lambda ds, **kwargs: decoded.append(ds))
    with pytest.raises(
        ValueError,
        match=r"the result at x4 would be over this server's limit of 100,000 \(it holds 128x128 pixels = 16,384 "
        r"values, more than the 6,250 allowed\); ask a smaller 'scale' or a 'roi'",
    ):
        run_infer_request(request, studies, output_dir=tmp_path / "out", max_output_pixels=100_000)
    assert decoded == []  # refused from the header
    assert list((tmp_path / "out").iterdir()) == []
    monkeypatch.undo()
    _, info = run_infer_request(
        {**request, "roi": "0,0,64,32"}, studies, output_dir=tmp_path / "out", max_output_pixels=256 * 128
    )
    assert info["output_shape"] == [128, 256]  # the ROI's result: exactly at the limit


def test_read_checked_image_counts_the_roi_inside_the_image_every_slice_and_channel(tmp_path):
    source = tmp_path / "vol.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((40, 30, 5), np.int16), np.eye(4)), source)
    upscaler = NetworkCache().upscaler(parse_request({"scale": 2.5}))
    assert read_checked_image(source, upscaler, 100 * 75 * 5).spatial_shape == (40, 30, 5)
    with pytest.raises(ValueError, match=r"would be over this server's limit of 37,499 \(it holds 40x30x5 voxels"):
        read_checked_image(source, upscaler, 100 * 75 * 5 - 1)
    upscaler.roi = (20, 10, 1000, 1000)  # partly outside: the ROI check (later) says so, not this one
    with pytest.raises(ValueError, match="the result would be 75x25x5 = 9,375 pixels, over this server's limit"):
        read_checked_image(source, upscaler, 9000)
    rgb = tmp_path / "rgb.png"
    Image.fromarray(np.zeros((10, 20, 3), np.uint8)).save(rgb)
    upscaler = NetworkCache().upscaler(parse_request({"scale": 2, "roi": "0,0,20,10"}))
    assert read_checked_image(rgb, upscaler, 40 * 20 * 3).array.shape[0] == 3
    with pytest.raises(ValueError, match="the result would be 20x40 x 3 channels = 2,400 values, over this server"):
        read_checked_image(rgb, upscaler, 40 * 20 * 3 - 1)


def test_a_roi_of_an_input_larger_than_the_limit_is_served(tmp_path):
    source = tmp_path / "vol.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((40, 30, 5), np.int16), np.eye(4)), source)  # 6,000 values
    upscaler = NetworkCache().upscaler(parse_request({"scale": 2, "roi": "0,0,4,4"}))
    assert read_checked_image(source, upscaler, 1000).spatial_shape == (40, 30, 5)  # result 8x8x5 = 320


def test_the_servers_and_clients_own_request_keys_pass():
    # what MONAI Label's endpoint and its clients (3D Slicer, OHIF) put beside the task's settings
    others = {"model": "rmisr_x2", "image": "x", "client_id": "user", "result_extension": ".nii.gz"}
    others |= {"result_dtype": "uint8", "result_compress": False, "label_info": [], "description": "", "roi": ""}
    assert parse_request(others)["scale"] == 2.0


def test_parse_request_defaults():
    assert parse_request({}) == {
        "scale": 2.0,
        "network": "rmisr_bl_x2",  # "auto" at x2
        "roi": None,
        "tile": "auto",  # tiles only where the whole image would exceed the memory budget
        "self_ensemble": False,
        "device": "cpu",
    }
    assert parse_request({"tile": "256", "self_ensemble": "true"}, DEFAULTS)["tile"] == 256
    assert parse_request({"tile": "0"})["tile"] is None and parse_request({"tile": 0})["tile"] is None
    assert parse_request({"model": "rmisr_x2", "network": "rmisr_meta"})["network"] == "rmisr_meta"  # model: the task
    assert parse_request({"scale": MAX_SCALE, "network": "bicubic", "device": "cpu:0"})["device"] == "cpu"
    assert parse_request({}, {"network": "/models/mine.pt"})["network"] == "/models/mine.pt"  # the server's default


def test_the_launcher_listens_on_this_machine_only_unless_told():
    assert with_default_host(["start_server", "--app", "apps/monailabel", "--studies", "s"]) == [
        "start_server",
        "--app",
        "apps/monailabel",
        "--studies",
        "s",
        "--host",
        "127.0.0.1",
    ]
    for given in (["--host", "0.0.0.0"], ["--host=10.0.0.2"], ["-i", "0.0.0.0"], ["-i0.0.0.0"]):
        assert with_default_host(["start_server", "--app", "a", *given]) == ["start_server", "--app", "a", *given]
    assert with_default_host(["apps", "--download"]) == ["apps", "--download"]  # other subcommands: unchanged
    assert with_default_host([]) == []


def test_warm_up_runs_the_network_once_on_a_tiny_image():
    """(The hook sits on the module that runs: the Upscaler's regrouped CPU copy, ``runner``.)"""
    upscaler = NetworkCache().upscaler(parse_request({}, {"network": "rmisr_bl_x2"}))
    calls = []
    hook = upscaler.runner.register_forward_hook(lambda _, args, out: calls.append((args[0].shape, out.shape)))
    try:
        seconds = warm_up(upscaler)
    finally:
        hook.remove()
    assert calls == [(torch.Size([1, 1, 16, 16]), torch.Size([1, 1, 32, 32]))]
    assert seconds > 0


def test_no_other_web_origin_may_call_the_server_unless_named():
    from monai_rmisr.monailabel.__main__ import DEFAULT_CORS_ORIGINS, with_default_cors

    environ: dict[str, str] = {}
    with_default_cors(environ)
    assert environ["MONAI_LABEL_CORS_ORIGINS"] == DEFAULT_CORS_ORIGINS == '["http://127.0.0.1"]'
    named = {"MONAI_LABEL_CORS_ORIGINS": '["http://viewer:3000"]'}
    with_default_cors(named)
    assert named["MONAI_LABEL_CORS_ORIGINS"] == '["http://viewer:3000"]'  # the user's list is kept


def test_files_of_image_id_follows_monai_labels_naming(tmp_path):
    """MONAI Label 0.8.5's LocalDatastore names an image by its file name without the last of its extensions that
    the name ends with; two files of one name are one id (it serves only one of them)."""
    patterns = ["*.nii.gz", "*.nii", "*.nrrd", "*.jpg", "*.png", "*.tif", "*.svs", "*.xml"]  # its defaults
    for name in ("ct.nii.gz", "ct.png", "ct.nii", "ct.v2.png", "ct.dcm", "mr.nii.gz", "ctx.png"):
        (tmp_path / name).touch()
    assert files_of_image_id(tmp_path, "ct", patterns) == ["ct.nii", "ct.nii.gz", "ct.png"]
    assert files_of_image_id(tmp_path, "ct.v2", patterns) == ["ct.v2.png"]
    assert files_of_image_id(tmp_path, "mr", patterns) == ["mr.nii.gz"]
    assert files_of_image_id(tmp_path, "ct", ["*.dcm"]) == ["ct.dcm"]
    assert files_of_image_id(tmp_path, "nosuch", patterns) == []
    assert files_of_image_id(tmp_path / "missing", "ct", patterns) == []


def test_a_result_is_readable_by_the_servers_user_only(tmp_path):
    # results lay in the shared temporary folder with the usual mode (0644 under umask 022) until sent
    import stat

    write_ct_series(tmp_path / "series", n=2)
    requests = [{"image": str(tmp_path / "series"), "network": "bicubic"}, {"image": CT, "network": "bicubic"}]
    for request in requests:
        path, _ = run_infer_request(
            request, Path(CT).parent if request["image"] == CT else tmp_path, output_dir=tmp_path / "out"
        )
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(p.name.startswith("rmisr-") for p in (tmp_path / "out").iterdir()) == [True, True]  # nothing else


def test_a_network_whose_weights_are_not_installed_is_a_bad_request_naming_no_folder(tmp_path, monkeypatch):
    # it was a FileNotFoundError, which the task answers as "no such image" (404), quoting the models folder
    from monai_rmisr.inference import MODELS_ENV

    empty = tmp_path / "models"
    empty.mkdir()
    monkeypatch.setenv(MODELS_ENV, str(empty))
    with pytest.raises(ValueError, match="network 'rmisr_bl_x2' is not available on this server") as err:
        run_infer_request({"image": CT, "network": "rmisr_bl_x2"}, Path(CT).parent, output_dir=tmp_path / "out")
    assert str(empty) not in str(err.value)


def test_auto_on_a_server_offering_some_networks_is_the_first_offered_that_takes_the_scale():
    def auto(scale, *offered):
        return parse_request({"network": "auto", "scale": scale}, offered=(*offered, "bicubic"))["network"]

    assert auto(2, "rmisr_bl_x2", "rmisr_meta") == "rmisr_bl_x2"  # the model auto means elsewhere
    assert auto(2, "rmisr_meta") == "rmisr_meta"
    assert auto(4, "rmisr_vp_x4", "rmisr_meta") == "rmisr_vp_x4"  # another of that fixed scale before rmisr_meta
    assert auto(2.5, "rmisr_bl_x2", "rmisr_meta") == "rmisr_meta"
    assert auto(3, "rmisr_bl_x2") == "rmisr_bl_x3"  # none offered takes it: the usual one, which the cache refuses
    assert parse_request({"network": "auto", "scale": 3})["network"] == "rmisr_bl_x3"  # no offer: every network
