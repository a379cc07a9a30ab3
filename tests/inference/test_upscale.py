import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import tifffile
import torch
from PIL import Image
from pydicom.dataelem import RawDataElement
from pydicom.tag import Tag

from monai_rmisr.__main__ import main
from monai_rmisr.inference import weights_sha256
from monai_rmisr.inference.batch import find_inputs, shard, upscale_batch
from monai_rmisr.inference.settings import parse_roi
from monai_rmisr.inference.upscale import ResultTooLargeError, Upscaler
from monai_rmisr.io import ImageReadError, read_image
from monai_rmisr.transforms.resize import imresize
from tests.helpers import dicom_testdata, write_ct_series

from .test_super_resolve import small_rmisr


def test_parse_roi():
    assert parse_roi("10,20,50,60") == (10, 20, 50, 60)
    assert parse_roi(None) is None
    for bad in ("1,2,3", "a,b,c,d", "5,5,5,9", "-1,0,4,4"):
        with pytest.raises(ValueError, match="--roi"):
            parse_roi(bad)


def test_output_keeps_the_input_value_range_and_units():
    image = read_image(dicom_testdata("CT_small.dcm"))
    network = small_rmisr()
    result = Upscaler(2, model=network).image(image)
    assert result.array.shape == (1, 256, 256)
    assert result.array.min() >= image.array.min() - 1e-3 and result.array.max() <= image.array.max() + 1e-3
    np.testing.assert_allclose(result.array.mean(), image.array.mean(), rtol=0.01)
    derivation = {
        "model": "RMISR",
        "weights_sha256": weights_sha256(network),  # of the module's state dict
        "method": "super-resolution",
        "scale": 2.0,
        "axis": "xy",
        "roi": None,
        "self_ensemble": False,
        "precision": "float32",
    }
    assert result.meta["derivation"] == derivation
    assert image.array.shape == (1, 128, 128)  # the input is not modified


@pytest.mark.parametrize("spacing", ["abc\\0.5", "0.5"])
def test_a_spacing_that_is_not_two_numbers_is_left_out_of_the_output_with_a_warning(tmp_path, caplog, spacing):
    # 'abc\0.5' ended after the network ran with "could not convert string to float: 'abc'" (neither file nor tag);
    # a single value was kept as it was, on a grid of half the pixel size
    ds = pydicom.dcmread(dicom_testdata("CT_small.dcm"))
    value = spacing.encode() + b" " * (len(spacing) % 2)  # as a file holds it (even length)
    ds[0x00280030] = RawDataElement(Tag(0x00280030), "DS", len(value), value, 0, False, True)
    source = tmp_path / "odd.dcm"
    ds.save_as(source)
    with caplog.at_level(logging.WARNING):
        Upscaler(2, model="bicubic").file(source, tmp_path / "out.dcm")
    out = pydicom.dcmread(tmp_path / "out.dcm")
    assert "PixelSpacing" not in out and out.Rows == 2 * ds.Rows
    warned = [r.getMessage() for r in caplog.records if "PixelSpacing" in r.getMessage()]
    assert warned == [
        f"'{source}': PixelSpacing '{spacing}' is not two numbers > 0 (row, column spacing in mm): "
        "left out of the output"
    ]
    caplog.clear()  # a series writes its slices one by one: said once per source file
    with caplog.at_level(logging.WARNING):
        Upscaler(2, model="bicubic").file(source, tmp_path / "again.dcm")
    assert not [r for r in caplog.records if "PixelSpacing" in r.getMessage()]


@pytest.mark.parametrize("name", ["liver.dcm", "rtdose.dcm", "float"])
def test_dicom_objects_whose_derived_image_would_be_wrong_are_refused_before_the_network_runs(tmp_path, name):
    # a SEG came out as an invalid binary SEG, an RT Dose with doses ~19x too low (DoseGridScaling kept beside a new
    # rescale), float pixel data (a Parametric Map) ended in a traceback
    if name == "float":
        ds = pydicom.dcmread(dicom_testdata("CT_small.dcm"))
        pixels = ds.pixel_array.astype(np.float32)
        for keyword in (
            "PixelData",
            "BitsStored",
            "HighBit",
            "PixelRepresentation",
            "RescaleSlope",
            "RescaleIntercept",
        ):
            ds.pop(keyword, None)
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.30"  # Parametric Map
        ds.BitsAllocated, ds.FloatPixelData = 32, pixels.tobytes()
        source = tmp_path / "map.dcm"
        ds.save_as(source)
    else:
        source = Path(dicom_testdata(name))
    words = {"liver.dcm": "DICOM Segmentation (SEG)", "rtdose.dcm": "RT Dose", "float": "floating point"}[name]
    upscaler = Upscaler(2, model="bicubic")
    runs = []
    upscaler.runner.register_forward_hook(lambda *args: runs.append(1))
    with pytest.raises(ImageReadError, match=re.escape(words)):
        upscaler.file(source, tmp_path / "out.dcm")
    assert not runs and not (tmp_path / "out.dcm").exists()


def test_every_segmentation_class_is_refused():
    from monai_rmisr.io.dicom_writer import not_resampled_reason

    for uid in ("1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.66.7", "1.2.840.10008.5.1.4.1.1.66.8"):
        assert "Segmentation" in not_resampled_reason({"sop_class_uid": uid, "pixel_data_keyword": "PixelData"})
    assert (
        not_resampled_reason({"sop_class_uid": "1.2.840.10008.5.1.4.1.1.2", "pixel_data_keyword": "PixelData"}) is None
    )


@pytest.mark.parametrize("scale", [2, 2.5])
def test_roi_equals_the_same_region_of_the_whole_image(scale):
    image = read_image(dicom_testdata("CT_small.dcm"))
    network = small_rmisr(scale, "meta" if scale != 2 else "subpixel")
    whole = Upscaler(scale, model=network).image(image)
    roi = (30, 40, 90, 100)  # x0, y0, x1, y1
    part = Upscaler(scale, model=network, roi=roi).image(image)
    rows = slice(round(40 * scale), round(40 * scale) + part.array.shape[1])
    cols = slice(round(30 * scale), round(30 * scale) + part.array.shape[2])
    assert part.array.shape[1:] == (round(60 * scale), round(60 * scale))
    # bicubic is linear, so the crop's own intensity normalisation cancels out
    np.testing.assert_allclose(part.array, whole.array[:, rows, cols], atol=1e-2)
    # the region's first pixel centre in patient space is where that pixel is in the whole result
    np.testing.assert_allclose(
        part.meta["affine"][:3, 3], (whole.meta["affine"] @ np.array([rows.start, cols.start, 0, 1]))[:3], atol=1e-4
    )


@pytest.mark.parametrize(
    "scale, roi",
    [
        (2.5, (10, 30, 30, 35)),
        (2.5, (10, 30, 30, 51)),
        (2.25, (0, 30, 20, 47)),
        (3.3, (5, 27, 30, 40)),
        (4.7, (0, 33, 20, 44)),
    ],
)
def test_a_roi_at_a_fractional_scale_is_where_its_geometry_says(tmp_path, scale, roi):
    # the output said the region's grid, round(h * s) / h, while its pixels were cut from the grid of the region
    # with its context: up to 0.08 input pixels off (x2.5, a 5-row region)
    rows = np.arange(80.0)[:, None] * np.ones((1, 80))  # each pixel's value is its row + 100
    nib.save(nib.Nifti1Image((rows + 100)[..., None], np.eye(4)), tmp_path / "ramp.nii.gz")
    out = Upscaler(scale, model="bicubic", roi=roi).image(read_image(tmp_path / "ramp.nii.gz"))
    affine = np.asarray(out.meta["affine"])
    sampled = np.asarray(out.array)[0][:, 10] - 100
    claimed = affine[0, 0] * np.arange(len(sampled)) + affine[0, 3]  # the row the geometry puts each one at
    np.testing.assert_allclose(sampled, claimed, atol=2e-3)  # bicubic reproduces a ramp exactly


def test_roi_outside_the_image_is_an_error():
    image = read_image(dicom_testdata("CT_small.dcm"))
    with pytest.raises(ValueError, match="outside the 128x128"):
        Upscaler(2, model=small_rmisr(), roi=(100, 0, 200, 50)).image(image)


def test_volume_in_plane_and_through_plane(tmp_path):
    write_ct_series(tmp_path / "series", n=4, step=3.0)
    image = read_image(tmp_path / "series")
    image.array = image.array[:, 40:72, 40:72]  # keep the through-plane pass small
    in_plane = Upscaler(2, model=small_rmisr()).image(image)
    assert in_plane.array.shape == (1, 64, 64, 4)
    through = Upscaler(2, model=small_rmisr(), axis="z").image(image)
    assert through.array.shape == (1, 32, 32, 8)
    assert through.meta["spacing"][:2] == image.meta["spacing"][:2]
    assert through.meta["spacing"][2] == pytest.approx(image.meta["spacing"][2] / 2)
    # a bicubic "network" through the orthogonal passes is close to bicubic along z alone
    low, high = image.array.min(), image.array.max()
    along_z = imresize((image.array - low) / (high - low), output_size=(8,), spatial_axes=(2,))
    reference = np.clip(along_z, 0, 1) * (high - low) + low
    assert np.abs(through.array - reference).mean() < 0.01 * (high - low)


def test_bicubic_through_plane_interpolates_along_z_alone():
    # the baseline went through the network's two orthogonal passes: each plane's in-plane axis up and back down,
    # which blurred it (bone 13-16 HU low on a CT, up to 134 HU off on a volume constant along z)
    rng = np.random.default_rng(0)
    plane = rng.random((1, 24, 20, 1), dtype=np.float32)
    volume = np.repeat(plane, 6, axis=-1)  # the same slice six times
    out = Upscaler(2, model="bicubic", axis="z").through_plane(volume)
    assert out.shape == (1, 24, 20, 12)
    np.testing.assert_allclose(out, np.repeat(plane, 12, axis=-1), atol=1e-6)
    ramp = rng.random((1, 24, 20, 7), dtype=np.float32)
    expected = np.clip(imresize(ramp, output_size=(14,), spatial_axes=(2,)), 0, 1)
    np.testing.assert_allclose(Upscaler(2, model="bicubic", axis="z").through_plane(ramp), expected, atol=1e-6)


def test_axis_z_needs_a_volume(tmp_path):
    image = read_image(dicom_testdata("CT_small.dcm"))
    with pytest.raises(ValueError, match="--axis z needs a volume"):
        Upscaler(2, model=small_rmisr(), axis="z").image(image)
    # a multi-page TIFF's pages (a time series, unrelated pictures, at no known spacing) were interpolated between
    pages = np.stack([np.zeros((24, 20, 3), np.uint8), np.full((24, 20, 3), 255, np.uint8)])
    tifffile.imwrite(tmp_path / "two.tif", pages, photometric="rgb")
    with pytest.raises(ValueError, match=r"--axis z needs a volume .*'.*two\.tif' is a multi-page TIFF file"):
        Upscaler(2, model="bicubic", axis="z").image(read_image(tmp_path / "two.tif"))
    # two slices: planes two pixels tall, of which the network made a dip below both slices (a ramp 700 -> 720 HU
    # came out 707, 701, 685, 720)
    write_ct_series(tmp_path / "pair", n=2)
    with pytest.raises(ValueError, match=r"--axis z needs at least 3 slices .*pair. has 2"):
        Upscaler(2, model=small_rmisr(), axis="z").image(read_image(tmp_path / "pair"))


@pytest.mark.parametrize("fault", ["gap", "tilt", "rounded"])
def test_axis_z_refuses_slices_off_an_even_grid(tmp_path, fault):
    # --axis z interpolates by slice index and places the new slices on the affine's even grid: a series with a gap
    # (2 mm steps, one 6 mm) got slices up to 1.75 mm from where their data lies, a gantry-tilted one kept no tilt
    # (2.85 mm off in-plane at its last slice); positions rounded to 0.01 mm are fine
    folder = tmp_path / fault
    write_ct_series(folder, n=5, step=2.0)
    for path in folder.iterdir():
        ds = pydicom.dcmread(path)
        k = 5 - int(ds.InstanceNumber)  # the slice's place (write_ct_series numbers them backwards)
        orientation = np.array([float(v) for v in ds.ImageOrientationPatient])
        row, normal = orientation[:3], np.cross(orientation[:3], orientation[3:])
        position = np.array([float(v) for v in ds.ImagePositionPatient])
        if fault == "gap":
            position += 4.0 * (k >= 3) * normal
        elif fault == "tilt":
            position += 0.67 * k * row
        else:
            position = np.round(position + (0.625 - 2.0) * k * normal, 2)  # 0.625 mm steps, to two decimals
        ds.ImagePositionPatient = [f"{v:.4f}" for v in position]
        ds.save_as(path)
    image = read_image(folder)
    image.array = image.array[:, 40:56, 40:56]
    assert Upscaler(2, model="bicubic").image(image).array.shape == (1, 32, 32, 5)  # in-plane: each slice its own
    if fault == "rounded":
        assert Upscaler(2, model="bicubic", axis="z").image(image).array.shape == (1, 16, 16, 10)
        return
    wording = {"gap": "from evenly spaced positions (uneven spacing", "tilt": "(a gantry tilt)"}[fault]
    with pytest.raises(ValueError, match=re.escape(wording)) as err:
        Upscaler(2, model="bicubic", axis="z").image(image)
    assert str(folder) in str(err.value) and "--axis xy" in str(err.value)


def test_shard_splits_without_overlap():
    items = list(range(11))
    parts = [shard(items, rank, 3) for rank in range(3)]
    assert sorted(i for part in parts for i in part) == items and sum(len(p) for p in parts) == 11
    with pytest.raises(ValueError):
        shard(items, 3, 3)


def _batch_folder(root):
    root.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (24, 20), dtype=np.uint8)).save(root / "a.png")
    (root / "sub").mkdir()
    Image.fromarray(rng.integers(0, 65535, (16, 18), dtype=np.uint16)).save(root / "sub" / "b.png")
    write_ct_series(root / "ct")
    (root / "broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\1" * 50)
    (root / "notes.txt").write_text("not an image")


def test_find_inputs_groups_series_and_keeps_broken_files(tmp_path):
    _batch_folder(tmp_path / "in")
    found = [p.relative_to(tmp_path / "in").as_posix() for p in find_inputs(tmp_path / "in")]
    assert found == ["a.png", "broken.dcm", "ct", "sub/b.png"]
    # any name of a format we read counts: a broken Siemens .IMA or .dicom file is reported, not dropped
    for name in ("x.IMA", "y.dicom", "z.nii.gz", "w.tiff"):
        (tmp_path / "in" / name).write_bytes(b"broken")
    found = [p.relative_to(tmp_path / "in").as_posix() for p in find_inputs(tmp_path / "in")]
    assert found == ["a.png", "broken.dcm", "ct", "sub/b.png", "w.tiff", "x.IMA", "y.dicom", "z.nii.gz"]
    # a slice named by its UID whose header is cut is part of its series folder, not a second input
    (tmp_path / "in" / "ct" / "1.2.3.4711").write_bytes(b"\0" * 128 + b"DICM" + b"\1" * 50)
    assert [p.name for p in find_inputs(tmp_path / "in") if "ct" in p.parts] == ["ct"]


def test_batch_streams_reports_failures_and_resumes(tmp_path):
    _batch_folder(tmp_path / "in")
    upscaler = Upscaler(2, model=small_rmisr())
    report = upscale_batch(upscaler, tmp_path / "in", tmp_path / "out", progress=False)
    assert len(report.written) == 3 and [p.name for p, _ in report.failed] == ["broken.dcm"]
    assert (tmp_path / "out" / "sub" / "b.png").is_file() and len(list((tmp_path / "out" / "ct").iterdir())) == 5
    assert read_image(tmp_path / "out" / "sub" / "b.png").meta["bit_depth"] == 16
    assert "1 failed" in report.summary() and "broken.dcm" in report.summary()
    again = upscale_batch(upscaler, tmp_path / "in", tmp_path / "out", progress=False)
    assert len(again.skipped) == 3 and not again.written


@pytest.mark.parametrize("overwrite", [False, True])
def test_batch_never_writes_over_another_input(tmp_path, overwrite):
    # output folder above the input folder: scans/scans/x.png would land on the input scans/x.png
    scans = tmp_path / "data" / "scans"
    (scans / "scans").mkdir(parents=True)
    rng = np.random.default_rng(1)
    for path in (scans / "x.png", scans / "scans" / "x.png"):
        Image.fromarray(rng.integers(0, 255, (12, 10), dtype=np.uint8)).save(path)
    before = (scans / "x.png").read_bytes()
    report = upscale_batch(
        Upscaler(2, model=small_rmisr()), scans, tmp_path / "data", overwrite=overwrite, progress=False
    )
    assert (scans / "x.png").read_bytes() == before
    assert report.written == [tmp_path / "data" / "x.png"] and not report.skipped
    [(item, reason)] = report.failed
    assert (
        item == scans / "scans" / "x.png" and "would overwrite the input" in reason and str(scans / "x.png") in reason
    )


@pytest.mark.parametrize("overwrite", [False, True])
def test_batch_inputs_with_one_output_name_are_both_refused(tmp_path, overwrite):
    # a PNG without a suffix gets ".png", a JPEG called scan.png is written as scan.jpg: each beside its namesake
    inputs = tmp_path / "in"
    inputs.mkdir()
    rng = np.random.default_rng(2)
    for name, fmt in (("noext", "PNG"), ("noext.png", "PNG"), ("scan.png", "JPEG"), ("scan.jpg", "JPEG")):
        Image.fromarray(rng.integers(0, 255, (12, 10), dtype=np.uint8)).save(inputs / name, format=fmt)
    Image.fromarray(rng.integers(0, 255, (12, 10), dtype=np.uint8)).save(inputs / "other.png")
    upscaler = Upscaler(2, model=small_rmisr())
    for run in range(2):  # a rerun reports them again, never as "skipped"
        report = upscale_batch(upscaler, inputs, tmp_path / "out", overwrite=overwrite, progress=False)
        redone = run == 0 or overwrite
        assert report.written == ([tmp_path / "out" / "other.png"] if redone else [])
        assert report.skipped == ([] if redone else [inputs / "other.png"])
        failed = dict(report.failed)
        assert sorted(p.name for p in failed) == ["noext", "noext.png", "scan.jpg", "scan.png"]
        assert (
            "is also the output of" in failed[inputs / "scan.png"]
            and str(inputs / "scan.jpg") in failed[inputs / "scan.png"]
        )
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["other.png"]


def test_the_next_input_is_read_in_another_thread_with_the_same_outputs_and_failures(tmp_path):
    import threading

    _batch_folder(tmp_path / "in")
    upscaler = Upscaler(2, model=small_rmisr(perturb=0.01))
    readers, read = [], upscaler.read

    def recording_read(source):
        readers.append((Path(source).name, threading.current_thread().name))
        return read(source)

    upscaler.read = recording_read
    report = upscale_batch(upscaler, tmp_path / "in", tmp_path / "prefetched", progress=False)
    serial = upscale_batch(upscaler, tmp_path / "in", tmp_path / "serial", progress=False, prefetch=False)
    # every input read once by the reader thread (the broken one too: it fails for itself, the rest go on)
    assert sorted(name for name, _ in readers[:4]) == ["a.png", "b.png", "broken.dcm", "ct"]
    assert all(thread.startswith("rmisr-read") for _, thread in readers[:4])
    assert all(thread == threading.current_thread().name for _, thread in readers[4:])  # prefetch=False
    assert [p.name for p, _ in report.failed] == [p.name for p, _ in serial.failed] == ["broken.dcm"]
    assert [p.relative_to(tmp_path / "prefetched") for p in report.written] == [
        p.relative_to(tmp_path / "serial") for p in serial.written
    ]
    for written in report.written:
        twin = tmp_path / "serial" / written.relative_to(tmp_path / "prefetched")
        np.testing.assert_array_equal(read_image(written).array, read_image(twin).array)


def test_cli_single_file_with_a_checkpoint(tmp_path, tiny_checkpoint, capsys):
    source = dicom_testdata("MR_small.dcm")
    code = main(["upscale", source, "-o", str(tmp_path / "mr.dcm"), "--scale", "2", "--model", str(tiny_checkpoint)])
    assert code == 0 and "tiny.pt" in capsys.readouterr().out
    written = pydicom.dcmread(tmp_path / "mr.dcm")
    assert (written.Rows, written.Columns) == (128, 128) and "tiny.pt" in written.DerivationDescription
    assert (
        main(["upscale", source, "-o", str(tmp_path / "mr.dcm"), "--scale", "2", "--model", str(tiny_checkpoint)]) == 2
    )
    assert "--overwrite" in capsys.readouterr().err


@pytest.mark.parametrize(
    "error", [RuntimeError("out of memory\nallocating 1 GiB"), MemoryError("numpy"), ImportError("No module named itk")]
)
def test_cli_single_file_failing_at_run_time_is_one_line_exit_1_and_writes_nothing(
    tmp_path, tiny_checkpoint, capsys, monkeypatch, error
):
    def failing(self, source, output, **kwargs):
        raise error

    monkeypatch.setattr(Upscaler, "file", failing)
    args = ["upscale", dicom_testdata("MR_small.dcm"), "-o", str(tmp_path / "mr.dcm"), "--scale", "2"]
    assert main([*args, "--model", str(tiny_checkpoint)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rmisr upscale: error: ") and " ".join(str(error).split()) in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]  # the checkpoint's folder only


def test_cli_batch_exit_code_is_1_when_an_item_fails(tmp_path, tiny_checkpoint, capsys):
    _batch_folder(tmp_path / "in")
    code = main(
        ["upscale", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--scale", "2"]
        + ["--model", str(tiny_checkpoint), "-q"]
    )
    assert code == 1
    assert "3 written" in capsys.readouterr().out


BAD_CASES = {
    "scale below 1": ["--scale", "0.5"],
    "scale NaN": ["--scale", "nan"],
    "scale above 8": ["--scale", "9"],
    "bicubic above 8": ["--scale", "10000", "--model", "bicubic"],
    "fixed-scale model at another scale": ["--scale", "3", "--model", "rmisr_bl_x2"],
    "unknown model": ["--scale", "2", "--model", "rmisr_bl_x7"],
    "missing checkpoint": ["--scale", "2", "--model", "nowhere/model.pt"],
    "bad roi": ["--scale", "2", "--roi", "1,2,3"],
    "roi outside": ["--scale", "2", "--roi", "0,0,500,500"],
    "z on a 2-D image": ["--scale", "2", "--axis", "z"],
}


@pytest.mark.parametrize("case", BAD_CASES)
def test_cli_bad_arguments_exit_2_without_output(tmp_path, tiny_checkpoint, case, capsys):
    args = BAD_CASES[case]
    if "--model" not in args:
        args = [*args, "--model", str(tiny_checkpoint)] if args[1] == "2" else args
    code = main(["upscale", dicom_testdata("CT_small.dcm"), "-o", str(tmp_path / "out.dcm"), *args])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("rmisr upscale: error:") and err.count("\n") == 1
    assert not (tmp_path / "out.dcm").exists() and [p.name for p in tmp_path.iterdir()] == ["models"]


@pytest.mark.parametrize("content", [b"", b"this is a text file, not an image\n", b"\0" * 128 + b"DICM" + b"\1" * 40])
def test_cli_bad_input_file_exits_2_without_output(tmp_path, tiny_checkpoint, content, capsys):
    source = tmp_path / "scan.dcm"
    source.write_bytes(content)
    code = main(
        ["upscale", str(source), "-o", str(tmp_path / "out.dcm"), "--scale", "2", "--model", str(tiny_checkpoint)]
    )
    err = capsys.readouterr().err
    assert code == 2 and str(source) in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models", "scan.dcm"] and source.read_bytes() == content


def test_cli_missing_input_and_output_over_input(tmp_path, tiny_checkpoint, capsys):
    assert main(["upscale", str(tmp_path / "none.png"), "-o", str(tmp_path / "o.png"), "--scale", "2"]) == 2
    source = tmp_path / "in.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(source)
    before = source.read_bytes()
    code = main(
        ["upscale", str(source), "-o", str(source), "--scale", "2", "--overwrite", "--model", str(tiny_checkpoint)]
    )
    assert code == 2 and source.read_bytes() == before
    assert "overwrite the input" in capsys.readouterr().err


def test_cli_output_paths_a_user_may_mistype(tmp_path, tiny_checkpoint, capsys):
    """An empty -o, and an output "inside" the input file, are named for what they are; an existing folder takes
    the output under the input's name (as cp does)."""
    source = tmp_path / "in.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(source)
    model = ["--scale", "2", "--model", str(tiny_checkpoint)]
    with pytest.raises(SystemExit) as failure:  # argparse's own error, as for any bad argument
        main(["upscale", str(source), "-o", "", *model])
    assert failure.value.code == 2
    assert capsys.readouterr().err.endswith("error: argument -o/--output: an empty path; give a file or folder name\n")
    assert main(["upscale", str(source), "-o", str(source / "x.png"), *model]) == 2
    assert f"lies under '{source}', which is not a folder" in capsys.readouterr().err
    (tmp_path / "results").mkdir()
    assert main(["upscale", str(source), "-o", str(tmp_path / "results"), "-q", *model]) == 0
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["in.png"]


@pytest.mark.integration
def test_torchrun_shards_a_batch_across_processes(tmp_path, tiny_checkpoint):
    root = tmp_path / "in"
    root.mkdir()
    for k in range(5):
        Image.fromarray(np.full((12, 12), 40 * k, np.uint8)).save(root / f"{k}.png")
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "monai_rmisr"]
    command += [
        "upscale",
        str(root),
        "-o",
        str(tmp_path / "out"),
        "--scale",
        "2",
        "--model",
        str(tiny_checkpoint),
        "-q",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{k}.png" for k in range(5)]
    assert "rank 0: 3 written" in run.stdout and "rank 1: 2 written" in run.stdout


def test_cli_file_into_an_existing_folder_and_folders_are_never_replaced(tmp_path, tiny_checkpoint, capsys):
    source = dicom_testdata("CT_small.dcm")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "notes.txt").write_text("keep me")
    args = ["--scale", "2", "--model", str(tiny_checkpoint), "-q"]
    assert main(["upscale", source, "-o", str(tmp_path / "results"), *args]) == 0
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["CT_small.dcm", "notes.txt"]
    write_ct_series(tmp_path / "series", n=2)
    code = main(["upscale", str(tmp_path / "series"), "-o", str(tmp_path / "results"), "--overwrite", *args])
    assert code == 2 and "refusing to replace it" in capsys.readouterr().err
    assert (tmp_path / "results" / "notes.txt").read_text() == "keep me"
    assert main(["upscale", str(tmp_path / "series"), "-o", str(tmp_path / "sr"), *args]) == 0
    assert main(["upscale", str(tmp_path / "series"), "-o", str(tmp_path / "sr"), "--overwrite", *args]) == 0
    assert len(list((tmp_path / "sr").iterdir())) == 2


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_cli_cuda_without_a_gpu_exits_2(tmp_path, tiny_checkpoint, capsys):
    code = main(
        ["upscale", dicom_testdata("CT_small.dcm"), "-o", str(tmp_path / "o.dcm"), "--scale", "2", "--device", "cuda"]
    )
    assert code == 2 and "no CUDA GPU" in capsys.readouterr().err and not (tmp_path / "o.dcm").exists()


def test_batched_slices_equal_slice_by_slice():
    torch.manual_seed(1)
    network = small_rmisr(perturb=0.05)  # not just bicubic
    volume = np.random.default_rng(0).random((1, 20, 24, 5), dtype=np.float32)
    upscaler = Upscaler(2, model=network)
    batched = upscaler.in_plane(volume)
    single = np.stack([upscaler._slice(volume[..., k]) for k in range(5)], axis=-1)
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_the_upscaler_runs_a_regrouped_copy_on_the_cpu_and_its_slices_match_the_network():
    torch.manual_seed(2)
    network = small_rmisr(perturb=0.05)
    with torch.no_grad():  # every weight random, so the grouped convolutions matter
        for p in network.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    upscaler = Upscaler(2, model=network)
    assert upscaler.network is network and upscaler.runner is not network and not upscaler.channels_last
    grouped = {m.groups for m in upscaler.runner.modules() if isinstance(m, torch.nn.Conv2d) and m.groups > 1}
    assert grouped == {4}  # 32 features: the 7x7 (8 groups of 1 output) and 5x5 (4 of 2) as one of 4 groups of 4
    assert {m.groups for m in network.modules() if isinstance(m, torch.nn.Conv2d) and m.groups > 1} == {8, 4}
    volume = np.random.default_rng(0).random((1, 20, 24, 3), dtype=np.float32)
    batched = upscaler.in_plane(volume)  # the batched-slices path
    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(np.moveaxis(volume[0], -1, 0)))[:, None]
        expected = np.moveaxis(network.eval()(x).clamp(0, 1)[:, 0].numpy(), 0, -1)[None]
    np.testing.assert_allclose(batched, expected, atol=1e-5)


def test_a_loaded_model_is_regrouped_once(tiny_checkpoint):
    upscaler = Upscaler(2, model=tiny_checkpoint)
    assert upscaler.runner is upscaler.network  # resolve_model loaded it in its CPU form
    assert {m.groups for m in upscaler.network.modules() if isinstance(m, torch.nn.Conv2d) and m.groups > 1} == {4}


def test_cli_removes_what_a_killed_run_left_and_the_folders_a_failed_run_made(tmp_path, monkeypatch, capsys):
    source = dicom_testdata("CT_small.dcm")
    args = ["--scale", "2", "--model", "bicubic", "-q"]
    # kill -9 during a write leaves the hidden temporary; for a series, a partial folder with patient data
    (tmp_path / ".0123abcd.tmp-ct.dcm").write_bytes(b"half")
    write_ct_series(tmp_path / ".89abcdef.tmp-sr")
    (tmp_path / "notes.tmp-ct.dcm").write_text("not ours")
    assert main(["upscale", source, "-o", str(tmp_path / "ct.dcm"), *args]) == 0
    write_ct_series(tmp_path / "series", n=2)
    assert main(["upscale", str(tmp_path / "series"), "-o", str(tmp_path / "sr"), *args]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ct.dcm", "notes.tmp-ct.dcm", "series", "sr"]

    def disk_full(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("monai_rmisr.io.writers.write_dicom", disk_full)
    code = main(["upscale", source, "-o", str(tmp_path / "new" / "deeper" / "ct.dcm"), *args])
    assert code == 1 and "No space left" in capsys.readouterr().err  # a failure of the run, not of its arguments
    assert not (tmp_path / "new").exists()


def test_cli_upscales_a_big_endian_dicom(tmp_path, capsys):
    source = dicom_testdata("MR_small_bigendian.dcm")
    code = main(["upscale", source, "-o", str(tmp_path / "mr.dcm"), "--scale", "2", "--model", "bicubic", "-q"])
    assert code == 0 and capsys.readouterr().err == ""
    written = pydicom.dcmread(tmp_path / "mr.dcm")
    assert written.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert (written.Rows, written.Columns) == (128, 128)
    np.testing.assert_allclose(written.pixel_array.mean(), pydicom.dcmread(source).pixel_array.mean(), rtol=0.01)


def test_read_refuses_a_result_over_the_limit_from_the_header_or_after_reading(tmp_path):
    """The one rule for a result's size (the CLI's limit, or a server's own): a DICOM header tells before any
    pixel is decoded; a PNG, or a ROI, is counted after reading. The error carries what was known."""
    upscaler = Upscaler(2, model="bicubic")
    ct = dicom_testdata("CT_small.dcm")  # 128 x 128
    assert upscaler.read(ct, 256 * 256).spatial_shape == (128, 128)
    with pytest.raises(ResultTooLargeError, match=r"CT_small\.dcm") as refused:
        upscaler.read(ct, 256 * 256 - 1)
    assert refused.value.announced is not None and refused.value.values is None and refused.value.limit == 65535
    png = tmp_path / "slice.png"
    Image.fromarray(np.zeros((30, 40), np.uint8)).save(png)
    with pytest.raises(ResultTooLargeError, match="would hold 4,800 values") as counted:
        upscaler.read(png, 4799)
    assert counted.value.announced is None and counted.value.shape == (60, 80) and counted.value.values == 4800
    with_roi = Upscaler(2, model="bicubic", roi=(0, 0, 20, 10))  # the input may be large, the result is counted
    assert with_roi.read(ct, 800).spatial_shape == (128, 128)
    with pytest.raises(ResultTooLargeError) as part:
        with_roi.read(ct, 799)
    assert part.value.shape == (20, 40) and part.value.channels == 1


def test_tiles_take_a_4d_nifti_volume_by_volume(tmp_path):
    """Five volumes (a time series) are five channels: with tiles each goes through the single-channel
    network on its own, as without tiles (before, only up to four channels were accepted when tiled)."""
    import nibabel as nib

    data = np.random.default_rng(3).random((80, 72, 2, 5)).astype(np.float32)
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "series.nii.gz")
    model = small_rmisr()
    tiled = Upscaler(2, model=model, tile=64).file(tmp_path / "series.nii.gz", tmp_path / "tiled.nii.gz")
    whole = Upscaler(2, model=model).file(tmp_path / "series.nii.gz", tmp_path / "whole.nii.gz")
    tiled_data, whole_data = nib.load(tiled).get_fdata(), nib.load(whole).get_fdata()
    assert tiled_data.shape == whole_data.shape == (160, 144, 2, 5)
    # the same result up to the tiles' own statistics (ICCA's channel attention is per tile)
    assert np.abs(tiled_data - whole_data).mean() < 0.005 and np.abs(tiled_data - whole_data).max() < 0.1


def test_cli_batch_into_an_existing_file_is_one_error_before_any_work(tmp_path, capsys):
    _batch_folder(tmp_path / "in")
    (tmp_path / "out.png").write_bytes(b"not a folder")
    assert (
        main(
            [
                "upscale",
                str(tmp_path / "in"),
                "-o",
                str(tmp_path / "out.png"),
                "--scale",
                "2",
                "--model",
                "bicubic",
                "-q",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file; a batch writes a folder" in err
    assert (tmp_path / "out.png").read_bytes() == b"not a folder"


def test_cli_batch_into_a_folder_that_takes_no_files_is_one_error_before_any_work(tmp_path, capsys, monkeypatch):
    # a read-only output folder (or one that cannot be made, /sys/xx) failed once per input: "FAILED ... takes no
    # new files" for each, exit 1
    import errno

    from monai_rmisr.io import output as output_module

    def read_only(*args, **kwargs):  # what a read-only mount answers (os.access cannot tell: root passes it)
        raise OSError(errno.EROFS, "Read-only file system")

    _batch_folder(tmp_path / "in")
    monkeypatch.setattr(output_module.tempfile, "TemporaryFile", read_only)
    command = ["upscale", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--scale", "2", "--model", "bicubic"]
    assert main([*command, "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "takes no new files (Read-only file system)" in err and "FAILED" not in err
    assert not (tmp_path / "out").exists()


def test_find_inputs_follows_linked_folders_once(tmp_path):
    (tmp_path / "store").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "store" / "linked.png")
    (tmp_path / "in").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "in" / "own.png")
    (tmp_path / "in" / "data").symlink_to(tmp_path / "store", target_is_directory=True)
    (tmp_path / "store" / "loop").symlink_to(tmp_path / "in", target_is_directory=True)  # back up: a loop
    found = [p.relative_to(tmp_path / "in").as_posix() for p in find_inputs(tmp_path / "in")]
    assert found == ["data/linked.png", "own.png"]


def test_find_inputs_refuses_a_missing_or_empty_folder_and_takes_a_file(tmp_path):
    # the bundle's inference.json lists its inputs with find_inputs: a mistyped folder must not be "0 written"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_inputs(tmp_path / "typo")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no image")
    with pytest.raises(ValueError, match="found no images under"):
        find_inputs(tmp_path / "empty")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "one.png")
    assert find_inputs(tmp_path / "one.png") == [tmp_path / "one.png"]


def test_nifti_label_maps_are_read_but_not_super_resolved(tmp_path, capsys):
    import nibabel as nib

    img = nib.Nifti1Image(np.zeros((6, 5, 3), np.uint8), np.eye(4))
    img.header.set_intent("label")
    nib.save(img, tmp_path / "seg.nii.gz")
    assert read_image(tmp_path / "seg.nii.gz").meta["nifti_intent"] == "label"  # the viewer, a data set: read
    with pytest.raises(ImageReadError, match=r"is a label map or mask \(NIfTI intent 'label'\).*nearest-neighbour"):
        Upscaler(2, model="bicubic").read(tmp_path / "seg.nii.gz")
    assert main(["upscale", str(tmp_path / "seg.nii.gz"), "-o", str(tmp_path / "o.nii.gz"), "--scale", "2"]) == 2
    assert "is a label map" in capsys.readouterr().err and not (tmp_path / "o.nii.gz").exists()


def test_nifti_masks_without_a_label_intent_are_told_by_their_few_whole_values(tmp_path, capsys):
    """Most label maps (nnU-Net's, TotalSegmentator's masks) carry no intent: few distinct whole numbers >= 0 tell
    them; a scan (whole HU, a float image, an 8-bit export) is super-resolved."""
    import nibabel as nib

    rng = np.random.default_rng(0)
    organs = rng.integers(0, 4, (40, 36, 3)).astype(np.uint8)  # background and three classes
    nib.save(nib.Nifti1Image(organs, np.eye(4)), tmp_path / "case_0001.nii.gz")
    nib.save(nib.Nifti1Image(organs.astype(np.float32), np.eye(4)), tmp_path / "float_mask.nii.gz")
    for name in ("case_0001.nii.gz", "float_mask.nii.gz"):
        with pytest.raises(
            ImageReadError, match=r"is a label map or mask \(only 4 distinct values, whole numbers 0 to 3\)"
        ):
            Upscaler(2, model="bicubic").read(tmp_path / name)
    assert main(["upscale", str(tmp_path / "case_0001.nii.gz"), "-o", str(tmp_path / "o.nii.gz"), "--scale", "2"]) == 2
    assert "only 4 distinct values" in capsys.readouterr().err and not (tmp_path / "o.nii.gz").exists()
    # the scans: whole HU with negatives, 8-bit grey levels, a float image, a tiny image of few values
    scans = {
        "ct.nii.gz": rng.integers(-1024, 2000, (40, 36, 3)).astype(np.int16),
        "export.nii.gz": rng.integers(0, 256, (40, 36, 3)).astype(np.uint8),
        "mr.nii.gz": rng.random((40, 36, 3)).astype(np.float32),
        "tiny.nii.gz": rng.integers(0, 2, (10, 10, 3)).astype(np.uint8),
        "blank.nii.gz": np.zeros((40, 36, 3), np.int16),
    }
    for name, voxels in scans.items():
        nib.save(nib.Nifti1Image(voxels, np.eye(4)), tmp_path / name)
        assert Upscaler(2, model="bicubic").read(tmp_path / name).array.shape[1:] == voxels.shape, name
    # an 8-bit PNG of two levels (a scanned document) stays an image: only NIfTI is judged
    from PIL import Image

    Image.fromarray((organs[..., 0] > 1).astype(np.uint8) * 255).save(tmp_path / "two.png")
    assert Upscaler(2, model="bicubic").read(tmp_path / "two.png").array.shape[1:] == (40, 36)


def test_outputs_differing_only_in_case_are_two_on_a_case_sensitive_file_system(tmp_path, monkeypatch):
    from monai_rmisr.inference import batch

    (tmp_path / "in").mkdir()
    for name in ("Scan.png", "scan.png"):
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "in" / name)
    assert not batch._case_insensitive(tmp_path)  # Linux: two names
    report = upscale_batch(Upscaler(2, model="bicubic"), tmp_path / "in", tmp_path / "out", progress=False)
    assert len(report.written) == 2 and not report.failed
    monkeypatch.setattr(batch, "_case_insensitive", lambda folder: True)  # macOS, Windows: one name
    report = upscale_batch(Upscaler(2, model="bicubic"), tmp_path / "in", tmp_path / "out2", progress=False)
    assert not report.written and len(report.failed) == 2


def test_each_volume_of_a_4d_nifti_is_super_resolved_as_if_alone(tmp_path):
    # the volumes were mapped to [0, 1] with the range of all of them, and clipped to it: a volume of a smaller range
    # came out beyond its own maximum (593 against 475, 1,067 voxels) and differed from the same volume alone by 119
    rng = np.random.default_rng(0)
    volumes = [rng.random((20, 18, 3)).astype(np.float32) * peak for peak in (600.0, 480.0)]
    nib.save(nib.Nifti1Image(np.stack(volumes, axis=-1), np.eye(4)), tmp_path / "series.nii.gz")
    nib.save(nib.Nifti1Image(volumes[1], np.eye(4)), tmp_path / "second.nii.gz")
    upscaler = Upscaler(2, model="rmisr_bl_x2", tile=None)
    together = nib.load(upscaler.file(tmp_path / "series.nii.gz", tmp_path / "series_x2.nii.gz")).get_fdata()
    alone = nib.load(upscaler.file(tmp_path / "second.nii.gz", tmp_path / "second_x2.nii.gz")).get_fdata()
    assert together.shape == (40, 36, 3, 2)
    np.testing.assert_allclose(together[..., 1], alone, atol=1e-3)
    for index, volume in enumerate(volumes):
        assert volume.min() <= together[..., index].min() and together[..., index].max() <= volume.max()


def test_a_constant_image_comes_back_as_that_constant(tmp_path):
    # mapped to zeros, the network's biases came back as 0.00246 above the constant
    for value in (0.0, 100.0):
        nib.save(nib.Nifti1Image(np.full((20, 18, 2), value, np.float32), np.eye(4)), tmp_path / "flat.nii.gz")
        out = Upscaler(2, model="rmisr_bl_x2").file(
            tmp_path / "flat.nii.gz", tmp_path / "flat_x2.nii.gz", overwrite=True
        )
        assert np.all(nib.load(out).get_fdata() == value)
    # a flat colour: each channel its own value (G came back 198-200, B 89-91)
    Image.fromarray(np.full((40, 40, 3), (10, 200, 90), np.uint8)).save(tmp_path / "flat.png")
    out = Upscaler(3, model="rmisr_bl_x3").file(tmp_path / "flat.png", tmp_path / "flat_x3.png")
    assert np.array_equal(np.unique(np.asarray(Image.open(out)).reshape(-1, 3), axis=0), [[10, 200, 90]])


@pytest.mark.parametrize("axis", ["xy", "z"])
def test_a_volume_whose_thick_axis_is_not_the_third_is_warned_of(tmp_path, caplog, axis):
    # (5, 40, 40) at 4 x 0.9 x 0.9 mm: --axis z added slices along a 0.9 mm axis, --axis xy worked on 4 x 0.9 mm
    # pixels, both without a word
    nib.save(
        nib.Nifti1Image(np.random.default_rng(0).random((5, 40, 40), np.float32), np.diag([4, 0.9, 0.9, 1])),
        tmp_path / "thick.nii.gz",
    )
    nib.save(
        nib.Nifti1Image(np.random.default_rng(0).random((40, 40, 5), np.float32), np.diag([0.9, 0.9, 4, 1])),
        tmp_path / "usual.nii.gz",
    )
    with caplog.at_level("WARNING", logger="monai_rmisr"):
        Upscaler(2, model="bicubic", axis=axis).file(tmp_path / "usual.nii.gz", tmp_path / "usual_x2.nii.gz")
        assert "thickest axis" not in caplog.text
        Upscaler(2, model="bicubic", axis=axis).file(tmp_path / "thick.nii.gz", tmp_path / "thick_x2.nii.gz")
    assert "its voxels are 4 x 0.9 x 0.9 mm, its thickest axis the first, not the third" in caplog.text
    assert {"xy": "planes of 4 x 0.9 mm pixels", "z": "adds slices along the third axis (0.9 mm)"}[axis] in caplog.text


def test_a_single_files_output_with_a_trailing_slash_is_a_folder(tmp_path, capsys):
    # -o out/new/ for one file was read as a file name without the slash: "output 'out/new': NIfTI output needs the
    # suffix .nii or .nii.gz", which did not show that the folder was meant
    nib.save(
        nib.Nifti1Image(np.random.default_rng(0).random((16, 16, 3), np.float32), np.eye(4)), tmp_path / "v.nii.gz"
    )
    command = ["upscale", str(tmp_path / "v.nii.gz"), "--scale", "2", "--model", "bicubic", "-o"]
    assert main([*command, f"{tmp_path / 'new'}/"]) == 2
    assert f"output '{tmp_path / 'new'}/' names a folder, which does not exist" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
    (tmp_path / "new").mkdir()
    assert main([*command, f"{tmp_path / 'new'}/"]) == 0  # an existing folder takes the file, as cp does
    assert (tmp_path / "new" / "v.nii.gz").is_file()  # under its own name, in another folder


def test_a_scale_that_adds_no_pixel_is_refused(tmp_path, capsys):
    # x1.0001 wrote a 64x64 result of a 64x64 image, labelled "SR x1.0001", its pixels moved by up to 3 grey levels
    from monai_rmisr.io import ImageData

    rng = np.random.default_rng(0)
    source = tmp_path / "small.png"
    Image.fromarray((rng.random((64, 48)) * 255).astype(np.uint8)).save(source)
    out = tmp_path / "out.png"
    assert main(["upscale", str(source), "-o", str(out), "--scale", "1.0001", "--model", "bicubic"]) == 2
    err = capsys.readouterr().err
    assert "x1.0001 leaves" in err and "(64x48 pixels) at its size: no pixel is added" in err
    assert "give a scale of at least 1.0079" in err and not out.exists()
    assert main(["upscale", str(source), "-o", str(out), "--scale", "1.0079", "--model", "bicubic"]) == 0
    assert Image.open(out).size == (48, 65)  # the longest axis gained its pixel
    volume = ImageData(rng.random((1, 20, 20, 30)).astype(np.float32), {"format": "nifti", "spacing": (1, 1, 3)})
    with pytest.raises(ValueError, match=r"\(30 slices\) at its size"):  # along z, the slices count
        Upscaler(1.01, model="bicubic", axis="z").image(volume)
    with pytest.raises(ValueError, match=r"\(10x10 pixels in its region\) at its size"):  # a ROI's own size
        Upscaler(1.04, model="bicubic", roi=(0, 0, 10, 10)).image(volume)


def test_self_ensemble_is_refused_for_bicubic():
    # the same pixels at 8x the time, recorded as another derivation (a PACS then stored a second, identical series)
    with pytest.raises(ValueError, match="self-ensemble does nothing for the model 'bicubic'"):
        Upscaler(2, model="bicubic", self_ensemble=True)
