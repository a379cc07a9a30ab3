import math

import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage.metrics import structural_similarity

from monai_rmisr.metrics import psnr, ssim


def _pair(shape=(48, 40), seed=0):
    rng = np.random.default_rng(seed)
    hr = ndimage.gaussian_filter(rng.random(shape), 2.0)
    hr = (hr - hr.min()) / (hr.max() - hr.min())
    sr = np.clip(hr + 0.03 * rng.standard_normal(shape), 0, 1)
    return sr, hr


def test_psnr_hand_values():
    hr = np.zeros((10, 10))
    assert psnr(hr + 0.1, hr) == pytest.approx(20.0)  # MSE 0.01
    assert psnr(np.full((4, 4), 255.0), np.full((4, 4), 255.0 - 25.5), data_range=255) == pytest.approx(20.0)
    assert math.isinf(psnr(hr, hr))


def test_ssim_matches_skimage_gaussian_definition():
    # MONAI's SSIMMetric computes in float32: the same numbers as skimage's float64 to 1e-6
    sr, hr = _pair()
    reference = structural_similarity(
        sr, hr, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert ssim(sr, hr) == pytest.approx(reference, abs=1e-6)
    rgb_sr, rgb_hr = np.stack([sr, sr**2, 1 - sr]), np.stack([hr, hr**2, 1 - hr])
    reference = structural_similarity(
        rgb_sr, rgb_hr, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, channel_axis=0
    )
    assert ssim(rgb_sr, rgb_hr) == pytest.approx(reference, abs=1e-6)
    reference = structural_similarity(
        sr * 255, hr * 255, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert ssim(sr * 255, hr * 255, data_range=255) == pytest.approx(reference, abs=1e-6)
    assert ssim(hr, hr) == pytest.approx(1.0)


def test_crop_border_removes_the_border_from_both_metrics():
    sr, hr = _pair()
    b = 4
    assert psnr(sr, hr, crop_border=b) == pytest.approx(psnr(sr[b:-b, b:-b], hr[b:-b, b:-b]))
    assert ssim(sr, hr, crop_border=b) == pytest.approx(ssim(sr[b:-b, b:-b], hr[b:-b, b:-b]))
    damaged = hr.copy()
    damaged[:2] = 0.0  # errors only in a 2-pixel border
    assert math.isinf(psnr(damaged, hr, crop_border=2)) and not math.isinf(psnr(damaged, hr))
    with pytest.raises(ValueError, match="leaves nothing"):
        psnr(sr, hr, crop_border=20)


def test_batches_torch_and_numpy():
    pairs = [_pair(seed=s) for s in range(3)]
    sr = np.stack([p[0] for p in pairs])[:, None]  # (B, 1, H, W)
    hr = np.stack([p[1] for p in pairs])[:, None]
    singles_psnr = [psnr(p[0], p[1], crop_border=2) for p in pairs]
    singles_ssim = [ssim(p[0], p[1], crop_border=2) for p in pairs]
    batch = psnr(torch.from_numpy(sr).float(), torch.from_numpy(hr).float(), crop_border=2)
    assert isinstance(batch, torch.Tensor) and batch.shape == (3,)
    np.testing.assert_allclose(batch.numpy(), singles_psnr, atol=1e-4)  # float32 input, float64 maths
    batch = ssim(sr, hr, crop_border=2)
    assert isinstance(batch, np.ndarray) and batch.shape == (3,)
    np.testing.assert_allclose(batch, singles_ssim, atol=1e-12)
    assert isinstance(ssim(torch.from_numpy(sr[0]), torch.from_numpy(hr[0])), float)


def test_bad_arguments():
    sr, hr = _pair()
    with pytest.raises(ValueError, match="same shape"):
        psnr(sr, hr[:-1])
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(sr[:10], hr[:10])
    with pytest.raises(ValueError, match="data_range"):
        psnr(sr, hr, data_range=0)
    with pytest.raises(ValueError, match=r"\(H, W\), \(C, H, W\) or \(B, C, H, W\)"):
        psnr(sr[None, None, None], hr[None, None, None])


@pytest.mark.parametrize(
    "data_range",
    [
        np.float32(0.9),
        np.int64(255),
        torch.tensor(1.0),
        torch.tensor([2.0]),
        np.float64(1.0),
        np.array(1.0),
        np.ones(1),
    ],
)
def test_data_range_takes_numpy_scalars_and_one_element_tensors(data_range):
    # psnr(sr, hr, data_range=hr.max() - hr.min()) on float32 arrays was refused as not "a finite number > 0"
    rng = np.random.default_rng(0)
    hr = rng.random((16, 16)).astype(np.float32)
    sr = hr + 0.01
    value = float(np.asarray(data_range).reshape(-1)[0])
    assert psnr(sr, hr, data_range=data_range) == pytest.approx(psnr(sr, hr, data_range=value), abs=1e-9)
    assert ssim(sr, hr, data_range=data_range) == pytest.approx(ssim(sr, hr, data_range=value), abs=1e-9)


@pytest.mark.parametrize("data_range", [True, "1", np.float32("nan"), torch.tensor([1.0, 2.0]), -1])
def test_data_range_refuses_what_is_no_positive_number(data_range):
    with pytest.raises(ValueError, match="data_range must be a finite number > 0"):
        psnr(np.zeros((4, 4)), np.zeros((4, 4)), data_range=data_range)


def test_volumes_are_scored_with_spatial_dims_3():
    # a (C, H, W, D) volume was read as a (B, C, H, W) batch: crop_border trimmed W and D, never H, and an error in
    # the border rows of H scored 9.03 dB instead of inf
    hr = torch.zeros(1, 16, 16, 16)
    sr = hr.clone()
    sr[:, :2] = 1.0
    assert psnr(sr, hr, crop_border=2, spatial_dims=3) == math.inf
    sr[:, 5, 6, 7] = 0.5  # one voxel inside: MSE 0.25 / 12^3
    assert psnr(sr, hr, crop_border=2, spatial_dims=3) == pytest.approx(10 * math.log10(12**3 / 0.25))
    batch = torch.stack([sr, hr])  # (B, C, H, W, D): per-volume values
    batch_values = psnr(batch, torch.stack([hr, hr]), crop_border=2, spatial_dims=3).tolist()
    assert batch_values[0] == pytest.approx(10 * math.log10(12**3 / 0.25)) and batch_values[1] == math.inf
    rng = np.random.default_rng(1)
    volume = rng.random((20, 18, 16))
    noisy = np.clip(volume + rng.normal(0, 0.05, volume.shape), 0, 1)
    expected = structural_similarity(
        noisy, volume, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0
    )
    assert ssim(noisy, volume, spatial_dims=3) == pytest.approx(expected, abs=1e-5)
    with pytest.raises(ValueError, match=r"ssim needs at least 11x11x11 pixels, got \(20, 18, 10\)"):
        ssim(noisy[:, :, :10], volume[:, :, :10], spatial_dims=3)
    with pytest.raises(ValueError, match=r"sr must be \(H, W, D\), \(C, H, W, D\) or \(B, C, H, W, D\)"):
        psnr(noisy[0], volume[0], spatial_dims=3)
    with pytest.raises(ValueError, match="spatial_dims must be 2 or 3, got 1"):
        psnr(noisy, volume, spatial_dims=1)
