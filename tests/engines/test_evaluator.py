import math

import numpy as np
import pytest
import torch
from ignite.engine import Events

from monai_rmisr.engines import SRImageQuality, to_luma
from monai_rmisr.transforms import imresize


def _metric(kind, scale, batches):
    metric = SRImageQuality(kind, scale)
    metric.reset()
    for batch in batches:
        metric.update(batch)
    return metric.compute()


def test_psnr_is_the_mean_over_images_with_the_border_cropped():
    hr = 0.2 + 0.6 * torch.rand(2, 1, 20, 20)  # away from 0 and 1, where the prediction is clipped
    noise = torch.zeros_like(hr)
    noise[0, :, 2:-2, 2:-2] = 0.1
    noise[1, :, 2:-2, 2:-2] = 0.01
    noise[:, :, :2] = 0.5  # inside the cropped border: ignored
    value = _metric("psnr", 2, [(hr + noise, hr, hr)])
    assert math.isclose(value, (20.0 + 40.0) / 2, rel_tol=1e-6)


def test_prediction_is_clipped_and_rgb_is_scored_on_luma():
    hr = torch.rand(1, 3, 16, 16)
    pred = hr.clone()
    pred[:, :, 0, 0] = 5.0  # clipped to 1 before scoring
    value = _metric("ssim", 1, [(pred, hr, hr)])
    clipped = to_luma(pred.clamp(0, 1))
    from monai_rmisr.metrics import ssim

    assert math.isclose(value, ssim(clipped[0, :, 1:-1, 1:-1], to_luma(hr)[0, :, 1:-1, 1:-1]), rel_tol=1e-9)
    assert torch.allclose(to_luma(torch.ones(1, 3, 2, 2)), torch.ones(1, 1, 2, 2))


def test_lr_consistency_rewards_outputs_that_degrade_back_to_the_input():
    hr = torch.rand(1, 1, 24, 24)
    lr = torch.as_tensor(imresize(hr[0], 0.5))[None]
    faithful = _metric("lr_consistency", 2, [(hr, hr, lr)])
    invented = _metric("lr_consistency", 2, [(hr + 0.2 * torch.rand_like(hr), hr, lr)])
    assert faithful > 60 and invented < faithful - 20


def test_the_border_is_the_protocols_for_every_scale_and_fixed_for_lr_consistency():
    assert [SRImageQuality("psnr", s).crop_border() for s in (2, 2.5, 3, 4)] == [2, 3, 3, 4]
    assert SRImageQuality("ssim", 3.5).crop_border() == 4
    assert SRImageQuality("psnr", 2).crop_border(4.0) == 4  # a batch's own scale
    assert SRImageQuality("lr_consistency", 4).crop_border(2.0) == SRImageQuality.LR_CONSISTENCY_BORDER == 2


def test_a_batch_with_its_own_scale_is_scored_with_that_scales_border():
    hr = torch.rand(1, 1, 24, 24)
    sr = hr.clone()
    sr[..., :4, :] = 1 - sr[..., :4, :]  # wrong only inside a 4-pixel border
    assert _metric("psnr", 2, [(sr, hr, hr)]) < 30
    assert _metric("psnr", 2, [(sr, hr, hr, 4.0)]) > 100  # cut at x4's border: perfect
    assert _metric("psnr", 4, [(sr, hr, hr, None)]) > 100  # no batch scale: the metric's own


def test_unknown_kind_and_empty_compute():
    with pytest.raises(ValueError, match="'lpips'"):
        SRImageQuality("lpips", 2)
    metric = SRImageQuality("psnr", 2)
    metric.reset()
    with pytest.raises(RuntimeError, match="at least one image"):
        metric.compute()


def test_validation_pairs_at_several_scales_carry_their_scale():
    from monai_rmisr.data import validation_pairs

    images = [np.linspace(0, 1, 24 * 24, dtype=np.float32).reshape(1, 24, 24), np.zeros((1, 12, 12), np.float32)]
    single = validation_pairs(images, 2)
    assert [pair["lr"].shape for pair in single] == [(1, 12, 12), (1, 6, 6)] and "scale" not in single[0]
    pairs = validation_pairs(images, [2.0, 3.0])
    assert [(float(pair["scale"]), pair["lr"].shape) for pair in pairs] == [
        (2.0, (1, 12, 12)),
        (2.0, (1, 6, 6)),
        (3.0, (1, 8, 8)),
        (3.0, (1, 4, 4)),
    ]
    assert np.array_equal(pairs[0]["lr"], single[0]["lr"])
    with pytest.raises(ValueError, match="at least one scale"):
        validation_pairs(images, [])


def test_pairs_at_several_scales_need_a_network_that_takes_a_scale():
    from monai_rmisr import IMDN
    from monai_rmisr.data import validation_pairs
    from monai_rmisr.engines import SREvaluator

    pairs = validation_pairs([np.zeros((1, 24, 24), np.float32)], [2.0, 3.0])
    loader = torch.utils.data.DataLoader(pairs, batch_size=1)
    evaluator = SREvaluator("cpu", loader, IMDN(2, 1, scale=2), scale=None)
    with pytest.raises(ValueError, match="need a network that takes a scale"):
        evaluator.run()
    assert (
        isinstance(pairs[0]["scale"], np.float64)
        and float(validation_pairs([pairs[0]["hr"]], [1.1])[0]["scale"]) == 1.1
    )


def _tiny_rmisr(spatial_dims):
    from monai_rmisr import RMISR

    torch.manual_seed(0)
    return RMISR(spatial_dims, 1, scale=2, features=32, num_blocks=1, distillation_channels=8, image_residual=True)


def test_3d_networks_train_and_validate_with_the_default_channels_last():
    # SRTrainer / SREvaluator(channels_last=True, the default) failed to build for any 3-D network ("required rank 4
    # tensor to use channels_last format"): channels-last memory is for 2-D networks, a 3-D one runs as it is
    from monai.handlers import from_engine

    from monai_rmisr.engines import SREvaluator, SRTrainer
    from monai_rmisr.losses import TwoBranchLoss
    from monai_rmisr.metrics import psnr

    network = _tiny_rmisr(3)
    hr = 0.2 + 0.6 * torch.rand(1, 1, 12, 12, 12)
    pairs = [{"lr": imresize(hr[0], scale=0.5), "hr": hr[0]}]
    loader = torch.utils.data.DataLoader(pairs, batch_size=1)
    trainer = SRTrainer("cpu", 1, loader, network, torch.optim.Adam(network.parameters()), TwoBranchLoss(beta=0), 2)
    trainer.run()
    assert trainer.channels_last is False and trainer.state.iteration == 1
    transform = from_engine(["pred", "label", "image", "scale"])
    quality = {"psnr": SRImageQuality("psnr", 2, output_transform=transform)}
    evaluator = SREvaluator("cpu", loader, network, scale=2, key_val_metric=quality)
    evaluator.run()
    with torch.no_grad():
        sr = network(pairs[0]["lr"][None], 2)[0].clamp(0, 1)
    # the volume's PSNR with its border cut along all three axes (read as a batch of 2-D images it was not)
    expected = psnr(sr, hr[0], crop_border=2, spatial_dims=3)
    assert evaluator.state.metrics["psnr"] == pytest.approx(expected, abs=1e-4)


def test_the_evaluator_gives_a_super_resolution_inferer_the_network_itself():
    # SREvaluator(inferer=SuperResolutionInferer(2)) failed: the inferer was given a functools.partial, not a module
    from monai_rmisr.engines import SREvaluator
    from monai_rmisr.inference import SuperResolutionInferer, super_resolve

    network = _tiny_rmisr(2).eval()
    hr = torch.rand(1, 1, 160, 144)
    loader = torch.utils.data.DataLoader([{"lr": imresize(hr[0], scale=0.5), "hr": hr[0]}], batch_size=1)
    outputs = []
    evaluator = SREvaluator("cpu", loader, network, scale=2, inferer=SuperResolutionInferer(2, tile=64))
    evaluator.add_event_handler(Events.ITERATION_COMPLETED, lambda engine: outputs.append(engine.state.output["pred"]))
    evaluator.run()
    expected = super_resolve(imresize(hr[0], scale=0.5), 2, model=network, tile=64)
    torch.testing.assert_close(outputs[0][0], expected)
    other = SREvaluator("cpu", loader, network, scale=2, inferer=SuperResolutionInferer(3))
    with pytest.raises(ValueError, match="the SuperResolutionInferer runs at x3, these pairs are at x2"):
        other.run()
