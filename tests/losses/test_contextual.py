import math

import pytest
import torch

from monai_rmisr.losses import (
    ContextualLoss,
    PatchFeatures,
    TwoBranchLoss,
    build_contextual_loss,
    contextual_similarity,
)
from monai_rmisr.networks.blocks import laplacian_gradient


def naive_cx(x: torch.Tensor, y: torch.Tensor, h: float, eps: float = 1e-5) -> float:
    """Mechrez et al. written with loops, for one image: x (C, N), y (C, M)."""
    mu = y.mean(dim=1, keepdim=True)
    xs = [(x[:, i] - mu[:, 0]) / (x[:, i] - mu[:, 0]).norm() for i in range(x.shape[1])]
    ys = [(y[:, j] - mu[:, 0]) / (y[:, j] - mu[:, 0]).norm() for j in range(y.shape[1])]
    d = [[1 - float(xi @ yj) for yj in ys] for xi in xs]
    cx = []
    for row in d:
        dmin = min(row)
        w = [math.exp((1 - dij / (dmin + eps)) / h) for dij in row]
        cx.append([wij / sum(w) for wij in w])
    return sum(max(cx[i][j] for i in range(len(xs))) for j in range(len(ys))) / len(ys)


def test_matches_a_literal_implementation():
    x, y = torch.randn(1, 6, 9, dtype=torch.float64), torch.randn(1, 6, 7, dtype=torch.float64)
    assert math.isclose(contextual_similarity(x, y, 0.5).item(), naive_cx(x[0], y[0], 0.5), rel_tol=1e-9)


def test_identical_images_give_zero_loss_and_different_ones_do_not():
    loss = ContextualLoss(PatchFeatures(3, (1,)), max_positions=None)
    image = torch.rand(2, 1, 12, 12)
    assert loss(image, image) == 0  # exactly: -log(1 + eps) below 0 broke the ">= 0" the docstring says
    assert loss(torch.rand(2, 1, 12, 12), image) > 0.1


def test_contextual_loss_ignores_where_features_are():
    """The contextual loss compares feature distributions, not aligned pixels (Mechrez et al.)."""
    loss = ContextualLoss(nn_identity(), max_positions=None)
    features = torch.randn(1, 8, 4, 5)
    shuffled = features.flatten(2)[:, :, torch.randperm(20)].view(1, 8, 4, 5)
    assert loss(shuffled, features).abs() < 1e-4
    assert torch.nn.functional.l1_loss(shuffled, features) > 0.1


def nn_identity():
    return torch.nn.Identity()


def test_position_sampling_bounds_the_matrix():
    seen = []
    loss = ContextualLoss(nn_identity(), max_positions=50)
    original = contextual_similarity

    def spy(source, target, *args):
        seen.append(source.shape[2])
        return original(source, target, *args)

    import monai_rmisr.losses.contextual as module

    module.contextual_similarity, saved = spy, module.contextual_similarity
    try:
        value = loss(torch.rand(2, 4, 30, 30, requires_grad=True), torch.rand(2, 4, 30, 30))
    finally:
        module.contextual_similarity = saved
    assert seen == [50]
    assert torch.isfinite(value)


def test_gradients_are_finite():
    loss = build_contextual_loss("patches")
    sr = torch.rand(2, 1, 24, 24, requires_grad=True)
    loss(sr, torch.rand(2, 1, 24, 24)).backward()
    assert torch.isfinite(sr.grad).all() and sr.grad.abs().sum() > 0


def test_two_branch_loss_weights_its_terms():
    sr, hr = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
    sr_lap = torch.randn(2, 1, 16, 16)
    objective = TwoBranchLoss(alpha=10, beta=1)
    terms = objective.components(sr, hr, sr_lap)
    l1 = (sr - hr).abs().mean()
    lap_l1 = (sr_lap - laplacian_gradient(hr)).abs().mean()
    assert torch.isclose(terms["l1"], l1)
    assert torch.isclose(terms["laplacian_l1"], 10 * lap_l1)
    cx = terms["laplacian_cx"]
    assert cx > 0
    assert torch.isclose(terms["loss"], l1 + 10 * lap_l1 + cx)
    # single-branch networks: L1 only
    assert set(objective.components(sr, hr)) == {"l1", "loss"}
    assert set(TwoBranchLoss(beta=0).components(sr, hr, sr_lap)) == {"l1", "laplacian_l1", "loss"}


def test_the_contextual_term_of_a_3d_batch_says_to_train_with_beta_0():
    # RMISRVP(spatial_dims=3)'s outputs failed in the patch extractor with "too many values to unpack (expected 4)"
    sr, hr, sr_lap = torch.rand(1, 1, 8, 8, 8), torch.rand(1, 1, 8, 8, 8), torch.randn(1, 1, 8, 8, 8)
    with pytest.raises(ValueError, match=r"compares 2-D feature maps, got a 3-D batch .* with beta=0"):
        TwoBranchLoss(beta=1)(sr, hr, sr_lap)
    terms = TwoBranchLoss(beta=0).components(sr, hr, sr_lap)
    assert torch.isclose(terms["loss"], (sr - hr).abs().mean() + 10 * (sr_lap - laplacian_gradient(hr)).abs().mean())


def test_the_image_term_can_be_the_mean_squared_error():
    sr, hr = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
    terms = TwoBranchLoss(sr_weight=2, sr_criterion="mse").components(sr, hr)
    assert set(terms) == {"mse", "loss"}
    assert torch.isclose(terms["loss"], 2 * ((sr - hr) ** 2).mean())
    expected = r"^sr_criterion \(the bundle's --loss#sr_criterion\) must be one of \('l1', 'mse'\), got 'l2'\.$"
    with pytest.raises(ValueError, match=expected):
        TwoBranchLoss(sr_criterion="l2")


def test_gradient_norms_are_per_term_and_scale_with_the_weights():
    torch.manual_seed(0)
    shared = torch.nn.Conv2d(1, 1, 3, padding=1)
    image_head = torch.nn.Conv2d(1, 1, 1)
    hr = torch.rand(2, 1, 16, 16)
    features = shared(hr)
    sr, sr_lap = image_head(features), features * 2
    norms = TwoBranchLoss(alpha=10, beta=1).gradient_norms(shared.parameters(), sr, hr, sr_lap)
    assert set(norms) == {"l1", "laplacian_l1", "laplacian_cx"} and all(v > 0 for v in norms.values())
    heavier = TwoBranchLoss(alpha=20, beta=1, sr_weight=3).gradient_norms(shared.parameters(), sr, hr, sr_lap)
    assert heavier["l1"] == pytest.approx(3 * norms["l1"], rel=1e-5)
    assert heavier["laplacian_l1"] == pytest.approx(2 * norms["laplacian_l1"], rel=1e-5)
    assert shared.weight.grad is None  # nothing accumulated
    # a term that does not reach the parameters: norm 0
    assert TwoBranchLoss().gradient_norms(image_head.parameters(), sr, hr, sr_lap)["laplacian_l1"] == 0.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="alpha must be >= 0, got -1"):
        TwoBranchLoss(alpha=-1)
    with pytest.raises(ValueError, match="needs vgg_weights"):
        build_contextual_loss("vgg19")
    with pytest.raises(ValueError, match="'resnet'"):
        build_contextual_loss("resnet")
    with pytest.raises(ValueError, match="same shape"):
        ContextualLoss(nn_identity())(torch.rand(1, 1, 4, 4), torch.rand(1, 1, 5, 4))
    # one branch: broadcast, a batch of 2 against 1 gave a loss of the wrong pairs with only PyTorch's warning
    with pytest.raises(ValueError, match=r"sr and hr must have the same shape, got \(2, 1, 8, 8\) and \(1, 1, 8, 8\)"):
        TwoBranchLoss()(torch.rand(2, 1, 8, 8), torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match="sr_laplacian and hr must have the same shape"):
        TwoBranchLoss()(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 7))


def test_float16_autocast_keeps_the_gradient_on_a_black_background_finite():
    """On flat black air the nearest feature distance is ~0 and CX divides by it: computed in float16
    (autocast, as --amp true does on a GPU) its backward overflowed under a gradient scaler's factor
    (NaN from 2**12 on), so every step was skipped. The similarity is now computed in float32."""
    import numpy as np

    from monai_rmisr import load_pretrained
    from monai_rmisr.data import load_corpus
    from monai_rmisr.losses import build_contextual_loss
    from monai_rmisr.metrics import protocol_pair

    image = next(img for img in load_corpus("test") if img.name == "693_UNCR")
    crop = np.ascontiguousarray(image.array[:, :96, :96])  # the corner of the CT slice: 90 % air at 0
    assert (crop == 0).mean() > 0.8
    hr, lr = protocol_pair(crop, 4)
    network = load_pretrained("rmisr_vp_x4")
    with torch.no_grad():
        _, laplacian = network.forward_with_laplacian(torch.from_numpy(lr)[None], 4.0)
    target = laplacian_gradient(torch.from_numpy(np.asarray(hr))[None])
    loss = build_contextual_loss("patches")
    gradients = {}
    for autocast in (False, True):
        torch.manual_seed(0)  # the same sampled positions
        estimate = laplacian.clone().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.float16, enabled=autocast):
            value = loss(estimate, target)
        assert value.dtype == torch.float32
        (value * 2.0**12).backward()  # a float16 gradient scaler's factor
        gradients[autocast] = estimate.grad
    assert torch.isfinite(gradients[True]).all()
    torch.testing.assert_close(gradients[True], gradients[False], rtol=0.05, atol=0.05 * gradients[False].abs().max())
