"""Test data builders shared by several test modules."""

from __future__ import annotations

import random
import socket
from pathlib import Path

import numpy as np
import pydicom
import pytest
import torch
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid


def dicom_testdata(name: str) -> str:
    """Path of a pydicom / pydicom-data test file (never downloads)."""
    path = get_testdata_file(name, download=False)
    assert path is not None, f"{name} is not installed (pydicom / pydicom-data)"
    return path


def write_ct_series(folder: Path, n: int = 5, step: float = 2.5, seed: int = 0) -> np.ndarray:
    """A CT series made of CT_small slices moved along the normal, stored under shuffled names.

    Slice ``k`` holds CT_small + 10 k stored values with RescaleIntercept -1024 + 4 k, so per-slice
    rescaling is visible. Returns the expected volume in HU, ``(1, 128, 128, n)``.
    """
    folder.mkdir(parents=True)
    template = pydicom.dcmread(dicom_testdata("CT_small.dcm"))
    raw = template.pixel_array
    iop = np.array([float(v) for v in template.ImageOrientationPatient])
    normal = np.cross(iop[:3], iop[3:])
    ipp0 = np.array([float(v) for v in template.ImagePositionPatient])
    names = list(range(n))
    random.Random(seed).shuffle(names)
    series_uid = generate_uid()
    expected = []
    for k in range(n):
        ds = pydicom.dcmread(dicom_testdata("CT_small.dcm"))
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = n - k  # deliberately not the spatial order
        ds.ImagePositionPatient = [f"{v:.4f}" for v in ipp0 + k * step * normal]
        ds.RescaleIntercept = -1024 + 4 * k  # per-slice rescale must be honoured
        ds.PixelData = (raw + 10 * k).astype(raw.dtype).tobytes()
        ds.save_as(folder / f"slice{names[k]:03d}.dcm")
        expected.append((raw + 10 * k) * 1.0 - 1024 + 4 * k)
    return np.stack(expected, axis=-1)[None]


def one_thread_fixture():
    """A module-scoped autouse fixture running torch on one thread: for tests of small images, where one
    thread is as fast as two and far faster on a busy machine. Use as ``_one_thread = one_thread_fixture()``."""

    @pytest.fixture(autouse=True, scope="module")
    def _one_thread():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        yield
        torch.set_num_threads(threads)

    return _one_thread


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a test server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
