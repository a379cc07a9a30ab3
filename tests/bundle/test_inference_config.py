"""``configs/inference.json``: the shipped weights on a user folder, outputs in the inputs' formats."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from monai.bundle import ConfigParser
from PIL import Image

from monai_rmisr.config import PreflightError
from monai_rmisr.data.corpus import TEST_SOURCES
from monai_rmisr.inference.batch import BatchFailedError
from tests.helpers import dicom_testdata

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "bundles" / "rmisr" / "configs" / "inference.json"


def _parser(**overrides) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config(str(CONFIG))
    parser.update({"bundle_root": str(ROOT / "bundles" / "rmisr"), **overrides})
    return parser


def test_default_inputs_are_the_embedded_test_split():
    inputs = _parser().get_parsed_content("inputs")
    assert [Path(p).name for p in inputs] == [s.filename for s in TEST_SOURCES]
    assert all(Path(p).is_file() for p in inputs)


@pytest.mark.integration
def test_inference_on_a_user_folder_writes_each_format(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "ct.dcm").write_bytes(Path(dicom_testdata("CT_small.dcm")).read_bytes())
    nib.save(nib.Nifti1Image(np.arange(24 * 20 * 2, dtype=np.int16).reshape(24, 20, 2), np.eye(4)), folder / "v.nii.gz")
    Image.fromarray(np.tile(np.arange(32, dtype=np.uint8) * 8, (24, 1))).save(folder / "ramp.png")
    command = [sys.executable, "-m", "monai.bundle", "run", "inferring", "--config_file", str(CONFIG)]
    command += [
        "--bundle_root",
        str(ROOT / "bundles" / "rmisr"),
        "--input_dir",
        str(folder),
        "--output_dir",
        str(tmp_path / "out"),
    ]
    run = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "3 written" in run.stdout and "0 failed" in run.stdout
    ct = pydicom.dcmread(tmp_path / "out" / "ct.dcm")
    assert (ct.Rows, ct.Columns) == (256, 256) and "rmisr_bl_x2" in ct.DerivationDescription
    assert nib.load(tmp_path / "out" / "v.nii.gz").shape == (48, 40, 2)
    assert Image.open(tmp_path / "out" / "ramp.png").size == (64, 48)


def test_failed_inputs_make_the_run_fail(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\1" * 40)
    parser = _parser(input_dir=str(folder), output_dir=str(tmp_path / "out"))
    with pytest.raises(RuntimeError) as caught:
        parser.get_parsed_content("inferring")
    assert isinstance(caught.value.__cause__, BatchFailedError) and caught.value.__cause__.exit_code == 1
    assert str(caught.value.__cause__) == "1 of 1 input(s) failed (listed above)."


@pytest.mark.parametrize("where", ["inside", "file"])
def test_an_output_folder_that_cannot_be_is_refused_before_any_input_is_read(tmp_path, where):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\1" * 40)
    output = folder / "out" if where == "inside" else tmp_path / "out.png"
    if where == "file":
        output.write_bytes(b"x")
    parser = _parser(input_dir=str(folder), output_dir=str(output))
    with pytest.raises(RuntimeError) as caught:
        parser.get_parsed_content("initialize")
    message = "lies inside the input folder" if where == "inside" else "is a file; a batch writes a folder"
    assert isinstance(caught.value.__cause__, PreflightError) and message in str(caught.value.__cause__)


@pytest.mark.parametrize(("word", "expected"), [("false", False), ("true", True)])
def test_on_off_settings_from_the_command_line_mean_what_they_say(word, expected, tmp_path):
    """``--overwrite false`` arrives as the string "false", which Python would take as true."""
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    out.mkdir()
    Image.fromarray(np.tile(np.arange(32, dtype=np.uint8) * 8, (24, 1))).save(folder / "ramp.png")
    (out / "ramp.png").write_bytes(b"an earlier result")
    parser = _parser(input_dir=str(folder), output_dir=str(out), overwrite=word, self_ensemble=word)
    assert parser.get_parsed_content("upscaler").self_ensemble is expected
    report = parser.get_parsed_content("report")
    assert (len(report.written), len(report.skipped)) == ((1, 0) if expected else (0, 1))
    assert ((out / "ramp.png").read_bytes() == b"an earlier result") is not expected


def test_an_unknown_setting_stops_the_inference_run_before_it_starts():
    # `python -m monai.bundle run inferring ... --help` would otherwise super-resolve the TEST split
    with pytest.raises(RuntimeError) as failure:
        _parser(help=True, overwite="true").get_parsed_content("initialize")
    assert str(failure.value.__cause__).startswith("unknown settings --help, --overwite: not a top-level key of ")
    assert "help" not in _parser().get_parsed_content("initialize")[-1]  # the preflight, after the Ctrl-C step


@pytest.mark.parametrize("scale, chosen", [(4, "rmisr_bl_x4"), (2.5, "rmisr_meta"), (2, "rmisr_bl_x2")])
def test_model_auto_is_the_shipped_model_for_the_scale(scale, chosen):
    # as `rmisr upscale --model auto`; the scale error of model.pt (x2) at x4 recommends it
    parser = _parser(model="auto", scale=scale)
    assert parser.get_parsed_content("checkpoint") == chosen
    upscaler = parser.get_parsed_content("upscaler")
    assert (upscaler.model_name, upscaler.scale) == (chosen, scale)


def test_tile_is_auto_as_rmisr_upscale_and_0_is_the_whole_image():
    # tile 256 by default gave other pixels than rmisr upscale on a 17x23 image at x2.5 (the covering tile padded);
    # --tile 0 was refused by a message that recommended it, and --tile None never reaches the config
    assert _parser().get_parsed_content("inferer").tile == "auto"
    assert _parser(tile=0).get_parsed_content("inferer").tile is None
    assert _parser(tile=256).get_parsed_content("inferer").tile == 256


def test_tile_statistics_reach_the_inferer_and_are_checked_in_preflight():
    assert _parser().get_parsed_content("inferer").tile_statistics == "image"
    assert _parser(tile_statistics="tile").get_parsed_content("inferer").tile_statistics == "tile"
    with pytest.raises(RuntimeError) as caught:
        _parser(tile_statistics="whole").get_parsed_content("initialize")
    assert isinstance(caught.value.__cause__, PreflightError)
    assert "tile statistics must be one of image, tile, got 'whole'" in str(caught.value.__cause__)


@pytest.mark.parametrize("skip", ["false", "true"])
def test_skip_bad_slices_as_rmisr_upscale(tmp_path, skip):
    """``--skip_bad_slices true`` derives a series with a broken slice from its readable ones, as ``rmisr upscale
    --skip-bad-slices`` does (the bundle had no such setting: the series failed)."""
    from tests.helpers import write_ct_series

    folder = tmp_path / "in"
    write_ct_series(folder / "ct", n=4)
    broken = sorted((folder / "ct").iterdir())[0]
    broken.write_bytes(broken.read_bytes()[:600])  # cut inside its header
    parser = _parser(input_dir=str(folder), output_dir=str(tmp_path / "out"), skip_bad_slices=skip)
    if skip == "false":
        with pytest.raises(RuntimeError) as caught:
            parser.get_parsed_content("inferring")
        assert isinstance(caught.value.__cause__, BatchFailedError)
        return
    report = parser.get_parsed_content("report")
    assert len(report.written) == 1 and not report.failed
    assert len(list((tmp_path / "out" / "ct").glob("*.dcm"))) == 3


def test_a_folder_of_several_series_gives_one_derived_series_each(tmp_path):
    """A study exported into one folder: each series of slices is derived as a series of its own, named after it (the
    bundle lists its inputs with ``rmisr upscale``'s rule), a lone image of another series as itself."""
    import shutil

    from tests.helpers import write_ct_series

    flat = tmp_path / "in" / "export"
    flat.mkdir(parents=True)
    for number in (3, 7):
        write_ct_series(tmp_path / f"ct{number}", n=3, seed=number)
        for path in (tmp_path / f"ct{number}").iterdir():
            ds = pydicom.dcmread(path)
            ds.SeriesNumber = number
            ds.save_as(flat / f"{number}_{path.name}")
    shutil.copy(dicom_testdata("MR_small.dcm"), flat / "mr.dcm")
    report = _parser(input_dir=str(tmp_path / "in"), output_dir=str(tmp_path / "out")).get_parsed_content("report")
    assert len(report.written) == 3 and not report.failed
    out = tmp_path / "out" / "export"
    assert sorted(p.name for p in out.iterdir()) == ["mr.dcm", "series3", "series7"]
    for number in (3, 7):
        derived = [pydicom.dcmread(p) for p in (out / f"series{number}").iterdir()]
        sources = {str(pydicom.dcmread(p).SOPInstanceUID) for p in (tmp_path / f"ct{number}").iterdir()}
        assert {ds.SourceImageSequence[0].ReferencedSOPInstanceUID for ds in derived} == sources  # that series' own
        assert {(ds.Rows, ds.Columns) for ds in derived} == {(256, 256)} and len(
            {ds.SeriesInstanceUID for ds in derived}
        ) == 1
