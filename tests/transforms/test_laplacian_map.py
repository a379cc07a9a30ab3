"""LaplacianMap / LaplacianMapd: the network block's Laplacian as a data transform."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from monai_rmisr.networks.blocks.laplacian import laplacian_gradient
from monai_rmisr.transforms import LaplacianMap, LaplacianMapd


def _impulse() -> np.ndarray:
    img = np.zeros((1, 3, 3), dtype=np.float32)
    img[0, 1, 1] = 1.0
    return img


def test_hand_computed_impulse_numpy_and_torch():
    # four-neighbour Laplacian with replicated borders: -4 at the impulse, +1 at its neighbours
    expected = np.array([[[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]], dtype=np.float32)
    out_np = LaplacianMap()(_impulse())
    assert isinstance(out_np, np.ndarray) and out_np.dtype == np.float32
    np.testing.assert_array_equal(out_np, expected)
    out_t = LaplacianMap()(torch.from_numpy(_impulse()))
    assert isinstance(out_t, torch.Tensor)
    np.testing.assert_array_equal(out_t.numpy(), expected)


def test_components_mode_and_block_agreement():
    rng = np.random.default_rng(0)
    vol = torch.from_numpy(rng.random((2, 5, 6, 7)))
    comp = LaplacianMap(mode="components")(vol)
    assert comp.shape == (6, 5, 6, 7) and comp.dtype == torch.float64
    torch.testing.assert_close(comp, laplacian_gradient(vol[None], "components")[0])
    torch.testing.assert_close(LaplacianMap()(vol), comp.view(2, 3, 5, 6, 7).sum(1))


def test_constant_and_integer_input():
    out = LaplacianMap()(np.full((1, 4, 4), 7, dtype=np.int64))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, 0.0)


def test_metatensor_keeps_meta():
    img = MetaTensor(torch.from_numpy(_impulse()), affine=torch.diag(torch.tensor([2.0, 2.0, 1.0, 1.0])))
    out = LaplacianMap()(img)
    assert isinstance(out, MetaTensor)
    torch.testing.assert_close(out.affine, img.affine)
    assert float(out[0, 1, 1]) == -4.0


def test_invalid_mode():
    with pytest.raises(ValueError, match="mode"):
        LaplacianMap(mode="max")


def test_dict_writes_new_key_and_keeps_input():
    img = _impulse()
    copy = img.copy()
    out = LaplacianMapd(keys="image")({"image": img})
    assert set(out) == {"image", "image_laplacian"}
    assert out["image"] is img
    np.testing.assert_array_equal(img, copy)
    assert out["image_laplacian"][0, 1, 1] == -4.0
    out2 = LaplacianMapd(keys="image", mode="components", output_keys="lap")({"image": img})
    assert out2["lap"].shape == (2, 3, 3)
    with pytest.raises(ValueError, match="output_keys"):
        LaplacianMapd(keys="image", output_keys=("a", "b"))
