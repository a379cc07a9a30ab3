"""--medical_degradation: the training LR from RandMedicalDegrade instead of plain bicubic."""

import numpy as np
import pytest
import torch

from monai_rmisr.data.patches import PairedPatchDataset, medical_degradation
from monai_rmisr.transforms import RandMedicalDegrade, imresize
from tests.engines.bundle_helpers import training_parser


def _images():
    rng = np.random.default_rng(0)
    return [rng.random((1, 60, 70), dtype=np.float32), rng.random((1, 50, 50), dtype=np.float32)]


def test_off_by_default_and_a_randmedicaldegrade_when_asked():
    assert medical_degradation(2, None) is None
    degrade = medical_degradation(3, {"blur_sigma": [0.5, 1.0], "jpeg_quality": 80})
    assert isinstance(degrade, RandMedicalDegrade) and degrade.scale == 3 and degrade.jpeg_quality == (80, 80)


@pytest.mark.parametrize(
    "options, scale_range, message",
    [
        ({"blur": 1.0}, None, "RandMedicalDegrade options: .*'blur'"),
        ({"jpeg_quality": 0}, None, "jpeg_quality"),
        ("blur", None, "a mapping of RandMedicalDegrade keyword arguments"),
        ({"blur_sigma": 1.0}, (1.1, 4.0), "needs a fixed training scale"),
    ],
)
def test_bad_options_are_refused_naming_them(options, scale_range, message):
    with pytest.raises(ValueError, match=message):
        medical_degradation(2, options, scale_range)


def test_the_patch_lr_is_the_degraded_hr_patch_and_the_same_for_the_same_index():
    plain = PairedPatchDataset(_images(), patch_size=8, scale=2, seed=1, length=4, lr_bits=(8, 16))
    degraded = PairedPatchDataset(
        _images(), 8, 2, seed=1, length=4, lr_bits=(8, 16), degradation=medical_degradation(2, {"blur_sigma": 1.0})
    )
    a, b = plain[3], degraded[3]
    assert (
        torch.equal(a["hr"], b["hr"]) and a["lr_bits"] == b["lr_bits"] and b["lr"].shape == a["lr"].shape == (1, 8, 8)
    )
    # plain bicubic before, the blurred HR's bicubic now (a smoother LR), and item 3 is item 3 on every call
    np.testing.assert_allclose(a["lr"].numpy(), imresize(a["hr"].numpy(), 0.5), atol=1e-6)
    assert float(b["lr"].std()) < float(a["lr"].std())
    assert torch.equal(degraded[3]["lr"], b["lr"])
    # the noise is drawn per item: two items with noise differ from their plain LR differently
    noisy = PairedPatchDataset(
        _images(), 8, 2, seed=1, length=4, degradation=RandMedicalDegrade(2, gaussian_noise_std=0.1)
    )
    assert not torch.allclose(noisy[0]["lr"], plain[0]["lr"], atol=1e-3)


def test_the_bundle_setting_reaches_the_training_patches(tmp_path):
    parser = training_parser(
        tmp_path, max_epochs=1, medical_degradation={"blur_sigma": 1.0, "gaussian_noise_std": 0.01}
    )
    dataset = parser.get_parsed_content("train#dataset")
    assert isinstance(dataset.degradation, RandMedicalDegrade) and dataset.degradation.blur_sigma == (1.0, 1.0)
    assert parser.get_parsed_content("train#degradation") is not None
    assert training_parser(tmp_path / "off", max_epochs=1).get_parsed_content("train#dataset").degradation is None
