from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import FileMetaDataset
from pydicom.pixels import apply_color_lut, pixel_array

from monai_rmisr.io import BrokenSliceError, ImageReadError, read_dicom, read_dicom_series, read_image, stored_values
from tests.helpers import write_ct_series


def _path(name: str) -> str:
    path = get_testdata_file(name, download=False)
    assert path is not None, f"{name} is not installed (pydicom / pydicom-data)"
    return path


def test_ct_single_frame_in_hounsfield_units_with_geometry():
    array, meta = read_dicom(_path("CT_small.dcm"))
    ds = pydicom.dcmread(_path("CT_small.dcm"))
    assert array.shape == (1, 128, 128) and array.dtype == np.float32
    np.testing.assert_array_equal(array[0], ds.pixel_array * 1.0 - 1024.0)
    assert meta["format"] == "dicom" and meta["modality"] == "CT" and meta["color"] == "GRAY"
    assert meta["rescale_slope"] == 1.0 and meta["rescale_intercept"] == -1024.0
    assert meta["bits_stored"] == 16 and meta["photometric_interpretation"] == "MONOCHROME2"
    assert meta["spacing"] == pytest.approx((0.661468, 0.661468))
    assert meta["origin"] == pytest.approx(tuple(float(v) for v in ds.ImagePositionPatient))
    assert meta["space"] == "LPS" and meta["source_path"].endswith("CT_small.dcm")
    np.testing.assert_array_equal(stored_values(array, meta)[0], ds.pixel_array)


@pytest.mark.parametrize("name", ["CT_small.dcm", "693_UNCR.dcm", "J2K_pixelrep_mismatch.dcm"])
def test_geometry_and_values_match_itk(name):
    itk = pytest.importorskip("itk")
    array, meta = read_dicom(_path(name))
    image = itk.imread(_path(name), itk.F)
    np.testing.assert_allclose(itk.array_from_image(image).reshape(array.shape), array)
    for row, col in [(0, 0), (5, 17), (100, 30)]:
        ours = meta["affine"] @ np.array([row, col, 0.0, 1.0])
        index = [col, row, 0] if image.GetImageDimension() == 3 else [col, row]
        np.testing.assert_allclose(ours[:3], np.array(image.TransformIndexToPhysicalPoint(index)), atol=1e-4)


@pytest.mark.parametrize(
    "variant",
    [
        "MR_small_implicit.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_expb.dcm",
        "MR_small_RLE.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_padded.dcm",
    ],
)
def test_every_lossless_encoding_decodes_to_the_same_image(variant):
    reference, _ = read_dicom(_path("MR_small.dcm"))
    array, meta = read_dicom(_path(variant))
    np.testing.assert_array_equal(array, reference)
    if "jp" in variant:
        assert meta["decoder"] == "pylibjpeg"


@pytest.mark.parametrize(
    "variant",
    [
        "emri_small_RLE.dcm",
        "emri_small_big_endian.dcm",
        "emri_small_jpeg_2k_lossless.dcm",
        "emri_small_jpeg_ls_lossless.dcm",
    ],
)
def test_multi_frame_volume_frames_along_last_axis(variant):
    reference, meta = read_dicom(_path("emri_small.dcm"))
    assert reference.shape == (1, 64, 64, 10)
    assert meta["number_of_frames"] == 10 and meta["spacing"][2] == pytest.approx(1.2)
    raw = pydicom.dcmread(_path("emri_small.dcm")).pixel_array  # (10, 64, 64)
    np.testing.assert_array_equal(reference[0, :, :, 3], raw[3])
    np.testing.assert_array_equal(read_dicom(_path(variant))[0], reference)


@pytest.mark.parametrize(("lossless", "original"), [("693_J2KR.dcm", "693_UNCR.dcm"), ("MR2_J2KR.dcm", "MR2_UNCR.dcm")])
def test_j2k_lossless_equals_uncompressed_original(lossless, original):
    np.testing.assert_array_equal(read_dicom(_path(lossless))[0], read_dicom(_path(original))[0])


def test_unci_is_not_the_original():
    """DATA.md trap: *_UNCI holds the lossy J2K image stored uncompressed."""
    assert not np.array_equal(read_dicom(_path("693_UNCI.dcm"))[0], read_dicom(_path("693_UNCR.dcm"))[0])


def test_jpeg_decoder_is_pinned_to_pylibjpeg():
    array, meta = read_dicom(_path("color3d_jpeg_baseline.dcm"), frames=[0, 60])
    assert array.shape == (3, 480, 640, 2) and meta["color"] == "RGB"
    assert meta["decoder"] == "pylibjpeg" and meta["frames"] == [0, 60]
    ds = pydicom.dcmread(_path("color3d_jpeg_baseline.dcm"))
    libjpeg = pixel_array(ds, index=60, decoding_plugin="pylibjpeg")
    pillow = pixel_array(ds, index=60, decoding_plugin="pillow")
    np.testing.assert_array_equal(np.moveaxis(array[..., 1], 0, -1), libjpeg)
    assert 0 < np.abs(libjpeg.astype(int) - pillow).max() <= 5  # why the decoder is pinned
    lossless, meta = read_dicom(_path("bad_sequence.dcm"))  # JPEG lossless, process 14
    assert meta["decoder"] == "pylibjpeg" and lossless.shape == (1, 512, 512)


def test_frames_out_of_range():
    with pytest.raises(ValueError, match=r"frames must be indices in \[0, 10\)"):
        read_dicom(_path("emri_small.dcm"), frames=[10])


def test_monochrome1_is_inverted_and_invertible():
    array, meta = read_dicom(_path("RG3_UNCR.dcm"))
    raw = pydicom.dcmread(_path("RG3_UNCR.dcm")).pixel_array
    assert meta["photometric_interpretation"] == "MONOCHROME1" and meta["inverted"]
    assert meta["bits_stored"] == 10 and meta["inversion_sum"] == 1023.0
    np.testing.assert_array_equal(array[0], 1023.0 - raw)  # bright = dense
    np.testing.assert_array_equal(stored_values(array, meta)[0], raw)


def test_modality_lut_with_fractional_slope():
    array, meta = read_dicom(_path("MR2_UNCR.dcm"))
    ds = pydicom.dcmread(_path("MR2_UNCR.dcm"))
    assert meta["rescale_slope"] == pytest.approx(3.774114)
    np.testing.assert_allclose(array[0], ds.pixel_array * 3.774114 + 0.000061, rtol=1e-6)
    np.testing.assert_allclose(stored_values(array, meta)[0], ds.pixel_array, atol=1e-3)


@pytest.mark.parametrize("name", ["OBXXXX1A.dcm", "gdcm-US-ALOKA-16.dcm"])
def test_palette_colour_goes_through_the_lut(name):
    array, meta = read_dicom(_path(name))
    ds = pydicom.dcmread(_path(name))
    assert (
        meta["palette_applied"]
        and meta["color"] == "RGB"
        and array.shape == (3, 480 if "ALOKA" in name else 600, *array.shape[2:])
    )
    np.testing.assert_array_equal(np.moveaxis(array, 0, -1), apply_color_lut(ds.pixel_array, ds))
    with pytest.raises(ValueError, match="grey"):
        stored_values(array, meta)


def test_ultrasound_spacing_from_the_region_calibration():
    _, meta = read_dicom(_path("JPGLosslessP14SV1_1s_1f_8b.dcm"))
    assert meta["spacing_source"] == "SequenceOfUltrasoundRegions"
    assert meta["spacing"] == pytest.approx((0.25476696592378157, 0.25476696592378157))


def test_enhanced_multi_frame_affine_follows_frame_positions():
    array, meta = read_dicom(_path("eCT_Supplemental.dcm"))
    ds = pydicom.dcmread(_path("eCT_Supplemental.dcm"))
    assert array.shape[-1] == 2 and meta["spacing"][2] > 0
    for k in range(2):
        ipp = ds.PerFrameFunctionalGroupsSequence[k].PlanePositionSequence[0].ImagePositionPatient
        np.testing.assert_allclose(meta["affine"] @ [0, 0, k, 1.0], [*map(float, ipp), 1.0], atol=1e-4)


def test_read_image_dispatches_dicom_without_suffix(tmp_path):
    target = tmp_path / "IM0001"
    target.write_bytes(Path(_path("CT_small.dcm")).read_bytes())
    image = read_image(target)
    assert image.array.shape == (1, 128, 128) and image.meta["format"] == "dicom"
    assert image.path == str(target) and image.spatial_shape == (128, 128)


def test_series_sorted_along_normal_with_geometry(tmp_path):
    expected = write_ct_series(tmp_path / "series")
    (tmp_path / "series" / "README.txt").write_text("not DICOM, ignored")
    volume, meta = read_dicom_series(tmp_path / "series")
    assert volume.shape == (1, 128, 128, 5) and meta["format"] == "dicom-series"
    np.testing.assert_allclose(volume, expected)
    assert meta["spacing"][2] == pytest.approx(2.5, abs=1e-3) and meta["slice_spacing_uniform"]
    assert meta["rescale_intercepts"] == [-1024.0, -1020.0, -1016.0, -1012.0, -1008.0]
    assert read_image(tmp_path / "series").array.shape == (1, 128, 128, 5)


def test_a_slice_without_a_position_among_positioned_ones_is_a_broken_slice(tmp_path):
    # it sorted by its InstanceNumber among millimetres (third of five came first) and, sorted first, put the
    # volume at the origin, without a word
    expected = write_ct_series(tmp_path / "series")
    _, meta = read_dicom_series(tmp_path / "series")
    files = [Path(f) for f in meta["series_files"]]
    ds = pydicom.dcmread(files[2])
    del ds.ImagePositionPatient
    ds.save_as(files[2])
    with pytest.raises(BrokenSliceError) as err:
        read_dicom_series(tmp_path / "series")
    assert err.value.path == str(files[2]) and "has no ImagePositionPatient, which the other 4 slice(s)" in str(
        err.value
    )
    kept, kept_meta = read_dicom_series(tmp_path / "series", skip_bad_slices=True)
    np.testing.assert_allclose(kept, np.delete(expected, 2, axis=-1))
    assert kept_meta["origin"] == meta["origin"] and [s["path"] for s in kept_meta["skipped_slices"]] == [str(files[2])]


def test_series_geometry_matches_itk(tmp_path):
    itk = pytest.importorskip("itk")
    write_ct_series(tmp_path / "series")
    volume, meta = read_dicom_series(tmp_path / "series")
    image = itk.imread(str(tmp_path / "series"), itk.F)
    np.testing.assert_allclose(np.transpose(itk.array_from_image(image), (1, 2, 0))[None], volume)
    for row, col, sl in [(0, 0, 0), (7, 3, 4), (100, 50, 2)]:
        ours = meta["affine"] @ np.array([row, col, sl, 1.0])
        np.testing.assert_allclose(ours[:3], np.array(image.TransformIndexToPhysicalPoint([col, row, sl])), atol=1e-3)


@pytest.mark.parametrize("keyword", ["PatientID", "StudyInstanceUID"])
def test_one_series_uid_over_two_patients_or_studies_is_refused(tmp_path, keyword):
    # the listener derived one series holding instances of two patients in two studies (a UID clash): the PACS
    # received one derived series spread over both
    write_ct_series(tmp_path / "ct", n=3)
    first = sorted((tmp_path / "ct").iterdir())[0]
    ds = pydicom.dcmread(first)
    setattr(ds, keyword, "OTHER" if keyword == "PatientID" else "1.2.3.4.200")
    ds.save_as(first)
    with pytest.raises(ImageReadError, match=rf"holds slices of 2 different \w+ \({keyword}\).*refused whole") as err:
        read_dicom_series(tmp_path / "ct")
    assert "OTHER" not in str(err.value)  # a patient's ID is not repeated in messages and logs
    with pytest.raises(ImageReadError, match="refused whole"):
        read_dicom_series(tmp_path / "ct", skip_bad_slices=True)  # which slices are wrong is not known
    if keyword == "PatientID":  # a leading space is not significant in an LO value: the same patient
        ds.PatientID = " " + str(pydicom.dcmread(sorted((tmp_path / "ct").iterdir())[1]).PatientID)
        ds.save_as(first)
        assert read_dicom_series(tmp_path / "ct")[0].shape[-1] == 3


def test_series_errors_name_the_problem(tmp_path):
    write_ct_series(tmp_path / "two")
    other = pydicom.dcmread(_path("MR_small.dcm"))
    other.save_as(tmp_path / "two" / "mr.dcm")
    with pytest.raises(ImageReadError, match=r"holds 2 series"):
        read_dicom_series(tmp_path / "two")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImageReadError, match="no DICOM image files"):
        read_dicom_series(empty)
    dup = tmp_path / "dup"
    write_ct_series(dup, n=2, step=0.0)
    with pytest.raises(ImageReadError, match="share one position"):
        read_dicom_series(dup)
    # a slice of another size is the one named, also where it sorts first ("a.dcm" before "slice000.dcm")
    odd = tmp_path / "odd"
    write_ct_series(odd, n=3)
    ds = pydicom.dcmread(odd / "slice000.dcm")
    ds.Rows = 64
    ds.PixelData = ds.PixelData[: 64 * 128 * 2]
    ds.save_as(odd / "a.dcm")
    (odd / "slice000.dcm").unlink()
    with pytest.raises(ImageReadError, match=r"cannot read image '.*a\.dcm': is 64x128 but the series is 128x128"):
        read_dicom_series(odd)
    # with skip_bad_slices the odd slice is left out (the whole series was refused, naming only the slice, and
    # training's --skip_bad true lost every slice of it); so is one of another orientation, where it sorts first
    volume, meta = read_dicom_series(odd, skip_bad_slices=True)
    assert volume.shape == (1, 128, 128, 2) and [Path(s["path"]).name for s in meta["skipped_slices"]] == ["a.dcm"]
    turned = tmp_path / "turned"
    write_ct_series(turned, n=3)
    ds = pydicom.dcmread(turned / "slice001.dcm")
    ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(turned / "a.dcm")
    with pytest.raises(ImageReadError, match=r"a\.dcm': its ImageOrientationPatient differs from the rest"):
        read_dicom_series(turned)
    volume, meta = read_dicom_series(turned, skip_bad_slices=True)
    assert volume.shape == (1, 128, 128, 3) and [Path(s["path"]).name for s in meta["skipped_slices"]] == ["a.dcm"]
    # two stacks of two: which is the series is unknown (the file names decided which half skip_bad_slices kept)
    halves = tmp_path / "halves"
    write_ct_series(halves, n=4)
    for name in sorted(p.name for p in halves.iterdir())[:2]:
        ds = pydicom.dcmread(halves / name)
        ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
        ds.save_as(halves / name)
    for skip in (False, True):
        with pytest.raises(ImageReadError, match=r"slices are of 2 orientations \(2 and 2 slices\), none held by most"):
            read_dicom_series(halves, skip_bad_slices=skip)


def test_a_slice_of_other_pixel_spacing_is_refused_by_name(tmp_path):
    # three slices, one at 0.5 mm where the rest are 0.66: read as one volume, its outputs were placed by the
    # series' spacing (5.85 mm off with an ROI in a user's try), and --axis z interpolated across the two grids
    odd = tmp_path / "odd"
    write_ct_series(odd, n=3)
    ds = pydicom.dcmread(odd / "slice001.dcm")
    ds.PixelSpacing = [0.5, 0.5]
    ds.save_as(odd / "slice001.dcm")
    with pytest.raises(ImageReadError, match=r"'.*slice001\.dcm': has pixels of 0.5 x 0.5 mm but the series .* mm"):
        read_dicom_series(odd)
    ds.PixelSpacing = [float(v) * (1 + 1e-6) for v in pydicom.dcmread(odd / "slice000.dcm").PixelSpacing]
    ds.save_as(odd / "slice001.dcm")  # the same spacing written with other digits is the same grid
    assert read_dicom_series(odd)[0].shape[-1] == 3


def test_raw_data_set_without_part10_header(tmp_path):
    ds = pydicom.dcmread(_path("CT_small.dcm"))
    ds.file_meta = FileMetaDataset()
    ds.preamble = None
    pydicom.dcmwrite(tmp_path / "raw", ds, implicit_vr=True, little_endian=True, enforce_file_format=False)
    image = read_image(tmp_path / "raw")
    assert image.meta["transfer_syntax_name"] == "Implicit VR Little Endian"
    np.testing.assert_array_equal(image.array, read_dicom(_path("CT_small.dcm"))[0])
    # and it is written: the writer read its template without force (a traceback after the network had run)
    from monai_rmisr.inference.upscale import Upscaler

    Upscaler(2, model="bicubic").file(tmp_path / "raw", tmp_path / "out.dcm")
    out = pydicom.dcmread(tmp_path / "out.dcm")
    assert out.Rows == 2 * ds.Rows and out.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian


def test_file_meta_without_the_preamble_is_read_and_written(tmp_path):
    # a file that starts with its file meta information (no 128-byte preamble, no 'DICM'): refused as "not a DICOM
    # file" although pydicom reads it whole
    source = pydicom.dcmread(_path("CT_small.dcm"))
    with open(tmp_path / "nopreamble.dcm", "wb") as stream:
        pydicom.filewriter.write_file_meta_info(pydicom.filebase.DicomFileLike(stream), source.file_meta)
        pydicom.filewriter.write_dataset(pydicom.filebase.DicomFileLike(stream), source)
    assert (tmp_path / "nopreamble.dcm").read_bytes()[128:132] != b"DICM"
    image = read_image(tmp_path / "nopreamble.dcm")
    np.testing.assert_array_equal(image.array, read_dicom(_path("CT_small.dcm"))[0])
    from monai_rmisr.inference.upscale import Upscaler

    Upscaler(2, model="bicubic").file(tmp_path / "nopreamble.dcm", tmp_path / "out.dcm")
    assert pydicom.dcmread(tmp_path / "out.dcm").Rows == 2 * source.Rows
    # a series of such files is one series (read whole; one input of a batch), notes beside it left out quietly
    from monai_rmisr.inference.batch import find_inputs

    expected = write_ct_series(tmp_path / "batch" / "series", n=3)
    for path in sorted((tmp_path / "batch" / "series").iterdir()):
        ds = pydicom.dcmread(path)
        with open(path, "wb") as stream:
            pydicom.filewriter.write_file_meta_info(pydicom.filebase.DicomFileLike(stream), ds.file_meta)
            pydicom.filewriter.write_dataset(pydicom.filebase.DicomFileLike(stream), ds)
    (tmp_path / "batch" / "series" / "notes.txt").write_text("acquired with the old protocol\n")
    volume, _ = read_dicom_series(tmp_path / "batch" / "series")
    np.testing.assert_allclose(volume, expected)
    assert find_inputs(tmp_path / "batch") == [tmp_path / "batch" / "series"]


def test_check_pixel_data_refuses_from_the_header_and_decodes_frame_by_frame(monkeypatch):
    """What a receiver checks before it answers "stored": a small compressed file that decodes to gigabytes is
    refused from its header (it was decoded whole, in the association's thread); a good one decodes a frame at a
    time."""
    import monai_rmisr.io.dicom as dicom_module
    from monai_rmisr.io.dicom import check_pixel_data
    from monai_rmisr.io.errors import ImageTooLargeError

    frames = pydicom.dcmread(get_testdata_file("emri_small.dcm"))  # 10 frames of 64x64
    seen = []
    real = dicom_module._decode
    monkeypatch.setattr(dicom_module, "_decode", lambda ds, path, which: seen.append(which) or real(ds, path, which))
    check_pixel_data(frames, "emri_small")
    assert seen == [[k] for k in range(10)]
    seen.clear()
    with pytest.raises(ImageTooLargeError, match="more than the 40,000 allowed; nothing was decoded"):
        check_pixel_data(frames, "emri_small", max_values=40_000)
    assert seen == []
    truncated = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    truncated.PixelData = truncated.PixelData[:1000]
    with pytest.raises(ImageReadError, match="cannot be decoded"):
        check_pixel_data(truncated, "1.2.3")
