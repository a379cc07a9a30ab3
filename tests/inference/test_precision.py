"""``precision``: bfloat16 compute where the device has it natively, float32 everywhere else."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import torch
from PIL import Image

from monai_rmisr.__main__ import main
from monai_rmisr.inference import settings, super_resolve
from monai_rmisr.inference.settings import check_precision
from monai_rmisr.inference.upscale import Upscaler
from monai_rmisr.metrics import psnr
from tests.helpers import dicom_testdata


@pytest.fixture
def native(monkeypatch: pytest.MonkeyPatch):
    """Say whether the device has native bfloat16 (so the tests run the same on every CPU)."""

    def set_native(value: bool) -> None:
        monkeypatch.setattr(settings, "native_bfloat16", lambda device: value)

    return set_native


def test_check_precision(native):
    native(False)
    assert check_precision("float32") == torch.float32
    assert check_precision("auto") == torch.float32
    with pytest.raises(ValueError, match="emulated"):
        check_precision("bfloat16")
    for bad in ("fp16", "float16", None, 16):
        with pytest.raises(ValueError, match="precision must be one of"):
            check_precision(bad)
    native(True)
    assert check_precision("bfloat16") == torch.bfloat16
    assert check_precision("auto") == torch.bfloat16
    assert check_precision("float32") == torch.float32


@pytest.mark.parametrize("tile", [None, 64])
def test_bfloat16_is_close_to_float32_and_returns_float32(native, tile):
    native(True)
    rng = np.random.default_rng(0)
    image = np.clip(rng.random((80, 72)).astype(np.float32) * 0.2 + np.linspace(0, 0.8, 72, dtype=np.float32), 0, 1)
    reference = super_resolve(image, 2, tile=tile)
    result = super_resolve(image, 2, tile=tile, precision="bfloat16")
    assert result.dtype == np.float32 and result.shape == reference.shape == (160, 144)
    assert not np.array_equal(result, reference)  # it did run in bfloat16
    assert psnr(torch.from_numpy(result), torch.from_numpy(reference)) > 40.0


def test_upscaler_checks_precision_where_it_enters_and_batches_in_bfloat16(native):
    native(False)
    with pytest.raises(ValueError, match="emulated"):
        Upscaler(2, model="rmisr_bl_x2", precision="bfloat16")
    native(True)
    upscaler = Upscaler(2, model="rmisr_bl_x2", precision="bfloat16", tile=None)
    assert upscaler.compute_dtype == torch.bfloat16 and upscaler.inferer.precision == "bfloat16"
    volume = np.random.default_rng(1).random((1, 24, 20, 3)).astype(np.float32)
    result = upscaler.in_plane(volume)  # slices batched through the network
    reference = Upscaler(2, model="rmisr_bl_x2", tile=None).in_plane(volume)
    assert result.dtype == np.float32 and result.shape == (1, 48, 40, 3)
    assert 0 < np.abs(result - reference).max() < 0.1


@pytest.mark.parametrize("amx", [True, False])
def test_the_bfloat16_form_is_channels_last_on_a_cpu_with_amx(native, monkeypatch, amx):
    native(True)
    monkeypatch.setattr("monai_rmisr.networks.regroup.cpu_has_amx", lambda: amx)
    upscaler = Upscaler(2, model="rmisr_bl_x2", precision="bfloat16", tile=None)
    assert upscaler.channels_last is amx
    layout = torch.channels_last if amx else torch.contiguous_format
    for network in (upscaler.network, upscaler.runner):  # loaded in the form of its precision, not copied again
        weights = [p for p in network.parameters() if p.dim() == 4 and p.shape[1] > 1 and p.shape[2:].numel() > 1]
        assert weights and all(p.is_contiguous(memory_format=layout) for p in weights)
    assert upscaler.runner is upscaler.network
    assert Upscaler(2, model="rmisr_bl_x2", tile=None).channels_last is False  # float32: contiguous, NNPACK
    image = np.random.default_rng(2).random((24, 20)).astype(np.float32)
    result = super_resolve(image, 2, model="rmisr_bl_x2", tile=None, precision="bfloat16")
    reference = super_resolve(image, 2, model="rmisr_bl_x2", tile=None)
    assert 0 < np.abs(result - reference).max() < 0.1


def test_the_command_line_refuses_a_bad_precision(tmp_path, capsys):
    source = tmp_path / "ramp.png"
    Image.fromarray(np.tile(np.arange(32, dtype=np.uint8) * 8, (24, 1))).save(source)
    code = main(["upscale", str(source), "-o", str(tmp_path / "out.png"), "--scale", "2", "--precision", "half"])
    assert code == 2
    assert "precision must be one of float32, bfloat16, auto" in capsys.readouterr().err
    assert not (tmp_path / "out.png").exists()


def test_a_dicom_output_says_it_was_computed_in_bfloat16(native, tmp_path):
    native(True)
    source = dicom_testdata("CT_small.dcm")
    Upscaler(2, model="rmisr_bl_x2", precision="bfloat16").file(source, tmp_path / "bf16.dcm")
    Upscaler(2, model="rmisr_bl_x2", precision="auto").file(source, tmp_path / "auto.dcm")
    native(False)
    Upscaler(2, model="rmisr_bl_x2", precision="auto").file(source, tmp_path / "f32.dcm")
    for name, says in (("bf16", True), ("auto", True), ("f32", False)):
        description = pydicom.dcmread(tmp_path / f"{name}.dcm").DerivationDescription
        assert ("(bfloat16 compute)" in description) is says, description
        assert "not for primary diagnosis" in description
