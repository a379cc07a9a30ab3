import math

import pytest
import torch

from monai_rmisr.networks.blocks import (
    ICCA,
    PFMDB,
    LaplacianGradient,
    PFMDBTrunk,
    PooledChannelStatistics,
    PyConv3,
    PyramidBlock,
    ShallowResidualBlock,
    laplacian_gradient,
)

from .helpers import count_parameters


def test_pyconv3_has_the_papers_31104_weights():
    conv = PyConv3(2, 64)
    weights = sum(p.numel() for name, p in conv.named_parameters() if name.endswith("weight"))
    # 7x7 G=8 -> 16: 16*8*49; 5x5 G=4 -> 16: 16*16*25; 3x3 G=1 -> 32: 32*64*9
    assert weights == 16 * 8 * 49 + 16 * 16 * 25 + 32 * 64 * 9 == 31_104
    assert count_parameters(conv) == 31_104  # no bias by default
    assert [b.kernel_size for b in conv.branches] == [(7, 7), (5, 5), (3, 3)]
    assert [b.groups for b in conv.branches] == [8, 4, 1]
    assert conv(torch.rand(2, 64, 9, 11)).shape == (2, 64, 9, 11)


def test_pyconv3_3d_and_bad_channels():
    assert PyConv3(3, 32)(torch.rand(1, 32, 5, 6, 7)).shape == (1, 32, 5, 6, 7)
    with pytest.raises(ValueError, match=r"divisible by 8.*got 12"):
        PyConv3(2, 12)
    with pytest.raises(ValueError, match=r"divisible by 32.*got 48"):
        PyConv3(2, 64, 48)


def test_shallow_residual_block_is_relu_of_conv_plus_identity():
    block = ShallowResidualBlock(2, 8)
    x = torch.randn(1, 8, 6, 6)
    expected = torch.relu(block.conv(x) + x)
    assert torch.equal(block(x), expected)
    assert count_parameters(block) == 8 * 8 * 9 + 8


def test_pyramid_block_shape_and_parameters():
    block = PyramidBlock(2, 64, 16)
    assert block(torch.rand(1, 64, 7, 5)).shape == (1, 16, 7, 5)
    assert count_parameters(block) == 31_104 + 64 * 16 + 16


def test_icca_statistics_follow_formula_14():
    icca = ICCA(2, 16, reduction=4)
    x = torch.randn(2, 16, 5, 7)
    stats = icca.channel_statistics(x)
    assert stats.shape == (2, 16, 1, 1)
    c = x[1, 3].flatten().double()
    q = c.abs().clamp_min(1e-6)
    expected = (q * torch.log2(q)).mean() + (c.var(unbiased=False) + 1e-6).sqrt() + c.mean()
    assert math.isclose(stats[1, 3, 0, 0].item(), expected.item(), rel_tol=1e-5, abs_tol=1e-6)


@pytest.mark.parametrize("use_entropy", [True, False])
def test_pooled_statistics_of_disjoint_regions_are_the_whole_inputs(use_entropy):
    """Tiled inference gathers ICCA's statistics region by region: the union's must equal the whole map's."""
    icca = ICCA(2, 16, reduction=4, use_entropy=use_entropy)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 16, 30, 22, generator=g) * torch.linspace(0.01, 3, 16)[:, None, None] + 5  # mean >> spread
    pooled = PooledChannelStatistics(icca)
    for rows in (slice(0, 7), slice(7, 19), slice(19, 30)):
        for cols in (slice(0, 10), slice(10, 10), slice(10, 22)):  # an empty region adds nothing
            pooled.add(x[:, :, rows, cols])
    assert pooled.count == 30 * 22
    statistics = pooled.statistics()
    assert statistics.shape == (2, 16, 1, 1) and statistics.dtype == torch.float32
    torch.testing.assert_close(statistics, icca.channel_statistics(x.double()).float(), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(icca.attend(x, statistics), icca(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match="no region was added"):
        PooledChannelStatistics(icca).statistics()


def test_icca_statistics_of_bfloat16_features_are_means_too():
    """bfloat16 means are sums over the positions (torch's bfloat16 mean copies the tensor to float32 first)."""
    icca = ICCA(2, 16, reduction=4)
    x = torch.randn(2, 16, 64, 48) + torch.linspace(0, 4, 16)[:, None, None]  # channel means 0 ... 4
    reference = icca.channel_statistics(x)
    stats = icca.channel_statistics(x.bfloat16())
    assert stats.dtype == torch.bfloat16 and stats.shape == reference.shape
    assert torch.allclose(stats.float(), reference, rtol=0.02, atol=0.02)


def test_pfmdb_trunk_blocks_read_bfloat16_features_under_a_cpu_autocast():
    trunk = PFMDBTrunk(2, 1, features=32, num_blocks=2).eval()
    seen = []
    for block in trunk.blocks:
        block.register_forward_pre_hook(lambda module, args: seen.append(args[0].dtype))
    x = torch.rand(1, 1, 12, 10)
    with torch.no_grad():
        reference, _ = trunk(x)
        assert seen == [torch.float32, torch.float32]
        seen.clear()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            features, _ = trunk(x)
    # the head stays float32 (the long skip adds it back), the blocks read bfloat16: no cast per convolution
    assert seen == [torch.bfloat16, torch.bfloat16] and features.dtype == torch.float32
    assert torch.allclose(features, reference, rtol=0, atol=0.05 * reference.abs().max().item())
    seen.clear()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.float16):  # float16 (a narrow range): no cast
        trunk(x)
    assert seen == [torch.float32, torch.float32]


def test_icca_is_finite_for_zero_and_negative_activations():
    icca = ICCA(2, 16, reduction=4)
    x = torch.zeros(1, 16, 4, 4, requires_grad=True)
    with torch.no_grad():
        x[:, 8:] = -3.0
    out = icca(x)
    out.sum().backward()
    assert torch.isfinite(out).all()
    assert torch.isfinite(x.grad).all()
    # zero input: entropy ~0, std = sqrt(eps), mean 0 -> a tiny statistic, never NaN
    assert icca.channel_statistics(torch.zeros(1, 16, 3, 3)).abs().max() < 1e-2


def test_icca_without_entropy_is_imdn_contrast_attention():
    icca = ICCA(2, 16, reduction=4, use_entropy=False)
    x = torch.randn(1, 16, 6, 6)
    c = x[0, 5]
    expected = c.mean() + (c.var(unbiased=False) + 1e-6).sqrt()
    assert torch.isclose(icca.channel_statistics(x)[0, 5, 0, 0], expected, atol=1e-6)


def test_icca_statistic_does_not_grow_with_image_area():
    icca = ICCA(2, 16, reduction=4)
    small = torch.rand(1, 16, 8, 8)
    large = small.repeat(1, 1, 8, 8)  # same values, 64x the area
    assert torch.allclose(icca.channel_statistics(small), icca.channel_statistics(large), atol=1e-5)


def test_pfmdb_shape_and_parameter_breakdown():
    block = PFMDB(2, 64, 16)
    assert block(torch.rand(1, 64, 10, 9)).shape == (1, 64, 10, 9)
    srb = 3 * (64 * 64 * 9 + 64)
    pyb = 3 * (31_104 + 64 * 16 + 16)
    last_conv = 64 * 16 * 9 + 16
    icca = (64 * 4 + 4) + (4 * 64 + 64)
    fuse = 64 * 64 + 64
    assert count_parameters(block) == srb + pyb + last_conv + icca + fuse == 221_188
    assert PFMDB(3, 32, 8)(torch.rand(1, 32, 4, 5, 6)).shape == (1, 32, 4, 5, 6)


def test_laplacian_matches_hand_computed_four_neighbour_values():
    image = torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])[None, None]
    lap = laplacian_gradient(image)
    # centre: up 0 + down 0 + left 0 + right 0 - 4*1
    assert lap[0, 0, 1, 1] == -4.0
    # bottom-right corner (replicated border): up 0 + left 0 + 2 + 2 - 4*2
    assert lap[0, 0, 2, 2] == -4.0
    # (1, 2): up 0 + down 2 + left 1 + right(replicated) 0 - 0
    assert lap[0, 0, 1, 2] == 3.0
    components = laplacian_gradient(image, mode="components")
    assert components.shape == (1, 2, 3, 3)
    assert torch.equal(components.sum(dim=1, keepdim=True), lap)
    # formula 6 along H at the centre: I(2,1) + I(0,1) - 2 I(1,1)
    assert components[0, 0, 1, 1] == -2.0


def test_laplacian_of_constant_and_linear_is_zero_and_3d_is_six_neighbour():
    assert laplacian_gradient(torch.full((1, 2, 5, 6), 0.7)).abs().max() == 0
    ramp = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 1, 5, 8)
    assert laplacian_gradient(ramp)[..., 1:-1].abs().max() == 0
    volume = torch.zeros(1, 1, 3, 3, 3)
    volume[0, 0, 1, 1, 1] = 1.0
    assert LaplacianGradient()(volume)[0, 0, 1, 1, 1] == -6.0
    assert laplacian_gradient(volume, mode="components").shape == (1, 3, 3, 3, 3)


def test_laplacian_rejects_unknown_mode():
    with pytest.raises(ValueError, match="'gradient'"):
        LaplacianGradient("gradient")
