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
from pydicom.uid import RLELossless

from monai_rmisr.io import (
    BrokenSliceError,
    ImageReadError,
    read_dicom,
    read_dicom_series,
    read_image,
    read_images,
    read_nifti,
    read_raster,
)
from tests.helpers import write_ct_series

SKIMAGE_DATA = Path(skimage.__file__).parent / "data"
# the files here are broken on purpose: pydicom's warnings about them are expected (each case asserts our one line)
pytestmark = [
    pytest.mark.filterwarnings("ignore:Invalid value for VR"),
    pytest.mark.filterwarnings("ignore:The number of bytes of pixel data is sufficient"),
    pytest.mark.filterwarnings("ignore:Expected explicit VR, but found implicit VR"),
]


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
        # pydicom reads no element at all from it (it said "no data set after its file meta information")
        ("emri_small_jpeg_2k_lossless_too_short.dcm", "cut off: the file ends inside its pixel data"),
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


def test_a_file_meta_header_alone_is_an_empty_dicom_file(tmp_path):
    target = tmp_path / "empty.dcm"
    ds = pydicom.Dataset()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.preamble = b"\x00" * 128  # the 128-byte preamble and "DICM", then the file meta, then nothing
    ds.save_as(target, enforce_file_format=False)
    assert target.read_bytes()[128:132] == b"DICM"
    with pytest.raises(ImageReadError, match="no data set after its file meta information") as err:
        read_image(target)
    _assert_names(err, target)


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


# -- issue #24: bad --model / --device, hostile DICOM files, broken slices; each one line, exit 2, nothing left --


def _run_cli(tmp_path: Path, source, output: Path, *extra: str) -> tuple[int, str, str]:
    """``rmisr upscale SOURCE -o OUTPUT --scale 2 --model bicubic EXTRA`` in process: (exit code, stdout, stderr)."""
    import contextlib
    import io

    from monai_rmisr.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["upscale", str(source), "-o", str(output), "--scale", "2", "--model", "bicubic", *extra])
    return code, out.getvalue(), err.getvalue()


def _assert_refused(tmp_path: Path, source, *extra: str, message: str, output: str = "out.dcm") -> None:
    """Exit 2, one line ``rmisr upscale: error: ...`` holding ``message``; nothing written or changed."""
    source_bytes = Path(source).read_bytes() if Path(source).is_file() else None
    before = _snapshot(tmp_path)
    code, _, err = _run_cli(tmp_path, source, tmp_path / output, *extra)
    assert code == 2 and err.startswith("rmisr upscale: error:") and err.count("\n") == 1, err
    assert "Traceback" not in err and message in err, err
    assert _snapshot(tmp_path) == before
    if source_bytes is not None:
        assert Path(source).read_bytes() == source_bytes


def _ct(tmp_path: Path, name: str = "ct.dcm", edit=None) -> Path:
    """CT_small saved as ``tmp_path / name``, after ``edit(ds)``."""
    ds = pydicom.dcmread(_path("CT_small.dcm"))
    if edit is not None:
        edit(ds)
    ds.save_as(tmp_path / name)
    return tmp_path / name


def test_cli_bad_model_files(tmp_path):
    import json

    import torch

    from monai_rmisr.inference.pretrained import pretrained_path

    source = _ct(tmp_path)
    _assert_refused(
        tmp_path,
        source,
        "--model",
        "/etc/passwd",
        message="/etc/passwd is not a PyTorch weights file that can be read safely: not a file that torch.save wrote.",
    )
    torch.save({"notes": [1, 2]}, tmp_path / "junk.pt")
    _assert_refused(tmp_path, source, "--model", str(tmp_path / "junk.pt"), message="holds no network state dict")
    weights = pretrained_path("rmisr_bl_x2")
    if weights.is_file():
        shutil.copy(weights, tmp_path / "model.pt")
        call = {"_target_": "RMISR", "spatial_dims": 2, "in_channels": 1, "scale": 2, "bogus_arg": 3}
        (tmp_path / "model.json").write_text(json.dumps(call))
        _assert_refused(
            tmp_path, source, "--model", str(tmp_path / "model.pt"), message="unexpected keyword argument 'bogus_arg'"
        )
        (tmp_path / "model.json").write_text("[1, 2]")
        _assert_refused(tmp_path, source, "--model", str(tmp_path / "model.pt"), message="must hold a JSON object")


@pytest.mark.parametrize(("device", "message"), [("foo", "is not a device"), ("meta", "cannot run the networks")])
def test_cli_bad_device(tmp_path, device, message):
    _assert_refused(tmp_path, _ct(tmp_path), "--device", device, message=f"device {device!r} {message}")


def _unknown_vr(tmp_path: Path) -> Path:
    raw = bytearray(Path(_path("CT_small.dcm")).read_bytes())
    at = raw.find(b"\x08\x00\x60\x00CS")  # Modality, explicit VR little endian
    raw[at + 4 : at + 6] = b"ZZ"
    (tmp_path / "vr.dcm").write_bytes(bytes(raw))
    return tmp_path / "vr.dcm"


def _bogus_modality_lut(ds: pydicom.Dataset) -> None:
    del ds.RescaleSlope, ds.RescaleIntercept
    item = pydicom.Dataset()
    item.LUTDescriptor = [0, 0, 16]  # 65536 entries announced, one given
    item.ModalityLUTType = "HU"
    item.LUTData = b"\x01\x00"
    ds.ModalityLUTSequence = [item]


def _no_sop_class(ds: pydicom.Dataset) -> None:
    del ds.SOPClassUID
    del ds.file_meta.MediaStorageSOPClassUID


HOSTILE_DICOM = {
    "unknown VR": (_unknown_vr, "Unknown Value Representation 'ZZ' in tag (0008,0060)"),
    "no SOPClassUID anywhere": (lambda t: _ct(t, edit=_no_sop_class), "it has no SOPClassUID (0008,0016)"),
    "bogus modality LUT": (lambda t: _ct(t, edit=_bogus_modality_lut), "its ModalityLUTSequence (0028,3000) cannot"),
    "Rows 0": (lambda t: _ct(t, edit=lambda ds: setattr(ds, "Rows", 0)), "its Rows (0028,0010) is '0'"),
    "120-frame RGB, x2 too large": (
        lambda t: Path(_path("color3d_jpeg_baseline.dcm")),
        "480x640 pixels x 120 frames x 3 samples = 110,592,000 values, more than the 67,108,864 allowed",
    ),
}


@pytest.mark.parametrize("case", HOSTILE_DICOM)
def test_cli_hostile_dicom_files(tmp_path, case):
    make, message = HOSTILE_DICOM[case]
    _assert_refused(tmp_path, make(tmp_path), message=message)


def test_cli_pydicom_warnings_are_folded_into_the_error_line(tmp_path):
    raw = bytearray(Path(_path("CT_small.dcm")).read_bytes())
    at = raw.find(b"\x28\x00\x30\x00DS")  # PixelSpacing's VR made binary: pydicom warns, then the parse is lost
    raw[at + 4 : at + 6] = b"\x00\x01"
    (tmp_path / "garbled.dcm").write_bytes(bytes(raw))
    _assert_refused(tmp_path, tmp_path / "garbled.dcm", message="(warnings: ")


def test_cli_error_line_leaves_out_deprecation_warnings():
    import warnings

    from monai_rmisr.cli.common import collected_warnings

    with collected_warnings() as notes:
        warnings.warn("`torch.jit.script` is deprecated.", DeprecationWarning, stacklevel=1)
        warnings.warn("soon gone", PendingDeprecationWarning, stacklevel=1)
        warnings.warn("Invalid value for VR UI", UserWarning, stacklevel=1)
        assert notes() == ["Invalid value for VR UI"]


def test_cli_writes_rgb_jpeg_with_implicit_vr_data_set_and_missing_sop_class(tmp_path):
    """SC_rgb_jpeg.dcm (implicit VR inside a JPEG file) and a SOPClassUID kept only in the file meta are written."""
    source = Path(_path("SC_rgb_jpeg.dcm"))
    before = source.read_bytes()
    code, _, err = _run_cli(tmp_path, source, tmp_path / "rgb.dcm")
    assert code == 0 and "Traceback" not in err and source.read_bytes() == before, err
    ds = pydicom.dcmread(tmp_path / "rgb.dcm")
    assert ds.pixel_array.shape == (2 * source_rows(source), 2 * source_rows(source, "Columns"), 3)
    assert ds.Modality == "OT" and ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian

    def no_sop(ds: pydicom.Dataset) -> None:
        del ds.SOPClassUID

    code, _, err = _run_cli(tmp_path, _ct(tmp_path, "nosop.dcm", no_sop), tmp_path / "nosop_x2.dcm")
    assert code == 0, err
    assert pydicom.dcmread(tmp_path / "nosop_x2.dcm").SOPClassUID == pydicom.uid.CTImageStorage


def source_rows(path: Path, keyword: str = "Rows") -> int:
    return int(pydicom.dcmread(path, stop_before_pixels=True).get(keyword))


@pytest.mark.slow
def test_cli_refuses_a_huge_deflated_dicom_before_decoding(tmp_path):
    """16384x16384 deflated (0.5 MB on disk, 512 MB of pixels): refused from its header, no MemoryError."""
    import zlib

    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset, write_file_meta_info

    ds = pydicom.dcmread(_path("CT_small.dcm"))
    del ds.PixelData
    ds.Rows = ds.Columns = 16384
    ds.file_meta.TransferSyntaxUID = pydicom.uid.DeflatedExplicitVRLittleEndian
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    size = 16384 * 16384 * 2
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    parts = [deflate.compress(body.getvalue() + b"\xe0\x7f\x10\x00OW\x00\x00" + size.to_bytes(4, "little"))]
    zeros = bytes(2**24)
    parts += [deflate.compress(zeros) for _ in range(size // len(zeros))] + [deflate.flush()]
    meta = DicomBytesIO()
    meta.is_little_endian, meta.is_implicit_VR = True, False
    write_file_meta_info(meta, ds.file_meta, enforce_standard=True)
    source = tmp_path / "huge.dcm"
    with open(source, "wb") as f:
        f.write(b"\x00" * 128 + b"DICM" + meta.getvalue() + b"".join(parts))
    _assert_refused(tmp_path, source, message="16384x16384 pixels = 268,435,456 values, more than the 67,108,864")


# -- a DICOM series is one unit: a broken slice refuses it, or --skip-bad-slices writes one series without it --


def _series_with_a_broken_slice(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "series"
    write_ct_series(folder, n=5)
    bad = sorted(folder.iterdir())[2]
    bad.write_bytes(bad.read_bytes()[:3000])  # the header survives, the pixel data is cut
    return folder, bad


def test_a_slice_cut_off_inside_encapsulated_pixel_data_is_a_broken_slice(tmp_path):
    # pydicom reads no element at all from such a file: the series reader skipped it as a note beside the slices,
    # and read the series one slice short without a word
    folder = tmp_path / "series"
    write_ct_series(folder, n=5)
    cut = sorted(folder.iterdir())[2]
    ds = pydicom.dcmread(cut)
    ds.compress(RLELossless)
    ds.save_as(cut)
    cut.write_bytes(cut.read_bytes()[:-2000])
    with pytest.raises(BrokenSliceError, match="cut off: the file ends inside its pixel data") as err:
        read_dicom_series(folder)
    assert str(cut) in str(err.value)
    array, meta = read_dicom_series(folder, skip_bad_slices=True)
    assert array.shape[-1] == 4 and [Path(s["path"]).name for s in meta["skipped_slices"]] == [cut.name]


def test_find_inputs_keeps_a_series_with_a_broken_slice_whole(tmp_path):
    from monai_rmisr.inference.batch import find_inputs

    folder, _ = _series_with_a_broken_slice(tmp_path)
    assert find_inputs(tmp_path) == [folder]
    (folder / "z_garbage.dcm").write_bytes(b"not DICOM at all" * 20)
    assert find_inputs(tmp_path) == [folder]


@pytest.mark.parametrize("axis", ["xy", "z"])
def test_cli_refuses_a_series_with_a_broken_slice(tmp_path, axis):
    folder, bad = _series_with_a_broken_slice(tmp_path)
    _assert_refused(tmp_path, folder, "--axis", axis, output="sr", message=f"'{bad}'")
    _, _, err = _run_cli(tmp_path, folder, tmp_path / "sr", "--axis", axis)
    assert "--skip-bad-slices" in err and "refused as a whole" in err


def test_cli_skip_bad_slices_writes_one_series(tmp_path):
    folder, bad = _series_with_a_broken_slice(tmp_path)
    before = _snapshot(folder)
    code, _, err = _run_cli(tmp_path, folder, tmp_path / "sr", "--skip-bad-slices")
    assert code == 0 and "Traceback" not in err, err
    assert bad.name in err and "leaving out a broken slice" in err  # which slice was left out
    uid = pydicom.dcmread(bad, stop_before_pixels=True).SOPInstanceUID
    assert f"(SOP Instance UID {uid})" in err  # what a PACS knows it by (the file may be a temporary copy)
    written = [pydicom.dcmread(p) for p in sorted((tmp_path / "sr").iterdir())]
    assert len(written) == 4 and len({ds.SeriesInstanceUID for ds in written}) == 1
    assert all(ds.Rows == 256 for ds in written)
    # the derived series says so itself: a PACS user sees a series of 4 where the source had 5
    left_out = f"; 1 source slice left out (SOP Instance UID {uid}); not for primary diagnosis"
    assert all(ds.DerivationDescription.endswith(left_out) for ds in written)
    assert _snapshot(folder) == before


def test_read_dicom_series_skip_bad_slices_records_them(tmp_path):
    folder, bad = _series_with_a_broken_slice(tmp_path)
    with pytest.raises(ImageReadError, match="refused as a whole") as err:
        read_dicom_series(folder)
    assert err.value.path == str(bad)
    volume, meta = read_dicom_series(folder, skip_bad_slices=True)
    assert volume.shape == (1, 128, 128, 4) and str(bad) not in meta["series_files"]
    assert [s["path"] for s in meta["skipped_slices"]] == [str(bad)]


# -- seeded fuzz: header variants of CT_small either upscale to a valid output or are refused cleanly --

FUZZ_CASES = 100
FUZZ_KEYWORDS = (
    "Rows",
    "Columns",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "PhotometricInterpretation",
    "SamplesPerPixel",
    "RescaleSlope",
    "RescaleIntercept",
    "PixelSpacing",
    "ImageOrientationPatient",
    "ImagePositionPatient",
    "SOPClassUID",
    "SeriesInstanceUID",
    "WindowCenter",
)
FUZZ_VALUES = (0, 1, 3, 7, 17, 65535, -1, "", "abc", "NaN", "-inf", "1e308", "\\".join(["1"] * 7), "MONOCHROME3")


def _fuzz_variant(rng: np.random.Generator, target: Path) -> str:
    """CT_small with 1-3 random deletions / corruptions (or a cut PixelData) saved as ``target``; what was done."""
    ds = pydicom.dcmread(_path("CT_small.dcm"))
    done = []
    for _ in range(int(rng.integers(1, 4))):
        action = rng.choice(["delete", "corrupt", "corrupt", "truncate"])
        if action == "truncate":
            keep = int(rng.integers(0, len(ds.PixelData)))
            ds.PixelData = ds.PixelData[:keep]
            done.append(f"PixelData cut to {keep} bytes")
            continue
        keyword = str(rng.choice(FUZZ_KEYWORDS))
        if action == "delete":
            if keyword in ds:
                delattr(ds, keyword)
            done.append(f"no {keyword}")
            continue
        value = FUZZ_VALUES[int(rng.integers(len(FUZZ_VALUES)))]
        try:
            setattr(ds, keyword, value)
        except Exception:  # pydicom refuses the value for this VR: leave it as it was
            done.append(f"{keyword}={value!r} refused by pydicom")
            continue
        done.append(f"{keyword}={value!r}")
    try:
        ds.save_as(target)
    except Exception as err:  # pydicom cannot even write it: a file with a bad element at the raw level
        pydicom.dcmread(_path("CT_small.dcm")).save_as(target)
        raw = bytearray(target.read_bytes())
        raw[int(rng.integers(200, 1000))] ^= 0xFF
        target.write_bytes(bytes(raw))
        done = [f"byte flipped ({type(err).__name__})"]
    return "; ".join(done)


@pytest.mark.slow
def test_fuzz_ct_small_headers(tmp_path, capsys):
    """100 seeded header variants: every one a valid upscale or exit 2 with one line; never a traceback."""
    import warnings

    rng = np.random.default_rng(24)
    outcomes = {"success": 0, "refused": 0}
    for case in range(FUZZ_CASES):
        folder = tmp_path / f"case{case:03d}"
        folder.mkdir()
        source = folder / "ct.dcm"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            what = _fuzz_variant(rng, source)
        before = _snapshot(folder)
        code, _, err = _run_cli(folder, source, folder / "out.dcm")
        assert "Traceback" not in err, f"case {case} ({what}): {err}"
        assert Path(source).read_bytes() == before["ct.dcm"], f"case {case} ({what}): input changed"
        if code == 0:
            written = pydicom.dcmread(folder / "out.dcm")
            assert written.pixel_array.shape[:2] == (2 * source_rows(source), 2 * source_rows(source, "Columns"))
            outcomes["success"] += 1
        else:
            assert code == 2 and err.startswith("rmisr upscale: error:") and err.count("\n") == 1, (case, what, err)
            assert _snapshot(folder) == before, f"case {case} ({what}): output left"
            outcomes["refused"] += 1
    with capsys.disabled():
        print(f"\nfuzz: {FUZZ_CASES} cases, {outcomes['refused']} clean refusals, {outcomes['success']} successes")
    assert sum(outcomes.values()) == FUZZ_CASES and min(outcomes.values()) > 0
