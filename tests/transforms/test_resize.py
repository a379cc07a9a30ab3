"""MATLAB-compatible bicubic imresize: hand-computed weights, a loop reference, invariants, speed."""

from __future__ import annotations

import math
import time

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import LoadImage

from monai_rmisr.transforms import BicubicDegrade, imresize

# --------------------------------------------------------------------------------------------
# Slow, loop-based reference of MATLAB's imresize(..., 'bicubic') (contributions + resizeAlongDim),
# written independently of the vectorised implementation.


def _ref_cubic(x: float) -> float:
    ax = abs(x)
    if ax <= 1:
        return 1.5 * ax**3 - 2.5 * ax**2 + 1
    if ax <= 2:
        return -0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2
    return 0.0


def _ref_resize_axis(a: np.ndarray, axis: int, out_len: int, scale: float) -> np.ndarray:
    a = np.moveaxis(np.asarray(a, dtype=np.float64), axis, 0)
    in_len = a.shape[0]
    kernel_width = 4.0 / scale if scale < 1 else 4.0
    out = np.zeros((out_len, *a.shape[1:]))
    for x in range(1, out_len + 1):  # MATLAB 1-based output coordinate
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - kernel_width / 2)
        taps = math.ceil(kernel_width) + 2
        idx = [left + j for j in range(taps)]
        w = [scale * _ref_cubic(scale * (u - i)) if scale < 1 else _ref_cubic(u - i) for i in idx]
        total = sum(w)
        for wi, i in zip(w, idx, strict=True):
            m = (i - 1) % (2 * in_len)  # aux = [1:n, n:-1:1]; aux(mod(i - 1, 2n) + 1), 0-based here
            src = m if m < in_len else 2 * in_len - 1 - m
            out[x - 1] += (wi / total) * a[src]
    return np.moveaxis(out, 0, axis)


def _ref_imresize(img: np.ndarray, scales, out_sizes) -> np.ndarray:
    """img channel-first; scales / out_sizes per spatial axis; smallest scale first (stable)."""
    out = np.asarray(img, dtype=np.float64)
    for ax in sorted(range(len(scales)), key=lambda i: scales[i]):
        out = _ref_resize_axis(out, ax + 1, out_sizes[ax], scales[ax])
    return out


# --------------------------------------------------------------------------------------------
# Hand-computed MATLAB weights.
#
# Scale 1/2: kernel h(d) = cubic(d / 2) / 2, width 8; output x reads u = 2x - 0.5, so the non-zero
# taps sit at distances +-0.5, +-1.5, +-2.5, +-3.5 with cubic(0.25)/2 = 0.43359375,
# cubic(0.75)/2 = 0.11328125, cubic(1.25)/2 = -0.03515625, cubic(1.75)/2 = -0.01171875 (these sum
# to 1). For n = 4, output 1 reads indices -2..5 -> mirrored [3, 2, 1, 1, 2, 3, 4, 4], giving
# row [0.546875, 0.3984375, 0.1015625, -0.046875]; output 2 is its mirror image.
_W_HALF_4 = np.array(
    [
        [0.546875, 0.3984375, 0.1015625, -0.046875],
        [-0.046875, 0.1015625, 0.3984375, 0.546875],
    ]
)


def test_hand_computed_half_1d():
    out = imresize(np.array([[1.0, 2.0, 3.0, 4.0]]), 0.5)
    np.testing.assert_allclose(out, [[1.4609375, 3.5390625]], rtol=0, atol=1e-12)


def test_hand_computed_half_4x4():
    img = np.arange(16, dtype=np.float64).reshape(1, 4, 4) ** 2
    expected = _W_HALF_4 @ img[0] @ _W_HALF_4.T
    np.testing.assert_allclose(imresize(img, 0.5)[0], expected, rtol=0, atol=1e-10)


def test_hand_computed_double_1d():
    # x2: u = x/2 + 0.25; output 1 has u = 0.75, taps at indices -1, 0, 1, 2 with weights
    # cubic(1.75) = -0.0234375, cubic(0.75) = 0.2265625, cubic(0.25) = 0.8671875,
    # cubic(1.25) = -0.0703125; mirrored indices -1 -> 2, 0 -> 1: 1.09375 f1 - 0.09375 f2.
    # Output 2 (u = 1.25) is interior: cubic(1.25), cubic(0.25), cubic(0.75), cubic(1.75) on 0..3.
    f = np.array([[1.0, 2.0, 3.0, 4.0]])
    out = imresize(f, 2)
    assert out.shape == (1, 8)
    np.testing.assert_allclose(out[0, 0], 1.09375 * 1 - 0.09375 * 2, atol=1e-12)
    second = -0.0703125 * 1 + 0.8671875 * 1 + 0.2265625 * 2 - 0.0234375 * 3  # index 0 mirrors to 1
    np.testing.assert_allclose(out[0, 1], second, atol=1e-12)


# --------------------------------------------------------------------------------------------
# Agreement with the loop reference.


@pytest.mark.parametrize("scale", [1 / 2, 1 / 3, 1 / 4, 1 / 2.5, 2, 3, 0.37])
def test_matches_reference_2d(scale):
    rng = np.random.default_rng(0)
    img = rng.random((2, 13, 11))
    out = imresize(img, scale)
    sizes = [math.ceil(13 * scale), math.ceil(11 * scale)]
    ref = _ref_imresize(img, [scale, scale], sizes)
    assert out.shape == (2, *sizes)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("shape", "size"),
    [((1, 9, 12), (5, 7)), ((1, 20, 5), (7, 13)), ((2, 8, 8), (8, 3)), ((1, 6, 10), (15, 4))],
)
def test_matches_reference_output_size(shape, size):
    rng = np.random.default_rng(1)
    img = rng.random(shape)
    out = imresize(img, output_size=size)
    scales = [o / n for o, n in zip(size, shape[1:], strict=True)]
    np.testing.assert_allclose(out, _ref_imresize(img, scales, list(size)), rtol=0, atol=1e-6)


def test_matches_reference_per_axis_scale_and_3d():
    rng = np.random.default_rng(2)
    img = rng.random((1, 7, 6, 5))
    scales = [0.5, 2.0, 1 / 3]
    out = imresize(img, scales)
    sizes = [math.ceil(n * s) for n, s in zip(img.shape[1:], scales, strict=True)]
    assert out.shape == (1, *sizes)
    np.testing.assert_allclose(out, _ref_imresize(img, scales, sizes), rtol=0, atol=1e-6)


def test_float32_close_to_reference():
    rng = np.random.default_rng(3)
    img = rng.random((1, 16, 16)).astype(np.float32)
    out = imresize(img, 1 / 3)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, _ref_imresize(img, [1 / 3] * 2, [6, 6]), rtol=0, atol=1e-5)


# --------------------------------------------------------------------------------------------
# Invariants.


@pytest.mark.parametrize("scale", [1 / 2, 1 / 3, 1 / 4, 1 / 2.5, 0.37, 1, 2, 3, 4])
def test_constant_stays_constant(scale):
    img = np.full((1, 17, 12), 0.7, dtype=np.float32)
    out = imresize(img, scale)
    np.testing.assert_allclose(out, 0.7, rtol=0, atol=1e-6)


def test_ramp_stays_ramp_half():
    i, j = np.meshgrid(np.arange(16.0), np.arange(12.0), indexing="ij")
    img = (3 * i - 2 * j + 1)[None]
    out = imresize(img, 0.5)  # output j (0-based) sits at input 2j + 0.5
    oi, oj = np.meshgrid(2 * np.arange(8.0) + 0.5, 2 * np.arange(6.0) + 0.5, indexing="ij")
    expected = 3 * oi - 2 * oj + 1
    # the first and last two outputs have a tap beyond the border (mirrored), the rest are exact
    np.testing.assert_allclose(out[0, 2:-2, 2:-2], expected[2:-2, 2:-2], rtol=0, atol=1e-10)


def test_ramp_stays_ramp_double():
    i, j = np.meshgrid(np.arange(10.0), np.arange(9.0), indexing="ij")
    img = (3 * i - 2 * j + 1)[None]
    out = imresize(img, 2)  # output j (0-based) sits at input j / 2 - 0.25
    oi, oj = np.meshgrid(np.arange(20.0) / 2 - 0.25, np.arange(18.0) / 2 - 0.25, indexing="ij")
    expected = 3 * oi - 2 * oj + 1
    # the first and last three outputs have a tap beyond the border (mirrored), the rest are exact
    np.testing.assert_allclose(out[0, 3:-3, 3:-3], expected[3:-3, 3:-3], rtol=0, atol=1e-10)
    assert not np.allclose(out[0, 0, 3:-3], expected[0, 3:-3])


def test_down_then_up_smooth_image():
    n = 128
    c = (np.arange(n) + 0.5) / n
    img = (np.cos(2 * np.pi * c)[:, None] * np.cos(4 * np.pi * c)[None, :])[None].astype(np.float32)
    back = imresize(imresize(img, 0.5), 2)
    assert back.shape == img.shape
    assert np.abs(back - img).max() < 1e-2


@pytest.mark.parametrize(("n", "scale", "m"), [(7, 1 / 2, 4), (10, 1 / 3, 4), (10, 1 / 2.5, 4), (5, 3, 15)])
def test_output_length_is_ceil(n, scale, m):
    assert imresize(np.zeros((1, n, 3)), scale, spatial_axes=(0,)).shape == (1, m, 3)


def test_torch_numpy_parity_and_types():
    rng = np.random.default_rng(4)
    img = rng.random((3, 20, 18)).astype(np.float32)
    out_np = imresize(img, 1 / 3)
    out_t = imresize(torch.from_numpy(img), 1 / 3)
    assert isinstance(out_np, np.ndarray)
    assert isinstance(out_t, torch.Tensor)
    assert out_t.device == torch.device("cpu")
    assert out_t.dtype == torch.float32
    np.testing.assert_allclose(out_t.numpy(), out_np, rtol=0, atol=1e-6)


def test_dtypes():
    img = np.arange(64).reshape(1, 8, 8)
    assert imresize(img.astype(np.float64), 0.5).dtype == np.float64
    assert imresize(img.astype(np.float32), 0.5).dtype == np.float32
    out_int = imresize(img.astype(np.int16), 0.5)
    assert out_int.dtype == np.float32  # no rounding back to integers
    np.testing.assert_allclose(out_int, imresize(img.astype(np.float64), 0.5), atol=1e-4)
    assert imresize(torch.ones(1, 8, 8, dtype=torch.float64), 2).dtype == torch.float64
    assert imresize(torch.ones(1, 8, 8, dtype=torch.float16), 2).dtype == torch.float16


def test_no_clipping_keeps_overshoot():
    step = np.zeros((1, 16))
    step[0, 8:] = 1.0
    out = imresize(step, 3)
    assert out.min() < 0 and out.max() > 1  # cubic ringing, not clipped


def test_spatial_axes_only_changes_chosen_axis():
    rng = np.random.default_rng(5)
    vol = rng.random((1, 6, 5, 12))
    out = imresize(vol, 1 / 3, spatial_axes=(2,))
    assert out.shape == (1, 6, 5, 4)
    np.testing.assert_allclose(out, _ref_resize_axis(vol, 3, 4, 1 / 3), rtol=0, atol=1e-6)
    # a volume constant along z keeps its in-plane content untouched
    plane = rng.random((1, 6, 5, 1))
    flat = np.repeat(plane, 12, axis=3)
    np.testing.assert_allclose(imresize(flat, 0.25, spatial_axes=-1), np.repeat(plane, 3, axis=3), atol=1e-6)


def test_input_not_modified_and_not_aliased():
    img = np.random.default_rng(6).random((1, 8, 8))
    copy = img.copy()
    out = imresize(img, 1.0)
    np.testing.assert_array_equal(out, copy)
    out[...] = 0
    np.testing.assert_array_equal(img, copy)
    t = torch.from_numpy(copy.copy())
    assert imresize(t, 1.0) is not t


def test_metatensor_keeps_meta_and_updates_affine():
    img = MetaTensor(torch.ones(1, 8, 8, 6), affine=torch.diag(torch.tensor([0.5, 0.5, 1.0, 1.0])))
    img.meta["filename_or_obj"] = "x.nii"
    out = imresize(img, 0.5, spatial_axes=(0, 1))
    assert isinstance(out, MetaTensor)
    assert out.shape == (1, 4, 4, 6)
    assert out.meta["filename_or_obj"] == "x.nii"
    expected = torch.tensor(
        [[1.0, 0, 0, 0.25], [0, 1.0, 0, 0.25], [0, 0, 1.0, 0], [0, 0, 0, 1.0]], dtype=torch.float64
    )  # spacing doubled; first LR voxel centred between HR voxels 0 and 1
    torch.testing.assert_close(out.affine, expected)
    torch.testing.assert_close(img.affine, torch.diag(torch.tensor([0.5, 0.5, 1.0, 1.0], dtype=torch.float64)))


def test_a_resized_image_does_not_carry_the_transforms_of_the_other_grid():
    # the LR image kept its HR image's applied_operations, and MONAI's Invertd replayed them on it: the LR came
    # back with the HR spacing (0.8 / 0.9 instead of 1.6 / 1.8)
    from monai.transforms import Flip

    img = Flip(spatial_axis=1)(MetaTensor(torch.rand(1, 8, 6), affine=torch.diag(torch.tensor([0.8, 0.9, 1.0, 1.0]))))
    assert len(img.applied_operations) == 1
    out = imresize(img, 0.5)
    assert out.applied_operations == [] and len(img.applied_operations) == 1  # the source's own is kept


def test_a_2d_image_loaded_without_a_channel_axis_keeps_two_spatial_dims(tmp_path):
    # MONAI's affine setter recounts the spatial dims from the 4 x 4 affine of a NIfTI loaded without a channel
    # axis: the LR image of a 2-D slice reported three spacings, (1.4, 1.0, 1.0)
    nib.save(nib.Nifti1Image(np.random.rand(40, 36).astype(np.float32), np.diag([0.7, 0.5, 1, 1])), tmp_path / "a.nii")
    hr = LoadImage(image_only=True)(tmp_path / "a.nii")[None]
    spatial = getattr(hr, "spatial_ndim", None)  # MONAI 1.6 (before, pixdim lists three spacings for any 4 x 4 affine)
    assert spatial in (2, None)
    lr, up = BicubicDegrade(2)(hr), imresize(hr, 2.0)
    assert lr.shape == (1, 20, 18)
    assert getattr(lr, "spatial_ndim", None) == getattr(up, "spatial_ndim", None) == spatial
    for image, spacing in ((lr, [1.4, 1.0]), (up, [0.35, 0.25]), (hr, [0.7, 0.5])):  # hr: the source untouched
        assert image.pixdim.tolist()[: 2 if spatial is None else None] == pytest.approx(spacing)


@pytest.mark.parametrize("scale", [0, -1, float("nan"), float("inf")])
def test_invalid_scale(scale):
    with pytest.raises(ValueError, match=str(float(scale))):
        imresize(np.ones((1, 4, 4)), scale)


def test_invalid_arguments():
    img = np.ones((1, 4, 4))
    with pytest.raises(ValueError, match="exactly one"):
        imresize(img)
    with pytest.raises(ValueError, match="exactly one"):
        imresize(img, 0.5, output_size=2)
    with pytest.raises(ValueError, match="output_size"):
        imresize(img, output_size=(0, 2))
    with pytest.raises(ValueError, match="spatial_axes"):
        imresize(img, 0.5, spatial_axes=(2,))
    with pytest.raises(ValueError, match="2 entries"):
        imresize(img, (0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="spatial dims"):
        imresize(np.ones(4), 0.5)


def test_speed_1024():
    rng = np.random.default_rng(7)
    big = rng.random((1, 1024, 1024)).astype(np.float32)
    small = rng.random((1, 256, 256)).astype(np.float32)
    imresize(big[:, :64, :64], 0.25)  # warm-up
    timings = []
    for _ in range(3):  # best of three, so a busy shared CPU does not make the test flaky
        start = time.perf_counter()
        down = imresize(big, 0.25)
        up = imresize(small, 4)
        timings.append(time.perf_counter() - start)
    assert down.shape == (1, 256, 256) and up.shape == (1, 1024, 1024)
    assert min(timings) < 1.0, f"imresize (x1/4 of 1024^2 then x4 of 256^2) took {min(timings):.3f} s"


def test_chunked_gather_matches(monkeypatch):
    import monai_rmisr.transforms.resize as resize_module

    img = np.random.default_rng(8).random((3, 20, 30, 7))
    whole = imresize(img, [0.5, 2, 1 / 3])
    monkeypatch.setattr(resize_module, "_CHUNK_ELEMENTS", 50)  # many column chunks per axis
    # equal up to float64 rounding: on some CPUs bmm picks another kernel for narrower blocks
    # (seen as 3e-16 differences on the 2-core development machine), never a different result
    np.testing.assert_allclose(imresize(img, [0.5, 2, 1 / 3]), whole, rtol=0, atol=1e-15)
