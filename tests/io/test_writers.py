import errno
import functools
import os
import re
import shutil
import stat
import subprocess

import nibabel as nib
import numpy as np
import pydicom
import pytest
from PIL import Image

from monai_rmisr.io import read_dicom_series, read_image
from monai_rmisr.io.dicom_writer import IMPLEMENTATION_CLASS_UID, derived_series_number
from monai_rmisr.io.geometry import resampled_geometry
from monai_rmisr.io.output import OutputPathError, OutputWriteError, atomic_output, check_output_path
from monai_rmisr.io.writers import check_output, output_name, sr_output_name, write_image
from tests.helpers import dicom_testdata, write_ct_series

DCIODVFY = shutil.which("dciodvfy")


def _identity_meta(image):
    spatial = image.array.shape[1:]
    return {**image.meta, **resampled_geometry(image.meta, [1.0] * len(spatial), [0.0] * len(spatial))}


@pytest.mark.parametrize(
    "name",
    ["CT_small.dcm", "MR_small.dcm", "RG3_UNCR.dcm", "J2K_pixelrep_mismatch.dcm", "emri_small.dcm", "JPEG-LL.dcm"],
)
def test_dicom_round_trip_restores_stored_values(tmp_path, name):
    source = read_image(dicom_testdata(name))
    write_image(source.array, _identity_meta(source), source.meta, tmp_path / "out.dcm")
    again = read_image(tmp_path / "out.dcm")
    np.testing.assert_array_equal(again.array, source.array)
    original, written = pydicom.dcmread(dicom_testdata(name)), pydicom.dcmread(tmp_path / "out.dcm")
    for keyword in (
        "BitsStored",
        "PixelRepresentation",
        "PhotometricInterpretation",
        "RescaleSlope",
        "RescaleIntercept",
    ):
        assert written.get(keyword) == original.get(keyword), keyword
    np.testing.assert_allclose(again.meta["affine"], source.meta["affine"], atol=1e-4)


def test_dicom_modality_lut_is_written_as_a_linear_rescale(tmp_path):
    source = read_image(dicom_testdata("mlut_18.dcm"))
    assert source.meta["modality_lut"]
    write_image(source.array, _identity_meta(source), source.meta, tmp_path / "out.dcm")
    again = read_image(tmp_path / "out.dcm")
    span = float(source.array.max() - source.array.min())
    np.testing.assert_allclose(again.array, source.array, atol=span / 65535 + 1e-6)
    assert "ModalityLUTSequence" not in pydicom.dcmread(tmp_path / "out.dcm")


def test_palette_ultrasound_becomes_8_bit_rgb(tmp_path):
    source = read_image(dicom_testdata("gdcm-US-ALOKA-16.dcm"))
    write_image(source.array, _identity_meta(source), source.meta, tmp_path / "out.dcm")
    ds = pydicom.dcmread(tmp_path / "out.dcm")
    assert ds.PhotometricInterpretation == "RGB" and ds.BitsAllocated == 8 and ds.SamplesPerPixel == 3
    assert "RedPaletteColorLookupTableData" not in ds
    np.testing.assert_allclose(ds.pixel_array.transpose(2, 0, 1), source.array / 257, atol=0.51)


def test_32_bit_colour_becomes_16_bit_with_the_same_colours(tmp_path):
    # its values were clipped at 65535: 79 % of the pixels of this file came out white
    source = read_image(dicom_testdata("SC_rgb_32bit.dcm"))
    write_image(source.array, _identity_meta(source), source.meta, tmp_path / "out.dcm")
    ds = pydicom.dcmread(tmp_path / "out.dcm")
    assert ds.PhotometricInterpretation == "RGB" and ds.BitsAllocated == 16 and ds.BitsStored == 16
    expected = source.array.astype(np.float64) / 65537.0  # (2**32 - 1) / (2**16 - 1)
    np.testing.assert_allclose(ds.pixel_array.transpose(2, 0, 1), expected, atol=0.51)
    assert 0 < (ds.pixel_array == 65535).mean() < 0.5


def test_zoomed_dicom_is_a_derived_instance_of_the_same_study(tmp_path):
    source = read_image(dicom_testdata("CT_small.dcm"))
    array = np.repeat(np.repeat(source.array, 2, axis=1), 2, axis=2)
    meta = {
        **source.meta,
        **resampled_geometry(source.meta, [2.0, 2.0], [0.0, 0.0]),
        "spatial_shape": array.shape[1:],
        "derivation": {"model": "rmisr_bl_x2", "scale": 2.0, "axis": "xy"},
    }
    write_image(array, meta, source.meta, tmp_path / "out.dcm")
    before, after = pydicom.dcmread(dicom_testdata("CT_small.dcm")), pydicom.dcmread(tmp_path / "out.dcm")
    assert after.StudyInstanceUID == before.StudyInstanceUID and after.PatientID == before.PatientID
    assert after.SeriesInstanceUID != before.SeriesInstanceUID and after.SOPInstanceUID != before.SOPInstanceUID
    assert after.file_meta.MediaStorageSOPInstanceUID == after.SOPInstanceUID
    assert after.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert list(after.ImageType[:2]) == ["DERIVED", "SECONDARY"]
    assert "rmisr_bl_x2" in after.DerivationDescription and "x2" in after.DerivationDescription
    assert "SR x2" in after.SeriesDescription
    assert after.SourceImageSequence[0].ReferencedSOPInstanceUID == before.SOPInstanceUID
    assert (after.Rows, after.Columns) == (256, 256)
    np.testing.assert_allclose([float(v) for v in after.PixelSpacing], [float(v) / 2 for v in before.PixelSpacing])
    # the first output pixel centre sits a quarter input pixel inside the old first centre
    spacing = float(before.PixelSpacing[0])
    iop = np.array([float(v) for v in before.ImageOrientationPatient])
    expected = np.array([float(v) for v in before.ImagePositionPatient]) - 0.25 * spacing * (iop[:3] + iop[3:])
    np.testing.assert_allclose([float(v) for v in after.ImagePositionPatient], expected, atol=1e-4)
    np.testing.assert_array_equal(read_image(tmp_path / "out.dcm").array, array)


def test_derived_file_names_its_writer_and_keeps_the_start_of_the_description(tmp_path):
    source_ds = pydicom.dcmread(dicom_testdata("CT_small.dcm"))
    source_ds.SeriesDescription = "T2 TSE AXIAL FS HIGH RES THIN SLICE WITH FAT SAT POST CONTRAST 3MM"[:64]
    source_ds.file_meta.SourceApplicationEntityTitle = "SCANNER_AE"
    source_ds.save_as(tmp_path / "source.dcm")
    source = read_image(tmp_path / "source.dcm")
    meta = {**_identity_meta(source), "derivation": {"model": "rmisr_bl_x2", "scale": 2.0}}
    write_image(source.array, meta, source.meta, tmp_path / "out.dcm")
    ds = pydicom.dcmread(tmp_path / "out.dcm")
    assert ds.SeriesDescription.startswith("T2 TSE AXIAL") and ds.SeriesDescription.endswith(" SR x2")
    assert len(ds.SeriesDescription) <= 64
    assert "SourceApplicationEntityTitle" not in ds.file_meta  # the scanner did not write this file
    assert pydicom.dcmread(tmp_path / "source.dcm").preamble[:4] == b"II*\x00"  # CT_small's is a TIFF header
    assert (tmp_path / "out.dcm").read_bytes()[:128] == b"\x00" * 128  # not copied: it would describe other bytes
    assert ds.file_meta.ImplementationClassUID == IMPLEMENTATION_CLASS_UID != pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    assert pydicom.uid.UID(IMPLEMENTATION_CLASS_UID).is_valid and ds.file_meta.ImplementationVersionName.startswith(
        "RMISR_"
    )


def test_slices_made_along_z_keep_values_past_their_nearest_slices_rescale(tmp_path):
    """A series that scales each slice to fit 12 bits (slope per slice): an interpolated slice between a
    bright and a dim one takes a rescale that holds its values, and names every slice it is made from."""
    folder = tmp_path / "series"
    folder.mkdir()
    template = pydicom.dcmread(dicom_testdata("MR_small.dcm"))
    iop = np.array([float(v) for v in template.ImageOrientationPatient])
    normal = np.cross(iop[:3], iop[3:])
    rows, cols = template.Rows, template.Columns
    ramp = np.linspace(0.0, 1.0, rows * cols).reshape(rows, cols)
    series_uid = pydicom.uid.generate_uid()
    for k, peak in enumerate((1000.0, 4000.0, 1000.0, 4000.0)):
        ds = pydicom.dcmread(dicom_testdata("MR_small.dcm"))
        ds.SeriesInstanceUID, ds.SOPInstanceUID = series_uid, pydicom.uid.generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.ImagePositionPatient = [f"{v:.4f}" for v in 3.0 * k * normal]
        ds.RescaleSlope, ds.RescaleIntercept = f"{peak / 4095:.8f}", "0"
        ds.set_pixel_data(np.rint(ramp * 4095).astype(np.uint16), "MONOCHROME2", 12)
        ds.save_as(folder / f"{k}.dcm")
    source = read_image(folder)
    assert source.meta["rescale_slopes"][0] != source.meta["rescale_slopes"][1]
    # x2 along z, linear between the slices: output slice j samples source position (j + 0.5) / 2 - 0.5,
    # so slice 1 lies at 0.25 (nearest: the 1000 slice; values up to 1750), slice 2 at 0.75 (up to 3250)
    position = np.clip((np.arange(8) + 0.5) / 2 - 0.5, 0, 3)
    below = np.floor(position).astype(int)
    above = np.minimum(below + 1, 3)
    weight = position - below
    zoomed = (1 - weight) * source.array[..., below] + weight * source.array[..., above]
    geometry = resampled_geometry(source.meta, [1.0, 1.0, 2.0], [0.0, 0.0, 0.0])
    meta = {**source.meta, **geometry, "spatial_shape": zoomed.shape[1:], "derivation": {"scale": 2.0, "axis": "z"}}
    write_image(zoomed, meta, source.meta, tmp_path / "z")
    volume, _ = read_dicom_series(tmp_path / "z")
    assert volume[..., 1].max() == pytest.approx(1750, abs=1)  # not clipped at the nearest slice's 1000
    np.testing.assert_allclose(volume, zoomed, atol=4000 / 4095 / 2 + 1e-6)  # within half a stored step
    files = sorted((tmp_path / "z").iterdir())
    assert float(pydicom.dcmread(files[1]).RescaleSlope) == pytest.approx(4000 / 4095)  # source 1's, not 0's
    assert float(pydicom.dcmread(files[2]).RescaleSlope) == pytest.approx(4000 / 4095)  # its nearest's
    assert float(pydicom.dcmread(files[0]).RescaleSlope) == pytest.approx(1000 / 4095)  # its nearest holds it
    # each slice names the slices its interpolation draws on, nearest first
    uids = {pydicom.dcmread(folder / f"{k}.dcm").SOPInstanceUID: k for k in range(4)}
    second = pydicom.dcmread(files[1])  # at 0.25 between slices 0 and 1
    assert [uids[item.ReferencedSOPInstanceUID] for item in second.SourceImageSequence] == [0, 1, 2]


def test_series_written_slice_by_slice_keeps_per_slice_rescale(tmp_path):
    expected = write_ct_series(tmp_path / "series")
    source = read_image(tmp_path / "series")
    write_image(source.array, _identity_meta(source), source.meta, tmp_path / "out")
    files = sorted((tmp_path / "out").iterdir())
    assert [f.name for f in files] == [f"{k:05d}.dcm" for k in range(1, 6)]
    assert len({pydicom.dcmread(f).SeriesInstanceUID for f in files}) == 1
    volume, meta = read_dicom_series(tmp_path / "out")
    np.testing.assert_array_equal(volume, expected)
    assert meta["rescale_intercepts"] == source.meta["rescale_intercepts"]
    np.testing.assert_allclose(meta["affine"], source.meta["affine"], atol=1e-3)


def test_series_along_z_gets_new_slice_positions(tmp_path):
    write_ct_series(tmp_path / "series", n=4, step=3.0)
    source = read_image(tmp_path / "series")
    array = np.repeat(source.array, 2, axis=-1)
    geometry = resampled_geometry(source.meta, [1.0, 1.0, 2.0], [0.0, 0.0, 0.0])
    meta = {**source.meta, **geometry, "spatial_shape": array.shape[1:], "derivation": {"scale": 2.0, "axis": "z"}}
    write_image(array, meta, source.meta, tmp_path / "out")
    volume, out_meta = read_dicom_series(tmp_path / "out")
    assert volume.shape == (1, 128, 128, 8)
    assert out_meta["spacing"][2] == pytest.approx(1.5, abs=1e-3)
    np.testing.assert_allclose(out_meta["affine"], geometry["affine"], atol=1e-3)
    # the physical extent is kept: first slice 0.75 mm (a quarter of 3 mm) below the old first
    shift = out_meta["affine"][:3, 3] - source.meta["affine"][:3, 3]
    normal = source.meta["affine"][:3, 2] / np.linalg.norm(source.meta["affine"][:3, 2])
    assert float(np.dot(shift, normal)) == pytest.approx(-0.75, abs=1e-3)
    assert float(pydicom.dcmread(tmp_path / "out" / "00001.dcm").SliceThickness) == pytest.approx(1.5)


def test_derived_series_numbers_differ_between_runs_and_between_source_series(tmp_path):
    write_ct_series(tmp_path / "series", n=2)  # SeriesNumber 1, as CT_small
    other = pydicom.dcmread(dicom_testdata("CT_small.dcm"))  # another series of the same study
    other.SeriesNumber, other.SeriesInstanceUID = 2, pydicom.uid.generate_uid()
    other.save_as(tmp_path / "other.dcm")
    numbers = {}
    runs = (("first", tmp_path / "series", 1), ("second", tmp_path / "series", 1), ("other", tmp_path / "other.dcm", 2))
    for run, path, source_number in runs:
        source = read_image(path)
        out = write_image(source.array, _identity_meta(source), source.meta, tmp_path / f"out_{run}")
        written = [pydicom.dcmread(f) for f in (sorted(out.iterdir()) if out.is_dir() else [out])]
        assert len({(ds.SeriesNumber, ds.SeriesInstanceUID) for ds in written}) == 1  # one number per series
        numbers[run] = written[0].SeriesNumber
        assert numbers[run] == derived_series_number(source_number, written[0].SeriesInstanceUID)
    # the source's number leads: series 1 -> 1xxxxx, series 2 -> 2xxxxx
    assert 110_000 <= numbers["first"] < 200_000 and 110_000 <= numbers["second"] < 200_000
    assert 210_000 <= numbers["other"] < 300_000
    # two runs on one series get different numbers (new UIDs; a clash has probability 1/90000)
    assert numbers["first"] != numbers["second"]


def test_derived_series_number_is_deterministic_and_an_integer_string():
    uid = "1.2.826.0.1.3680043.8.498.1"
    assert derived_series_number("7", uid) == derived_series_number(7, uid)
    assert derived_series_number(7, uid) != derived_series_number(7, uid + "2")
    assert derived_series_number(None, uid) == derived_series_number("", uid) == derived_series_number(-3, uid)
    assert 10_000 <= derived_series_number(None, uid) < 100_000
    assert derived_series_number(7, uid) - derived_series_number(6, uid) == 100_000  # one source, one block
    for source in (21_473, 21_474, 10**9):  # the IS range holds for any source number
        assert 0 < derived_series_number(source, uid) <= 2**31 - 1
    assert derived_series_number(21_474, uid) == derived_series_number(0, uid)  # documented wrap-around


def _write_x2(source, path):
    """Write ``source`` zoomed x2 in-plane (pixel repetition standing in for a model) to ``path``."""
    array = np.repeat(np.repeat(source.array, 2, axis=1), 2, axis=2)
    meta = {
        **source.meta,
        **resampled_geometry(source.meta, [2.0, 2.0, 1.0][: array.ndim - 1], [0.0] * (array.ndim - 1)),
        "spatial_shape": array.shape[1:],
        "derivation": {"model": "rmisr_bl_x2", "scale": 2.0},
    }
    return write_image(array, meta, source.meta, path)


def _codes(sequence):
    return [(item.CodeValue, item.CodingSchemeDesignator) for item in sequence]


@pytest.mark.parametrize("name", ["emri_small.dcm", "eCT_Supplemental.dcm"])
def test_enhanced_output_records_its_derivation_in_the_shared_functional_groups(tmp_path, name):
    before = pydicom.dcmread(dicom_testdata(name))
    after = pydicom.dcmread(_write_x2(read_image(dicom_testdata(name)), tmp_path / "out.dcm"))
    for keyword in ("DerivationDescription", "DerivationCodeSequence", "SourceImageSequence"):
        assert keyword not in after, f"{keyword} is not part of the enhanced IOD at the top level"
    (derivation,) = after.SharedFunctionalGroupsSequence[0].DerivationImageSequence
    assert derivation.DerivationDescription.startswith("Super-resolved x2 in-plane by monai-rmisr")
    assert _codes(derivation.DerivationCodeSequence) == [("113085", "DCM")]  # Spatial resampling
    (reference,) = derivation.SourceImageSequence
    assert (reference.ReferencedSOPClassUID, reference.ReferencedSOPInstanceUID) == (
        before.SOPClassUID,
        before.SOPInstanceUID,
    )
    assert "ReferencedFrameNumber" not in reference  # all frames
    assert _codes(reference.PurposeOfReferenceCodeSequence) == [("121322", "DCM")]
    assert all("DerivationImageSequence" not in frame for frame in after.get("PerFrameFunctionalGroupsSequence", []))
    (study,) = after.SourceImageEvidenceSequence
    (series,) = study.ReferencedSeriesSequence
    assert (study.StudyInstanceUID, series.SeriesInstanceUID) == (before.StudyInstanceUID, before.SeriesInstanceUID)
    assert [item.ReferencedSOPInstanceUID for item in series.ReferencedSOPSequence] == [before.SOPInstanceUID]


def test_enhanced_per_frame_derivation_history_is_kept(tmp_path):
    source = pydicom.dcmread(dicom_testdata("eCT_Supplemental.dcm"))
    for frame in source.PerFrameFunctionalGroupsSequence:
        older = pydicom.Dataset()
        older.DerivationDescription = "perfusion analysis"
        older.DerivationCodeSequence = [pydicom.Dataset()]
        older.DerivationCodeSequence[0].CodeValue = "113052"
        older.DerivationCodeSequence[0].CodingSchemeDesignator = "DCM"
        older.DerivationCodeSequence[0].CodeMeaning = "Perfusion image analysis"
        older.SourceImageSequence = []
        frame.DerivationImageSequence = [older]
    source.save_as(tmp_path / "source.dcm")
    after = pydicom.dcmread(_write_x2(read_image(tmp_path / "source.dcm"), tmp_path / "out.dcm"))
    assert "DerivationImageSequence" not in after.SharedFunctionalGroupsSequence[0]  # shared or per frame, not both
    for number, frame in enumerate(after.PerFrameFunctionalGroupsSequence, start=1):
        older, ours = frame.DerivationImageSequence
        assert older.DerivationDescription == "perfusion analysis" and _codes(older.DerivationCodeSequence) == [
            ("113052", "DCM")
        ]
        assert ours.DerivationDescription.startswith("Super-resolved x2")  # one item per derivation step
        assert _codes(ours.DerivationCodeSequence) == [("113085", "DCM")]
        assert ours.SourceImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
        assert ours.SourceImageSequence[0].ReferencedFrameNumber == number


def test_classic_derivation_history_is_kept_and_ours_added(tmp_path):
    before = pydicom.dcmread(dicom_testdata("693_UNCI.dcm"))  # derived itself: lossy conversion of another CT
    assert before.DerivationDescription == "lossy conversion"
    after = pydicom.dcmread(_write_x2(read_image(dicom_testdata("693_UNCI.dcm")), tmp_path / "out.dcm"))
    assert after.DerivationDescription.startswith("lossy conversion; Super-resolved x2 in-plane by monai-rmisr")
    assert _codes(after.DerivationCodeSequence) == [("113040", "DCM"), ("113085", "DCM")]
    # Source Image Sequence: the image we derived from (its own source stays reachable through it)
    (reference,) = after.SourceImageSequence
    assert (reference.ReferencedSOPClassUID, reference.ReferencedSOPInstanceUID) == (
        before.SOPClassUID,
        before.SOPInstanceUID,
    )
    assert _codes(reference.PurposeOfReferenceCodeSequence) == [("121322", "DCM")]
    assert "SharedFunctionalGroupsSequence" not in after


def test_derivation_description_stays_within_short_text(tmp_path):
    source = pydicom.dcmread(dicom_testdata("CT_small.dcm"))
    source.DerivationDescription = "older step " * 93  # 1023 characters
    source.save_as(tmp_path / "source.dcm")
    after = pydicom.dcmread(_write_x2(read_image(tmp_path / "source.dcm"), tmp_path / "out.dcm"))
    theirs, ours = after.DerivationDescription.split("; ", 1)
    assert len(after.DerivationDescription) == 1024  # the ST limit, ours whole and theirs shortened
    assert theirs.startswith("older step older step") and theirs.endswith("...")
    assert ours.startswith("Super-resolved x2") and ours.endswith("not for primary diagnosis")


def test_derivation_description_names_the_slices_left_out():
    from monai_rmisr.io.dicom_writer import derivation_description

    meta = {"derivation": {"scale": 2.0, "model": "m"}}
    assert "left out" not in derivation_description({**meta, "skipped_slices": []})
    skipped = [{"path": f"s{k}", "reason": "cut", **({"instance": f"1.2.{k}"} if k % 3 else {})} for k in range(7)]
    text = derivation_description({**meta, "skipped_slices": skipped})
    # seven left out, four of them known by UID: the first three named (a UID may be 64 characters long)
    assert text.endswith(
        "; 7 source slices left out (SOP Instance UID 1.2.1, 1.2.2, 1.2.4 and 1 more); not for primary diagnosis"
    )
    one = derivation_description({**meta, "skipped_slices": [{"path": "s", "reason": "cut"}]})
    assert one.endswith("; 1 source slice left out; not for primary diagnosis")  # its UID unknown
    # a file of a folder of several series whose series cannot be told: not named as a slice of this one
    stray = {"path": "x", "reason": "no SeriesInstanceUID", "instance": "1.2.9", "series": "unknown"}
    both = derivation_description({**meta, "skipped_slices": [skipped[1], stray, stray]})
    assert both.endswith(
        "; 1 source slice left out (SOP Instance UID 1.2.1); 2 files of unknown series in the source folder left out; "
        "not for primary diagnosis"
    )


def _pad_border(path, value, width, limit=None):
    """Give the DICOM file ``path`` a padded border: ``width`` pixels of stored ``value``, declared as padding."""
    ds = pydicom.dcmread(path)
    stored = ds.pixel_array.copy()
    inside = np.zeros(stored.shape, dtype=bool)
    inside[width:-width, width:-width] = True
    stored[~inside] = value
    ds.PixelData = stored.tobytes()
    vr = "SS" if ds.PixelRepresentation == 1 else "US"
    ds.add_new("PixelPaddingValue", vr, value)
    if limit is not None:
        ds.add_new("PixelPaddingRangeLimit", vr, limit)
    ds.save_as(path)
    return inside


def test_padding_survives_super_resolution_of_a_ct_series(tmp_path):
    write_ct_series(tmp_path / "series", n=3)
    for path in (tmp_path / "series").iterdir():
        _pad_border(path, -2000, 16)  # stored -2000 = -3024 HU, below anything real
    source = read_image(tmp_path / "series")
    # x2 with some noise, as a network leaves it: padding is no longer exactly the padding value
    array = np.repeat(np.repeat(source.array, 2, axis=1), 2, axis=2)
    array = array + np.random.default_rng(0).normal(0, 3, array.shape).round(2)
    meta = {
        **source.meta,
        **resampled_geometry(source.meta, [2.0, 2.0, 1.0], [0.0] * 3),
        "spatial_shape": array.shape[1:],
    }
    out = write_image(array, meta, source.meta, tmp_path / "out")
    for index, path in enumerate(sorted(out.iterdir())):
        ds = pydicom.dcmread(path)
        assert ds.PixelPaddingValue == -2000 and ds["PixelPaddingValue"].VR == "SS"
        stored = ds.pixel_array
        # output pixel i samples input (i + 0.5) / 2 - 0.5; its bicubic support (4 input pixels) lies in
        # the 16-pixel border up to i = 28: those pixels are padding, exactly
        padded = np.ones(stored.shape, dtype=bool)
        padded[28:-28, 28:-28] = False
        assert (stored[padded] == -2000).all()
        # inside, the super-resolved values (stored = HU + 1024 - 4 k per slice) are kept
        expected = np.rint(array[0, ..., index] + 1024 - float(ds.RescaleIntercept) - 1024)
        np.testing.assert_array_equal(stored[32:-32, 32:-32], expected[32:-32, 32:-32])
        assert (stored[32:-32, 32:-32] != -2000).all()


def test_image_pixels_never_take_the_padding_value(tmp_path):
    """Padding stored 0 (-1024 HU) next to air at -1000 HU: a network's undershoot in the air must not
    turn image pixels into padding, which viewers leave out; they move one stored step out of it."""
    write_ct_series(tmp_path / "series", n=1)
    path = next((tmp_path / "series").iterdir())
    ds = pydicom.dcmread(path)
    ds.PixelRepresentation = 0
    stored = np.full((ds.Rows, ds.Columns), 24, dtype=np.uint16)  # air, -1000 HU
    stored[:, :3] = 0
    ds.PixelData, ds.RescaleIntercept = stored.tobytes(), -1024
    ds.add_new("PixelPaddingValue", "US", 0)
    ds.save_as(path)
    source = read_image(path)
    array = source.array.copy()
    array[..., 40:60, 40:60] = -1030.0  # undershoot past the padding value
    array[..., 70:80, 70:80] = -1024.2  # rounds to it
    write_image(array, _identity_meta(source), source.meta, tmp_path / "out.dcm")
    out = pydicom.dcmread(tmp_path / "out.dcm")
    assert out.PixelPaddingValue == 0
    assert (out.pixel_array[:, :2] == 0).all()  # the padded columns (whole support padding) stay padding
    inside = out.pixel_array[:, 5:]
    assert (inside != 0).all() and (inside[40:60, 35:55] == 1).all() and (inside[70:80, 65:75] == 1).all()


def test_padding_is_mapped_to_a_new_rescale(tmp_path):
    shutil.copy(dicom_testdata("mlut_18.dcm"), tmp_path / "source.dcm")  # modality LUT: written with a new rescale
    _pad_border(tmp_path / "source.dcm", -2048, 64, limit=-2040)
    lut = pydicom.dcmread(tmp_path / "source.dcm")
    padding_value, padding_limit = pydicom.pixels.apply_modality_lut(np.array([-2048, -2040]), lut)
    source = read_image(tmp_path / "source.dcm")
    array = source.array + np.random.default_rng(0).normal(0, 20, source.array.shape)
    out = write_image(array, _identity_meta(source), source.meta, tmp_path / "out.dcm")
    ds = pydicom.dcmread(out)
    assert "ModalityLUTSequence" not in ds and ds["PixelPaddingValue"].VR == "US"
    slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
    # the stored padding values stand for the source's padding values (within half a new step)
    assert ds.PixelPaddingValue * slope + intercept == pytest.approx(padding_value, abs=slope / 2 + 1e-3)
    assert ds.PixelPaddingRangeLimit * slope + intercept == pytest.approx(padding_limit, abs=slope / 2 + 1e-3)
    stored = ds.pixel_array
    assert (stored[:63] == ds.PixelPaddingValue).all() and (stored[:, -63:] == ds.PixelPaddingValue).all()


@pytest.mark.skipif(DCIODVFY is None, reason="dciodvfy (Debian package dicom3tools) not installed")
@pytest.mark.parametrize(
    "name",
    [
        "CT_small.dcm",
        "MR_small.dcm",
        "RG3_UNCR.dcm",
        "emri_small.dcm",
        "OBXXXX1A.dcm",
        "eCT_Supplemental.dcm",  # a grey Enhanced CT with a supplemental palette: it was removed, COLOR kept
        "eCT_1frame",  # the same, one frame: pydicom's set_pixel_data removed NumberOfFrames, which it needs
    ],
)
def test_derived_dicom_adds_no_dciodvfy_error(tmp_path, name):
    if name == "eCT_1frame":
        ds = pydicom.dcmread(dicom_testdata("eCT_Supplemental.dcm"))
        ds.PixelData = ds.PixelData[: len(ds.PixelData) // int(ds.NumberOfFrames)]
        ds.NumberOfFrames = 1
        ds.PerFrameFunctionalGroupsSequence = ds.PerFrameFunctionalGroupsSequence[:1]
        ds.save_as(tmp_path / "eCT_1frame.dcm")
    source_path = tmp_path / "eCT_1frame.dcm" if name == "eCT_1frame" else dicom_testdata(name)
    source = read_image(source_path)
    array = np.repeat(np.repeat(source.array, 2, axis=1), 2, axis=2)
    meta = {
        **source.meta,
        **resampled_geometry(source.meta, [2.0, 2.0, 1.0][: array.ndim - 1], [0.0] * (array.ndim - 1)),
        "spatial_shape": array.shape[1:],
        "derivation": {"model": "test", "scale": 2.0},
    }
    write_image(array, meta, source.meta, tmp_path / "out.dcm")

    def errors(path):
        run = subprocess.run([DCIODVFY, str(path)], capture_output=True, text=True, check=False)
        return {line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")}

    added = errors(tmp_path / "out.dcm") - errors(source_path)
    if name == "emri_small.dcm":  # no functional groups at all: the shared group that now holds the derivation
        added = {e for e in added if not e.endswith("Macro>")}  # lacks the macros the source never had
    assert not added


@pytest.mark.skipif(DCIODVFY is None, reason="dciodvfy (Debian package dicom3tools) not installed")
def test_derived_series_passes_dciodvfy(tmp_path):
    write_ct_series(tmp_path / "series", n=3)
    source = read_image(tmp_path / "series")
    geometry = resampled_geometry(source.meta, [1.0, 1.0, 2.0], [0.0, 0.0, 0.0])
    array = np.repeat(source.array, 2, axis=-1)
    write_image(array, {**source.meta, **geometry, "spatial_shape": array.shape[1:]}, source.meta, tmp_path / "out")
    for path in sorted((tmp_path / "out").iterdir()):
        run = subprocess.run([DCIODVFY, str(path)], capture_output=True, text=True, check=False)
        assert "Error" not in run.stdout + run.stderr, path


@pytest.mark.parametrize("dtype", [np.int16, np.float32])
def test_nifti_keeps_extent_dtype_and_header(tmp_path, dtype):
    affine = np.array([[-0.8, 0, 0, 90.0], [0, 0.8, 0, -120.0], [0, 0, 2.5, -60.0], [0, 0, 0, 1]])
    data = (np.arange(6 * 5 * 4).reshape(6, 5, 4) * 3).astype(dtype)
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "v.nii.gz")
    source = read_image(tmp_path / "v.nii.gz")
    array = np.repeat(np.repeat(source.array, 2, axis=1), 2, axis=2)
    geometry = resampled_geometry(source.meta, [2.0, 2.0, 1.0], [0.0, 0.0, 0.0])
    write_image(
        array, {**source.meta, **geometry, "spatial_shape": array.shape[1:]}, source.meta, tmp_path / "o.nii.gz"
    )
    out = nib.load(tmp_path / "o.nii.gz")
    assert out.shape == (12, 10, 4) and out.get_data_dtype() == np.dtype(dtype)
    np.testing.assert_allclose(out.header.get_zooms(), (0.4, 0.4, 2.5))
    # the outer edge of the volume (voxel corner -0.5) is where it was
    corner = np.array([-0.5, -0.5, -0.5, 1.0])
    np.testing.assert_allclose(out.affine @ corner, affine @ corner, atol=1e-5)
    np.testing.assert_array_equal(np.asanyarray(out.dataobj), np.moveaxis(array, 0, -1)[..., 0])


@pytest.mark.parametrize(("dtype", "slope", "inter"), [(np.uint16, 1.0, -1024.0), (np.int16, 2.0, -40.0)])
def test_a_scaled_integer_nifti_keeps_its_scaling_and_steps(tmp_path, dtype, slope, inter):
    # nibabel chose a new scaling for the output: a CT stored as uint16 + 1 * v - 1024 came back as
    # v * -0.02995 + 941 (inverted for a tool that ignores the scaling, values no longer whole HU)
    rng = np.random.default_rng(0)
    image = nib.Nifti1Image(rng.integers(0, 3000, (6, 5, 4)).astype(dtype), np.eye(4))
    image.header.set_slope_inter(slope, inter)
    nib.save(image, tmp_path / "ct.nii")
    source = read_image(tmp_path / "ct.nii")
    array = np.repeat(np.repeat(source.array, 2, axis=1), 2, axis=2) + 0.3  # off the source's steps
    geometry = resampled_geometry(source.meta, [2.0, 2.0, 1.0], [0.0, 0.0, 0.0])
    write_image(array, {**source.meta, **geometry, "spatial_shape": array.shape[1:]}, source.meta, tmp_path / "o.nii")
    out = nib.load(tmp_path / "o.nii")
    assert out.get_data_dtype() == np.dtype(dtype)
    assert (out.dataobj.slope, out.dataobj.inter) == (slope, inter)
    expected = np.rint((np.moveaxis(array, 0, -1)[..., 0] - inter) / slope)
    np.testing.assert_array_equal(out.dataobj.get_unscaled(), expected)  # the source's steps: whole HU at slope 1


def test_nifti_qform_and_sform_each_move_with_the_grid(tmp_path):
    """sform (aligned, oblique) and qform (scanner, axis-aligned) differ: each is moved by the resampling, the
    qform is not replaced by the sform's grid; slices made along z drop the slice timing; descrip says SR."""
    theta = np.deg2rad(20)
    sform = np.array(
        [[0.8 * np.cos(theta), -0.9 * np.sin(theta), 0, 5.0], [0.8 * np.sin(theta), 0.9 * np.cos(theta), 0, -7.0]]
        + [[0, 0, 2.5, 3.0], [0, 0, 0, 1]]
    )
    qform = np.diag([0.8, 0.9, 2.5, 1.0])
    qform[:3, 3] = [10.0, 20.0, 30.0]
    img = nib.Nifti1Image(np.random.default_rng(0).random((8, 6, 4)).astype(np.float32), None)
    img.set_sform(sform, code=2)
    img.set_qform(qform, code=1)
    img.header["descrip"] = b"T1 MPRAGE"
    img.header.set_dim_info(slice=2)
    img.header["slice_code"], img.header["slice_start"], img.header["slice_end"] = 1, 0, 3
    img.header["slice_duration"] = 0.4
    nib.save(img, tmp_path / "v.nii.gz")
    source = read_image(tmp_path / "v.nii.gz")
    for zoom, name in (([2.0, 2.0, 1.0], "xy.nii.gz"), ([1.0, 1.0, 2.0], "z.nii.gz")):
        shape = [n * int(z) for n, z in zip(source.array.shape[1:], zoom)]
        array = np.zeros((1, *shape), np.float32)
        geometry = resampled_geometry(source.meta, zoom, [0.0, 0.0, 0.0])
        meta = {**source.meta, **geometry, "spatial_shape": tuple(shape), "derivation": {"model": "m", "scale": 2.0}}
        write_image(array, meta, source.meta, tmp_path / name)
        out = nib.load(tmp_path / name)
        index_map = np.linalg.solve(sform, np.asarray(geometry["affine"]))
        out_sform, sform_code = out.get_sform(coded=True)
        out_qform, qform_code = out.get_qform(coded=True)
        assert (int(sform_code), int(qform_code)) == (2, 1)
        np.testing.assert_allclose(out_sform, sform @ index_map, atol=1e-4)
        np.testing.assert_allclose(out_qform, qform @ index_map, atol=1e-4)  # scanner space, moved
        corner = np.array([-0.5, -0.5, -0.5, 1.0])  # the outer corner stays where it was, in both spaces
        np.testing.assert_allclose(out_qform @ corner, qform @ corner, atol=1e-4)
        assert out.header["descrip"].item().decode().startswith("SR x2 monai-rmisr ")
        assert out.header["descrip"].item().decode().endswith(" m; T1 MPRAGE")
        timing = [float(out.header[k]) for k in ("slice_code", "slice_start", "slice_end", "slice_duration")]
        assert timing == ([1, 0, 3, pytest.approx(0.4)] if name == "xy.nii.gz" else [0, 0, 0, 0])


def test_nifti_without_orientation_gets_none(tmp_path):
    img = nib.Nifti1Image(np.ones((6, 5, 3), np.float32), np.eye(4))
    img.set_sform(None, code=0)
    img.set_qform(None, code=0)
    nib.save(img, tmp_path / "v.nii")
    source = read_image(tmp_path / "v.nii")
    geometry = resampled_geometry(source.meta, [2.0, 2.0, 1.0], [0.0, 0.0, 0.0])
    write_image(np.ones((1, 12, 10, 3), np.float32), {**source.meta, **geometry}, source.meta, tmp_path / "o.nii")
    out = nib.load(tmp_path / "o.nii")
    assert int(out.header["sform_code"]) == 0 and int(out.header["qform_code"]) == 0
    np.testing.assert_allclose(out.header.get_zooms(), (0.5, 0.5, 1.0))


@pytest.mark.parametrize(
    ("mode", "dtype", "suffix"),
    [("L", np.uint8, ".png"), ("I;16", np.uint16, ".png"), ("RGB", np.uint8, ".png"), ("L", np.uint8, ".jpg")],
)
def test_raster_keeps_format_and_bit_depth(tmp_path, mode, dtype, suffix):
    rng = np.random.default_rng(0)
    shape = (20, 30, 3) if mode == "RGB" else (20, 30)
    values = rng.integers(0, np.iinfo(dtype).max, size=shape).astype(dtype)
    Image.fromarray(values).save(tmp_path / f"in{suffix}")
    source = read_image(tmp_path / f"in{suffix}")
    geometry = resampled_geometry(source.meta, [1.0, 1.0], [0.0, 0.0])
    write_image(source.array, {**source.meta, **geometry}, source.meta, tmp_path / f"out{suffix}")
    again = read_image(tmp_path / f"out{suffix}")
    assert again.meta["format"] == source.meta["format"] and again.meta["bit_depth"] == source.meta["bit_depth"]
    assert again.meta["dtype"] == source.meta["dtype"]
    if suffix == ".png":
        np.testing.assert_array_equal(again.array, source.array)


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    with pytest.raises(RuntimeError), atomic_output(tmp_path / "out.dcm") as temporary:
        temporary.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "series").mkdir()
    (tmp_path / "series" / "old.dcm").write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_output(tmp_path / "series", folder=True) as temporary:
        (temporary / "new.dcm").write_bytes(b"new")
        raise RuntimeError("crash")
    assert [p.name for p in tmp_path.iterdir()] == ["series"]
    assert [p.name for p in (tmp_path / "series").iterdir()] == ["old.dcm"]


def test_a_full_disk_is_one_line_exit_1_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    # pydicom re-raises a write's OSError with its whole traceback in the message and no errno: rmisr upscale gave
    # that as its one error line, with exit 2 (a bad argument) for what is a failure of the run
    from monai_rmisr.__main__ import main

    def full_disk(path, dataset, **kwargs):
        with open(path, "wb") as stream:
            stream.write(b"half")
        try:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as exc:
            raise OSError(f"With tag (7FE0,0010) got exception: {exc}\nTraceback (most recent call last): ...") from exc

    monkeypatch.setattr(pydicom, "dcmwrite", full_disk)
    out = tmp_path / "out"
    source = str(dicom_testdata("CT_small.dcm"))
    code = main(["upscale", source, "-o", str(out / "ct_sr.dcm"), "--scale", "2", "--model", "bicubic"])
    err = capsys.readouterr().err
    assert code == 1 and not out.exists()
    line = f"rmisr upscale: error: [Errno 28] writing '{out / 'ct_sr.dcm'}' failed: No space left on device; "
    assert err == line + "nothing of it was left\n"
    with pytest.raises(OSError, match="Permission denied") as failure, atomic_output(tmp_path / "x.png") as temporary:
        raise PermissionError(errno.EACCES, "Permission denied", str(temporary))  # the path's fault: as it was
    assert not isinstance(failure.value, OutputWriteError) and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".jpg", ".bmp", ".tif"])
def test_a_full_disk_under_a_raster_output_is_one_line_exit_1(tmp_path, monkeypatch, capsys, suffix):
    # Pillow's JPEG and BMP encoders wrote to the descriptor unchecked: a truncated file under the output's name,
    # exit 0; numpy's tofile (tifffile) raised without an errno: exit 2, the output not named. Encoded in memory, the
    # bytes are written through Python's file object, whose short write is an OSError with its errno
    import monai_rmisr.io.writers as writers
    from monai_rmisr.__main__ import main

    rgb = (np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / f"in{suffix}")

    class FullDisk:
        def __init__(self, path, mode):
            self.stream = open(path, mode)  # noqa: SIM115 (closed in __exit__)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.stream.close()

        def write(self, data):
            self.stream.write(bytes(data)[:100])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(writers, "open", FullDisk, raising=False)
    out = tmp_path / "out" / f"out{suffix}"
    assert main(["upscale", str(tmp_path / f"in{suffix}"), "-o", str(out), "--scale", "2", "--model", "bicubic"]) == 1
    assert f"writing '{out}' failed: No space left on device" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_output_path_checks(tmp_path):
    source = tmp_path / "ct.dcm"
    source.write_bytes(b"x")
    with pytest.raises(OutputPathError, match="overwrite the input"):
        check_output_path(source, [source], overwrite=True)
    (tmp_path / "series").mkdir()
    with pytest.raises(OutputPathError, match="overwrite the input"):
        check_output_path(tmp_path / "series" / "out", [tmp_path / "series"])
    with pytest.raises(OutputPathError, match="is a folder; give a file name"):  # a folder where a file is meant
        check_output_path(tmp_path, [source], overwrite=True)
    with pytest.raises(OutputPathError, match="overwrite the input"):  # a series folder that holds the input
        check_output_path(tmp_path, [source], overwrite=True, folder=True)
    (tmp_path / "done.dcm").write_bytes(b"y")
    with pytest.raises(OutputPathError, match=r"--overwrite \(from Python: overwrite=True\)"):  # API users too
        check_output_path(tmp_path / "done.dcm", [source])
    assert check_output_path(tmp_path / "done.dcm", [source], overwrite=True) == tmp_path / "done.dcm"


def test_sr_output_name(tmp_path):
    series = tmp_path / "1.2.840.5"  # series folders are often named by their UID
    series.mkdir()
    assert sr_output_name(series) == "1.2.840.5_sr"
    assert sr_output_name(dicom_testdata("CT_small.dcm")) == "CT_small_sr.dcm"
    nifti = tmp_path / "ct.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4), np.float32), np.eye(4)), nifti)
    assert sr_output_name(nifti) == "ct_sr.nii.gz"


def test_atomic_output_removes_what_a_killed_run_left_of_the_same_output_only(tmp_path):
    # what `kill -9` during a write leaves: a hidden temporary file, or a partial series folder
    stale_file = tmp_path / ".0123abcd.tmp-out.dcm"
    stale_file.write_bytes(b"half")
    stale_series = tmp_path / ".89abcdef.tmp-series"
    stale_series.mkdir()
    (stale_series / "00001.dcm").write_bytes(b"patient data")
    aside = tmp_path / ".fedcba98.old-series"
    aside.mkdir()
    others = [".0123abcd.tmp-other.dcm", ".0123abcd.tmp-out.dcm.bak", ".0123abcg.tmp-out.dcm", "0123abcd.tmp-out.dcm"]
    for name in others:
        (tmp_path / name).write_bytes(b"not ours")
    with atomic_output(tmp_path / "out.dcm") as temporary:
        temporary.write_bytes(b"new")
    with atomic_output(tmp_path / "series", folder=True) as temporary:
        (temporary / "00001.dcm").write_bytes(b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*others, "out.dcm", "series"])
    assert (tmp_path / "out.dcm").read_bytes() == b"new"
    assert [p.name for p in (tmp_path / "series").iterdir()] == ["00001.dcm"]


def test_atomic_output_removes_the_parent_folders_it_created_when_writing_fails(tmp_path):
    (tmp_path / "kept").mkdir()
    with pytest.raises(RuntimeError), atomic_output(tmp_path / "kept" / "new" / "deeper" / "out.png") as temporary:
        temporary.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert [p.name for p in tmp_path.iterdir()] == ["kept"] and not list((tmp_path / "kept").iterdir())
    with atomic_output(tmp_path / "kept" / "new" / "out.png") as temporary:
        temporary.write_bytes(b"png")
    assert (tmp_path / "kept" / "new" / "out.png").read_bytes() == b"png"


def test_non_regular_outputs_are_refused_even_with_overwrite(tmp_path):
    source = tmp_path / "ct.dcm"
    source.write_bytes(b"x")
    fifo = tmp_path / "pipe.dcm"
    os.mkfifo(fifo)
    with pytest.raises(OutputPathError, match="not a regular file"):
        check_output_path(fifo, [source], overwrite=True)
    (tmp_path / "link.dcm").symlink_to(fifo)
    with pytest.raises(OutputPathError, match="not a regular file"):
        check_output_path(tmp_path / "link.dcm", [source], overwrite=True)
    with pytest.raises(OutputPathError, match="not a folder"):
        check_output_path(source / "sub" / "out.dcm", [tmp_path / "other.dcm"])
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


@pytest.mark.parametrize(
    ("source", "output", "refused"),
    [
        ("ct.dcm", "out.png", "the name says PNG, but a DICOM input is written as DICOM; name it *.dcm"),
        ("ct.dcm", "out.nii.gz", "the name says NIfTI"),
        ("ct.dcm", "out.hdr", "Analyze / NIfTI pairs"),
        ("ct.dcm", "1.2.840.113619.2.55", None),  # DICOM files are often named by UID
        ("ct.dcm", "OUT.DCM", None),
        ("ct.dcm", "out", None),
        ("v.nii", "out.nii.gz", None),
        ("v.nii", "OUT.NII", None),
        ("v.nii", "out.hdr", "Analyze / NIfTI pairs (.hdr + .img) are not written; name it *.nii.gz"),
        ("v.nii", "out.img", "Analyze / NIfTI pairs"),
        ("v.nii", "out", "NIfTI output needs the suffix .nii or .nii.gz"),
        ("v.nii", "out.dcm", "the name says DICOM, but a NIfTI input"),
        ("a.png", "out.jpg", "the name says JPEG, but a PNG input is written as PNG; name it *.png"),
        ("a.png", "out.tif", "the name says TIFF"),
        ("a.png", "out.dat", None),
        ("a.jpg", "out.jpeg", None),
        ("series", "1.2.840.5", None),
        ("series", "sr.png", "written as a folder of DICOM files; name it a folder name without an image suffix"),
    ],
)
def test_output_name_must_not_announce_another_format(tmp_path, source, output, refused):
    path = tmp_path / source
    if source == "series":
        write_ct_series(path, n=2)
    elif source.endswith(".dcm"):
        shutil.copy(dicom_testdata("CT_small.dcm"), path)
    elif source.endswith(".nii"):
        nib.save(nib.Nifti1Image(np.zeros((4, 4, 2), np.float32), np.eye(4)), path)
    else:
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(path)
    if refused is None:
        assert check_output(tmp_path / output, path) == tmp_path / output
    else:
        with pytest.raises(OutputPathError, match=re.escape(refused)):
            check_output(tmp_path / output, path)


def test_output_name_gives_the_written_format_its_suffix(tmp_path):
    jpeg_named_png = tmp_path / "scan.png"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(jpeg_named_png, format="JPEG")
    assert output_name(jpeg_named_png) == "scan.jpg"
    plain = tmp_path / "scan"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(plain, format="PNG")
    assert output_name(plain) == "scan.png"
    dicom = tmp_path / "1.2.840.10008.5"
    shutil.copy(dicom_testdata("CT_small.dcm"), dicom)
    assert output_name(dicom) == "1.2.840.10008.5"
    for path in (jpeg_named_png, plain, dicom):  # what a batch writes passes the single-file check
        assert check_output(tmp_path / "out" / output_name(path), path)


_VOLATILE = {"SOPInstanceUID", "SeriesInstanceUID", "InstanceCreationDate", "InstanceCreationTime", "ContentDate"}
_VOLATILE |= {"ContentTime", "DataSetTrailingPadding"}  # MR_small_bigendian.dcm has padding, MR_small.dcm not
_VOLATILE |= {"SeriesNumber"}  # derived from the new SeriesInstanceUID


@pytest.mark.parametrize(
    ("big", "little"),
    [
        ("MR_small_bigendian.dcm", "MR_small.dcm"),
        ("MR_small_expb.dcm", "MR_small.dcm"),
        ("SC_rgb_expb_16bit.dcm", "SC_rgb_16bit.dcm"),
        ("liver_expb_1frame.dcm", "liver_1frame.dcm"),
        ("rtdose_expb.dcm", "rtdose.dcm"),
    ],
)
def test_big_endian_sources_are_written_like_their_little_endian_twins(tmp_path, big, little):
    assert pydicom.dcmread(dicom_testdata(big)).file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRBigEndian
    written = []
    for name in (big, little):
        source = read_image(dicom_testdata(name))
        out = write_image(source.array, _identity_meta(source), source.meta, tmp_path / f"out_{name}")
        step = np.ptp(source.array) / 65535 if source.meta["bits_allocated"] == 32 else 0  # 32 bits: 16 written
        np.testing.assert_allclose(read_image(out).array, source.array, rtol=0, atol=step)
        written.append(pydicom.dcmread(out))
    from_big, from_little = written
    assert from_big.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert from_big.PixelData == from_little.PixelData
    for ds in written:  # our equipment item carries the time of writing (the two files may be a second apart)
        del ds.ContributingEquipmentSequence[-1].ContributionDateTime
    keywords = {e.keyword for e in from_big} | {e.keyword for e in from_little}
    assert not [k for k in keywords - _VOLATILE if from_big.get(k) != from_little.get(k)]


@functools.cache
def _icc_profile() -> bytes:
    """One sRGB profile for the session: littleCMS stamps a profile with the time it is made, so two made a second
    apart differ (a test comparing a written profile with a new one failed when the clock ticked in between)."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def test_raster_keeps_exif_turn_colour_profile_and_1_bit_range(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(4)
    photo = Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # "turn 90 degrees clockwise to view"
    photo.save(tmp_path / "camera.jpg", exif=exif, icc_profile=_icc_profile(), dpi=(100, 200))
    source = read_image(tmp_path / "camera.jpg")
    assert source.array.shape == (3, 30, 20) and source.meta["exif_orientation_applied"] == 6  # as viewers show it
    assert source.meta["spacing"] == pytest.approx((25.4 / 100, 25.4 / 200))  # the axes swapped with the turn
    geometry = resampled_geometry(source.meta, [1.0, 1.0], [0.0, 0.0])
    write_image(source.array, {**source.meta, **geometry}, source.meta, tmp_path / "out.jpg")
    with Image.open(tmp_path / "out.jpg") as out:
        assert out.size == (20, 30) and out.getexif().get(0x0112, 1) == 1  # turned once, and no flag left
        assert out.info.get("icc_profile") == _icc_profile()
    Image.fromarray(rng.random((16, 16)) > 0.5).save(tmp_path / "mask.png")  # mode "1"
    mask = read_image(tmp_path / "mask.png")
    assert mask.meta["bit_depth"] == 8 and set(np.unique(mask.array)) == {0.0, 255.0}
    write_image(mask.array, {**mask.meta, **geometry}, mask.meta, tmp_path / "mask_out.png")
    assert np.asarray(Image.open(tmp_path / "mask_out.png")).max() == 255  # not 0 / 1, which shows all black


@pytest.mark.parametrize("kind", ["centimetre", "imagej"])
def test_tiff_resolution_unit_and_profile_follow_the_new_pixels(tmp_path, kind):
    import tifffile

    data = np.random.default_rng(5).integers(0, 65535, (12, 16), dtype=np.uint16)
    if kind == "imagej":  # 4 pixels per micron: ResolutionUnit none, the unit in ImageJ's description
        tifffile.imwrite(tmp_path / "in.tif", data, imagej=True, resolution=(4.0, 4.0), metadata={"unit": "um"})
    else:
        tifffile.imwrite(tmp_path / "in.tif", data, resolution=(50.0, 40.0), resolutionunit="CENTIMETER")
        tifffile.imwrite(tmp_path / "icc.tif", data, iccprofile=_icc_profile())
    source = read_image(tmp_path / "in.tif")
    array = np.repeat(np.repeat(source.array, 2, axis=1), 2, axis=2)
    geometry = resampled_geometry(source.meta, [2.0, 2.0], [0.0, 0.0])
    write_image(array, {**source.meta, **geometry}, source.meta, tmp_path / "out.tif")
    with tifffile.TiffFile(tmp_path / "out.tif") as out:
        tags = out.pages[0].tags
        x, y = (n / d for n, d in (tags["XResolution"].value, tags["YResolution"].value))
        if kind == "imagej":
            assert (x, y) == (8.0, 8.0) and out.imagej_metadata["unit"] == "um"
        else:
            assert (x, y) == (100.0, 80.0) and tags["ResolutionUnit"].value == 3  # still per centimetre
    if kind == "centimetre":
        icc = read_image(tmp_path / "icc.tif")
        write_image(
            icc.array,
            {**icc.meta, **resampled_geometry(icc.meta, [1.0, 1.0], [0.0, 0.0])},
            icc.meta,
            tmp_path / "icc_out.tif",
        )
        with tifffile.TiffFile(tmp_path / "icc_out.tif") as out:
            assert bytes(out.pages[0].tags["InterColorProfile"].value) == _icc_profile()


def test_a_dropped_alpha_channel_is_warned_about(tmp_path, caplog):
    from PIL import Image

    Image.fromarray(np.random.default_rng(6).integers(0, 255, (10, 12, 4), dtype=np.uint8)).save(tmp_path / "a.png")
    source = read_image(tmp_path / "a.png")
    geometry = resampled_geometry(source.meta, [1.0, 1.0], [0.0, 0.0])
    with caplog.at_level("WARNING", logger="monai_rmisr"):
        write_image(source.array, {**source.meta, **geometry}, source.meta, tmp_path / "out.png")
    assert "alpha (transparency) channel is not in the output" in caplog.text


def test_an_output_folder_that_takes_no_files_is_refused_before_any_work(tmp_path, monkeypatch):
    import errno

    from monai_rmisr.io import output as output_module

    def read_only(*args, **kwargs):  # what a read-only mount (or a folder without write permission) answers
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(output_module.tempfile, "TemporaryFile", read_only)
    with pytest.raises(OutputPathError, match=r"'.*sub/out\.png' cannot be written: its folder '.*' takes no new"):
        check_output_path(tmp_path / "sub" / "out.png")
    assert not (tmp_path / "sub").exists()  # nothing created
    monkeypatch.undo()
    assert check_output_path(tmp_path / "sub" / "out.png") == tmp_path / "sub" / "out.png"
    assert list(tmp_path.iterdir()) == []  # the probe left nothing


def test_a_colour_dicom_series_is_written(tmp_path):
    folder = tmp_path / "rgb"
    folder.mkdir()
    series = pydicom.uid.generate_uid()
    for k in range(3):
        ds = pydicom.dcmread(dicom_testdata("SC_rgb.dcm"))
        ds.SeriesInstanceUID, ds.SOPInstanceUID = series, pydicom.uid.generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.ImagePositionPatient, ds.ImageOrientationPatient = [0, 0, 2.0 * k], [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [1, 1]
        ds.save_as(folder / f"{k}.dcm")
    source = read_image(folder)
    for zoom in ([1.0, 1.0, 2.0], [2.0, 2.0, 1.0]):  # along z, and in-plane
        shape = [int(n * z) for n, z in zip(source.array.shape[1:], zoom)]
        array = np.zeros((3, *shape), np.float32) + 100
        geometry = resampled_geometry(source.meta, zoom, [0.0, 0.0, 0.0])
        out = write_image(
            array, {**source.meta, **geometry, "spatial_shape": tuple(shape)}, source.meta, tmp_path / f"o{zoom[2]}"
        )
        written = [pydicom.dcmread(f) for f in sorted(out.iterdir())]
        assert len(written) == shape[2] and all(ds.PhotometricInterpretation == "RGB" for ds in written)


def test_colour_outputs_keep_only_what_still_holds(tmp_path):
    import tifffile
    from PIL import Image

    # an ImageJ composite (3 channels, 16 bits): the resolution kept, written without ImageJ's RGB refusal
    data = np.random.default_rng(7).integers(0, 65535, (3, 12, 16), dtype=np.uint16)
    tifffile.imwrite(
        tmp_path / "c.tif", data, imagej=True, resolution=(4.0, 4.0), metadata={"unit": "um", "axes": "CYX"}
    )
    source = read_image(tmp_path / "c.tif")
    geometry = resampled_geometry(source.meta, [1.0, 1.0], [0.0, 0.0])
    write_image(source.array, {**source.meta, **geometry}, source.meta, tmp_path / "c_out.tif")
    with tifffile.TiffFile(tmp_path / "c_out.tif") as out:
        assert out.pages[0].tags["XResolution"].value == (4, 1)
    # a CMYK JPEG's profile describes CMYK: the RGB output must not claim it
    Image.new("CMYK", (16, 12), (10, 20, 30, 40)).save(tmp_path / "k.jpg", icc_profile=_icc_profile())
    source = read_image(tmp_path / "k.jpg")
    write_image(source.array, {**source.meta, **geometry}, source.meta, tmp_path / "k_out.jpg")
    with Image.open(tmp_path / "k_out.jpg") as out:
        assert out.mode == "RGB" and "icc_profile" not in out.info
    # a 1-bit TIFF: 8-bit 0 / 255, as a 1-bit PNG
    tifffile.imwrite(tmp_path / "b.tif", np.random.default_rng(8).random((12, 16)) > 0.5)
    assert set(np.unique(read_image(tmp_path / "b.tif").array)) == {0.0, 255.0}


def test_slice_timing_follows_the_headers_slice_axis(tmp_path):
    img = nib.Nifti1Image(np.zeros((8, 6, 4), np.float32), np.eye(4))
    img.header.set_dim_info(slice=0)  # slices along the first axis, which an in-plane x2 resamples
    img.header["slice_code"], img.header["slice_end"], img.header["slice_duration"] = 1, 7, 0.1
    nib.save(img, tmp_path / "v.nii")
    source = read_image(tmp_path / "v.nii")
    geometry = resampled_geometry(source.meta, [2.0, 2.0, 1.0], [0.0, 0.0, 0.0])
    write_image(np.zeros((1, 16, 12, 4), np.float32), {**source.meta, **geometry}, source.meta, tmp_path / "o.nii")
    out = nib.load(tmp_path / "o.nii").header
    assert (int(out["slice_code"]), int(out["slice_end"]), float(out["slice_duration"])) == (0, 0, 0.0)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_raster_outputs_say_what_made_them(tmp_path, suffix):
    import tifffile
    from PIL import Image

    Image.fromarray(np.random.default_rng(9).integers(0, 255, (10, 12), dtype=np.uint8)).save(tmp_path / f"in{suffix}")
    source = read_image(tmp_path / f"in{suffix}")
    geometry = resampled_geometry(source.meta, [1.0, 1.0], [0.0, 0.0])
    meta = {**source.meta, **geometry, "derivation": {"model": "rmisr_bl_x2", "scale": 2.0}}
    write_image(source.array, meta, source.meta, tmp_path / f"out{suffix}")
    if suffix == ".tif":
        with tifffile.TiffFile(tmp_path / "out.tif") as out:
            tags = out.pages[0].tags
            text = tags["ImageDescription"].value
            assert tags["Software"].value.startswith("monai-rmisr ")
    else:
        with Image.open(tmp_path / f"out{suffix}") as out:
            text = out.info["comment"].decode() if suffix == ".jpg" else out.text["Description"]
    assert text.startswith("SR x2 monai-rmisr ") and text.endswith(" rmisr_bl_x2")


def test_make_private_gives_a_written_tree_to_its_owner_only(tmp_path):
    from monai_rmisr.io.output import make_private

    (tmp_path / "derived" / "series").mkdir(parents=True)
    (tmp_path / "derived" / "series" / "00001.dcm").write_bytes(b"x")
    (tmp_path / "elsewhere.txt").write_text("not ours")
    os.chmod(tmp_path / "elsewhere.txt", 0o644)
    (tmp_path / "derived" / "link").symlink_to(tmp_path / "elsewhere.txt")
    make_private(tmp_path / "derived")
    modes = {p.name: stat.S_IMODE(p.lstat().st_mode) for p in (tmp_path / "derived").rglob("*") if not p.is_symlink()}
    assert modes == {"series": 0o700, "00001.dcm": 0o600}
    assert stat.S_IMODE((tmp_path / "derived").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "elsewhere.txt").stat().st_mode) == 0o644  # a link's target is not touched
    (tmp_path / "one.png").write_bytes(b"x")
    make_private(tmp_path / "one.png")
    assert stat.S_IMODE((tmp_path / "one.png").stat().st_mode) == 0o600


def test_a_jpeg_baseline_source_is_written_as_lossy_even_if_its_header_does_not_say(tmp_path):
    # the output is written uncompressed: without LossyImageCompression "01" nothing records that its pixels
    # went through lossy JPEG (PS3.3 C.7.6.1.1.5)
    ds = pydicom.dcmread(dicom_testdata("SC_rgb_jpeg_dcmtk.dcm"))
    del ds.LossyImageCompression
    ds.save_as(tmp_path / "unsaid.dcm")
    source = read_image(tmp_path / "unsaid.dcm")
    write_image(source.array, _identity_meta(source), source.meta, tmp_path / "out.dcm")
    out = pydicom.dcmread(tmp_path / "out.dcm")
    assert out.LossyImageCompression == "01" and out.LossyImageCompressionMethod == "ISO_10918_1"
    lossless = read_image(dicom_testdata("CT_small.dcm"))
    write_image(lossless.array, _identity_meta(lossless), lossless.meta, tmp_path / "ct.dcm")
    assert "LossyImageCompression" not in pydicom.dcmread(tmp_path / "ct.dcm")


def test_a_near_lossless_jpeg_ls_source_is_written_as_lossy(tmp_path):
    # pydicom's JPEG-LS near-lossless files say nothing of it (no LossyImageCompression): their scans allow an error
    # of 2 per sample (NEAR), so the derived image must carry "01"; a JPEG-LS lossless source must not
    source = read_image(dicom_testdata("JPEGLSNearLossless_16.dcm"))
    assert "LossyImageCompression" not in pydicom.dcmread(dicom_testdata("JPEGLSNearLossless_16.dcm"))
    assert source.meta["lossy_compression"] is True
    write_image(source.array, _identity_meta(source), source.meta, tmp_path / "near.dcm")
    out = pydicom.dcmread(tmp_path / "near.dcm")
    assert out.LossyImageCompression == "01" and out.LossyImageCompressionMethod == "ISO_14495_1"
    lossless = read_image(dicom_testdata("MR_small_jpeg_ls_lossless.dcm"))
    assert lossless.meta["lossy_compression"] is False
    write_image(lossless.array, _identity_meta(lossless), lossless.meta, tmp_path / "lossless.dcm")
    assert "LossyImageCompression" not in pydicom.dcmread(tmp_path / "lossless.dcm")
    said = read_image(dicom_testdata("693_J2KI.dcm"))  # lossy JPEG 2000 that says so: kept as it says
    write_image(said.array, _identity_meta(said), said.meta, tmp_path / "j2ki.dcm")
    assert pydicom.dcmread(tmp_path / "j2ki.dcm").LossyImageCompression == "01"


def test_ultrasound_regions_keep_their_edges(tmp_path):
    # a region's Max corner is a pixel's own index, inclusive: at x2 pixel j becomes output pixels 2j and 2j + 1;
    # rounding the corner's centre gave 2j (1010 -> 2020), a pixel short of the region
    source = read_image(dicom_testdata("gdcm-US-ALOKA-16.dcm"))
    array = np.repeat(np.repeat(source.array, 2, axis=1), 2, axis=2)
    meta = {**source.meta, **resampled_geometry(source.meta, [2.0, 2.0], [0.0, 0.0]), "spatial_shape": array.shape[1:]}
    write_image(array, {**meta, "derivation": {"model": "test", "scale": 2.0}}, source.meta, tmp_path / "out.dcm")
    before = pydicom.dcmread(dicom_testdata("gdcm-US-ALOKA-16.dcm")).SequenceOfUltrasoundRegions[0]
    after = pydicom.dcmread(tmp_path / "out.dcm").SequenceOfUltrasoundRegions[0]
    assert (after.RegionLocationMinX0, after.RegionLocationMinY0) == (
        2 * before.RegionLocationMinX0,
        2 * before.RegionLocationMinY0,
    )
    assert (after.RegionLocationMaxX1, after.RegionLocationMaxY1) == (
        2 * before.RegionLocationMaxX1 + 1,
        2 * before.RegionLocationMaxY1 + 1,
    )


def _upscale_dicom(source, output, *options):
    from monai_rmisr.__main__ import main

    assert main(["upscale", str(source), "-o", str(output), "--scale", "2", "--model", "bicubic", "-q", *options]) == 0
    return pydicom.dcmread(output)


def test_overlay_planes_are_redrawn_on_the_new_grid(tmp_path):
    # an overlay plane (a graphic over the image, 1-bit) was copied unscaled: a 300x484 bitmap at origin 1\1 over a
    # 600x968 image, drawn by viewers in its top-left quarter; with --roi anywhere at all
    source = dicom_testdata("examples_overlay.dcm")
    overlay = pydicom.dcmread(source).overlay_array(0x6000)
    out = _upscale_dicom(source, tmp_path / "x2.dcm")
    redrawn = out.overlay_array(0x6000)
    assert redrawn.shape == (out.Rows, out.Columns) == (600, 968) and out[0x6000, 0x0050].value == [1, 1]
    for row, column in ((0, 0), (1, 1), (0, 1)):  # nearest: each source bit becomes a 2x2 block
        np.testing.assert_array_equal(redrawn[row::2, column::2], overlay)
    rows, columns = np.nonzero(overlay)
    top, left = max(int(rows[0]) - 5, 0), max(int(columns[0]) - 5, 0)  # a region holding some of the graphic
    roi = (left, top, left + 40, top + 30)
    cropped = _upscale_dicom(source, tmp_path / "roi.dcm", "--roi", ",".join(map(str, roi))).overlay_array(0x6000)
    assert cropped.shape == (60, 80) and cropped.any()
    np.testing.assert_array_equal(cropped[::2, ::2], overlay[top : top + 30, left : left + 40])


def test_display_shutters_follow_the_pixels(tmp_path):
    # the shutter's pixel coordinates were copied: at x2 a viewer masked everything outside the old pixel box
    ds = pydicom.dcmread(dicom_testdata("CT_small.dcm"))
    ds.ShutterShape = ["RECTANGULAR", "CIRCULAR", "POLYGONAL"]
    ds.ShutterLeftVerticalEdge, ds.ShutterRightVerticalEdge = 10, 118  # 1-based columns, inclusive
    ds.ShutterUpperHorizontalEdge, ds.ShutterLowerHorizontalEdge = 20, 100
    ds.CenterOfCircularShutter, ds.RadiusOfCircularShutter = [64, 65], 50  # row \\ column, pixels
    ds.VerticesOfThePolygonalShutter = [1, 1, 1, 128, 128, 64]
    ds.save_as(tmp_path / "shuttered.dcm")
    out = _upscale_dicom(tmp_path / "shuttered.dcm", tmp_path / "x2.dcm")
    # pixels 10..118 (1-based) are 9..117, whose x2 pixels are 18..235, 1-based 19..236
    assert (out.ShutterLeftVerticalEdge, out.ShutterRightVerticalEdge) == (19, 236)
    assert (out.ShutterUpperHorizontalEdge, out.ShutterLowerHorizontalEdge) == (39, 200)
    # a point at source pixel centre p (0-based) is at output 2p + 0.5, rounded: 1-based 64 -> 128, 65 -> 130
    assert list(out.CenterOfCircularShutter) == [128, 130] and out.RadiusOfCircularShutter == 100
    assert list(out.VerticesOfThePolygonalShutter) == [2, 2, 2, 256, 256, 128]


def test_a_region_of_a_nifti_without_qform_or_sform_says_it_cannot_be_placed(tmp_path, caplog, capsys):
    # both codes 0: the NIfTI header has no field for where a --roi region lies; the output was placed at the
    # volume's centre by viewers without a word
    image = nib.Nifti1Image(np.random.default_rng(0).random((24, 20, 3)).astype(np.float32), np.eye(4))
    image.set_sform(None, code=0)
    image.set_qform(None, code=0)
    nib.save(image, tmp_path / "uncoded.nii.gz")
    from monai_rmisr.__main__ import main

    command = ["upscale", str(tmp_path / "uncoded.nii.gz"), "--scale", "2", "--model", "bicubic", "-o"]
    with caplog.at_level("WARNING", logger="monai_rmisr"):
        assert main([*command, str(tmp_path / "whole.nii.gz")]) == 0
        assert "neither a qform nor an sform" not in caplog.text + capsys.readouterr().err  # no region: nothing to say
        assert main([*command, str(tmp_path / "roi.nii.gz"), "--roi", "4,6,14,16"]) == 0
    said = caplog.text + capsys.readouterr().err
    assert "neither a qform nor an sform" in said and ".tmp-" not in said  # it named the hidden temporary file
