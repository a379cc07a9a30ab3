"""Every broken input gives one ImageReadError (a ValueError) whose message names the file."""

import logging
import pickle
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import skimage
import tifffile
from PIL import Image
from pydicom.data import get_testdata_file

from monai_rmisr.io import ImageReadError, read_dicom, read_image, read_images, read_nifti, read_raster

SKIMAGE_DATA = Path(skimage.__file__).parent / "data"


def _path(name: str) -> str:
    path = get_testdata_file(name, download=False)
    assert path is not None, f"{name} is not installed"
    return path


def _assert_names(err: pytest.ExceptionInfo, path) -> None:
    assert isinstance(err.value, ValueError)
    assert str(path) in str(err.value) and err.value.path == str(path)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("JPEG-lossy.dcm", "cannot be decoded"),
        ("JPEG2000-embedded-sequence-delimiter.dcm", "cannot be decoded"),
        ("MR_truncated.dcm", "less than expected"),
        ("badVR.dcm", "cannot be decoded"),
        ("meta_missing_tsyntax.dcm", "Transfer Syntax UID"),
        ("rtplan.dcm", "RT Plan Storage"),
        ("rtplan_truncated.dcm", "no pixel data"),
        ("test-SR.dcm", "no pixel data"),
    ],
)
def test_broken_dicom_files(name, reason):
    with pytest.raises(ImageReadError, match=reason) as err:
        read_image(_path(name))
    _assert_names(err, _path(name))


@pytest.mark.parametrize("suffix", [".dcm", ".png", ".jpg", ".tif", ".nii", ""])
def test_zero_size_files(tmp_path, suffix):
    target = tmp_path / f"empty{suffix}"
    target.touch()
    with pytest.raises(ImageReadError, match=r"empty \(0 bytes\)") as err:
        read_image(target)
    _assert_names(err, target)


@pytest.mark.parametrize(
    ("source", "keep"),
    [("CT_small.dcm", 0.5), ("CT_small.dcm", 0.1), ("ihc.png", 0.5), ("retina.jpg", 0.3), ("multipage.tif", 0.5)],
)
def test_truncated_files(tmp_path, source, keep):
    origin = Path(_path(source)) if source.endswith(".dcm") else SKIMAGE_DATA / source
    data = origin.read_bytes()
    target = tmp_path / f"cut_{source}"
    target.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ImageReadError) as err:
        read_image(target)
    _assert_names(err, target)


def test_truncated_gzipped_nifti(tmp_path):
    nib.save(
        nib.Nifti1Image(np.random.default_rng(0).random((20, 20, 20)).astype(np.float32), np.eye(4)),
        tmp_path / "v.nii.gz",
    )
    data = (tmp_path / "v.nii.gz").read_bytes()
    (tmp_path / "cut.nii.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError) as err:
        read_nifti(tmp_path / "cut.nii.gz")
    _assert_names(err, tmp_path / "cut.nii.gz")


def test_garbage_bytes(tmp_path):
    target = tmp_path / "noise.dcm"
    target.write_bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    with pytest.raises(ImageReadError) as err:
        read_image(target)
    _assert_names(err, target)
    text = tmp_path / "notes.xyz"
    text.write_text("hello")
    with pytest.raises(ImageReadError, match="unknown image format"):
        read_image(text)


def test_one_by_one_images(tmp_path):
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(tmp_path / "dot.png")
    with pytest.raises(ImageReadError, match="1x1 pixels") as err:
        read_raster(tmp_path / "dot.png")
    _assert_names(err, tmp_path / "dot.png")
    ds = pydicom.dcmread(_path("CT_small.dcm"))
    ds.Rows, ds.Columns = 1, 1
    ds.PixelData = ds.pixel_array[:1, :1].tobytes()
    ds.save_as(tmp_path / "dot.dcm")
    with pytest.raises(ImageReadError, match="1x1 pixels") as err:
        read_dicom(tmp_path / "dot.dcm")
    _assert_names(err, tmp_path / "dot.dcm")


def test_nan_filled_images(tmp_path):
    nib.save(nib.Nifti1Image(np.full((8, 8, 3), np.nan, np.float32), np.eye(4)), tmp_path / "nan.nii")
    with pytest.raises(ImageReadError, match="NaN or infinite") as err:
        read_image(tmp_path / "nan.nii")
    _assert_names(err, tmp_path / "nan.nii")
    values = np.ones((8, 8), np.float32)
    values[3, 3] = np.inf
    tifffile.imwrite(tmp_path / "inf.tif", values)
    with pytest.raises(ImageReadError, match="1 of its 64 values are NaN or infinite"):
        read_image(tmp_path / "inf.tif")


def test_missing_path_and_folder_mixups(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing_here"):
        read_image(tmp_path / "nothing_here.dcm")
    with pytest.raises(ImageReadError, match="read_dicom_series"):
        read_dicom(tmp_path)


def test_error_pickles_for_dataloader_workers(tmp_path):
    err = ImageReadError(tmp_path / "x.dcm", "broken")
    clone = pickle.loads(pickle.dumps(err))
    assert str(clone) == str(err) and clone.path == err.path


def test_read_images_fails_early_or_skips_with_a_warning(tmp_path, caplog):
    good = tmp_path / "good.png"
    shutil.copy(SKIMAGE_DATA / "microaneurysms.png", good)
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(Path(_path("CT_small.dcm")).read_bytes()[:3000])
    with pytest.raises(ImageReadError, match=r"bad\.dcm"):
        read_images([good, bad])
    with caplog.at_level(logging.WARNING):
        images = read_images([good, bad, tmp_path / "missing.png"], skip_bad=True)
    assert [img.path for img in images] == [str(good)]
    messages = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "bad.dcm" in messages and "missing.png" in messages
