"""run_infer_request: a MONAI Label request -> the super-resolved file in the input's format, and its JSON."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from PIL import Image

from monai_rmisr.inference.upscale import Upscaler
from monai_rmisr.io import ImageReadError, read_image
from monai_rmisr.monailabel import DEFAULTS, parse_request, run_infer_request
from tests.helpers import dicom_testdata, one_thread_fixture, write_ct_series

CT = dicom_testdata("CT_small.dcm")


_one_thread = one_thread_fixture()


def test_nifti_volume_comes_back_as_nifti_on_the_new_grid(tmp_path):
    source = tmp_path / "ct.nii.gz"
    volume = np.stack([read_image(CT).array[0, :48, :40] + 10 * k for k in range(3)], -1)
    affine = np.diag([0.7, 0.7, 3.0, 1.0])
    nib.save(nib.Nifti1Image(volume.astype(np.int16), affine), source)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    path, info = run_infer_request({"image": str(source), "device": "cpu"}, output_dir=out_dir)
    assert path.endswith("ct_sr.nii.gz") and path.startswith(str(out_dir))
    result = read_image(path)
    assert result.array.shape == (1, 96, 80, 3)
    np.testing.assert_allclose(result.meta["spacing"], (0.35, 0.35, 3.0))
    expected = Upscaler(2.0).image(read_image(source)).array
    np.testing.assert_allclose(result.array, np.round(expected), atol=0.51)  # int16 kept
    assert info["model"] == "rmisr_bl_x2" and info["scale"] == 2.0 and info["format"] == "nifti"
    assert info["input_shape"] == [48, 40, 3] and info["output_shape"] == [96, 80, 3]
    assert info["output_spacing"] == pytest.approx([0.35, 0.35, 3.0])
    json.dumps(info)  # what MONAI Label sends back must be JSON


def test_dicom_file_with_params_over_the_task_defaults(tmp_path):
    request = {"image": CT, "scale": "3", "roi": "10,20,74,60", "device": "cuda"}  # params arrive as strings
    path, info = run_infer_request(request, defaults={"scale": 2.0}, output_dir=tmp_path)
    result = read_image(path)
    assert result.meta["format"] == "dicom" and result.array.shape == (1, 120, 192)
    assert info["model"] == "rmisr_bl_x3" and info["roi"] == [10, 20, 74, 60]
    assert info["device"] == ("cuda" if torch.cuda.is_available() else "cpu")  # no GPU: served on the CPU


def test_dicom_series_comes_back_as_a_zip_of_a_derived_series(tmp_path):
    write_ct_series(tmp_path / "series", n=3)
    path, info = run_infer_request(
        {"image": str(tmp_path / "series"), "network": "bicubic", "scale": 2}, output_dir=tmp_path / "out"
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
    cache: dict = {}
    request = {"image": str(source), "scale": 2.5, "network": "auto"}
    first, info = run_infer_request(request, output_dir=tmp_path, upscalers=cache)
    second, _ = run_infer_request(request, output_dir=tmp_path, upscalers=cache)
    assert len(cache) == 1 and first != second  # one network, two distinct result files
    assert info["model"] == "rmisr_meta" and Image.open(first).size == (100, 75)
    for path in (first, second):
        assert path.endswith("ramp_sr.png")


@pytest.mark.parametrize(
    "request_, error, message",
    [
        ({}, ValueError, "no 'image' path"),
        ({"image": "/nonexistent/scan.nii.gz"}, FileNotFoundError, "does not exist"),
        ({"image": CT, "scale": "0.5"}, ValueError, "'scale' must be a finite number > 1, got '0.5'"),
        ({"image": CT, "scale": "x2"}, ValueError, "'scale' must be a finite number > 1, got 'x2'"),
        ({"image": CT, "tile": 3}, ValueError, "'tile' must be 0"),
        ({"image": CT, "self_ensemble": "maybe"}, ValueError, "'self_ensemble' must be true or false"),
        ({"image": CT, "roi": "1,2,3"}, ValueError, "four integers"),
        ({"image": CT, "network": "rmisr_vp_x4"}, ValueError, "fixed x4 network"),
        ({"image": CT, "network": "/etc/passwd"}, ValueError, "'network' must be one of auto, bicubic, rmisr_bl_x2"),
    ],
)
def test_bad_requests(tmp_path, request_, error, message):
    with pytest.raises(error, match=message):
        run_infer_request(request_, output_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_unreadable_image_leaves_nothing(tmp_path):
    bad = tmp_path / "in" / "notes.png"
    bad.parent.mkdir()
    bad.write_text("not an image")
    (tmp_path / "out").mkdir()
    with pytest.raises(ImageReadError, match=r"notes\.png"):
        run_infer_request({"image": str(bad)}, output_dir=tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_parse_request_defaults():
    assert parse_request({}) == {
        "scale": 2.0,
        "network": "auto",
        "roi": None,
        "tile": None,
        "self_ensemble": False,
        "device": "cpu",
    }
    assert parse_request({"tile": "256", "self_ensemble": "true"}, DEFAULTS)["tile"] == 256
    assert parse_request({"model": "rmisr_x2", "network": "rmisr_meta"})["network"] == "rmisr_meta"  # model: the task
    assert parse_request({}, {"network": "/models/mine.pt"})["network"] == "/models/mine.pt"  # the server's default
