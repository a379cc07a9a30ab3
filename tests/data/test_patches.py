import numpy as np
import pytest
import torch

from monai_rmisr.data.patches import EpochSampler, PairedPatchDataset, edge_weights


def _images():
    rng = np.random.default_rng(0)
    return [rng.random((1, 40, 40), dtype=np.float32), rng.random((1, 80, 60), dtype=np.float32)]


def test_items_are_a_function_of_seed_and_index():
    a = PairedPatchDataset(_images(), patch_size=8, scale=2, seed=7)
    b = PairedPatchDataset(_images(), patch_size=8, scale=2, seed=7)
    for index in (0, 5, 123456):
        assert torch.equal(a[index]["hr"], b[index]["hr"])
        assert torch.equal(a[index]["lr"], b[index]["lr"])
    assert not torch.equal(a[0]["hr"], a[1]["hr"])
    assert not torch.equal(a[0]["hr"], PairedPatchDataset(_images(), 8, 2, seed=8)[0]["hr"])
    item = a[3]
    assert item["hr"].shape == (1, 16, 16) and item["lr"].shape == (1, 8, 8) and item["scale"] == 2.0


def test_larger_images_are_drawn_more_often():
    dataset = PairedPatchDataset(_images(), patch_size=4, scale=2)
    assert np.allclose(dataset.probabilities, [1600 / 6400, 4800 / 6400])


def test_epoch_sampler_continues_after_resume():
    sampler = EpochSampler(4)
    assert [list(sampler) for _ in range(3)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    resumed = EpochSampler(4)
    resumed.set_epoch(2)
    assert list(resumed) == [8, 9, 10, 11]


def test_distributed_ranks_share_an_epoch_without_overlap():
    ranks = [EpochSampler(6, num_replicas=2, rank=r) for r in (0, 1)]
    first = [list(s) for s in ranks]
    assert first == [[0, 2, 4], [1, 3, 5]]
    assert [list(s) for s in ranks] == [[6, 8, 10], [7, 9, 11]]
    assert len(ranks[0]) == 3
    import pytest

    with pytest.raises(ValueError, match="multiple of num_replicas"):
        EpochSampler(5, num_replicas=2)
    with pytest.raises(ValueError, match="rank=2"):
        EpochSampler(4, num_replicas=2, rank=2)


def test_each_sample_draws_its_own_lr_bit_depth_reproducibly():
    images = [np.random.default_rng(0).random((1, 40, 40), dtype=np.float32)]
    dataset = PairedPatchDataset(images, patch_size=8, scale=2, seed=5, lr_bits=(8, 12))
    depths = [dataset[i]["lr_bits"] for i in range(60)]
    assert set(depths) == {8, 9, 10, 11, 12}
    assert [PairedPatchDataset(images, 8, 2, seed=5, lr_bits=(8, 12))[i]["lr_bits"] for i in range(60)] == depths
    plain = PairedPatchDataset(images, patch_size=8, scale=2, seed=5)
    assert "lr_bits" not in plain[0]
    torch.testing.assert_close(plain[3]["lr"], dataset[3]["lr"])  # the patch itself is the same draw
    with pytest.raises(ValueError, match="bit depths must satisfy"):
        PairedPatchDataset(images, 8, 2, lr_bits=(12, 8))


def _one_square(size=200):
    image = np.zeros((1, size, size), np.float32)
    image[0, 150:170, 150:170] = 1.0  # the only edges: 1 % of the image
    return image


def test_edge_share_zero_draws_the_samples_of_a_dataset_without_it():
    plain = PairedPatchDataset(_images(), patch_size=8, scale=2, seed=3)
    zero = PairedPatchDataset(_images(), patch_size=8, scale=2, seed=3, edge_share=0.0)
    for index in (0, 1, 99):
        assert torch.equal(plain[index]["hr"], zero[index]["hr"])


def test_edge_crops_are_centred_on_the_edges():
    def edge_patches(share):
        dataset = PairedPatchDataset([_one_square()], patch_size=8, scale=2, seed=1, edge_share=share)
        hr = [dataset[i]["hr"] for i in range(200)]
        return np.mean([float(patch.max() - patch.min()) > 0.5 for patch in hr])  # holds part of the square's rim

    uniform, edges = edge_patches(0.0), edge_patches(1.0)
    assert uniform < 0.25 and edges > 0.95
    assert 0.3 < edge_patches(0.5) < 0.75  # about half of the items


def test_edge_weights_and_a_bad_share():
    weights = edge_weights(_one_square(202))
    assert weights.shape == (51 * 51,) and weights.min() == 0 and weights.argmax() // 51 in range(36, 43)
    assert np.array_equal(edge_weights(np.ones((1, 9, 8), np.float32)), np.ones(3 * 2, np.float32))
    for bad in (-0.1, 1.5, float("nan"), "half", True):
        with pytest.raises(ValueError, match=r"edge_share \(edge_patch_share\) must be a number in"):
            PairedPatchDataset(_images(), patch_size=8, scale=2, edge_share=bad)


def test_zoom_share_zero_draws_the_samples_of_a_dataset_without_it():
    plain = PairedPatchDataset(_images(), patch_size=8, scale=2, seed=3)
    zero = PairedPatchDataset(_images(), patch_size=8, scale=2, seed=3, zoom_share=0.0, zoom_range=(0.3, 0.4))
    for index in (0, 1, 99):
        assert torch.equal(plain[index]["hr"], zero[index]["hr"]) and torch.equal(plain[index]["lr"], zero[index]["lr"])


def test_zoomed_patches_see_a_larger_region_at_a_smaller_size():
    ramp = np.tile(np.linspace(0.0, 1.0, 301, dtype=np.float32), (301, 1))[None]  # one grey level per pixel column

    def mean_span(share, zoom_range=(0.5, 0.5)):
        dataset = PairedPatchDataset([ramp], patch_size=8, scale=2, seed=2, zoom_share=share, zoom_range=zoom_range)
        return np.mean([float(dataset[i]["hr"].max() - dataset[i]["hr"].min()) for i in range(50)]) * 300

    native, zoomed = mean_span(0.0), mean_span(1.0)
    assert native == pytest.approx(15, abs=0.01)  # a 16-pixel HR patch spans 15 columns (flips and turns keep that)
    assert 30 < zoomed < 31.5  # twice as many columns at half size (the antialiasing filter eats a little)
    assert 15 < mean_span(0.5) < 31.5 and 15 < mean_span(1.0, (0.5, 1.0)) < 31.5


def test_zoomed_patches_stay_in_range_and_small_images_are_zoomed_less():
    square = _one_square(60)
    square[0, 20:40, 20:40] = 1.0  # sharp edges: the bicubic downscale overshoots them, clipped to [0, 1]
    dataset = PairedPatchDataset([square], patch_size=8, scale=2, seed=0, zoom_share=1.0, zoom_range=(0.25, 0.25))
    patches = [dataset[i] for i in range(40)]
    assert all(float(item["hr"].min()) >= 0 and float(item["hr"].max()) <= 1 for item in patches)
    assert any(bool(((item["hr"] > 0.01) & (item["hr"] < 0.99)).any()) for item in patches)  # resampled edges
    # a 20x20 image at zoom 0.25 would need 64 pixels: the whole image (20) goes to 16; a 12x12 one is not zoomed
    ramp = np.tile(np.linspace(0.0, 1.0, 20, dtype=np.float32), (20, 1))[None]
    for k in range(5):
        hr = PairedPatchDataset([ramp], 8, 2, seed=k, zoom_share=1.0, zoom_range=(0.5, 0.5))[0]["hr"]
        assert float(hr.max() - hr.min()) > 0.98  # the whole ramp (a native 16-pixel crop spans 15 / 19 of it)
    narrow = np.random.default_rng(1).random((1, 12, 40), dtype=np.float32)  # shorter than the patch: not zoomed,
    item = PairedPatchDataset([narrow], 8, 2, seed=0, zoom_share=1.0, zoom_range=(0.25, 0.25))[0]  # cropped as usual
    assert item["hr"].shape == (1, 16, 16) and set(np.unique(item["hr"].numpy())) <= set(np.unique(narrow))
    assert len(np.unique(item["hr"].numpy())) == 12 * 16  # 16 of its 40 columns (a square view would hold 12)
    small = np.random.default_rng(0).random((1, 12, 12), dtype=np.float32)
    item = PairedPatchDataset([small], 8, 2, seed=0, zoom_share=1.0, zoom_range=(0.25, 0.25))[0]
    assert item["hr"].shape == (1, 16, 16) and set(np.unique(item["hr"].numpy())) <= set(np.unique(small))


def test_a_bad_zoom_setting_names_itself():
    for bad in (-0.1, 1.5, float("nan"), "half", True):
        with pytest.raises(ValueError, match=r"zoom_share \(hr_zoom_share\) must be a number in"):
            PairedPatchDataset(_images(), patch_size=8, scale=2, zoom_share=bad)
    for bad in ((0.0, 0.5), (0.6, 0.5), (0.5, 1.2), (0.5,), "ab", None, (0.5, float("nan"))):
        with pytest.raises(ValueError, match=r"zoom_range \(hr_zoom_range\) must be two factors"):
            PairedPatchDataset(_images(), patch_size=8, scale=2, zoom_range=bad)


def test_images_smaller_than_the_hr_patch_are_counted_in_the_log(caplog):
    import logging

    from monai_rmisr.data.patches import PairedPatchDataset

    images = [np.zeros((1, 40, 40), np.float32), np.zeros((1, 128, 128), np.float32), np.zeros((1, 5, 60), np.float32)]
    with caplog.at_level(logging.INFO):
        PairedPatchDataset(images, patch_size=32, scale=2)
    (message,) = [r.getMessage() for r in caplog.records if "HR patch" in r.getMessage()]
    assert message.startswith("2 of the 3 training images are smaller than the 64x64 HR patch") and "60x5" in message
    caplog.clear()
    with caplog.at_level(logging.INFO):
        PairedPatchDataset(images[1:2], patch_size=32, scale=2)
    assert not [r for r in caplog.records if "HR patch" in r.getMessage()]
