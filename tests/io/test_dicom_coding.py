"""What the pixel data's coding says about lossy compression (io.dicom_coding), checked on pydicom's test files."""

from __future__ import annotations

import pydicom
import pytest

from monai_rmisr.io.dicom_coding import lossy_compression_method
from tests.helpers import dicom_testdata


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("SC_rgb_jpeg_dcmtk.dcm", "ISO_10918_1"),  # JPEG Baseline: always lossy
        ("JPEGLSNearLossless_08.dcm", "ISO_14495_1"),  # JPEG-LS, NEAR 2; the file has no LossyImageCompression
        ("JPEGLSNearLossless_16.dcm", "ISO_14495_1"),
        ("SC_rgb_jls_lossy_sample.dcm", "ISO_14495_1"),
        ("MR_small_jpeg_ls_lossless.dcm", None),  # JPEG-LS Lossless (NEAR 0)
        ("US1_J2KI.dcm", "ISO_15444_1"),  # JPEG 2000, the irreversible 9-7 wavelet
        ("JPEG2000.dcm", "ISO_15444_1"),
        ("693_J2KI.dcm", None),  # lossy by dropped layers of the reversible wavelet: only its header can say
        ("693_J2KR.dcm", None),  # JPEG 2000 Lossless Only
        ("CT_small.dcm", None),  # uncompressed
        ("emri_small_RLE.dcm", None),
    ],
)
def test_the_coding_of_each_test_file(name, method):
    assert lossy_compression_method(pydicom.dcmread(dicom_testdata(name))) == method


def test_pixel_data_that_cannot_be_read_says_nothing():
    ds = pydicom.dcmread(dicom_testdata("JPEGLSNearLossless_08.dcm"))
    assert (
        lossy_compression_method(pydicom.dcmread(dicom_testdata("JPEGLSNearLossless_08.dcm"), stop_before_pixels=True))
        is None
    )
    ds.PixelData = ds.PixelData[:40]  # the first fragment cut short: its scan header is not there
    assert lossy_compression_method(ds) is None
    ds.PixelData = b"\x00" * 64  # not encapsulated at all
    assert lossy_compression_method(ds) is None
    for cut in (b"\xfe", b"\xfe\xff\x00\xe0\x10"):  # an item tag cut short: pydicom's parsing raises struct.error
        ds.PixelData = cut
        assert lossy_compression_method(ds) is None
    jpeg = pydicom.dcmread(dicom_testdata("SC_rgb_jpeg_dcmtk.dcm"), stop_before_pixels=True)
    assert lossy_compression_method(jpeg) == "ISO_10918_1"  # the transfer syntax is enough there
