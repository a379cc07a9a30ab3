import pytest
import torch

from monai_rmisr import RMISR, RMISRVP
from monai_rmisr.networks.blocks import laplacian_gradient

from .helpers import assert_all_parameters_get_gradients, count_parameters


def test_forward_returns_the_sr_image_and_training_gets_both_outputs():
    net = RMISRVP(2, 1, scale=4)
    x = torch.rand(2, 1, 8, 6)
    sr, sr_laplacian = net.forward_with_laplacian(x)
    assert sr.shape == sr_laplacian.shape == (2, 1, 32, 24)
    assert torch.equal(net(x), sr)


def test_structure_follows_the_paper():
    net = RMISRVP(2, 1, scale=4)
    assert len(net.sr_trunk.blocks) == 6
    assert len(net.laplacian_trunk.blocks) == 3
    assert net.guidance_indices == [1, 3, 5]  # PFMDB 2, 4 and 6
    # the branch is more than a copy: RMISR-VP is larger than RMISR-BL
    assert count_parameters(net) > count_parameters(RMISR(2, 1, scale=4))


def test_laplacian_branch_reads_the_lr_laplacian_and_sr_guidance():
    net = RMISRVP(2, 1, scale=2, sr_blocks=2, guidance_blocks=(1, 2), fusion_channels=8)
    seen = {}
    net.laplacian_trunk.register_forward_pre_hook(lambda m, args: seen.update(inputs=args))
    x = torch.rand(1, 1, 6, 6)
    net(x)
    laplacian_input, guidance = seen["inputs"]
    assert torch.equal(laplacian_input, laplacian_gradient(x))
    assert len(guidance) == 2


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_shapes_rgb_and_3d(scale):
    net = RMISRVP(2, 3, scale=scale, sr_blocks=2, guidance_blocks=(1, 2), fusion_channels=8)
    assert net(torch.rand(1, 3, 5, 7)).shape == (1, 3, 5 * scale, 7 * scale)
    net3 = RMISRVP(3, 1, scale=scale, features=32, sr_blocks=2, guidance_blocks=(2,), distillation_channels=8)
    sr, lap = net3.forward_with_laplacian(torch.rand(1, 1, 3, 4, 3))
    assert sr.shape == lap.shape == (1, 1, 3 * scale, 4 * scale, 3 * scale)


@pytest.mark.parametrize("scale", [1.5, 2.5, 3.7, 4.5, 5.0])
def test_meta_upsampler(scale):
    net = RMISRVP(2, 1, upsampler="meta", sr_blocks=2, guidance_blocks=(2,), fusion_channels=4, meta_hidden_channels=8)
    sr, lap = net.forward_with_laplacian(torch.rand(1, 1, 6, 5), scale)
    assert sr.shape == lap.shape == (1, 1, int(6 * scale + 0.5), int(5 * scale + 0.5))


@pytest.mark.parametrize("upsampler", ["subpixel", "meta"])
def test_gradients_reach_every_parameter(upsampler):
    net = RMISRVP(
        2,
        1,
        scale=2,
        sr_blocks=2,
        guidance_blocks=(1, 2),
        fusion_channels=4,
        upsampler=upsampler,
        meta_hidden_channels=8,
    )
    sr, lap = net.forward_with_laplacian(torch.rand(2, 1, 6, 6), 2.0)
    assert_all_parameters_get_gradients(net, sr.abs().mean() + lap.abs().mean())


def test_bad_guidance_blocks():
    with pytest.raises(ValueError, match=r"\[1, 6\], got \(0, 7\)"):
        RMISRVP(2, 1, guidance_blocks=(0, 7))
