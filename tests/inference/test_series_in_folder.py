"""A folder holding several DICOM series (a flat CD or study export): one input, and one derived series, per series."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from monai_rmisr.__main__ import main
from monai_rmisr.inference.batch import find_inputs, select_series, upscale_batch
from monai_rmisr.inference.upscale import Upscaler
from monai_rmisr.io import BrokenSliceError, read_image
from monai_rmisr.io.series_folders import SeriesInFolder, SliceHeader, series_names
from tests.helpers import dicom_testdata, write_ct_series


def _numbered(folder: Path, number: int, description: str) -> str:
    """Give every slice of the series in ``folder`` a SeriesNumber and SeriesDescription; its SeriesInstanceUID."""
    for path in folder.iterdir():
        ds = pydicom.dcmread(path)
        ds.SeriesNumber = number
        ds.SeriesDescription = description
        ds.save_as(path)
    return str(ds.SeriesInstanceUID)


def _flat_export(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    """A folder holding two CT series (3 and 4 slices, under clashing file names) and a lone MR image; each series
    also in a folder of its own, to compare with. Returns the flat folder and ``{series name: own folder}``."""
    flat = tmp_path / "in" / "export"
    flat.mkdir(parents=True)
    own: dict[str, Path] = {}
    for number, slices, description in ((3, 3, "AX 2.5mm / bone"), (7, 4, "brain.nii.gz")):
        folder = tmp_path / "in" / f"own{number}"
        write_ct_series(folder, n=slices, seed=number)
        _numbered(folder, number, description)
        for path in folder.iterdir():
            shutil.copy(path, flat / f"s{number}_{path.name}")
        own["series3_AX_2_5mm_bone" if number == 3 else "series7_brain_nii_gz"] = folder
    shutil.copy(dicom_testdata("MR_small.dcm"), flat / "mr.dcm")
    return flat, own


def test_series_names_are_unique_and_safe():
    def header(number: str, description: str = "") -> SliceHeader:
        return SliceHeader("uid", 1, True, number, description)

    names = series_names(
        {
            "1.1": header("3", "AX T1 POST (Gd)"),
            "1.2": header("4", "../../etc"),
            "1.3": header("5"),
            "1.4": header("5"),  # one name for two series: both fall back to their UIDs
            "1.5": header(""),  # no SeriesNumber
            "1.6": header("6", "é" * 3),  # nothing safe left of the description
            "1.7": header("8", "brain.nii.gz"),
        }
    )
    assert names == {
        "1.1": "series3_AX_T1_POST_Gd",
        "1.2": "series4_etc",
        "1.7": "series8_brain_nii_gz",  # no name that reads as a file suffix
        "1.3": "series_1.3",
        "1.4": "series_1.4",
        "1.5": "series_1.5",
        "1.6": "series6",
    }


def test_find_inputs_gives_one_input_per_series_of_a_flat_folder(tmp_path):
    flat, own = _flat_export(tmp_path)
    found = find_inputs(flat)
    assert [str(item) for item in found] == [
        f"{flat} [series3_AX_2_5mm_bone]",
        f"{flat} [series7_brain_nii_gz]",
        str(flat / "mr.dcm"),  # a lone image of a third series: an input of its own, as before
    ]
    first, second = found[:2]
    assert isinstance(first, SeriesInFolder) and first.folder == flat
    with pytest.raises(TypeError):
        Path(first)  # no path: read as the whole folder, it would be every series at once
    # each reads as the same volume as the series in a folder of its own
    for item, name in ((first, "series3_AX_2_5mm_bone"), (second, "series7_brain_nii_gz")):
        volume = read_image(item)
        alone = read_image(own[name])
        np.testing.assert_array_equal(volume.array, alone.array)
        assert len(volume.meta["series_files"]) == alone.array.shape[-1]
    assert read_image(first).array.shape[-1] == 3 and read_image(second).array.shape[-1] == 4
    # a folder of one series stays one input, the folder itself
    assert find_inputs(own["series7_brain_nii_gz"]) == [own["series7_brain_nii_gz"]]


def test_batch_derives_each_series_of_a_flat_folder_as_its_own_series(tmp_path):
    flat, own = _flat_export(tmp_path)
    upscaler = Upscaler(2, model="bicubic")
    report = upscale_batch(upscaler, tmp_path / "in", tmp_path / "out", progress=False)
    assert not report.failed
    out = tmp_path / "out" / "export"
    assert sorted(p.name for p in out.iterdir()) == ["mr.dcm", "series3_AX_2_5mm_bone", "series7_brain_nii_gz"]
    for name, alone in own.items():
        derived = read_image(out / name)
        expected = read_image(tmp_path / "out" / alone.name)  # the same series derived from a folder of its own
        np.testing.assert_array_equal(derived.array, expected.array)
        uids = {str(pydicom.dcmread(p, stop_before_pixels=True).SeriesInstanceUID) for p in (out / name).iterdir()}
        sources = {str(pydicom.dcmread(p, stop_before_pixels=True).SeriesInstanceUID) for p in alone.iterdir()}
        assert len(uids) == 1 and uids.isdisjoint(sources)  # one new series each
    # the flat folder given as the input itself: its series' outputs directly under the output folder
    again = upscale_batch(upscaler, flat, tmp_path / "out2", progress=False)
    assert len(again.written) == 3 and (tmp_path / "out2" / "series7_brain_nii_gz").is_dir()
    # and a second run skips them, as it skips files
    assert len(upscale_batch(upscaler, flat, tmp_path / "out2", progress=False).skipped) == 3


def test_a_broken_slice_fails_only_the_series_its_header_names(tmp_path):
    flat, _ = _flat_export(tmp_path)
    cut = next(flat.glob("s7_*"))
    ds = pydicom.dcmread(cut)
    ds.PixelData = ds.PixelData[:100]  # cut short: the header still names series 7
    ds.save_as(cut)
    report = upscale_batch(Upscaler(2, model="bicubic"), flat, tmp_path / "out", progress=False)
    assert [str(item) for item, _ in report.failed] == [f"{flat} [series7_brain_nii_gz]"]
    assert cut.name in report.failed[0][1]
    assert (tmp_path / "out" / "series3_AX_2_5mm_bone").is_dir() and not (
        tmp_path / "out" / "series7_brain_nii_gz"
    ).exists()


def test_a_file_whose_series_cannot_be_told_counts_with_every_series(tmp_path):
    """It may be a slice of any of them: no series of the folder is derived as if whole, unless bad slices are
    skipped."""
    flat, _ = _flat_export(tmp_path)
    # a CT slice cut off in its header, before its SeriesInstanceUID
    (flat / "1.2.3.4711").write_bytes(Path(dicom_testdata("CT_small.dcm")).read_bytes()[:800])
    found = find_inputs(flat)
    assert len(found) == 3  # not an input of its own: it fails with the series
    for item in found[:2]:
        with pytest.raises(BrokenSliceError, match=r"1\.2\.3\.4711"):
            read_image(item)
        assert read_image(item, skip_bad_slices=True).meta["skipped_slices"][0]["path"] == str(flat / "1.2.3.4711")


def test_rmisr_upscale_of_a_flat_folder(tmp_path, capsys):
    flat, _ = _flat_export(tmp_path)
    code = main(["upscale", str(flat), "-o", str(tmp_path / "out"), "--scale", "2", "--model", "bicubic", "-q"])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "mr.dcm",
        "series3_AX_2_5mm_bone",
        "series7_brain_nii_gz",
    ]
    assert len(list((tmp_path / "out" / "series7_brain_nii_gz").iterdir())) == 4
    assert "3 written, 0 skipped" in capsys.readouterr().out


def test_a_series_is_not_named_as_an_entry_of_its_folder(tmp_path):
    """A sub-folder called ``series7`` beside the files: the series' output would land in that folder's output."""
    header = SliceHeader("1.7", 1, True, "7")
    assert series_names({"1.7": header}, taken=["SERIES7", "notes.txt"]) == {"1.7": "series_1.7"}
    flat, _ = _flat_export(tmp_path)
    (flat / "series7_brain_nii_gz").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(flat / "series7_brain_nii_gz" / "photo.png")
    found = [str(item) for item in find_inputs(flat)]
    assert f"{flat} [series7_brain_nii_gz]" not in found and any("[series_1." in name for name in found)
    report = upscale_batch(Upscaler(2, model="bicubic"), flat, tmp_path / "out", progress=False)
    assert not report.failed and len(report.written) == 4
    assert [p.name for p in (tmp_path / "out" / "series7_brain_nii_gz").iterdir()] == ["photo.png"]


def test_localizer_images_of_no_common_orientation_are_images_of_their_own(tmp_path):
    """A frontal and a lateral scout share a series but are no stack: each is derived on its own (as one series of
    two orientations, the series was refused), in a flat folder and in a folder of their own."""
    flat, _ = _flat_export(tmp_path)
    scouts = tmp_path / "in" / "scouts"
    scouts.mkdir()
    uid = pydicom.uid.generate_uid()
    for k, orientation in enumerate(([1, 0, 0, 0, 1, 0], [0, 1, 0, 0, 0, -1])):
        ds = pydicom.dcmread(dicom_testdata("CT_small.dcm"))
        ds.SeriesInstanceUID, ds.SOPInstanceUID = uid, pydicom.uid.generate_uid()
        ds.ImageOrientationPatient = orientation
        ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
        ds.save_as(scouts / f"scout{k}.dcm")
        ds.save_as(flat / f"scout{k}.dcm")
    assert find_inputs(scouts) == [scouts / "scout0.dcm", scouts / "scout1.dcm"]
    assert [str(item) for item in find_inputs(flat)][-2:] == [str(flat / "scout0.dcm"), str(flat / "scout1.dcm")]
    report = upscale_batch(Upscaler(2, model="bicubic"), tmp_path / "in", tmp_path / "out", progress=False)
    assert not report.failed and (tmp_path / "out" / "scouts" / "scout1.dcm").is_file()
    # a stack with one odd slice stays a series: the reader names that slice (or leaves it out)
    odd = pydicom.dcmread(next(flat.glob("s7_*")))
    odd.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
    odd.save_as(next(flat.glob("s7_*")))
    assert f"{flat} [series7_brain_nii_gz]" in [str(item) for item in find_inputs(flat)]


def test_a_file_without_a_series_uid_counts_with_every_series(tmp_path):
    flat, _ = _flat_export(tmp_path)
    ds = pydicom.dcmread(dicom_testdata("CT_small.dcm"))
    del ds.SeriesInstanceUID
    ds.save_as(flat / "nouid.dcm")
    found = find_inputs(flat)
    assert len(found) == 3  # not silently dropped: it is a possible slice of each series
    for item in found[:2]:
        with pytest.raises(BrokenSliceError, match="has no SeriesInstanceUID"):
            read_image(item)


def test_reading_one_series_decodes_only_its_own_files(tmp_path, monkeypatch):
    """A flat CD of 20 series must not be read 20 times over: the other series' files are left out by header."""
    import monai_rmisr.io.dicom as dicom_module

    flat, _ = _flat_export(tmp_path)
    full_reads = []
    real = dicom_module.pydicom.dcmread

    def counting(path, *args, **kwargs):
        if not kwargs.get("stop_before_pixels"):
            full_reads.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(dicom_module.pydicom, "dcmread", counting)
    read_image(find_inputs(flat)[0])
    assert len(full_reads) == 3 and all(name.startswith("s3_") for name in full_reads)


def test_a_series_split_between_folders_is_warned_of(tmp_path, caplog):
    import logging

    write_ct_series(tmp_path / "in" / "a", n=4)
    (tmp_path / "in" / "b").mkdir()
    for path in sorted((tmp_path / "in" / "a").iterdir())[:2]:
        path.rename(tmp_path / "in" / "b" / path.name)
    with caplog.at_level(logging.WARNING):
        assert find_inputs(tmp_path / "in") == [tmp_path / "in" / "a", tmp_path / "in" / "b"]
    assert "lie in 2 folders" in caplog.text and "put the series' files in one folder" in caplog.text


def test_select_series_by_number_or_uid(tmp_path):
    flat, own = _flat_export(tmp_path)
    by_number = select_series(flat, "7")
    uid = str(pydicom.dcmread(next(own["series7_brain_nii_gz"].iterdir())).SeriesInstanceUID)
    assert by_number == SeriesInFolder(flat, uid, "series7_brain_nii_gz") == select_series(flat, uid)
    mr_number = str(pydicom.dcmread(flat / "mr.dcm").SeriesNumber)
    assert mr_number not in ("3", "7") and select_series(flat, mr_number) == flat / "mr.dcm"  # a series of one file
    assert select_series(own["series7_brain_nii_gz"], "7") == own["series7_brain_nii_gz"]  # a folder of it alone
    with pytest.raises(ValueError, match="holds no such series; its series: 1 '' ") as err:
        select_series(flat, "12")
    assert "; 3 'AX 2.5mm / bone' (1." in str(err.value) and "; 7 'brain.nii.gz' (1." in str(err.value)
    with pytest.raises(ValueError, match="is a file"):
        select_series(flat / "mr.dcm", "1")


def test_rmisr_upscale_and_view_take_one_series_of_a_flat_folder(tmp_path, capsys):
    import shlex

    from monai_rmisr.viewer import ViewerSession

    flat, own = _flat_export(tmp_path)
    bicubic = ["--scale", "2", "--model", "bicubic", "-q"]
    assert main(["upscale", str(flat), "--series", "7", "-o", str(tmp_path / "s7"), *bicubic]) == 0
    derived = read_image(tmp_path / "s7")
    np.testing.assert_array_equal(
        derived.array,
        read_image(Upscaler(2, model="bicubic").file(own["series7_brain_nii_gz"], tmp_path / "alone")).array,
    )
    capsys.readouterr()
    assert main(["upscale", str(flat), "--series", "12", "-o", str(tmp_path / "s12"), *bicubic]) == 2
    assert "--series 12" in capsys.readouterr().err and not (tmp_path / "s12").exists()
    # the viewer shows that series, and the command it offers writes it
    assert main(["view", str(flat), "--series", "3", "--roi", "0,0,32,32", "--save", str(tmp_path / "v.png")]) == 0
    session = ViewerSession(select_series(flat, "3"))
    assert session.depth == 3 and session.name == "export [series3_AX_2_5mm_bone]"
    command = shlex.split(session.upscale_command("0,0,32,32", 2, "bicubic"))
    assert command[command.index("--series") + 1] == session.series.series_uid
    assert main([*command[1:], "-q"]) == 0
    assert read_image(flat.parent / "export_series3_AX_2_5mm_bone_sr").array.shape[-1] == 3


def test_a_stack_whose_orientations_differ_by_rounding_stays_one_series(tmp_path):
    """Direction cosines written by a scanner differ in their last digits from slice to slice: still one stack, as
    the reader holds it (within its tolerance), in a batch and in a training data set's folder scan."""
    from monai_rmisr.data.folder_scan import scan_folder

    folder = tmp_path / "in" / "jitter"
    write_ct_series(folder, n=4)
    for k, path in enumerate(sorted(folder.iterdir())):
        ds = pydicom.dcmread(path)
        ds.ImageOrientationPatient = [1, 0, 0, 0, 0.9995 + (-1) ** k * 1e-6, 0.0316]
        ds.save_as(path)
    assert find_inputs(folder) == [folder] and scan_folder(folder, series=True) == [folder]
    assert read_image(folder).array.shape == (1, 128, 128, 4)


def test_a_stray_file_is_recorded_as_of_unknown_series_not_as_a_slice(tmp_path):
    flat, _ = _flat_export(tmp_path)
    ds = pydicom.dcmread(next(flat.glob("s3_*")))
    del ds.SeriesInstanceUID
    ds.SOPInstanceUID = "1.2.3.999"
    ds.save_as(flat / "stray.dcm")
    report = upscale_batch(Upscaler(2, model="bicubic", skip_bad_slices=True), flat, tmp_path / "out", progress=False)
    assert not report.failed
    derived = pydicom.dcmread(next((tmp_path / "out" / "series7_brain_nii_gz").iterdir()))
    assert derived.DerivationDescription.endswith(
        "; 1 file of unknown series in the source folder left out; not for primary diagnosis"
    )
    assert "1.2.3.999" not in derived.DerivationDescription  # not claimed as a slice of this series


def test_series_numbers_compare_as_numbers_and_sub_folders_are_pointed_to(tmp_path):
    flat, own = _flat_export(tmp_path)
    assert select_series(flat, "03") == select_series(flat, "3") != select_series(flat, "7")
    with pytest.raises(ValueError, match=r"not its sub-folders'\); sub-folders with files that may be DICOM: .*own3"):
        select_series(tmp_path / "in", "3")
    with pytest.raises(ValueError, match=r"holds 3 DICOM series: give one with --series NUMBER .*: 1 '' .*; 3 'AX"):
        select_series(flat, None)
    assert select_series(own["series7_brain_nii_gz"], None) == own["series7_brain_nii_gz"]


def test_rmisr_view_of_a_flat_folder_asks_for_series_and_works_from_inside_it(tmp_path, capsys, monkeypatch):
    flat, _ = _flat_export(tmp_path)
    save = ["--scale", "2", "--model", "bicubic", "--roi", "0,0,32,32", "--save"]
    assert main(["view", str(flat), *save, str(tmp_path / "v.png")]) == 2
    assert "give one with --series NUMBER" in capsys.readouterr().err and not (tmp_path / "v.png").exists()
    assert main(["view", str(flat / "mr.dcm"), "--series", "7", *save, str(tmp_path / "v.png")]) == 2  # not ignored
    err = capsys.readouterr().err
    assert "--series 7: " in err and "is a file" in err and not (tmp_path / "v.png").exists()
    monkeypatch.chdir(flat)  # a CD mounted, then `cd` into it
    assert main(["view", ".", "--series", "7", *save, str(tmp_path / "v.png")]) == 0
    assert f"-o {flat.parent / 'export_series7_brain_nii_gz_sr'}" in capsys.readouterr().out


def test_an_output_inside_a_derived_series_folder_fails_and_the_series_is_not_skipped_later(tmp_path):
    """``ct/`` holds a series and ``ct/report/x.png``: the PNG's output went into the derived series' folder, and where
    the series failed, that folder (made for the PNG) was taken at the next run for the series' finished output."""
    write_ct_series(tmp_path / "in" / "ct", n=3)
    (tmp_path / "in" / "ct" / "report").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "in" / "ct" / "report" / "x.png")
    broken = next((tmp_path / "in" / "ct").glob("*.dcm"))
    whole = broken.read_bytes()
    broken.write_bytes(whole[:600])  # the series fails first
    report = upscale_batch(Upscaler(2, model="bicubic"), tmp_path / "in", tmp_path / "out", progress=False)
    failed = dict((str(item), reason) for item, reason in report.failed)
    assert set(failed) == {str(tmp_path / "in" / "ct"), str(tmp_path / "in" / "ct" / "report" / "x.png")}
    assert "would lie inside" in failed[str(tmp_path / "in" / "ct" / "report" / "x.png")]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    broken.write_bytes(whole)  # mended: the next run derives the series (it was skipped as done)
    again = upscale_batch(Upscaler(2, model="bicubic"), tmp_path / "in", tmp_path / "out", progress=False)
    assert [str(item) for item, _ in again.failed] == [str(tmp_path / "in" / "ct" / "report" / "x.png")]
    assert len(list((tmp_path / "out" / "ct").glob("*.dcm"))) == 3
    # what an earlier version left (the image's output in the series' folder, the series failed): not taken as done
    shutil.rmtree(tmp_path / "out" / "ct")
    (tmp_path / "out" / "ct" / "report").mkdir(parents=True)
    (tmp_path / "out" / "ct" / "report" / "x.png").write_bytes(b"png")
    third = upscale_batch(Upscaler(2, model="bicubic"), tmp_path / "in", tmp_path / "out", progress=False)
    reasons = dict((str(item), reason) for item, reason in third.failed)
    assert "is a folder without a derived series in it" in reasons[str(tmp_path / "in" / "ct")]
    assert not third.skipped


def test_dry_run_lists_what_a_batch_would_do_and_writes_nothing(tmp_path, capsys):
    flat, _ = _flat_export(tmp_path)
    (tmp_path / "out" / "series7_brain_nii_gz").mkdir(parents=True)  # an earlier run's output
    (tmp_path / "out" / "series7_brain_nii_gz" / "00001.dcm").write_bytes(b"derived")
    (flat / "series3_AX_2_5mm_bone").mkdir()  # an entry of that name: the series is named by its UID
    bicubic = ["--scale", "2", "--model", "bicubic"]
    code = main(["upscale", str(flat), "-o", str(tmp_path / "out"), *bicubic, "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    assert f"skip  {flat} [series7_brain_nii_gz] (output exists: {tmp_path / 'out' / 'series7_brain_nii_gz'};" in out
    assert f"write {flat / 'mr.dcm'} -> {tmp_path / 'out' / 'mr.dcm'}" in lines
    assert any(line.startswith(f"write {flat} [series_1.") for line in lines)
    assert lines[-1].startswith("dry run: 2 to write, 1 to skip (output exists), 0 would fail")
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == ["00001.dcm", "series7_brain_nii_gz"]  # as it was
    # inputs that would fail: listed with the reason, exit 1 as the run would end
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(flat / "a.png")
    shutil.copy(flat / "a.png", flat / "a")  # a PNG without a suffix: its output is a.png too
    assert main(["upscale", str(flat), "-o", str(tmp_path / "o2"), *bicubic, "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL  {flat / 'a'}: output '{tmp_path / 'o2' / 'a.png'}' is also the output of" in out
    assert "2 would fail" in out.splitlines()[-1] and not (tmp_path / "o2").exists()
    # one series
    assert main(["upscale", str(flat), "-o", str(tmp_path / "o3"), *bicubic, "--dry-run", "--series", "7"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"write {flat} [series7_brain_nii_gz] -> {tmp_path / 'o3'}"


def test_images_of_one_series_at_one_place_are_images_of_their_own_in_a_flat_folder(tmp_path):
    """pydicom-data's folder holds the same image in several encodings under one SeriesInstanceUID (a cine's
    phases lie at one place too): as one series they failed ("two slices share one position"); each is an image."""
    flat, _ = _flat_export(tmp_path)
    for k in range(3):
        ds = pydicom.dcmread(dicom_testdata("CT_small.dcm"))
        ds.SeriesInstanceUID = "1.2.3.77"
        ds.SOPInstanceUID = f"1.2.3.77.{k}"
        ds.save_as(flat / f"copy{k}.dcm")
    found = [str(item) for item in find_inputs(flat)]
    assert [f"{flat / f'copy{k}.dcm'}" in found for k in range(3)] == [True] * 3
    assert not any("1.2.3.77" in name for name in found)
    report = upscale_batch(Upscaler(2, model="bicubic"), flat, tmp_path / "out", progress=False)
    assert not report.failed and (tmp_path / "out" / "copy2.dcm").is_file()
    with pytest.raises(ValueError, match="no stack"):
        select_series(flat, "1.2.3.77")


def test_outputs_of_monai_rmisr_beside_the_images_are_left_out_of_a_batch(tmp_path, caplog):
    """An image super-resolved into its own series folder (the viewer's "as a file" command names an output beside
    the file) made the folder two series and was super-resolved again by the next batch, without a word."""
    series = tmp_path / "study" / "ct"
    write_ct_series(series, n=3)
    derived = series / "slice_sr.dcm"
    assert (
        main(
            [
                "upscale",
                str(sorted(series.iterdir())[0]),
                "-o",
                str(derived),
                "--scale",
                "2",
                "--model",
                "bicubic",
                "-q",
            ]
        )
        == 0
    )
    png = tmp_path / "study" / "shot.png"
    Image.fromarray(np.full((16, 16), 90, dtype=np.uint8)).save(png)
    assert main(["upscale", str(png), "-o", str(tmp_path / "study" / "shot_sr.png"), "--scale", "2", "-q"]) == 0
    with caplog.at_level("WARNING", logger="monai_rmisr.inference.batch"):
        found = find_inputs(tmp_path / "study")
    uid = str(pydicom.dcmread(next(p for p in series.glob("*") if p != derived)).SeriesInstanceUID)
    (series_input,) = [item for item in found if isinstance(item, SeriesInFolder)]
    assert found == [series_input, png] and series_input.series_uid == uid  # the series (without it), the PNG
    assert read_image(series_input).array.shape[-1] == 3
    assert "leaving out 2 output(s) of monai-rmisr beside other images" in caplog.text and "slice_sr.dcm" in caplog.text
    assert find_inputs(derived) == [derived]  # given itself, it is super-resolved again
    # a folder of its outputs alone (a derived series: a second pass) is an input as before
    write_ct_series(tmp_path / "clean", n=3)
    command = ["upscale", str(tmp_path / "clean"), "-o", str(tmp_path / "ct_sr"), "--scale", "2", "--model"]
    assert main([*command, "bicubic", "-q"]) == 0
    (derived_series,) = {path.parent for path in (tmp_path / "ct_sr").rglob("*.dcm")}
    caplog.clear()
    with caplog.at_level("WARNING", logger="monai_rmisr.inference.batch"):
        assert find_inputs(tmp_path / "ct_sr") == [derived_series]
    assert "leaving out" not in caplog.text
