"""How ``rmisr pacs`` recognises a series it derived before: DICOM JSON of files our writer made, through a
stand-in PACS (QIDO-RS series search, WADO-RS metadata)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from monai_rmisr.inference.upscale import Upscaler
from monai_rmisr.pacs import (
    dataset_has_image,
    dataset_is_derived_by_us,
    derive_folder,
    earlier_derivation,
    is_derived_by_us,
    is_source_series,
    series_has_images,
    study_derivations,
)
from tests.helpers import dicom_testdata, write_ct_series

STUDY = "1.2.3"


class _Pacs:
    """One study over DICOM files: ``{SeriesInstanceUID: [instance JSON]}``; counts the metadata reads."""

    def __init__(self, *folders: Path, describe: bool = True) -> None:
        self.series: dict[str, list[dict]] = {}
        self.descriptions: dict[str, str] = {}
        for folder in folders:
            for path in sorted(folder.rglob("*.dcm")):
                ds = pydicom.dcmread(path)
                self.series.setdefault(str(ds.SeriesInstanceUID), []).append(ds.to_json_dict())
                if describe and ds.get("SeriesDescription"):
                    self.descriptions[str(ds.SeriesInstanceUID)] = str(ds.SeriesDescription)
        self.reads: list[str] = []

    def search_for_series(self, study: str, fields=None, get_remaining=False) -> list[dict]:
        assert study == STUDY and get_remaining and "0008103E" in fields
        found = []
        for uid in self.series:
            entry = {"0020000E": {"vr": "UI", "Value": [uid]}}
            if uid in self.descriptions:
                entry["0008103E"] = {"vr": "LO", "Value": [self.descriptions[uid]]}
            found.append(entry)
        return found

    def retrieve_series_metadata(self, study: str, series: str) -> list[dict]:
        assert study == STUDY
        self.reads.append(series)
        return self.series[series]


def _source(folder: Path, files: list[str], description: str = "Head 1mm") -> Path:
    """Copies of ``files`` as one series of the study (new SOP Instance UIDs)."""
    folder.mkdir(parents=True)
    series = generate_uid()
    for index, name in enumerate(files):
        ds = pydicom.dcmread(name)
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = STUDY, series, generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesDescription = description
        ds.save_as(folder / f"{index}.dcm", enforce_file_format=True)
    return folder


def _series_uid(folder: Path) -> str:
    return str(pydicom.dcmread(next(folder.glob("*.dcm"))).SeriesInstanceUID)


def _found(pacs: _Pacs, upscaler: Upscaler, source: Path) -> list[str]:
    return earlier_derivation(pacs, STUDY, _series_uid(source), study_derivations(pacs, upscaler, STUDY))


@pytest.fixture(scope="module")
def x2() -> Upscaler:
    return Upscaler(2, model="bicubic")


@pytest.fixture
def ct(tmp_path) -> Path:
    write_ct_series(tmp_path / "slices", n=3)
    return _source(tmp_path / "ct", sorted(str(p) for p in (tmp_path / "slices").iterdir()))


def test_a_series_of_slices_derived_the_same_way_is_found(tmp_path, ct, x2):
    derived = derive_folder(x2, ct, tmp_path / "derived")
    assert (tmp_path / "derived").stat().st_mode & 0o777 == 0o700  # derived patient images: the owner's only
    pacs = _Pacs(ct, tmp_path / "derived")
    assert _found(pacs, x2, ct) == [_series_uid(derived[0].parent)]
    # other ways are other derivations: another model under the same mark (read, not taken), a network in place of
    # interpolation ("SR x2", not "interpolated x2": not even read), another scale (another mark: not even read)
    pacs.reads.clear()
    renamed = Upscaler(2, model="bicubic", model_name="bicubic-renamed")
    assert _found(pacs, renamed, ct) == [] and pacs.reads == [_series_uid(derived[0].parent)]
    pacs.reads.clear()
    assert _found(pacs, Upscaler(2, model="rmisr_bl_x2"), ct) == [] and pacs.reads == []
    pacs.reads.clear()
    assert _found(pacs, Upscaler(3, model="bicubic"), ct) == [] and pacs.reads == []
    # a store cut short: one derived slice missing
    derived[0].unlink()
    assert _found(_Pacs(ct, tmp_path / "derived"), x2, ct) == []


def test_a_series_of_slices_derived_in_parts_is_not_derived_before(tmp_path, x2):
    # a listener that got a 4-slice series in two goes sent two 2-slice derived series: taken together they were
    # "derived before", and no whole derived series was ever made
    write_ct_series(tmp_path / "slices", n=4)
    source = _source(tmp_path / "ct", sorted(str(p) for p in (tmp_path / "slices").iterdir()))
    files = sorted(source.iterdir())
    for part, names in enumerate((files[:2], files[2:])):
        half = tmp_path / f"half{part}"
        half.mkdir()
        for name in names:
            shutil.copy(name, half / name.name)
        derive_folder(x2, half, tmp_path / f"derived{part}")
    pacs = _Pacs(source, tmp_path / "derived0", tmp_path / "derived1")
    assert len(study_derivations(pacs, x2, STUDY)) == 2 and _found(pacs, x2, source) == []


def test_compressed_instances_whose_metadata_leaves_the_pixels_out_are_images(tmp_path, ct, x2):
    # Orthanc 1.10's DICOMweb leaves PixelData out of the metadata of encapsulated (JPEG 2000, RLE) instances: such a
    # series was "not a series to super-resolve" and a study run skipped it without a word
    pacs = _Pacs(ct)
    for instance in pacs.series[_series_uid(ct)]:
        del instance["7FE00010"]
    assert is_source_series(pacs, STUDY, _series_uid(ct))
    report = {
        "00080018": {"vr": "UI", "Value": ["1.2.3.4"]},
        "00080016": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.88.11"]},
    }
    assert not series_has_images(report)  # a structured report has neither
    spectroscopy = {**report, "00280010": {"vr": "US", "Value": [1]}, "00280011": {"vr": "US", "Value": [1]}}
    assert not series_has_images(spectroscopy)  # MR spectroscopy: Rows and Columns, no Image Pixel module
    # what rmisr upscale refuses is no series to super-resolve: a SEG, an RT Dose (a listener forwarded them wrong)
    for name in ("liver.dcm", "rtdose.dcm"):
        dataset = pydicom.dcmread(dicom_testdata(name))
        assert not series_has_images(dataset.to_json_dict()) and not dataset_has_image(dataset)
    image = pydicom.dcmread(dicom_testdata("CT_small.dcm"))
    assert series_has_images(image.to_json_dict()) and dataset_has_image(image)


def test_a_region_is_another_derivation(tmp_path, ct, x2):
    region = Upscaler(2, model="bicubic", roi=(0, 0, 64, 64))
    derive_folder(region, ct, tmp_path / "derived")
    pacs = _Pacs(ct, tmp_path / "derived")
    assert _found(pacs, x2, ct) == []
    assert len(_found(pacs, region, ct)) == 1


@pytest.mark.parametrize("name", ["SC_rgb_2frame.dcm", "emri_small.dcm"])
def test_a_series_of_multi_frame_instances_is_found_as_its_derived_series(tmp_path, x2, name):
    """Each multi-frame instance becomes a derived series of its own (classic, and enhanced: whose derivation is
    recorded in its functional groups): together they are the series derived before."""
    source = _source(tmp_path / "source", [dicom_testdata(name)] * 2)
    derived = derive_folder(x2, source, tmp_path / "derived")
    pacs = _Pacs(source, tmp_path / "derived")
    outputs = {str(pydicom.dcmread(path).SeriesInstanceUID) for path in derived}
    assert len(outputs) == 2
    assert sorted(_found(pacs, x2, source)) == sorted(outputs)
    assert all(is_derived_by_us(pacs.series[uid][0]) for uid in outputs)
    # the same read of the files themselves (the listener's), and of the sources: no
    assert all(dataset_is_derived_by_us(pydicom.dcmread(path)) for path in derived)
    assert not any(dataset_is_derived_by_us(pydicom.dcmread(path)) for path in source.iterdir())
    assert not any(is_derived_by_us(pacs.series[_series_uid(source)][k]) for k in range(2))
    # one of the two gone: not the series derived before
    first = next(path for path in derived if str(pydicom.dcmread(path).SeriesInstanceUID) == sorted(outputs)[0])
    first.unlink()
    assert _found(_Pacs(source, tmp_path / "derived"), x2, source) == []


def test_series_listed_without_a_description_are_not_read(tmp_path, ct, x2):
    derive_folder(x2, ct, tmp_path / "derived")
    pacs = _Pacs(ct, tmp_path / "derived", describe=False)
    assert _found(pacs, x2, ct) == [] and pacs.reads == []
