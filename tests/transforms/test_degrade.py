"""BicubicDegrade / BicubicDegraded: LR = MATLAB imresize(HR, 1 / scale, 'bicubic')."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_rmisr.transforms import BicubicDegrade, BicubicDegraded, imresize


def test_degrade_is_imresize_of_inverse_scale():
    rng = np.random.default_rng(0)
    hr = rng.random((1, 12, 12)).astype(np.float32)
    for scale in (2, 3, 4):
        lr = BicubicDegrade(scale)(hr)
        assert lr.shape == (1, 12 // scale, 12 // scale)
        assert lr.dtype == np.float32
        np.testing.assert_array_equal(lr, imresize(hr, 1 / scale))


def test_degrade_hand_computed_x2():
    # MATLAB weights for 4 -> 2 (see test_resize): rows [0.546875, 0.3984375, 0.1015625, -0.046875]
    hr = np.array([[1.0, 2.0, 3.0, 4.0]])
    np.testing.assert_allclose(BicubicDegrade(2)(hr), [[1.4609375, 3.5390625]], rtol=0, atol=1e-12)


def test_degrade_torch_and_thick_slices():
    rng = np.random.default_rng(1)
    vol = torch.from_numpy(rng.random((1, 8, 8, 12)))
    lr = BicubicDegrade(4, spatial_axes=(2,))(vol)
    assert isinstance(lr, torch.Tensor) and lr.dtype == torch.float64
    assert lr.shape == (1, 8, 8, 3)
    torch.testing.assert_close(lr, imresize(vol, 0.25, spatial_axes=(2,)))
    aniso = BicubicDegrade((2, 1, 4))(vol)
    assert aniso.shape == (1, 4, 8, 3)


def test_scale_one_is_a_copy():
    hr = np.random.default_rng(2).random((2, 5, 7))
    lr = BicubicDegrade(1)(hr)
    np.testing.assert_array_equal(lr, hr)
    assert not np.shares_memory(lr, hr)


@pytest.mark.parametrize("scale", [0, -1, float("nan"), float("inf"), 0.5, (2, -3)])
def test_invalid_scale(scale):
    bad = scale[1] if isinstance(scale, tuple) else scale
    with pytest.raises(ValueError, match=str(float(bad))):
        BicubicDegrade(scale)


def test_a_scale_per_axis_of_the_wrong_count_is_named_as_given():
    # imresize, handed the reciprocals, named "(0.5, 0.5, 0.5)" for the (2, 2, 2) the user gave
    with pytest.raises(ValueError, match=r"scale \(2.0, 2.0, 2.0\) has 3 entries.*\(1, 8, 8\) has 2"):
        BicubicDegrade((2, 2, 2))(np.zeros((1, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"scale \(2.0, 4.0\) has 2 entries.*has 1"):
        BicubicDegrade((2, 4), spatial_axes=2)(np.zeros((1, 8, 8, 8), np.float32))
    assert BicubicDegrade((2, 4))(np.zeros((1, 8, 8), np.float32)).shape == (1, 4, 2)


def test_dict_writes_new_key_and_keeps_input():
    rng = np.random.default_rng(3)
    hr = rng.random((1, 8, 8)).astype(np.float32)
    hr_copy = hr.copy()
    label = np.ones((1, 8, 8))
    data = {"image": hr, "label": label}
    out = BicubicDegraded(keys="image", scale=2)(data)
    assert set(out) == {"image", "label", "image_lr"}
    assert out["image"] is hr and out["label"] is label
    np.testing.assert_array_equal(hr, hr_copy)
    np.testing.assert_array_equal(out["image_lr"], imresize(hr_copy, 0.5))
    assert set(data) == {"image", "label"}  # the input mapping is not changed either


def test_dict_output_keys_and_missing_keys():
    hr = torch.rand(1, 6, 6)
    out = BicubicDegraded(keys=("a", "b"), scale=3, output_keys=("a_lo", "b_lo"), allow_missing_keys=True)({"a": hr})
    assert set(out) == {"a", "a_lo"}
    assert out["a_lo"].shape == (1, 2, 2)
    torch.testing.assert_close(out["a_lo"], imresize(hr, 1 / 3))
    with pytest.raises(KeyError):
        BicubicDegraded(keys=("a", "b"), scale=3)({"a": hr})
    with pytest.raises(ValueError, match="output_keys"):
        BicubicDegraded(keys=("a", "b"), scale=3, output_keys="x")
    # writing back to the same key replaces the entry but leaves the original tensor intact
    before = hr.clone()
    same = BicubicDegraded(keys="a", scale=2, output_keys="a")({"a": hr})
    assert same["a"].shape == (1, 3, 3)
    torch.testing.assert_close(hr, before, rtol=0, atol=0)
