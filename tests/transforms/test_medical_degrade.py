"""RandMedicalDegrade(d): scanner-like degradations, each off by default, ending on the bicubic LR grid."""

from __future__ import annotations

import monai.transforms
import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from scipy.ndimage import gaussian_filter

from monai_rmisr.transforms import BicubicDegrade, RandMedicalDegrade, RandMedicalDegraded, imresize
from monai_rmisr.transforms.medical_degrade import jpeg_roundtrip, kspace_truncate, slab_resample

ALL_ON = {
    "kspace_truncation": True,
    "slice_thickness": (-1, 2),
    "gaussian_noise_std": (0.0, 0.02),
    "poisson_peak": (50.0, 200.0),
    "blur_sigma": (0.0, 1.0),
    "jpeg_quality": (30, 90),
}


def _hr(shape, seed=0):
    return np.random.default_rng(seed).uniform(0.2, 0.8, shape)


def test_names_do_not_shadow_monai():
    assert "RandMedicalDegrade" not in dir(monai.transforms) and "RandMedicalDegraded" not in dir(monai.transforms)


@pytest.mark.parametrize("scale", [2, 3, (2, 4)])
def test_everything_off_is_plain_bicubic(scale):
    hr = _hr((1, 12, 12)).astype(np.float32)
    lr = RandMedicalDegrade(scale)(hr)
    assert lr.dtype == np.float32
    np.testing.assert_array_equal(lr, BicubicDegrade(scale)(hr))
    # options on, but the prob draw fails: still exactly bicubic
    np.testing.assert_array_equal(RandMedicalDegrade(scale, prob=0.0, **ALL_ON)(hr), lr)


@pytest.mark.parametrize("shape", [(1, 16, 12), (2, 8, 8, 12)])
def test_output_shape_is_the_bicubic_shape(shape):
    hr = torch.from_numpy(_hr(shape))
    t = RandMedicalDegrade(4, **ALL_ON)
    t.set_random_state(0)
    lr = t(hr)
    assert isinstance(lr, torch.Tensor) and lr.dtype == torch.float64
    assert lr.shape == BicubicDegrade(4)(hr).shape


def test_kspace_truncation_removes_high_frequencies():
    hr = _hr((1, 32, 32))
    out = kspace_truncate(hr, (2, 2), axes=(1, 2))
    assert out.shape == hr.shape and out.min() > 0  # magnitude is then a no-op: the spectrum is the truncated one
    power = np.abs(np.fft.fft2(out[0])) ** 2
    k = np.abs(np.fft.fftfreq(32) * 32)
    above = (k[:, None] >= 8) | (k[None, :] >= 8)  # |k| < 32 / (2 * 2) kept
    assert power[above].sum() < 1e-20 * power.sum()
    assert np.abs(np.fft.fft2(hr[0]))[above].sum() > 1.0  # there was energy up there to remove
    # a band-limited image (frequencies below the cut) passes unchanged
    y, x = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    smooth = (1.0 + 0.5 * np.cos(2 * np.pi * 3 * y / 32) * np.sin(2 * np.pi * 5 * x / 32))[None]
    np.testing.assert_allclose(kspace_truncate(smooth, (2, 2), (1, 2)), smooth, rtol=0, atol=1e-12)


def test_kspace_order_truncate_then_bicubic():
    hr = _hr((1, 16, 16))
    t = RandMedicalDegrade(2, kspace_truncation=True)
    np.testing.assert_allclose(t(hr), imresize(kspace_truncate(hr, (2, 2), (1, 2)), 0.5), rtol=0, atol=1e-15)
    assert t.params == {"kspace_truncation": True}
    # a probability draws per sample; 0 < p < 1 gives both outcomes
    t = RandMedicalDegrade(2, kspace_truncation=0.5)
    t.set_random_state(1)
    draws = set()
    for _ in range(20):
        t(hr)
        draws.add(t.params["kspace_truncation"])
    assert draws == {True, False}


def test_slice_thickness_block_average_and_impulse_spread():
    vol = _hr((1, 4, 4, 16))
    lr = RandMedicalDegrade((1, 1, 4), slice_thickness=(2, 4))(vol)
    assert lr.shape == (1, 4, 4, 4)
    np.testing.assert_allclose(lr, vol.reshape(1, 4, 4, 4, 4).mean(-1), rtol=0, atol=1e-15)
    impulse = np.zeros((1, 1, 1, 16))
    impulse[..., 5] = 1.0
    contiguous = slab_resample(impulse, 3, scale=4, thickness=4)[0, 0, 0]
    np.testing.assert_allclose(contiguous, [0, 0.25, 0, 0], atol=1e-15)
    overlapping = slab_resample(impulse, 3, scale=4, thickness=8)[0, 0, 0]  # 8-slice slabs every 4 slices
    np.testing.assert_allclose(overlapping, [0.125, 0.125, 0, 0], atol=1e-15)
    assert np.count_nonzero(overlapping) == 2 and overlapping.sum() == pytest.approx(0.25)
    # bicubic along z instead of the slab would spread the impulse differently (negative lobes)
    assert imresize(impulse, (1, 1, 0.25)).min() < 0
    # the in-plane axes still get bicubic; the slab weights sum to 1 (constant preserved)
    lr3 = RandMedicalDegrade(2, slice_thickness=(-1, 3))(np.ones((1, 6, 6, 10)))
    assert lr3.shape == (1, 3, 3, 5)
    np.testing.assert_allclose(lr3, 1.0, rtol=0, atol=1e-12)


def test_blur_order():
    hr = _hr((1, 16, 16))
    t = RandMedicalDegrade(2, blur_sigma=0.8)
    expected = imresize(gaussian_filter(hr, (0, 0.8, 0.8), mode="reflect"), 0.5)
    np.testing.assert_allclose(t(hr), expected, rtol=0, atol=1e-15)
    assert t.params == {"blur_sigma": 0.8}


def test_gaussian_and_poisson_noise_std():
    hr = np.full((1, 128, 128), 0.25)
    clean = imresize(hr, 0.5)
    t = RandMedicalDegrade(2, gaussian_noise_std=0.05)
    t.set_random_state(0)
    noise = t(hr) - clean
    assert abs(noise.mean()) < 0.005 and noise.std() == pytest.approx(0.05, rel=0.05)
    t = RandMedicalDegrade(2, poisson_peak=100.0)
    t.set_random_state(0)
    noisy = t(hr)
    assert noisy.mean() == pytest.approx(0.25, abs=0.005)
    assert noisy.std() == pytest.approx(np.sqrt(0.25 / 100), rel=0.05)  # Poisson: var = x / peak
    np.testing.assert_allclose(noisy * 100, np.rint(noisy * 100), atol=1e-9)  # integer counts / peak
    t = RandMedicalDegrade(2, gaussian_noise_std=(0.01, 0.03))
    t.set_random_state(3)
    t(hr)
    assert 0.01 <= t.params["gaussian_noise_std"] <= 0.03


def test_jpeg_block_artefacts_and_quantisation():
    y, x = np.meshgrid(np.linspace(0, 1, 64), np.linspace(0, 1, 64), indexing="ij")
    img = (0.1 + 0.8 * (0.5 * x + 0.5 * y))[None]
    low = jpeg_roundtrip(img, 5)
    np.testing.assert_allclose(low * 255, np.rint(low * 255), atol=1e-9)
    jumps = np.abs(np.diff(low[0], axis=1)).mean(axis=0)  # mean jump between neighbouring columns
    at_block_edges = jumps[7::8].mean()  # between columns 8k-1 and 8k
    inside = np.delete(jumps, np.s_[7::8]).mean()
    assert at_block_edges > 3 * inside
    high = jpeg_roundtrip(img, 95)
    assert np.abs(high - img).max() < np.abs(low - img).max()
    t = RandMedicalDegrade(2, jpeg_quality=5)
    np.testing.assert_array_equal(t(img), jpeg_roundtrip(imresize(img, 0.5), 5))
    vol = jpeg_roundtrip(np.stack([img] * 3, axis=-1), 5)  # per slice of a volume
    np.testing.assert_array_equal(vol[..., 2], low)


def test_deterministic_given_the_seed():
    hr = torch.from_numpy(_hr((1, 16, 16, 8)))

    def run(seed):
        t = RandMedicalDegrade(2, **ALL_ON)
        t.set_random_state(seed)
        return [t(hr) for _ in range(2)], t.params

    (a1, a2), params = run(7)
    (b1, b2), _ = run(7)
    (c1, _), _ = run(8)
    torch.testing.assert_close(a1, b1, rtol=0, atol=0)
    torch.testing.assert_close(a2, b2, rtol=0, atol=0)
    assert not torch.equal(a1, a2) and not torch.equal(a1, c1)
    assert set(params) == {*ALL_ON, "noise_seed"}


def test_metatensor_affine_and_dtype():
    hr = MetaTensor(torch.from_numpy(_hr((1, 8, 8))).float(), meta={"modality": "MR"})
    t = RandMedicalDegrade(2, gaussian_noise_std=0.01)
    lr = t(hr)
    assert isinstance(lr, MetaTensor) and lr.dtype == torch.float32 and lr.meta["modality"] == "MR"
    torch.testing.assert_close(lr.affine, imresize(hr, 0.5).affine)


def test_dict_version_leaves_input_untouched():
    hr = _hr((1, 16, 16)).astype(np.float32)
    before = hr.copy()
    data = {"hr": hr, "label": 3}
    t = RandMedicalDegraded(keys="hr", scale=2, output_keys="lr", gaussian_noise_std=0.02, blur_sigma=(0.5, 1.0))
    t.set_random_state(5)
    out = t(data)
    assert set(out) == {"hr", "label", "lr"} and set(data) == {"hr", "label"}
    assert out["hr"] is hr
    np.testing.assert_array_equal(hr, before)
    arr = RandMedicalDegrade(2, gaussian_noise_std=0.02, blur_sigma=(0.5, 1.0))
    arr.set_random_state(5)
    np.testing.assert_array_equal(out["lr"], arr(hr))  # same draws as the array transform
    plain = RandMedicalDegraded(keys=("a", "b"), scale=2)({"a": hr, "b": hr})
    np.testing.assert_array_equal(plain["a_lr"], BicubicDegrade(2)(hr))
    np.testing.assert_array_equal(plain["b_lr"], plain["a_lr"])
    with pytest.raises(ValueError, match="output_keys"):
        RandMedicalDegraded(keys=("a", "b"), scale=2, output_keys="x")


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"scale": 0.5}, "0.5"),
        ({"prob": 1.5}, "1.5"),
        ({"kspace_truncation": -0.1}, "-0.1"),
        ({"slice_thickness": (2, 0.5)}, "0.5"),
        ({"slice_thickness": 2}, "2"),
        ({"gaussian_noise_std": -0.01}, "-0.01"),
        ({"gaussian_noise_std": (0.03, 0.01)}, r"\(0.03, 0.01\)"),
        ({"poisson_peak": 0}, "0"),
        ({"blur_sigma": float("nan")}, "nan"),
        ({"jpeg_quality": 0}, "0"),
        ({"jpeg_quality": (90, 10)}, r"\(90, 10\)"),
        ({"jpeg_quality": 50.5}, "50.5"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, named):
    args = {"scale": 2} | kwargs
    with pytest.raises(ValueError, match="got " + named):
        RandMedicalDegrade(**args)


def test_bad_images_raise():
    with pytest.raises(ValueError, match=r"\(1, 8\)"):
        RandMedicalDegrade(2)(np.zeros((1, 8)))
    with pytest.raises(ValueError, match="axis 3"):
        RandMedicalDegrade(2, slice_thickness=(3, 2))(np.zeros((1, 8, 8, 8)))
    with pytest.raises(ValueError, match="3 entries"):
        RandMedicalDegrade((2, 2, 2))(np.zeros((1, 8, 8)))


@pytest.mark.parametrize("kind", ["numpy", "torch"])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "uint8"])
def test_the_output_dtype_does_not_depend_on_whether_a_degradation_fired(kind, dtype):
    # a float16 numpy image came back float16 where nothing fired (plain bicubic) and float32 where noise was added:
    # both dtypes out of one prob=0.5 pipeline. Now the rule is imresize's either way.
    image = np.random.default_rng(0).random((1, 16, 16))
    image = (image * 255).astype(dtype) if dtype == "uint8" else image.astype(dtype)
    x = torch.from_numpy(image) if kind == "torch" else image
    transform = RandMedicalDegrade(2, prob=0.5, gaussian_noise_std=0.01)
    transform.set_random_state(0)
    dtypes = {str(transform(x).dtype).removeprefix("torch.") for _ in range(12)}
    assert dtypes == {str(imresize(x, scale=0.5).dtype).removeprefix("torch.")}
    assert dtypes == {"float32" if dtype == "uint8" else dtype}
