"""User data sets: folder scan, datalists and the lung CT / dermoscopy / retina presets on fake layouts.

The ``make_*`` builders are also used by ``tests/bundle/test_finetune.py``.
"""

from __future__ import annotations

import json
import logging
import pickle
import re
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import tifffile
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from monai_rmisr.data import PRESETS, dataset_images, load_datalist, scan_folder
from monai_rmisr.data.user_datasets import load_dataset, validation_items
from monai_rmisr.io import BrokenSliceError, ImageReadError, read_dicom_series
from monai_rmisr.transforms import CTWindow
from tests.helpers import dicom_testdata

SIZE = 32
SLOPE, INTERCEPT = 0.5, -1024.0


def ct_slice_hu(patient: int, k: int) -> np.ndarray:
    """A 32x32 HU image: a ramp from -1500 to 400 HU across the columns, different per slice."""
    hu = np.tile(np.linspace(-1500.0, 400.0, SIZE), (SIZE, 1)) + 20.0 * k + 3.0 * patient
    hu[4:8, 4:8] = -600.0  # the window centre
    return np.round(hu * 2) / 2  # representable with slope 0.5


def write_ct_slice(
    path: Path,
    hu: np.ndarray,
    z: float,
    series_uid: str,
    patient_id: str,
    modality: str = "CT",
    study_uid: str | None = None,
):
    """A minimal single-frame CT file: int16 stored values, RescaleSlope 0.5, RescaleIntercept -1024 (a study of
    its own unless ``study_uid`` names one: the slices of a series share theirs)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.PatientID, ds.Modality = patient_id, modality
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid or generate_uid(), series_uid
    ds.ImagePositionPatient = [0.0, 0.0, float(z)]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing = [0.7, 0.7]
    ds.SliceThickness = 2.5
    ds.Rows, ds.Columns = hu.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = SLOPE, INTERCEPT, "HU"
    ds.PixelData = np.round((hu - INTERCEPT) / SLOPE).astype(np.int16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    pydicom.dcmwrite(path, ds, enforce_file_format=True)


def write_ct_series(folder: Path, patient: int, n: int, constant_slice: int | None = None) -> list[np.ndarray]:
    """``n`` slices 2.5 mm apart, stored in reverse order of position; returns their HU by position."""
    uid, study = generate_uid(), generate_uid()
    slices = []
    for k in range(n):
        hu = np.full((SIZE, SIZE), -1000.0) if k == constant_slice else ct_slice_hu(patient, k)
        write_ct_slice(folder / f"1-{n - k:03d}.dcm", hu, 2.5 * k, uid, f"LIDC-IDRI-{patient:04d}", study_uid=study)
        slices.append(hu)
    return slices


def make_lidc_tree(root: Path) -> dict[str, list[np.ndarray]]:
    """Two patients, LIDC-IDRI layout; patient 1 has two series (one with a constant slice) and an
    XML annotation, patient 2 one CT series and a chest radiograph (CR) that lung_ct must skip.
    Returns the HU slices that should come out, per patient (7 in all)."""
    p1, p2 = root / "LIDC-IDRI-0001", root / "LIDC-IDRI-0002"
    a = write_ct_series(p1 / "1.3.6.1.study1" / "3000566.000000-series1", 1, 3, constant_slice=1)
    (p1 / "1.3.6.1.study1" / "3000566.000000-series1" / "069.xml").write_text("<LidcReadMessage/>")
    b = write_ct_series(p1 / "1.3.6.1.study2" / "3000600.000000-series2", 1, 2)
    c = write_ct_series(p2 / "1.3.6.1.study3" / "3000700.000000-series3", 2, 3)
    write_ct_slice(p2 / "1.3.6.1.study4" / "cr" / "1-1.dcm", ct_slice_hu(2, 0), 0, generate_uid(), "P2", "CR")
    return {"LIDC-IDRI-0001": [a[0], a[2], *b], "LIDC-IDRI-0002": c}


def _rgb(seed: int, size: int = SIZE) -> np.ndarray:
    """A smooth, rather dark RGB image (values 20..140), uint8."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    channels = [20 + 120 * (0.5 + 0.5 * np.sin(2 * np.pi * (rng.random() * xx + rng.random() * yy))) for _ in range(3)]
    return np.stack(channels, axis=-1).round().astype(np.uint8)


def make_isic_folder(root: Path, n: int = 4) -> list[Path]:
    """ISIC-like: ``images/ISIC_000000k.jpg`` with segmentation / superpixel PNGs beside them, a
    ground-truth folder of masks and a metadata CSV. Returns the JPEG paths."""
    images = root / "images"
    images.mkdir(parents=True)
    (root / "ISIC2018_Task1_Training_GroundTruth").mkdir()
    paths = []
    for k in range(n):
        path = images / f"ISIC_{k:07d}.jpg"
        Image.fromarray(_rgb(k)).save(path, quality=95)
        paths.append(path)
        mask = np.zeros((SIZE, SIZE), np.uint8)
        mask[8:24, 8:24] = 255
        Image.fromarray(mask).save(images / f"ISIC_{k:07d}_segmentation.png")
        Image.fromarray(mask).save(root / "ISIC2018_Task1_Training_GroundTruth" / f"ISIC_{k:07d}_mask.png")
    Image.fromarray(_rgb(99)).save(images / "ISIC_0000000_superpixels.png")
    (root / "ISIC2018_Task3_GroundTruth.csv").write_text("image,MEL\nISIC_0000000,0\n")
    return paths


def make_drive_folder(root: Path, n_train: int = 2, n_test: int = 1) -> dict[str, list[np.ndarray]]:
    """DRIVE-like: ``training|test/{images,mask,1st_manual}``; images are RGB TIFFs, the masks and
    manual annotations TIFFs too (so only the folder names can exclude them). Returns the RGB."""
    out: dict[str, list[np.ndarray]] = {"training": [], "test": []}
    for part, count, first in (("training", n_train, 21), ("test", n_test, 1)):
        for k in range(count):
            number = first + k
            rgb = _rgb(number)
            (root / part / "images").mkdir(parents=True, exist_ok=True)
            tifffile.imwrite(root / part / "images" / f"{number:02d}_{part}.tif", rgb, photometric="rgb")
            for folder, name in (
                ("mask", f"{number:02d}_{part}_mask.tif"),
                ("1st_manual", f"{number:02d}_manual1.tif"),
            ):
                (root / part / folder).mkdir(exist_ok=True)
                tifffile.imwrite(root / part / folder / name, (rgb[..., 1] > 80).astype(np.uint8) * 255)
            out[part].append(rgb)
    return out


SPLITS = ("train", "val", "test")


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


# ----------------------------------------------------------------------------------------------


def test_scan_folder_finds_images_and_series(tmp_path):
    Image.fromarray(_rgb(0)).save(tmp_path / "a.png")
    Image.fromarray(_rgb(1)).save(tmp_path / "b.JPG")
    Image.fromarray(_rgb(2)).save(tmp_path / ".hidden.png")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "labels.csv").write_text("a,1\n")
    write_ct_slice(tmp_path / "IM0001", ct_slice_hu(0, 0), 0, generate_uid(), "P")  # DICOM without suffix
    (tmp_path / "sub").mkdir()
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 3), np.float32), np.eye(4)), tmp_path / "sub" / "c.nii.gz")
    write_ct_series(tmp_path / "sub" / "series", 0, 3)

    files = scan_folder(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in files] == [
        "IM0001",
        "a.png",
        "b.JPG",
        "sub/c.nii.gz",
        "sub/series/1-001.dcm",
        "sub/series/1-002.dcm",
        "sub/series/1-003.dcm",
    ]
    items = scan_folder(tmp_path, series=True)
    assert [p.relative_to(tmp_path).as_posix() for p in items] == [
        "IM0001",
        "a.png",
        "b.JPG",
        "sub/c.nii.gz",
        "sub/series",
    ]
    assert [p.name for p in scan_folder(tmp_path, recursive=False)] == ["IM0001", "a.png", "b.JPG"]
    assert [p.name for p in scan_folder(tmp_path, extensions=["png", ".nii.gz"])] == ["a.png", "c.nii.gz"]
    assert [p.name for p in scan_folder(tmp_path, extensions=[".dcm"], series=True)] == ["IM0001", "series"]
    with pytest.raises(FileNotFoundError, match="no such data set folder"):
        scan_folder(tmp_path / "missing")


def test_a_subset_made_of_links_to_patient_folders_is_read_like_the_collection(tmp_path):
    # a subset of a large collection as links to its patient folders: the training scan found nothing (it did not
    # follow links to folders; rmisr upscale did), and said "no train images" as if the folder were empty
    collection, subset = tmp_path / "collection", tmp_path / "subset"
    for patient in ("p1", "p2", "p3"):
        write_ct_series(collection / patient / "series", 0, 3)
    subset.mkdir()
    for patient in ("p1", "p3"):
        (subset / patient).symlink_to(collection / patient, target_is_directory=True)
    (subset / "p1" / "series" / "loop").symlink_to(subset, target_is_directory=True)  # a link back up: walked once
    items = scan_folder(subset, series=True)
    assert [p.relative_to(subset).as_posix() for p in items] == ["p1/series", "p3/series"]
    assert len(scan_folder(subset)) == 6


def test_a_series_stays_one_item_beside_another_image_or_a_broken_slice(tmp_path):
    # a screenshot or a slice whose header cannot be read beside a series made each slice an item of its own: the
    # series' slices then fell on both sides of the train / validation split, each scaled on its own range
    # (rmisr upscale read the same folders as one series: one rule for both now, io.series_folders)
    from monai_rmisr.inference.batch import find_inputs

    write_ct_series(tmp_path / "with_png", 0, 4)
    Image.fromarray(_rgb(0)).save(tmp_path / "with_png" / "screenshot.png")
    write_ct_series(tmp_path / "with_broken", 0, 4)
    (tmp_path / "with_broken" / "IM999.dcm").write_bytes(b"not a DICOM header" * 20)
    write_ct_series(tmp_path / "with_report", 0, 3)
    shutil.copy(dicom_testdata("test-SR.dcm"), tmp_path / "with_report" / "report.dcm")  # a structured report
    items = [p.relative_to(tmp_path).as_posix() for p in scan_folder(tmp_path, series=True)]
    assert items == ["with_broken", "with_png", "with_png/screenshot.png", "with_report"]
    assert [p.relative_to(tmp_path).as_posix() for p in find_inputs(tmp_path)] == items
    array, meta = read_dicom_series(tmp_path / "with_broken", skip_bad_slices=True)
    assert array.shape[-1] == 4 and [Path(s["path"]).name for s in meta["skipped_slices"]] == ["IM999.dcm"]


def write_flat_export(folder: Path, n: int) -> dict[str, str]:
    """Two CT series of ``n`` slices side by side in ``folder`` (``A_IM0000.dcm``, ``B_IM0000.dcm``, ...), one
    study; returns their SeriesInstanceUIDs by letter."""
    uids, study = {"A": generate_uid(), "B": generate_uid()}, generate_uid()
    for k in range(n):
        for name, uid in uids.items():
            write_ct_slice(folder / f"{name}_IM{k:04d}.dcm", ct_slice_hu(0, k), 2.5 * k, uid, "P", study_uid=study)
    return uids


def test_a_folder_mixing_series_gives_each_stack_as_one_item_as_rmisr_upscale_reads_it(tmp_path):
    # a flat export: each slice was an image of its own, min-max scaled on its own range, while rmisr upscale read
    # the series whole (scaled on the series' range): the model trained on slices scaled unlike those it is given
    from monai_rmisr.inference.batch import find_inputs
    from monai_rmisr.io import SeriesInFolder

    write_ct_series(tmp_path / "mixed", 0, 3)
    write_ct_slice(tmp_path / "mixed" / "other.dcm", ct_slice_hu(0, 9), 9.0, generate_uid(), "P")
    (tmp_path / "mixed" / "broken.dcm").write_bytes(b"not a DICOM header" * 20)  # a broken slice of the stack
    items = scan_folder(tmp_path, series=True)
    assert sorted(map(str, items)) == sorted(map(str, find_inputs(tmp_path)))
    stack = next(item for item in items if isinstance(item, SeriesInFolder))
    assert [item for item in items if item != stack] == [tmp_path / "mixed" / "other.dcm"]
    with pytest.raises(ImageReadError, match=r"broken\.dcm.*--skip_bad true"):
        load_dataset(tmp_path, "folder", "train", val_fraction=0)
    images = load_dataset(tmp_path, "folder", "train", val_fraction=0, skip_bad=True)
    series = [image for image in images if image.source == str(stack)]
    assert [image.slice_index for image in series] == [0, 1, 2]
    volume = np.stack([image.array[0] for image in series], axis=-1)
    assert volume.min() == 0.0 and volume.max() == 1.0  # one range for the series: no slice spans [0, 1] alone
    assert all(image.array.max() < 1.0 for image in series[:2]) and all(image.array.min() > 0 for image in series[1:])


def test_the_slices_of_a_series_in_a_folder_mixing_series_stay_on_one_side_of_the_split(tmp_path):
    # two series' slices side by side in one folder: each slice was an item of the split, so validation slices were
    # neighbours of training slices of the same series
    uids = write_flat_export(tmp_path / "flat", 4)
    train = load_dataset(tmp_path, "folder", "train")
    val = load_dataset(tmp_path, "folder", "val")
    assert len(train) == len(val) == 4
    assert len({image.source for image in val}) == len({image.source for image in train}) == 1
    assert {image.group for image in val}.isdisjoint(image.group for image in train)
    assert {image.group for image in train + val} == {f"{tmp_path / 'flat'}/series {uid}" for uid in uids.values()}


def test_a_run_that_recorded_a_flat_folders_slices_one_by_one_resumes_on_their_series(tmp_path):
    # package 0.2.8 recorded each validation slice of a flat folder: resumed now, those name the series read whole
    uids = write_flat_export(tmp_path / "flat", 3)
    val = load_dataset(tmp_path, "folder", "val", val_items=["flat/B_IM0001.dcm"])
    train = load_dataset(tmp_path, "folder", "train", val_items=["flat/B_IM0001.dcm"])
    assert {image.group for image in val} == {f"{tmp_path / 'flat'}/series {uids['B']}"}
    assert {image.group for image in train} == {f"{tmp_path / 'flat'}/series {uids['A']}"}
    assert validation_items(tmp_path, recorded=["flat/B_IM0001.dcm"]) == [f"flat/series_{uids['B']}"]


def test_a_flat_folders_series_are_checked_for_outputs_reading_each_header_once(tmp_path, monkeypatch):
    # each series' first file was looked for by reading the folder's headers again, series by series: 20 series of
    # 30 slices read 5,720 headers for 600 files
    import monai_rmisr.io.series_folders as series_folders

    for letter in "ABCD":
        uid, study = generate_uid(), generate_uid()
        for k in range(3):
            write_ct_slice(
                tmp_path / "flat" / f"{letter}{k}.dcm", ct_slice_hu(0, k), 2.5 * k, uid, "P", study_uid=study
            )
    read = []
    original = series_folders.dicom_slice_header
    monkeypatch.setattr(series_folders, "dicom_slice_header", lambda path: read.append(path) or original(path))
    series_folders._first_files.cache_clear()
    stacks = [item for item in scan_folder(tmp_path, series=True) if not isinstance(item, Path)]
    assert len(stacks) == 4
    firsts = [series_folders.first_file_of_series(stack) for stack in stacks]
    assert sorted(path.name for path in firsts) == ["A0.dcm", "B0.dcm", "C0.dcm", "D0.dcm"]
    assert all(pydicom.dcmread(path).SeriesInstanceUID == stack.series_uid for path, stack in zip(firsts, stacks))
    assert len(load_dataset(tmp_path, "folder", "train", val_fraction=0)) == 12
    assert len(read) == 12  # each file's header once, for every series and both calls


def test_a_run_on_a_flat_folder_resumes_after_a_series_of_the_same_number_is_added(tmp_path):
    # a series' name in the folder (series1_AX) changes when another series of that number and description is added
    # (both become series_<UID>): recorded by that name, the run could not be resumed ("no longer in ...")
    uids = write_flat_export(tmp_path / "flat", 3)
    for path in (tmp_path / "flat").iterdir():
        ds = pydicom.dcmread(path)
        ds.SeriesNumber, ds.SeriesDescription = (1, "AX") if path.name.startswith("A") else (2, "COR")
        ds.save_as(path)
    recorded = validation_items(tmp_path)
    held_out = next(uid for uid in uids.values() if any(uid in name for name in recorded))
    series_c, study = generate_uid(), generate_uid()
    for k in range(3):
        path = tmp_path / "flat" / f"C_IM{k:04d}.dcm"
        write_ct_slice(path, ct_slice_hu(1, k), 2.5 * k, series_c, "P", study_uid=study)
        ds = pydicom.dcmread(path)
        ds.SeriesNumber, ds.SeriesDescription = 1, "AX"
        ds.save_as(path)
    val = load_dataset(tmp_path, "folder", "val", val_items=recorded)
    assert {image.group for image in val} == {f"{tmp_path / 'flat'}/series {held_out}"}
    train = load_dataset(tmp_path, "folder", "train", val_items=recorded)
    assert len({image.group for image in train}) == 2  # the other series and the new one


def test_lung_window_maps_hu_to_unit_range():
    window = CTWindow(PRESETS["lung_ct"].window, dtype=np.float64)
    np.testing.assert_allclose(window(np.array([-2000.0, -1350, -600, 150, 3000])), [0.0, 0.0, 0.5, 1.0, 1.0])


def test_lung_ct_reads_series_windows_them_and_splits_by_patient(tmp_path):
    expected = make_lidc_tree(tmp_path)
    train = load_dataset(tmp_path, "lung_ct", "train", val_fraction=0.1)
    val = load_dataset(tmp_path, "lung_ct", "val", val_fraction=0.1)
    # two patients: 0.1 of them rounds to 0, but a validation set gets at least one patient
    assert len({i.group for i in train}) == len({i.group for i in val}) == 1
    assert {i.group for i in train}.isdisjoint({i.group for i in val})
    assert {i.group for i in train + val} == set(expected)
    assert len(train) + len(val) == 7  # 3 + 2 + 3 slices, minus the constant one; the CR file is skipped
    for image in train + val:
        assert image.array.shape == (1, SIZE, SIZE) and image.array.dtype == np.float32
        assert image.array.min() >= 0.0 and image.array.max() <= 1.0
        assert Path(image.source).is_dir()  # read as a series, not slice by slice
        np.testing.assert_allclose(image.array[0, 4:8, 4:8], 0.5)  # HU -600
    for patient, slices in expected.items():
        got = [i.array[0] for i in train + val if i.group == patient]
        want = [np.clip((hu + 1350) / 1500, 0, 1) for hu in slices]
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, atol=1e-6)
    # the split is by patient, seeded, and dataset_images gives the same arrays
    arrays = dataset_images(tmp_path, "lung_ct", "train", val_fraction=0.1)
    assert len(arrays) == len(train) and all(np.array_equal(a, i.array) for a, i in zip(arrays, train))
    assert {i.slice_index for i in train + val} == {0, 1, 2}


def test_dermoscopy_reads_rgb_jpegs_as_luma_over_255_and_ignores_masks(tmp_path):
    jpegs = make_isic_folder(tmp_path, n=4)
    train = load_dataset(tmp_path, "dermoscopy", "train")
    val = load_dataset(tmp_path, "dermoscopy", "val")
    assert len(train) == 3 and len(val) == 1
    assert sorted(i.source for i in train + val) == sorted(str(p) for p in jpegs)
    for image in train + val:
        rgb = np.asarray(Image.open(image.source).convert("RGB"))
        np.testing.assert_allclose(image.array[0], _luma(rgb) / 255.0, atol=1e-6)
        assert image.array.max() < 0.6  # divided by 255, not stretched to [0, 1]
    other = load_dataset(tmp_path, "dermoscopy", "val", seed=1)
    assert len(other) == 1  # another seed, another (valid) split


def test_retina_uses_drive_training_and_test_folders(tmp_path):
    rgb = make_drive_folder(tmp_path / "DRIVE", n_train=2, n_test=1)
    train = load_dataset(tmp_path / "DRIVE", "retina", "train")
    val = load_dataset(tmp_path / "DRIVE", "retina", "val")
    assert [Path(i.source).name for i in train] == ["21_training.tif", "22_training.tif"]
    assert [Path(i.source).name for i in val] == ["01_test.tif"]
    for image, colour in zip(train + val, rgb["training"] + rgb["test"]):
        np.testing.assert_allclose(image.array[0], _luma(colour) / 255.0, atol=1e-6)
    # evaluation ("test"): DRIVE's test folder; a val/ folder the model was chosen on is no test set: every image
    assert [Path(i.source).name for i in load_dataset(tmp_path / "DRIVE", "retina", "test")] == ["01_test.tif"]
    (tmp_path / "DRIVE" / "test").rename(tmp_path / "DRIVE" / "val")
    assert len(load_dataset(tmp_path / "DRIVE", "retina", "test")) == 3
    # without DRIVE's folders the split falls back to val_fraction
    flat = tmp_path / "fundus"
    flat.mkdir()
    for k in range(3):
        Image.fromarray(_rgb(k)).save(flat / f"im{k}.png")
    assert len(dataset_images(flat, "retina", "train", val_fraction=0.3)) == 2
    assert len(dataset_images(flat, "retina", "val", val_fraction=0.3)) == 1


def test_retina_validates_on_a_val_folder_beside_drive_test_folder(tmp_path, caplog):
    # training/, val/ and test/: validation took test/ (first of its names), val/ was read by nothing, and the model
    # chosen on test/ was then scored on test/ again
    make_drive_folder(tmp_path / "DRIVE", n_train=3, n_test=1)
    root = tmp_path / "DRIVE"
    with caplog.at_level(logging.WARNING, logger="monai_rmisr"):
        assert [Path(i.source).name for i in load_dataset(root, "retina", "test")] == ["01_test.tif"]
    assert "is not independent" in caplog.text  # DRIVE as published: test/ is the validation split too
    (root / "val" / "images").mkdir(parents=True)
    (root / "training" / "images" / "23_training.tif").rename(root / "val" / "images" / "23_training.tif")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="monai_rmisr"):
        names = {split: [Path(i.source).name for i in load_dataset(root, "retina", split)] for split in SPLITS}
    assert names == {
        "train": ["21_training.tif", "22_training.tif"],
        "val": ["23_training.tif"],
        "test": ["01_test.tif"],
    }
    assert "is not independent" not in caplog.text


def test_folder_preset_min_max_normalises_each_item_and_splits_by_file(tmp_path):
    Image.fromarray((_rgb(0).astype(np.uint16) * 200)[..., 0]).save(tmp_path / "grey16.png")
    Image.fromarray(_rgb(1)).save(tmp_path / "colour.png")
    volume = np.stack([np.linspace(-5, 5, 64).reshape(8, 8), np.full((8, 8), 2.0), 3 * np.eye(8)], axis=-1)
    nib.save(nib.Nifti1Image(volume.astype(np.float32), np.eye(4)), tmp_path / "volume.nii.gz")
    write_ct_series(tmp_path / "series", 0, 2)
    everything = load_dataset(tmp_path, "folder", "train", val_fraction=0)
    by_source = {}
    for image in everything:
        by_source.setdefault(Path(image.source).name, []).append(image.array)
    assert {k: len(v) for k, v in by_source.items()} == {
        "colour.png": 1,
        "grey16.png": 1,
        "series": 2,
        "volume.nii.gz": 2,
    }
    for arrays in by_source.values():  # per item (a whole volume / series), not per slice
        assert min(a.min() for a in arrays) == 0.0 and max(a.max() for a in arrays) == 1.0
    np.testing.assert_allclose(by_source["volume.nii.gz"][1][0], 0.5 + np.eye(8) * 0.3, atol=1e-6)
    train = load_dataset(tmp_path, "folder", "train", val_fraction=0.25)
    val = load_dataset(tmp_path, "folder", "val", val_fraction=0.25)
    assert len({i.source for i in val}) == 1 and {i.source for i in train}.isdisjoint({i.source for i in val})
    assert len(train) + len(val) == 6


def test_bad_file_fails_by_default_and_is_skipped_with_skip_bad(tmp_path, caplog):
    make_isic_folder(tmp_path, n=3)
    bad = tmp_path / "images" / "ISIC_0000009.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(ImageReadError, match=re.escape("ISIC_0000009.jpg")) as failure:
        dataset_images(tmp_path, "dermoscopy", "train", val_fraction=0)
    assert str(failure.value).endswith("; --skip_bad true leaves it out of the run, with a warning.")  # the way on
    with caplog.at_level(logging.WARNING, logger="monai_rmisr.data.user_datasets"):
        images = dataset_images(tmp_path, "dermoscopy", "train", val_fraction=0, skip_bad=True)
    assert len(images) == 3
    assert any("ISIC_0000009.jpg" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


def test_a_series_with_a_broken_slice_is_refused_naming_skip_bad_and_read_without_the_slice_with_it(tmp_path, caplog):
    # the error named rmisr upscale's --skip-bad-slices (training has --skip_bad), and --skip_bad true left the
    # whole series out for one broken slice
    expected = make_lidc_tree(tmp_path)
    series = tmp_path / "LIDC-IDRI-0002" / "1.3.6.1.study3" / "3000700.000000-series3"
    broken = series / "1-002.dcm"
    broken.write_bytes(broken.read_bytes()[:-600])  # pixel data cut short
    with pytest.raises(ImageReadError) as err:
        load_dataset(tmp_path, "lung_ct", "train", val_fraction=0)
    message = str(err.value)
    assert message.startswith(f"cannot read image '{broken}': ") and f"a slice of the series '{series}'" in message
    assert message.endswith("--skip_bad true reads the series without it.") and "rmisr upscale" not in message
    cause = err.value.__cause__  # the reader's own, in rmisr upscale's words; it pickles (DataLoader workers)
    assert isinstance(cause, BrokenSliceError) and "--skip-bad-slices" in str(cause)
    assert str(pickle.loads(pickle.dumps(cause))) == str(cause)
    with caplog.at_level(logging.WARNING):
        images = load_dataset(tmp_path, "lung_ct", "train", val_fraction=0, skip_bad=True)
    second = [i for i in images if i.group == "LIDC-IDRI-0002"]
    assert len(images) == 6 and len(second) == 2  # the series' other two slices
    assert any("1-002.dcm" in r.getMessage() for r in caplog.records)
    assert second[0].array.shape == (1, *expected["LIDC-IDRI-0002"][0].shape)


def test_datalist_json(tmp_path):
    for k in range(4):
        Image.fromarray(_rgb(k)).save(tmp_path / f"img{k}.png")
    datalist = {
        "training": [{"image": "img0.png", "fold": 0}, {"image": ["img1.png", "img2.png"]}],
        "validation": [{"image": "img3.png"}],
    }
    (tmp_path / "dataset.json").write_text(json.dumps(datalist))
    paths = load_datalist(tmp_path / "dataset.json")
    assert paths == [tmp_path / "img0.png", tmp_path / "img1.png", tmp_path / "img2.png"]
    assert load_datalist(tmp_path / "dataset.json", key="validation") == [tmp_path / "img3.png"]
    assert load_datalist(tmp_path / "dataset.json", base_dir="/data")[0] == Path("/data/img0.png")
    train = dataset_images(tmp_path / "dataset.json", "datalist", "train")
    assert len(train) == 3 and all(a.shape == (1, SIZE, SIZE) and a.min() == 0 and a.max() == 1 for a in train)
    assert len(dataset_images(tmp_path, "datalist", "val")) == 1  # a folder holding dataset.json
    # no validation list: the training list is split by val_fraction
    (tmp_path / "train_only.json").write_text(json.dumps({"training": datalist["training"]}))
    assert len(dataset_images(tmp_path / "train_only.json", "datalist", "val", val_fraction=0.3)) == 1
    # an empty validation list: named as such (the hint was to give "a datalist with a 'validation' list")
    (tmp_path / "empty_val.json").write_text(json.dumps({**datalist, "validation": []}))
    with pytest.raises(ValueError, match="Its 'validation' list is empty") as err:
        dataset_images(tmp_path / "empty_val.json", "datalist", "val")
    assert "give two or more" not in str(err.value)
    with pytest.raises(ValueError, match=re.escape("has no 'test' list; it has ['training', 'validation'].")):
        load_datalist(tmp_path / "dataset.json", key="test")
    # evaluation ("test"): every image listed, each once; a test list where there is one
    assert len(dataset_images(tmp_path / "dataset.json", "datalist", "test")) == 4
    (tmp_path / "with_test.json").write_text(json.dumps({**datalist, "test": ["img2.png", "img3.png"]}))
    assert len(dataset_images(tmp_path / "with_test.json", "datalist", "test")) == 2
    (tmp_path / "mixed.json").write_text(json.dumps({**datalist, "test": ["img2.png", {"image": "img3.png"}]}))
    with pytest.raises(ValueError, match="must be all paths or all"):
        dataset_images(tmp_path / "mixed.json", "datalist", "test")
    # an empty test list is refused: taken as none it scored every image, the training images among them, as "test"
    (tmp_path / "empty_test.json").write_text(json.dumps({**datalist, "test": []}))
    with pytest.raises(ValueError, match="has an empty 'test' list: list the images to score there, or remove"):
        dataset_images(tmp_path / "empty_test.json", "datalist", "test")
    (tmp_path / "test_only.json").write_text(json.dumps({"test": [{"image": "img0.png"}]}))
    assert len(dataset_images(tmp_path / "test_only.json", "datalist", "test")) == 1
    missing = {"training": [{"image": "gone.png"}]}
    (tmp_path / "missing.json").write_text(json.dumps(missing))
    with pytest.raises(ImageReadError, match=re.escape("gone.png")):
        dataset_images(tmp_path / "missing.json", "datalist", "train")


def test_a_datalist_of_paired_lr_and_hr_images_is_refused_and_a_segmentation_datalist_is_not(tmp_path):
    # {"image": LR, "label": HR}: the label was ignored and the LR images trained on as HR targets
    for folder in ("LR", "HR"):
        (tmp_path / folder).mkdir()
        for k in range(2):
            Image.fromarray(_rgb(k, SIZE if folder == "HR" else SIZE // 2)).save(tmp_path / folder / f"p{k}.png")
    pairs = [{"image": f"LR/p{k}.png", "label": f"HR/p{k}.png"} for k in range(2)]
    (tmp_path / "dataset.json").write_text(json.dumps({"training": pairs}))
    for split in ("train", "val", "test"):
        with pytest.raises(ValueError) as failure:
            dataset_images(tmp_path / "dataset.json", "datalist", split)
        assert str(failure.value).startswith(
            f"datalist '{tmp_path / 'dataset.json'}': entry 0 of 'training' pairs its image with a 'label' image "
            f"('{tmp_path / 'HR' / 'p0.png'}') at 2 times its size"
        )
        assert 'list the HR images only, as "image"' in str(failure.value)
    # a Decathlon datalist: its labels are masks, its images what is trained on
    rng = np.random.default_rng(0)
    entries = []
    for case in range(2):
        nib.save(nib.Nifti1Image(rng.random((40, 40, 2)).astype(np.float32), np.eye(4)), tmp_path / f"c{case}.nii.gz")
        mask = np.zeros((40, 40, 2), np.uint8)
        mask[5:20, 5:20] = 1
        nib.save(nib.Nifti1Image(mask, np.eye(4)), tmp_path / f"m{case}.nii.gz")
        entries.append({"image": f"c{case}.nii.gz", "label": f"m{case}.nii.gz"})
    (tmp_path / "decathlon.json").write_text(json.dumps({"training": entries, "numTraining": 2}))
    assert len(dataset_images(tmp_path / "decathlon.json", "datalist", "train", val_fraction=0)) == 4
    # a dermoscopy set's PNG masks (0 / 255), the first one blank: masks on the image's grid, not pairs (a first
    # version of the refusal took any label it could not tell for a NIfTI label map for an image)
    (tmp_path / "isic").mkdir()
    for k in range(2):
        Image.fromarray(_rgb(k)).save(tmp_path / "isic" / f"ISIC_{k}.jpg")
        mask = np.zeros(_rgb(k).shape[:2], np.uint8)
        mask[4:12, 4:12] = 255 * k
        Image.fromarray(mask).save(tmp_path / "isic" / f"ISIC_{k}_segmentation.png")
    masks = [{"image": f"isic/ISIC_{k}.jpg", "label": f"isic/ISIC_{k}_segmentation.png"} for k in range(2)]
    (tmp_path / "isic.json").write_text(json.dumps({"training": masks}))
    assert len(dataset_images(tmp_path / "isic.json", "datalist", "train", val_fraction=0)) == 2


def test_empty_or_unknown_input_names_the_problem(tmp_path):
    (tmp_path / "masks").mkdir()
    Image.fromarray(_rgb(0)).save(tmp_path / "masks" / "ISIC_0000000_segmentation.png")
    with pytest.raises(ValueError, match=r"no train images in '.*' with the 'dermoscopy' preset"):
        dataset_images(tmp_path, "dermoscopy", "train")
    with pytest.raises(ValueError, match="unknown data set preset 'lung'"):
        dataset_images(tmp_path, "lung")
    with pytest.raises(ValueError, match="split must be 'train', 'val' or 'test', got 'eval'"):
        dataset_images(tmp_path, "folder", "eval")
    (tmp_path / "single").mkdir()
    Image.fromarray(_rgb(0)).save(tmp_path / "single" / "only.png")
    with pytest.raises(ValueError, match="no val images") as failure:  # one file: nothing left for validation
        dataset_images(tmp_path / "single", "folder", "val")
    assert "whole files / series" in str(failure.value) and "'validation' list" in str(failure.value)
    # an empty dataset_dir (an unset shell variable) is not the current folder
    for empty in ("", "  "):
        with pytest.raises(ValueError, match="--dataset_dir is empty"):
            dataset_images(empty, "folder", "train")


def test_a_4d_nifti_is_refused_not_mixed_as_rgb(tmp_path):
    """Three volumes of a 4-D file read as three channels, but they are not red, green and blue."""
    volumes = np.random.default_rng(0).random((SIZE, SIZE, 4, 3)).astype(np.float32)
    nib.save(nib.Nifti1Image(volumes, np.eye(4)), tmp_path / "dwi.nii.gz")
    with pytest.raises(ImageReadError, match=r"has 3 channels that are not RGB colour \(the volumes of a 4-D file\?\)"):
        dataset_images(tmp_path, "folder", "train", val_fraction=0)
    Image.fromarray(_rgb(1)).save(tmp_path / "photo.png")  # an RGB image is still taken, as its luma
    (tmp_path / "dwi.nii.gz").unlink()
    assert dataset_images(tmp_path, "folder", "train", val_fraction=0)[0].shape == (1, *_rgb(1).shape[:2])


def test_images_too_small_to_score_are_left_out_of_validation_by_name(tmp_path, caplog):
    from monai_rmisr.data.datasets import DEFAULT_VAL_NAMES, validation_images, validation_min_size
    from monai_rmisr.metrics.protocol import min_scored_size

    assert [min_scored_size(s) for s in (2, 3, 4, 2.5)] == [16, 18, 20, 18]  # SSIM's 11 inside the border
    assert validation_min_size([2, 4]) == 20 and validation_min_size(None) is None
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((12, 12)) * 255).astype(np.uint8)).save(tmp_path / "a_tiny.png")
    Image.fromarray((rng.random((40, 40)) * 255).astype(np.uint8)).save(tmp_path / "b.png")
    Image.fromarray((rng.random((40, 40)) * 255).astype(np.uint8)).save(tmp_path / "c.png")
    with caplog.at_level(logging.WARNING):
        kept = dataset_images(tmp_path, "folder", "train", val_fraction=0, min_size=16)
    assert [image.shape for image in kept] == [(1, 40, 40)] * 2
    assert any("a_tiny.png' (12x12) out of the train split" in r.getMessage() for r in caplog.records)
    # the bundle's validation images at x4 (at least 20 pixels a side): a datalist's validation list
    datalist = {"training": [{"image": "c.png"}], "validation": [{"image": "a_tiny.png"}, {"image": "b.png"}]}
    (tmp_path / "datalist.json").write_text(json.dumps(datalist))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        held_out = validation_images(DEFAULT_VAL_NAMES, dataset_dir=tmp_path, dataset_preset="datalist", scales=4.0)
    assert [image.shape for image in held_out] == [(1, 40, 40)]
    assert any("smaller than the 20x20 pixels" in r.getMessage() for r in caplog.records)


def test_max_images_spreads_over_the_list(tmp_path):
    make_lidc_tree(tmp_path)
    everything = load_dataset(tmp_path, "lung_ct", "train", val_fraction=0)
    picked = load_dataset(tmp_path, "lung_ct", "train", val_fraction=0, max_images=3)
    assert len(picked) == 3
    assert all(np.array_equal(p.array, everything[k].array) for p, k in zip(picked, (0, 3, 6)))


def test_a_datalist_whose_validation_repeats_a_training_image_is_refused(tmp_path):
    for k in range(3):
        Image.fromarray(_rgb(k)).save(tmp_path / f"img{k}.png")
    both = {"training": [{"image": "img0.png"}, {"image": "img1.png"}], "validation": [{"image": "./img1.png"}]}
    (tmp_path / "dataset.json").write_text(json.dumps(both))
    for split in ("train", "val"):
        with pytest.raises(ValueError, match=r"1 image\(s\) of its 'validation' list are in its 'training' list too"):
            dataset_images(tmp_path / "dataset.json", "datalist", split)


def test_an_evaluation_that_scores_training_images_of_a_datalist_says_so(tmp_path, caplog):
    # a test list repeating a training image, or no test list (every image scored): the score was logged as a
    # "test split" score without a word
    for k in range(3):
        Image.fromarray(_rgb(k)).save(tmp_path / f"img{k}.png")
    lists = {"training": [{"image": "img0.png"}, {"image": "img1.png"}], "test": [{"image": "./img1.png"}]}
    (tmp_path / "overlap.json").write_text(json.dumps(lists))
    (tmp_path / "no_test.json").write_text(json.dumps({"training": lists["training"]}))
    (tmp_path / "clean.json").write_text(json.dumps({**lists, "test": [{"image": "img2.png"}]}))
    with caplog.at_level(logging.WARNING, logger="monai_rmisr"):
        assert len(dataset_images(tmp_path / "overlap.json", "datalist", "test")) == 1
        assert "1 of the 1 image(s) of its 'test' list are in its 'training' list too" in caplog.text
        caplog.clear()
        assert len(dataset_images(tmp_path / "no_test.json", "datalist", "test")) == 2
        assert "2 of the 2 image(s) scored (it has no 'test' list: every image it lists)" in caplog.text
        caplog.clear()
        assert len(dataset_images(tmp_path / "clean.json", "datalist", "test")) == 1
        assert "not independent" not in caplog.text


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"training": [{"image": ', "is not valid JSON: Expecting value: line 1 column 25 (char 24)."),
        ('["img0.png"]', "must be a JSON object of lists"),
        (
            '{"training": ["img0.png"]}',
            "entry 0 of 'training' must be {\"image\": path} (a path, or a list of paths), ",
        ),
        ('{"training": {"image": "img0.png"}}', "'training' must be a list of {\"image\": path} objects, got dict."),
        ('{"training": [{"image": 5}]}', "entry 0 of 'training' must be {\"image\": path}"),
        ('{"training": [{"label": "img0.png"}]}', "entry 0 of 'training' must be {\"image\": path}"),
        ('{"validation": [{"image": "img0.png"}]}', "has no 'training' list; it has ['validation']."),
    ],
)
def test_a_malformed_datalist_is_named_with_what_is_wrong(tmp_path, content, message):
    Image.fromarray(_rgb(0)).save(tmp_path / "img0.png")
    (tmp_path / "dataset.json").write_text(content)
    with pytest.raises(ValueError) as failure:
        dataset_images(tmp_path / "dataset.json", "datalist", "train")
    assert str(failure.value).startswith(f"datalist '{tmp_path / 'dataset.json'}'") and message in str(failure.value)


def test_label_maps_in_a_folder_are_left_out_by_name(tmp_path, caplog):
    """An nnU-Net folder holds labelsTr/ (masks of classes 0, 1, 2) beside imagesTr/: the masks trained and even
    validated the model, while `rmisr upscale` refuses them."""

    rng = np.random.default_rng(0)
    (tmp_path / "imagesTr").mkdir()
    (tmp_path / "labelsTr").mkdir()
    for case in range(3):
        scan = (rng.random((40, 40, 2)) * 1000 - 500).astype(np.float32)
        nib.save(nib.Nifti1Image(scan, np.eye(4)), tmp_path / "imagesTr" / f"case{case}.nii.gz")
        mask = np.zeros((40, 40, 2), np.uint8)
        mask[5:20, 5:20] = 1
        mask[25:35, 10:30] = 2
        nib.save(nib.Nifti1Image(mask, np.eye(4)), tmp_path / "labelsTr" / f"case{case}.nii.gz")
    with caplog.at_level(logging.WARNING):
        images = load_dataset(tmp_path, "folder", "train", val_fraction=0)
    assert {Path(image.source).parent.name for image in images} == {"imagesTr"} and len(images) == 6
    skipped = [r.getMessage() for r in caplog.records if "label map or mask" in r.getMessage()]
    assert len(skipped) == 3 and all("labelsTr" in message for message in skipped)


def test_the_corpus_validation_settings_on_a_user_data_set(tmp_path):
    """With --dataset_dir, validation is the data set's own split, plus the procedural images asked for (none by
    default: --val_synthetic_images is one on the corpus); --val_names, which names corpus images, is refused; the
    corpus's ultrasound frames join the training images as the natural images do (they were ignored silently)."""
    from monai_rmisr.data.datasets import DEFAULT_VAL_NAMES, training_images, validation_images

    for k in range(3):
        Image.fromarray(_rgb(k)).save(tmp_path / f"img{k}.png")
    datalist = {"training": [{"image": "img0.png"}, {"image": "img1.png"}], "validation": [{"image": "img2.png"}]}
    (tmp_path / "dataset.json").write_text(json.dumps(datalist))
    given = {"dataset_dir": tmp_path / "dataset.json", "dataset_preset": "datalist"}
    assert len(validation_images(DEFAULT_VAL_NAMES, **given)) == 1
    with_procedural = validation_images(DEFAULT_VAL_NAMES, synthetic=1, ct_phantoms=1, **given)
    assert [image.shape for image in with_procedural[1:]] == [(1, 384, 384)] * 2
    with pytest.raises(ValueError, match=r"--val_names \['CT_small'\] names corpus images, which a run on"):
        validation_images(["CT_small"], **given)
    assert len(validation_images([], **given)) == 1  # no names: the API's way, as before
    plain = training_images(**given)
    with_frames = training_images(ultrasound_frames=True, **given)
    assert len(plain) == 2 and len(with_frames) > 2


def test_a_datalist_file_given_to_the_folder_preset_points_at_the_datalist_preset(tmp_path):
    (tmp_path / "dataset.json").write_text("{}")
    with pytest.raises(NotADirectoryError, match=r"is a file; a data set is a folder \(a datalist\? give "):
        dataset_images(tmp_path / "dataset.json", "folder", "train")


def test_the_held_out_files_are_logged_by_name(tmp_path, caplog):
    for k in range(4):
        Image.fromarray(_rgb(k)).save(tmp_path / f"img{k}.png")
    with caplog.at_level(logging.INFO):
        held_out = load_dataset(tmp_path, "folder", "val", val_fraction=0.5)
    (message,) = [r.getMessage() for r in caplog.records if "split of" in r.getMessage()]
    assert message.startswith(f"val split of '{tmp_path}': 2 file(s) / series: ")
    assert all(Path(image.source).name in message for image in held_out)


def test_outputs_of_monai_rmisr_under_the_data_folder_are_not_trained_on(tmp_path, caplog):
    # results written beside the images (rmisr upscale data/x.png -o data/x_sr.png, a derived series folder) were
    # picked up as training images: the network then learned from its own output
    from monai_rmisr.__main__ import main
    from tests.helpers import write_ct_series

    rng = np.random.default_rng(0)
    for k in range(4):
        Image.fromarray((rng.random((40, 40)) * 255).astype(np.uint8)).save(tmp_path / f"x{k}.png")
    write_ct_series(tmp_path / "ct", n=3)
    command = ["--scale", "2", "--model", "bicubic", "--quiet"]
    assert main(["upscale", str(tmp_path / "x0.png"), "-o", str(tmp_path / "x0_sr.png"), *command]) == 0
    assert main(["upscale", str(tmp_path / "ct"), "-o", str(tmp_path / "ct_sr"), *command]) == 0
    with caplog.at_level(logging.WARNING):
        train = dataset_images(tmp_path, split="train", val_fraction=0.0)
        dataset_images(tmp_path, split="val", val_fraction=0.5)  # another split of the same run: said once
    assert len(train) == 4 + 3  # the four PNGs and the series' three slices, not the outputs
    assert caplog.text.count("leaving out 2 output(s) of monai-rmisr") == 1 and "'ct_sr', 'x0_sr.png'" in caplog.text


def test_a_derived_series_copied_into_a_flat_folder_is_not_trained_on(tmp_path, caplog):
    # a flat folder's series are items of their own now: one that monai-rmisr derived is left out as a file is
    from monai_rmisr.__main__ import main
    from tests.helpers import write_ct_series

    write_ct_series(tmp_path / "ct", n=3)
    command = ["--scale", "2", "--model", "bicubic", "--quiet"]
    assert main(["upscale", str(tmp_path / "ct"), "-o", str(tmp_path / "ct_sr"), *command]) == 0
    flat = tmp_path / "data" / "flat"
    flat.mkdir(parents=True)
    for path in [*(tmp_path / "ct").iterdir(), *(tmp_path / "ct_sr").rglob("*.dcm")]:
        shutil.copy(path, flat / f"{path.parent.name}_{path.name}")
    assert len(scan_folder(tmp_path / "data", series=True)) == 2  # the series and its derived series
    with caplog.at_level(logging.WARNING):
        train = load_dataset(tmp_path / "data", split="train", val_fraction=0.0)
    assert len(train) == 3 and {image.array.shape for image in train} == {(1, 128, 128)}  # not the 256x256 output
    assert "leaving out 1 output(s) of monai-rmisr" in caplog.text and "'flat/series" in caplog.text


@pytest.mark.parametrize("split", ["train", "test"])
def test_a_datalist_listing_outputs_of_monai_rmisr_is_refused_naming_them(tmp_path, split):
    # a folder's outputs are left out (above); a datalist names its files, and an output in it went unnoticed
    from monai_rmisr.__main__ import main

    rng = np.random.default_rng(0)
    for k in range(3):
        Image.fromarray((rng.random((40, 40)) * 255).astype(np.uint8)).save(tmp_path / f"x{k}.png")
    command = ["--scale", "2", "--model", "bicubic", "--quiet"]
    assert main(["upscale", str(tmp_path / "x0.png"), "-o", str(tmp_path / "x0_sr.png"), *command]) == 0
    images = [{"image": name} for name in ("x0.png", "x1.png", "x2.png", "x0_sr.png")]
    (tmp_path / "dataset.json").write_text(json.dumps({"training": images}))
    with pytest.raises(ValueError, match=r"lists 1 output\(s\) of monai-rmisr .*'x0_sr.png'; remove them"):
        dataset_images(tmp_path / "dataset.json", "datalist", split, val_fraction=0.0)
    (tmp_path / "dataset.json").write_text(json.dumps({"training": images[:3]}))
    assert len(dataset_images(tmp_path / "dataset.json", "datalist", split, val_fraction=0.0)) == 3
