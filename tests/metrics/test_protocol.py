import numpy as np
import pytest
import torch

from monai_rmisr.data import load_corpus
from monai_rmisr.data.corpus import CorpusImage
from monai_rmisr.metrics import (
    BICUBIC_REFERENCE,
    BICUBIC_REFERENCE_UNCLIPPED,
    Scores,
    bicubic_baseline,
    make_pair,
    mean_scores,
    modcrop,
    protocol_border,
    protocol_scores,
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
    mean_psnr, mean_ssim = mean_scores(scores.values())[:2]
    reference = BICUBIC_REFERENCE if clip_lr else BICUBIC_REFERENCE_UNCLIPPED
    assert mean_psnr == pytest.approx(reference[scale], abs=0.005)
    expected_ssim = ({2: 0.9386, 3: 0.8838, 4: 0.8418} if clip_lr else {2: 0.9386, 3: 0.8834, 4: 0.8410})[scale]
    assert mean_ssim == pytest.approx(expected_ssim, abs=2e-4)
    if scale == 2:  # per-image values measured when the protocol was pinned down
        ct, us = (36.133, 26.124) if clip_lr else (36.195, 26.149)
        expected = {"693_UNCR": ct, "MR2_UNCR": 34.261, "RG1_UNCR": 46.419, "gdcm-US-ALOKA-16": us}
        for name, value in expected.items():
            assert scores[name].psnr == pytest.approx(value, abs=0.002), name


def test_the_border_is_the_scale_rounded_up():
    assert [protocol_border(s) for s in (1, 2, 2.5, 3, 3.01, 4, 5)] == [1, 2, 3, 3, 4, 4, 5]


def test_mean_scores_averages_each_score_and_keeps_a_missing_branch_missing():
    one, two = Scores(30.0, 0.9, 20.0, 25.0), Scores(40.0, 0.8, 22.0, None)
    mean = mean_scores([one, two])
    assert mean[:3] == pytest.approx((35.0, 0.85, 21.0)) and mean.branch_laplacian_psnr is None
    assert mean_scores([one, one]).branch_laplacian_psnr == 25.0


def test_protocol_scores_refuses_a_nan_score_naming_the_image():
    image = CorpusImage("flat", "CT", "-", np.random.default_rng(1).random((1, 32, 32), dtype=np.float32))
    with pytest.raises(ValueError, match="'flat'"):
        protocol_scores(lambda lr: np.full((1, 32, 32), np.nan), 2, [image], clip=False)
