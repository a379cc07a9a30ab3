"""Geometric self-ensemble: the mean over the eight flips / quarter turns, turned back."""

import numpy as np
import pydicom
import pytest
import torch
from torch import nn

from monai_rmisr import super_resolve
from monai_rmisr.__main__ import main
from monai_rmisr.inference import self_ensemble_forward
from monai_rmisr.inference.upscale import Upscaler
from tests.helpers import dicom_testdata

from .test_super_resolve import small_rmisr


def _numpy_mean_over_turns(network: nn.Module, x: np.ndarray, scale: float) -> np.ndarray:
    """An independent computation with numpy's rot90 / fliplr on (H, W) images."""
    outputs = []
    for k in range(4):
        for mirror in (False, True):
            turned = np.rot90(x, k)
            turned = np.fliplr(turned) if mirror else turned
            with torch.no_grad():
                y = network(torch.from_numpy(turned.copy())[None, None], scale)[0, 0].numpy()
            y = np.fliplr(y) if mirror else y
            outputs.append(np.rot90(y, -k))
    return np.mean(outputs, axis=0)


@pytest.mark.parametrize("scale,upsampler", [(2, "subpixel"), (2.5, "meta")])
def test_equals_the_mean_of_the_eight_turned_outputs_on_a_non_square_image(scale, upsampler):
    torch.manual_seed(0)
    network = small_rmisr(scale, upsampler, perturb=0.05).eval()
    x = np.random.default_rng(0).random((20, 28), dtype=np.float32)
    with torch.no_grad():
        single = network(torch.from_numpy(x)[None, None], scale)
        ensemble = self_ensemble_forward(network, torch.from_numpy(x)[None, None], scale)
    assert ensemble.shape == single.shape
    np.testing.assert_allclose(ensemble[0, 0].numpy(), _numpy_mean_over_turns(network, x, scale), atol=1e-5)
    assert not torch.allclose(ensemble, single, atol=1e-4)  # the network is not equivariant


def test_result_commutes_with_every_flip_and_turn():
    torch.manual_seed(0)
    network = small_rmisr(2, perturb=0.05).eval()
    x = torch.rand(1, 1, 24, 24)
    with torch.no_grad():
        base = self_ensemble_forward(network, x, 2)
        turned = self_ensemble_forward(network, torch.rot90(x, 1, (2, 3)).flip(3), 2)
    torch.testing.assert_close(turned, torch.rot90(base, 1, (2, 3)).flip(3), atol=1e-5, rtol=0)


def test_an_equivariant_network_is_left_unchanged():
    network = nn.Upsample(scale_factor=2, mode="nearest")
    x = torch.rand(2, 3, 9, 13)
    torch.testing.assert_close(self_ensemble_forward(network, x, 2), network(x), atol=1e-6, rtol=0)


def test_super_resolve_with_and_without_tiles():
    torch.manual_seed(0)
    network = small_rmisr(2, perturb=0.05)
    image = np.random.default_rng(1).random((30, 26), dtype=np.float32)
    plain = super_resolve(image, 2, model=network)
    whole = super_resolve(image, 2, model=network, self_ensemble=True)
    tiled = super_resolve(image, 2, model=network, self_ensemble=True, tile=64)  # one tile holds the image
    assert whole.shape == plain.shape == (60, 52) and not np.allclose(whole, plain, atol=1e-4)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    expected = np.clip(_numpy_mean_over_turns(network.eval(), image, 2), 0, 1)
    np.testing.assert_allclose(whole, expected, atol=1e-5)


def test_volume_slices_are_batched_through_the_ensemble():
    torch.manual_seed(0)
    network = small_rmisr(2, perturb=0.05)
    volume = np.random.default_rng(2).random((1, 16, 12, 3), dtype=np.float32)
    result = Upscaler(2, model=network, self_ensemble=True).in_plane(volume)
    for k in range(3):
        np.testing.assert_allclose(
            result[..., k], super_resolve(volume[..., k], 2, model=network, self_ensemble=True), atol=1e-5
        )


def test_cli_records_the_ensemble_in_the_derived_series(tmp_path, tiny_checkpoint):
    out = tmp_path / "mr.dcm"
    argv = ["upscale", dicom_testdata("MR_small.dcm"), "-o", str(out), "--scale", "2", "--model", str(tiny_checkpoint)]
    assert main([*argv, "--self-ensemble", "-q"]) == 0
    description = pydicom.dcmread(out).DerivationDescription
    assert "tiny.pt" in description and "self-ensemble of 8 flips/rotations" in description
