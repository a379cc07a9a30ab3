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
