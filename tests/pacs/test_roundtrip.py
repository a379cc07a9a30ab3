"""Retrieving a series without a server: streamed to disk, nothing left of a retrieval cut short."""

from __future__ import annotations

import pydicom
import pytest
import requests

from monai_rmisr.pacs import PacsError, SeriesTooLargeError, derive_series
from tests.helpers import write_ct_series


class _Streaming:
    """``iter_series`` over files, the connection dropped after ``fail_after`` instances (None: never)."""

    def __init__(self, files, fail_after=None):
        self.files, self.fail_after, self.yielded = files, fail_after, 0

    def iter_series(self, study, series):
        for path in self.files:
            if self.fail_after is not None and self.yielded == self.fail_after:
                raise requests.ConnectionError("connection dropped")
            self.yielded += 1
            yield pydicom.dcmread(path)


class _NoUpscaler:
    """Never reached: the retrieval fails first."""


@pytest.fixture
def series_files(tmp_path):
    write_ct_series(tmp_path / "ct", n=3)
    return sorted((tmp_path / "ct").iterdir())


def test_a_retrieval_cut_short_leaves_nothing(tmp_path, series_files):
    client = _Streaming(series_files, fail_after=2)
    with pytest.raises(PacsError, match=r"retrieving series 1\.2 failed: ConnectionError: cannot reach the PACS"):
        derive_series(client, _NoUpscaler(), "1.1", "1.2", tmp_path / "work")
    assert client.yielded == 2 and not (tmp_path / "work" / "source").exists()


def test_the_stream_stops_at_the_first_instance_past_max_instances(tmp_path, series_files):
    client = _Streaming(series_files)
    with pytest.raises(SeriesTooLargeError, match=r"series 1\.2 has more than 1 image instances"):
        derive_series(client, _NoUpscaler(), "1.1", "1.2", tmp_path / "work", max_instances=1)
    assert client.yielded == 2 and not (tmp_path / "work" / "source").exists()


class _Garbled:
    """``iter_series`` whose second part is not DICOM (pydicom's error while decoding the multipart answer)."""

    def __init__(self, files):
        self.files = files

    def iter_series(self, study, series):
        from pydicom.errors import InvalidDicomError

        yield pydicom.dcmread(self.files[0])
        raise InvalidDicomError("File is missing DICOM File Meta Information header")


def test_a_part_that_is_not_dicom_is_one_pacs_error(tmp_path, series_files):
    with pytest.raises(PacsError, match=r"retrieving series 1\.2 failed: the PACS sent a part that is not a DICOM"):
        derive_series(_Garbled(series_files), _NoUpscaler(), "1.1", "1.2", tmp_path / "work")
    assert not (tmp_path / "work" / "source").exists()
