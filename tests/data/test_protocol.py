import numpy as np
import pytest
import torch

from monai_rmisr.data import (
    BICUBIC_REFERENCE,
    BICUBIC_REFERENCE_UNCLIPPED,
    bicubic_baseline,
    load_corpus,
    make_pair,
    mean_scores,
    modcrop,
)
from monai_rmisr.transforms import imresize


def test_make_pair_crops_to_a_multiple_and_degrades_without_rounding():
    hr = np.random.default_rng(0).random((1, 101, 98)).astype(np.float32)
    cropped, lr = make_pair(hr, 3)
    assert cropped.shape == (1, 99, 96) and lr.shape == (1, 33, 32) and lr.dtype == np.float32
    np.testing.assert_array_equal(cropped, hr[:, :99, :96])  # top-left kept (modcrop)
    np.testing.assert_array_equal(lr, imresize(hr[:, :99, :96], scale=1 / 3))
    assert not np.allclose(lr * 255, np.round(lr * 255))  # float, not quantised
    t_hr, t_lr = make_pair(torch.from_numpy(hr), 2)
    assert t_hr.shape == (1, 100, 98) and t_lr.shape == (1, 50, 49)


def test_make_pair_rejects_non_integer_scales():
    for bad in (1.5, 0, -2, True):
        with pytest.raises(ValueError, match="positive integer"):
            make_pair(np.zeros((1, 8, 8)), bad)
    with pytest.raises(ValueError, match="smaller than the scale"):
        modcrop(np.zeros((1, 3, 8)), 4)


@pytest.fixture(scope="module")
def test_images(tmp_path_factory):
    return load_corpus("test", cache_dir=tmp_path_factory.mktemp("corpus_cache"))


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("clip_lr", [True, False])
def test_bicubic_baseline_reproduces_the_published_numbers(test_images, scale, clip_lr):
    """DATA.md: bicubic gives 37.41 / 34.66 / 33.05 dB (x2 / x3 / x4) on the realistic protocol (LR
    clipped), 37.42 / 34.68 / 33.06 dB with the overshoot kept; mean over the six TEST images."""
    scores = bicubic_baseline(scale, images=test_images, clip_lr=clip_lr)
    assert list(scores) == ["693_UNCR", "MR2_UNCR", "RG1_UNCR", "gdcm-US-ALOKA-16", "retina", "ihc"]
    mean_psnr, mean_ssim = mean_scores(scores)
    reference = BICUBIC_REFERENCE if clip_lr else BICUBIC_REFERENCE_UNCLIPPED
    assert mean_psnr == pytest.approx(reference[scale], abs=0.005)
    expected_ssim = ({2: 0.9386, 3: 0.8838, 4: 0.8418} if clip_lr else {2: 0.9386, 3: 0.8834, 4: 0.8410})[scale]
    assert mean_ssim == pytest.approx(expected_ssim, abs=2e-4)
    if scale == 2:  # per-image values measured when the protocol was pinned down
        ct, us = (36.133, 26.124) if clip_lr else (36.195, 26.149)
        expected = {"693_UNCR": ct, "MR2_UNCR": 34.261, "RG1_UNCR": 46.419, "gdcm-US-ALOKA-16": us}
        for name, value in expected.items():
            assert scores[name][0] == pytest.approx(value, abs=0.002), name
