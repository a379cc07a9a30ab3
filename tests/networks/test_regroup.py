import pytest
import torch
from torch import nn

from monai_rmisr.networks.blocks import PFMDB, PyConv3, PyramidBlock
from monai_rmisr.networks.nets import IMDN, RMISR
from monai_rmisr.networks.nnpack import nnpack_available
from monai_rmisr.networks.regroup import (
    MIN_GROUP_OUT_CHANNELS,
    FusedPFMDB,
    MergedPyramidBlock,
    PointwiseConv,
    cpu_inference_network,
    fuse_pfmdb_stages,
    merge_conv_groups,
    merge_pyramid_branches,
    regroup_convolutions,
)


@pytest.mark.parametrize(
    ("conv", "groups"),
    [
        (nn.Conv2d(64, 16, 7, padding=3, groups=8, bias=False), 4),  # PyConv-3's 7x7 branch
        (nn.Conv2d(64, 16, 7, padding=3, groups=8, bias=False), 1),
        (nn.Conv2d(16, 24, 3, stride=2, padding=2, dilation=2, groups=4, bias=True), 2),
        (nn.Conv2d(8, 8, 3, padding=1, groups=4, padding_mode="reflect"), 2),
        (nn.Conv3d(16, 8, 3, padding=1, groups=4), 2),
    ],
)
def test_merged_groups_give_the_same_output(conv, groups):
    torch.manual_seed(0)
    nn.init.normal_(conv.weight)
    before = {k: v.clone() for k, v in conv.state_dict().items()}
    x = torch.randn(2, conv.in_channels, *([13] * (conv.weight.dim() - 2)))
    merged = merge_conv_groups(conv, groups)
    assert merged.groups == groups and type(merged) is type(conv)
    assert merged.weight.shape[1] == conv.in_channels // groups
    with torch.no_grad():
        expected, got = conv(x), merged(x)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, rtol=0, atol=1e-5 * expected.abs().max().item())
    # the weights between different old groups are exactly zero, the original is untouched
    assert (merged.weight != 0).sum() == (conv.weight != 0).sum()
    assert all(torch.equal(v, conv.state_dict()[k]) for k, v in before.items())


def test_merge_refuses_bad_groups_and_transposed():
    conv = nn.Conv2d(64, 16, 7, groups=8)
    for groups in (3, 0, 16, 2.0):
        with pytest.raises(ValueError, match="groups must divide 8"):
            merge_conv_groups(conv, groups)
    with pytest.raises(ValueError, match="transposed"):
        merge_conv_groups(nn.ConvTranspose2d(8, 8, 3, groups=2), 1)


def test_regrouping_merges_only_narrow_groups():
    pyconv = PyConv3(2, 64)  # 7x7: 8 groups of 2 outputs; 5x5: 4 groups of 4; 3x3 dense
    depthwise = nn.Conv2d(16, 16, 3, groups=16)
    module = nn.Sequential(pyconv, nn.Conv2d(64, 16, 3), depthwise)
    regrouped = regroup_convolutions(module)
    assert regrouped is not module
    groups = [m.groups for m in regrouped.modules() if isinstance(m, nn.Conv2d)]
    assert groups == [8 // (MIN_GROUP_OUT_CHANNELS // 2), 4, 1, 1, 16]
    assert [m.groups for m in module.modules() if isinstance(m, nn.Conv2d)] == [8, 4, 1, 1, 16]  # unchanged
    assert regroup_convolutions(regrouped) is regrouped  # nothing left to merge: no copy
    plain = nn.Sequential(nn.Conv2d(1, 4, 3), depthwise)
    assert regroup_convolutions(plain) is plain


def _randomised(module: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    for parameter in module.parameters():
        nn.init.normal_(parameter, std=0.2)
    return module.eval()


@pytest.mark.parametrize(("spatial_dims", "channels", "bias"), [(2, 64, False), (2, 64, True), (3, 32, False)])
def test_pyramid_branches_merge_into_one_grouped_convolution_with_the_same_output(spatial_dims, channels, bias):
    block = PyramidBlock(spatial_dims, channels, channels // 4)
    if bias:  # PyConv-3 has no bias by default; a block given one keeps it
        large, middle, _ = block.pyconv.branches
        block.pyconv.branches[0] = nn.Conv2d(channels, large.out_channels, 7, padding=3, groups=8, bias=True)
        block.pyconv.branches[1] = nn.Conv2d(channels, middle.out_channels, 5, padding=2, groups=4, bias=True)
    block = _randomised(block)
    before = {k: v.clone() for k, v in block.state_dict().items()}
    merged = merge_pyramid_branches(block)
    assert isinstance(merged, MergedPyramidBlock)
    # the 7x7 (regrouped to 4 groups) and 5x5 (4 groups, padded to 7x7) branches: one convolution, 4 groups
    assert merged.grouped.groups == 4 and merged.grouped.kernel_size == (7,) * spatial_dims
    assert merged.grouped.out_channels == channels // 2 and (merged.grouped.bias is not None) == bias
    x = torch.randn(2, channels, *([11] * spatial_dims))
    with torch.no_grad():
        expected, got = block(x), merged(x)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, rtol=0, atol=1e-5 * expected.abs().max().item())
    assert all(torch.equal(v, block.state_dict()[k]) for k, v in before.items())  # the block is untouched
    cpu_form = regroup_convolutions(block)  # the whole CPU form: the merge, then the 1x1 projection as a product
    assert isinstance(cpu_form, MergedPyramidBlock) and isinstance(cpu_form.project, PointwiseConv)
    with torch.no_grad():
        assert torch.allclose(cpu_form(x), expected, rtol=0, atol=1e-5 * expected.abs().max().item())


def _prelu_per_channel(block: PyramidBlock) -> None:
    block.act = nn.PReLU(64)  # one slope per channel


def _channel_shuffle(block: PyramidBlock) -> None:
    block.act = nn.ChannelShuffle(2)  # parameter-free, but it mixes channels


def _grouped_projection(block: PyramidBlock) -> None:
    block.project = nn.Conv2d(64, 16, 1, groups=2)


@pytest.mark.parametrize("change", [_prelu_per_channel, _channel_shuffle, _grouped_projection])
def test_a_pyramid_block_the_merge_does_not_fit_is_left_whole(change):
    block = PyramidBlock(2, 64, 16)
    change(block)
    block = _randomised(block)
    with pytest.raises(ValueError, match="not a mergeable PyramidBlock"):
        merge_pyramid_branches(block)
    regrouped = regroup_convolutions(nn.Sequential(block))
    assert isinstance(regrouped[0], PyramidBlock)  # only the narrow 7x7 groups merged (and a plain 1x1 a product)
    assert [c.groups for c in regrouped[0].pyconv.branches] == [4, 4, 1]
    x = torch.randn(1, 64, 9, 9)
    with torch.no_grad():
        expected = block(x)
        assert torch.allclose(regrouped(x), expected, rtol=0, atol=1e-5 * expected.abs().max().item())


def test_the_cpu_form_of_rmisr_scripts_to_the_same_output():
    network = _randomised(RMISR(spatial_dims=2, in_channels=1, out_channels=1, scale=2, features=32, num_blocks=1))
    runner, _ = cpu_inference_network(network)
    scripted = torch.jit.script(runner)
    x = torch.rand(2, 1, 12, 10)
    with torch.no_grad():
        expected = network(x)
        assert torch.allclose(scripted(x), expected, rtol=0, atol=1e-5 * expected.abs().max().item())


@pytest.mark.parametrize(
    "conv",
    [
        nn.Conv1d(8, 5, 1),
        nn.Conv2d(64, 16, 1),
        nn.Conv2d(16, 4, 1, bias=False),
        nn.Conv2d(16, 4, 1, padding="valid"),
        nn.Conv3d(6, 3, 1),
    ],
)
def test_pointwise_convolutions_become_matrix_products_with_the_same_output(conv):
    conv = _randomised(conv)
    pointwise = PointwiseConv(conv)
    x = torch.randn(3, conv.in_channels, *([7] * (conv.weight.dim() - 2)))
    with torch.no_grad():
        expected, got = conv(x), pointwise(x)
        assert got.shape == expected.shape
        assert torch.allclose(got, expected, rtol=0, atol=1e-5)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # a matrix product autocasts as the convolution does
            assert pointwise(x).dtype == conv(x).dtype == torch.bfloat16
        if x.dim() in (4, 5):  # channels-last input: the same numbers, channels-last output (no copy in between)
            layout = torch.channels_last if x.dim() == 4 else torch.channels_last_3d
            last = pointwise(x.contiguous(memory_format=layout))
            assert torch.allclose(last, expected, rtol=0, atol=1e-5)
            assert last.is_contiguous(memory_format=layout)
    # only plain 1x1 convolutions of stride 1, no padding and one group are rewritten
    others = nn.Sequential(nn.Conv2d(8, 8, 1, stride=2), nn.Conv2d(8, 8, 1, padding=1), nn.Conv2d(8, 8, 1, groups=2))
    assert regroup_convolutions(others) is others


def test_cpu_inference_form_of_rmisr_is_exact_and_leaves_the_model_alone():
    torch.manual_seed(0)
    network = RMISR(spatial_dims=2, in_channels=1, out_channels=1, scale=2, features=64, num_blocks=2).eval()
    shapes = {k: v.shape for k, v in network.state_dict().items()}
    runner, channels_last = cpu_inference_network(network)
    assert runner is not network and channels_last is False
    assert {k: v.shape for k, v in network.state_dict().items()} == shapes
    x = torch.rand(1, 1, 40, 36)
    with torch.no_grad():
        assert torch.allclose(runner(x), network(x), rtol=0, atol=1e-5)
    assert all(p.is_contiguous() for p in runner.parameters())
    # a network without grouped convolutions keeps the channels-last path (a copy when NNPACK takes its 3x3s)
    imdn = IMDN(spatial_dims=2, in_channels=1, scale=2).eval()
    before = {k: v.clone() for k, v in imdn.state_dict().items()}
    form, channels_last = cpu_inference_network(imdn)
    assert channels_last is True and (form is not imdn) == nnpack_available()
    assert all(torch.equal(v, before[k]) for k, v in imdn.state_dict().items())
    with torch.no_grad():
        assert torch.allclose(form(x), imdn(x), rtol=0, atol=1e-5)
    assert cpu_inference_network(form) == (form, True)


@pytest.mark.parametrize("amx", [True, False])
def test_the_bfloat16_form_is_channels_last_where_the_cpu_has_amx(monkeypatch, amx):
    monkeypatch.setattr("monai_rmisr.networks.regroup.cpu_has_amx", lambda: amx)
    torch.manual_seed(0)
    network = _randomised(RMISR(spatial_dims=2, in_channels=1, out_channels=1, scale=2, features=64, num_blocks=2))
    network.eval()
    float32_form, channels_last = cpu_inference_network(network)
    assert channels_last is False
    form, channels_last = cpu_inference_network(network, torch.bfloat16)
    assert channels_last is amx and form is not network
    weights = [p for p in form.parameters() if p.dim() == 4 and p.shape[1] > 1 and p.shape[2:].numel() > 1]
    assert weights and all(p.is_contiguous() != amx for p in weights)
    assert cpu_inference_network(form, torch.bfloat16) == (form, amx)  # stable for its own dtype
    # the float32 form a caller keeps (the viewer's) is copied, not converted in place, and back again
    from_float32, _ = cpu_inference_network(float32_form, torch.bfloat16)
    assert (from_float32 is not float32_form) == amx
    assert all(p.is_contiguous() for p in float32_form.parameters())
    back, channels_last = cpu_inference_network(form, torch.float32)
    assert channels_last is False and (back is not form) == amx and all(p.is_contiguous() for p in back.parameters())
    x = torch.rand(1, 1, 40, 36)
    with torch.no_grad():  # the same function in any layout (float32 here: exact up to summation order)
        expected = network(x)
        tolerance = 1e-5 * float(expected.abs().max())  # random weights: outputs far outside [0, 1]
        fed = x.contiguous(memory_format=torch.channels_last) if amx else x
        assert torch.allclose(form(fed), expected, rtol=0, atol=tolerance)
        assert torch.allclose(back(x), expected, rtol=0, atol=tolerance)


def test_three_dimensional_networks_stay_in_contiguous_memory(monkeypatch):
    monkeypatch.setattr("monai_rmisr.networks.regroup.cpu_has_amx", lambda: True)
    network = RMISR(spatial_dims=3, in_channels=1, out_channels=1, scale=2, features=32, num_blocks=1).eval()
    plain = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1))
    x = torch.rand(1, 1, 6, 7, 5)
    for dtype in (torch.float32, torch.bfloat16):  # channels-last memory is for 4-D tensors only
        form, channels_last = cpu_inference_network(network, dtype)
        assert channels_last is False and all(p.is_contiguous() for p in form.parameters())
        with torch.no_grad():
            assert torch.allclose(form(x), network(x), rtol=0, atol=1e-5)
        assert cpu_inference_network(plain, dtype) == (plain, False)


def test_cpu_has_amx_is_false_where_torch_cannot_tell(monkeypatch):
    from monai_rmisr import hardware

    assert isinstance(hardware.cpu_has_amx(), bool)
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported", raising=False)
    assert hardware.cpu_has_amx() is False

    def broken() -> bool:
        raise RuntimeError("no cpuinfo")

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", broken, raising=False)
    assert hardware.cpu_has_amx() is False


def test_the_cpu_form_is_stable_and_leaves_subclasses_and_depthwise_networks_alone():
    network = RMISR(spatial_dims=2, in_channels=1, out_channels=1, scale=2, features=64, num_blocks=1).eval()
    runner, _ = cpu_inference_network(network)
    assert cpu_inference_network(runner) == (runner, False)  # the Upscaler's runner through super_resolve

    class Standardised(nn.Conv2d):  # a subclass computes something else from its weights: never merged
        def forward(self, x):
            weight = (self.weight - self.weight.mean()) / self.weight.std()
            return self._conv_forward(x, weight, self.bias)

    custom = nn.Sequential(Standardised(16, 4, 3, groups=4))
    assert regroup_convolutions(custom) is custom
    depthwise = nn.Sequential(nn.Conv2d(1, 16, 3), nn.Conv2d(16, 16, 3, groups=16))
    same, channels_last = cpu_inference_network(depthwise)
    assert same is depthwise and channels_last is True  # as before the regrouping: channels-last


@pytest.mark.parametrize(("spatial_dims", "channels"), [(2, 64), (3, 32)])
def test_pfmdb_stages_fuse_into_one_convolution_each_with_the_same_output(spatial_dims, channels):
    block = _randomised(PFMDB(spatial_dims, channels, channels // 4))
    before = {k: v.clone() for k, v in block.state_dict().items()}
    fused = fuse_pfmdb_stages(block)
    assert isinstance(fused, FusedPFMDB) and len(fused.stages) == 3
    # the SRB's 3x3 (channels -> channels) and the pyramid's dense 3x3 (channels -> channels / 2): one convolution
    assert all(stage.conv.out_channels == channels * 3 // 2 for stage in fused.stages)
    x = torch.randn(2, channels, *([9] * spatial_dims))
    with torch.no_grad():
        expected = block(x)
        for form in (fused, regroup_convolutions(block)):
            got = form(x)
            assert got.shape == expected.shape
            assert torch.allclose(got, expected, rtol=0, atol=1e-5 * expected.abs().max().item())
        with torch.autocast("cpu", dtype=torch.bfloat16):  # in bfloat16, too, as close as the block to itself
            half, reference = fused(x).float(), block(x).float()
        assert (half - expected).abs().max() < 4 * (reference - expected).abs().max() + 1e-2
    assert all(torch.equal(v, block.state_dict()[k]) for k, v in before.items())  # the block is untouched
    assert isinstance(regroup_convolutions(block).stages[0].project, PointwiseConv)


def test_a_pfmdb_whose_srb_has_no_bias_fuses_with_zeros_there():
    block = _randomised(PFMDB(2, 32, 8))
    block.cascade[0].conv = _randomised(nn.Conv2d(32, 32, 3, padding=1, bias=False))
    fused = fuse_pfmdb_stages(block)
    assert fused.stages[0].conv.bias.shape == (48,) and not fused.stages[0].conv.bias[:32].any()
    x = torch.randn(1, 32, 10, 10)
    with torch.no_grad():
        expected = block(x)
        assert torch.allclose(fused(x), expected, rtol=0, atol=1e-5 * expected.abs().max().item())


def test_a_pfmdb_with_an_srb_of_another_layout_is_not_fused_but_its_pyramids_merge():
    block = _randomised(PFMDB(2, 32, 8))
    block.cascade[1].conv = nn.Conv2d(32, 32, 3, padding=2, dilation=2)
    with pytest.raises(ValueError, match="not a fusable PFMDB"):
        fuse_pfmdb_stages(block)
    form = regroup_convolutions(block)
    assert isinstance(form, PFMDB) and all(isinstance(p, MergedPyramidBlock) for p in form.distill)
    x = torch.randn(1, 32, 10, 10)
    with torch.no_grad():
        expected = block(x)
        assert torch.allclose(form(x), expected, rtol=0, atol=1e-5 * expected.abs().max().item())
