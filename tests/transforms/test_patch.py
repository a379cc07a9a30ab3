import numpy as np
import pytest
import torch

from monai_rmisr.transforms import RandPairedPatch, RandPairedPatchd, imresize, paired_patch_sizes


@pytest.mark.parametrize("patch,scale,hr", [(48, 4, 192), (32, 2, 64), (10, 2.5, 25), (7, 3.7, 26), (5, 1.5, 8)])
def test_paired_sizes(patch, scale, hr):
    assert paired_patch_sizes(patch, scale) == (hr, patch)


def test_lr_is_the_exact_bicubic_partner_of_the_hr_crop():
    image = np.random.rand(1, 60, 50).astype(np.float32)
    sampler = RandPairedPatch(8, 3, flip=False, rot90=False)
    sampler.set_random_state(1)
    hr, lr = sampler(image)
    assert hr.shape == (1, 24, 24) and lr.shape == (1, 8, 8)
    top, left = sampler._start
    assert np.array_equal(hr, image[:, top : top + 24, left : left + 24])
    assert np.allclose(lr, imresize(hr, 1 / 3), atol=1e-6)


def test_fractional_scale_pair_is_exact():
    sampler = RandPairedPatch(10, 2.5)
    sampler.set_random_state(0)
    hr, lr = sampler(torch.rand(1, 40, 40))
    assert hr.shape == (1, 25, 25) and lr.shape == (1, 10, 10)
    assert torch.allclose(lr, torch.as_tensor(imresize(hr, output_size=(10, 10))), atol=1e-6)


def test_flips_and_rotation_apply_to_both_images():
    image = np.random.rand(1, 16, 16).astype(np.float32)
    plain = RandPairedPatch(8, 2, flip=False, rot90=False)
    plain.set_random_state(3)
    hr0, lr0 = plain(image)
    augmented = RandPairedPatch(8, 2)
    augmented.set_random_state(3)
    augmented.randomize((16, 16))
    augmented._flips, augmented._rotate = (True, False), True
    hr1, lr1 = augmented(image, randomize=False)
    assert np.allclose(hr1, np.rot90(hr0[:, ::-1], 1, axes=(1, 2)))
    assert np.allclose(lr1, np.rot90(lr0[:, ::-1], 1, axes=(1, 2)), atol=1e-6)


def test_small_images_are_mirror_padded():
    image = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    sampler = RandPairedPatch(3, 2, flip=False, rot90=False)
    hr, lr = sampler(image)
    assert hr.shape == (1, 6, 6) and lr.shape == (1, 3, 3)
    assert hr[0, 3, 0] == image[0, 2, 0]  # the row after the last repeats it (symmetric)


def test_dictionary_version_keeps_the_input():
    image = np.random.rand(1, 30, 30).astype(np.float32)
    original = image.copy()
    out = RandPairedPatchd("image", 5, 2).set_random_state(0)({"image": image, "name": "x"})
    assert out["hr"].shape == (1, 10, 10) and out["lr"].shape == (1, 5, 5)
    assert out["image"] is image and np.array_equal(image, original) and out["name"] == "x"


def test_bad_arguments():
    with pytest.raises(ValueError, match="got 0"):
        RandPairedPatch(0, 2)
    with pytest.raises(ValueError, match=r"got 0\.5"):
        RandPairedPatch(8, 0.5)
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        RandPairedPatch(4, 2)(np.zeros((8, 8)))


@pytest.mark.parametrize("seed", range(6))  # crops with and without each flip and the rotation
def test_metatensor_patches_carry_where_they_were_cut(seed):
    from monai.data import MetaTensor

    affine = torch.tensor([[0.0, 0.5, 0, 10.0], [0.7, 0, 0, -4.0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=torch.float64)
    image = MetaTensor(torch.rand(1, 40, 36), affine=affine)
    transform = RandPairedPatch(patch_size=6, scale=2)
    transform.set_random_state(seed)
    hr, lr = transform(image)
    assert isinstance(hr, MetaTensor) and isinstance(lr, MetaTensor) and tuple(hr.meta["spatial_shape"]) == (12, 12)
    # every HR pixel is the input pixel its affine points at
    to_input = torch.linalg.inv(affine) @ hr.affine
    for i in range(12):
        for j in range(12):
            row, col = (to_input @ torch.tensor([i, j, 0.0, 1.0], dtype=torch.float64))[:2].round().long()
            assert hr[0, i, j] == image[0, row, col]
    # LR pixel k is centred on HR k * 2 + 0.5 (MATLAB's grid)
    centre = torch.linalg.inv(hr.affine) @ lr.affine @ torch.tensor([1.0, 2.0, 0, 1], dtype=torch.float64)
    np.testing.assert_allclose(centre[:2].numpy(), [2.5, 4.5], atol=1e-9)
