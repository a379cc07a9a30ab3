"""pydicom's warnings about a file come once, in one line naming the file (not twice and anonymous)."""

import hashlib
import logging
import threading
import warnings

import numpy as np
import pydicom
import pytest

from monai_rmisr.inference import pretrained_path
from monai_rmisr.inference.upscale import Upscaler
from monai_rmisr.io import read_dicom, read_dicom_series
from monai_rmisr.io.pydicom_messages import pydicom_messages, read_dataset
from tests.helpers import dicom_testdata, write_ct_series

HASH = "dccc9599087131742838cc1162a630fea87ba9bf61ac09bfda90d4adfa5ddaed"  # as some anonymisers write UIDs


def _with_odd_values(path, source=None):
    """CT_small (or ``source``) with a 64-character hash as its StudyInstanceUID and a 20-character StationName:
    values pydicom reads with a warning each."""
    ds = pydicom.dcmread(source or dicom_testdata("CT_small.dcm"))
    with pydicom.config.disable_value_validation():
        ds.StudyInstanceUID = HASH
        ds.StationName = "S" * 20  # SH: 16 characters at most
    ds.save_as(path)
    return path


def _ours(records):
    return [r.getMessage() for r in records if r.name.startswith("monai_rmisr") and r.levelno == logging.WARNING]


def test_one_line_naming_the_file_and_no_anonymous_copies(tmp_path, caplog):
    path = _with_odd_values(tmp_path / "odd.dcm")
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        read_dicom(path)
    (line,) = _ours(caplog.records)
    assert line.startswith(f"'{path}': pydicom warned: ") and HASH in line and "VR SH" in line
    assert not [r for r in caplog.records if r.name == "pydicom"]  # its own copy, without the file's name
    assert not [w for w in caught if HASH in str(w.message)]  # nor its warning copy


def test_a_series_says_it_once_with_the_number_of_files(tmp_path, caplog):
    write_ct_series(tmp_path / "series", n=4)
    for path in sorted((tmp_path / "series").iterdir()):
        _with_odd_values(path, source=path)
    with caplog.at_level(logging.WARNING):
        volume, _ = read_dicom_series(tmp_path / "series")
    assert volume.shape[-1] == 4
    (line,) = _ours(caplog.records)
    assert "pydicom warned about 4 of the 4 files read" in line and str(tmp_path / "series") in line and HASH in line


def test_a_clean_file_says_nothing(caplog):
    with caplog.at_level(logging.WARNING):
        read_dicom(dicom_testdata("CT_small.dcm"))
    assert not _ours(caplog.records)


def test_report_false_keeps_them_for_the_caller(tmp_path, caplog):
    path = _with_odd_values(tmp_path / "odd.dcm")
    with caplog.at_level(logging.WARNING):
        with pydicom_messages(path, report=False) as messages:
            read_dataset(path, report=False)  # nested: the inner block takes them first, and keeps them
        ds = read_dataset(path, report=False)
    assert str(ds.StudyInstanceUID) == HASH  # read as it is
    assert not _ours(caplog.records) and not [r for r in caplog.records if r.name == "pydicom"]
    assert messages == []  # the inner block had them


def test_other_warnings_pass_through_unchanged(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pydicom_messages(tmp_path / "any.dcm"):
            warnings.warn("something else", RuntimeWarning, stacklevel=1)
    assert [(w.category, str(w.message)) for w in caught] == [(RuntimeWarning, "something else")]


def test_inside_a_callers_catch_warnings_too(tmp_path, caplog):
    # the CLI (and pytest) record every warning with "always" around a run: pydicom's copies still stay out
    path = _with_odd_values(tmp_path / "odd.dcm")
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        read_dicom(path)
    assert len(_ours(caplog.records)) == 1 and not [w for w in caught if HASH in str(w.message)]


def test_a_decoders_own_logger_is_heard_too(tmp_path, caplog):
    with caplog.at_level(logging.WARNING), pydicom_messages(tmp_path / "any.dcm", report=False) as messages:
        logging.getLogger("pydicom.pixels.decoders.base").warning("plugin failed to decode the frame")
    assert messages == ["plugin failed to decode the frame"] and not caplog.records


def test_threads_reading_at_once_leave_warnings_working(tmp_path):
    # catch_warnings per block (process-wide state) restored out of order when two threads' blocks overlapped, and
    # left later warnings recorded into a list nobody read
    path = _with_odd_values(tmp_path / "odd.dcm")

    def read_many():
        for _ in range(20):
            read_dataset(path, report=False)

    threads = [threading.Thread(target=read_many) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("probe", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["probe"]


def test_a_series_quotes_each_distinct_message(tmp_path, caplog):
    write_ct_series(tmp_path / "series", n=3)
    paths = sorted((tmp_path / "series").iterdir())
    for path in paths:  # one study for the series, as in a real one (a series over two studies is refused)
        _with_odd_values(path, source=path)
    ds = pydicom.dcmread(paths[2])
    with pydicom.config.disable_value_validation():
        ds.InstitutionName = "I" * 70  # LO: 64 characters at most
    ds.save_as(paths[2])
    with caplog.at_level(logging.WARNING):
        read_dicom_series(tmp_path / "series")
    (line,) = _ours(caplog.records)
    assert "pydicom warned about 3 of the 3 files read" in line
    assert f"'{paths[0]}' (and 2 more files): Invalid value for VR UI: '{HASH}'" in line
    assert f"'{paths[2]}': The value length (70) exceeds the maximum length of 64 allowed for VR LO" in line


def test_another_threads_pydicom_records_are_not_taken(tmp_path, caplog):
    def log_elsewhere():
        logging.getLogger("pydicom").warning("from another thread")

    with caplog.at_level(logging.WARNING), pydicom_messages(tmp_path / "any.dcm") as messages:
        thread = threading.Thread(target=log_elsewhere)
        thread.start()
        thread.join()
    assert messages == [] and "from another thread" in [r.getMessage() for r in caplog.records if r.name == "pydicom"]


@pytest.mark.parametrize(
    "model, method, mark, words",
    [
        ("bicubic", "interpolation", "interpolated x2", "Interpolated (bicubic) x2"),
        ("rmisr_bl_x2", "super-resolution", "SR x2", "Super-resolved x2"),
    ],
)
def test_bicubic_output_is_labelled_interpolated_not_super_resolved(tmp_path, model, method, mark, words):
    upscaler = Upscaler(2, model=model)
    assert upscaler.derivation["method"] == method
    upscaler.file(dicom_testdata("CT_small.dcm"), tmp_path / "out.dcm")
    ds = pydicom.dcmread(tmp_path / "out.dcm")
    assert ds.SeriesDescription == mark  # CT_small has no SeriesDescription of its own
    assert ds.DerivationDescription.startswith(f"{words} in-plane by monai-rmisr")
    weights = ""
    if model != "bicubic":  # the shipped file's SHA-256 (sha256sum's), as the bundle's large_files.yml lists it
        weights = f" (weights SHA-256 {hashlib.sha256(pretrained_path(model).read_bytes()).hexdigest()})"
    assert ds.DerivationDescription.endswith(f"model {model}{weights}; not for primary diagnosis")
    assert np.asarray(ds.pixel_array).shape == (256, 256)


def test_the_command_prints_one_warning_line_naming_the_file(tmp_path, capsys):
    # the reader, the writer's second read of the source and its UID check each printed pydicom's words again
    from monai_rmisr.__main__ import main

    path = _with_odd_values(tmp_path / "odd.dcm")
    assert main(["upscale", str(path), "-o", str(tmp_path / "out.dcm"), "--scale", "2", "--model", "bicubic"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith(f"rmisr upscale: warning: '{path}': pydicom warned: "), lines
    assert lines[0].count(HASH) == 1
