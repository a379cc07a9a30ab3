"""Every broken input gives one ImageReadError (a ValueError) whose message names the file."""

import logging
import os
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
from tests.helpers import write_ct_series

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


# -- the command line: a bad input or output is refused before any work, with one line and exit 2 --


def _cli_source(folder: Path, kind: str) -> Path:
    """An input of ``kind`` in ``folder``: a NIfTI volume, CT_small, a CT series or a DICOM with a bad rescale."""
    if kind == "nifti":
        path = folder / "v.nii"
        nib.save(nib.Nifti1Image(np.random.default_rng(0).random((12, 12, 3)).astype(np.float32), np.eye(4)), path)
        return path
    if kind == "series":
        write_ct_series(folder / "series", n=2)
        return folder / "series"
    path = folder / "ct.dcm"
    ds = pydicom.dcmread(_path("CT_small.dcm"))
    if kind != "dicom":
        keyword, value = kind.split("=")
        setattr(ds, keyword, value)
    ds.save_as(path)
    return path


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` (hidden ones too) with its bytes; None for folders and FIFOs."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


CLI_BAD_CASES = {
    "NIfTI into a .hdr/.img pair": ("nifti", "out.hdr", [], "Analyze / NIfTI pairs (.hdr + .img) are not written"),
    "NIfTI into .img": ("nifti", "out.img", [], "Analyze / NIfTI pairs"),
    "NIfTI without a suffix": ("nifti", "out", [], "NIfTI output needs the suffix .nii or .nii.gz"),
    "DICOM into .png": ("dicom", "out.png", [], "the name says PNG, but a DICOM input is written as DICOM"),
    "series into .png": ("series", "sr.png", [], "a DICOM series input is written as a folder of DICOM files"),
    "RescaleSlope 0": ("RescaleSlope=0", "out.dcm", [], "ct.dcm': its RescaleSlope (0028,1053) is '0'"),
    "RescaleSlope NaN": ("RescaleSlope=NaN", "out.dcm", [], "its RescaleSlope (0028,1053) is 'NaN'"),
    "RescaleIntercept inf": ("RescaleIntercept=inf", "out.dcm", [], "its RescaleIntercept (0028,1052) is 'inf'"),
    "a FIFO as the output": ("dicom", "fifo", ["--overwrite"], "is not a regular file (a device, FIFO or socket)"),
    "a FIFO, no --overwrite": ("dicom", "fifo", [], "is not a regular file"),
}


@pytest.mark.parametrize("case", CLI_BAD_CASES)
def test_cli_refuses_before_any_work_with_one_line_and_exit_2(tmp_path, case, capsys):
    from monai_rmisr.__main__ import main

    kind, output, extra, message = CLI_BAD_CASES[case]
    source = _cli_source(tmp_path, kind)
    if output == "fifo":
        output = "pipe.dcm"
        os.mkfifo(tmp_path / output)  # never a real device node in a test
    before = _snapshot(tmp_path)
    code = main(["upscale", str(source), "-o", str(tmp_path / output), "--scale", "2", "--model", "bicubic", *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("rmisr upscale: error:") and err.count("\n") == 1, err
    assert message in err and str(tmp_path / (output if "Rescale" not in kind else source.name)) in err
    assert _snapshot(tmp_path) == before  # nothing written, nothing left, the input unchanged
