"""The paper's comparison networks: shapes, parameter counts, gradients and argument checks."""

from __future__ import annotations

import inspect

import pytest
import torch
from monai.networks.blocks import SubpixelUpsample

from monai_rmisr.inference.pretrained import load_checkpoint
from monai_rmisr.networks.blocks import IMDB
from monai_rmisr.networks.nets import ESPCN, FSRCNN, IMDN, SRCNN, VDSR, EDSRBaseline, SRResNet
from monai_rmisr.networks.nets.imdn import imdn_state_dict_from_authors, is_authors_imdn_state_dict
from monai_rmisr.networks.utils import upsample_image

from .helpers import assert_all_parameters_get_gradients, count_parameters
from .imdn_authors import authors_checkpoint

NETS = {
    "SRCNN": SRCNN,
    "FSRCNN": FSRCNN,
    "ESPCN": ESPCN,
    "VDSR": VDSR,
    "EDSRBaseline": EDSRBaseline,
    "IMDN": IMDN,
    "SRResNet": SRResNet,
}

# reduced depth / width so the 3-D tests stay fast; the layer types are the same as the defaults
SMALL_3D = {
    "SRCNN": {"features": (8, 4)},
    "FSRCNN": {"features": 8, "shrink_features": 4, "num_mapping_layers": 1},
    "ESPCN": {"features": (8, 4)},
    "VDSR": {"depth": 3, "features": 8},
    "EDSRBaseline": {"features": 8, "num_blocks": 1},
    "IMDN": {"features": 16, "num_blocks": 2, "distillation_channels": 4},
    "SRResNet": {"features": 8, "num_blocks": 1},
}

# exact parameter counts, 3 channels, x4, 2-D, default architecture, computed by hand:
PARAMS_3CH_X4 = {
    # conv9x9 3->64: 9*9*3*64+64 = 15,616; conv1x1 64->32: 64*32+32 = 2,080; conv5x5 32->3: 5*5*32*3+3 = 2,403
    "SRCNN": 15_616 + 2_080 + 2_403,  # 20,099 (9-1-5)
    # conv5x5 3->56: 5*5*3*56+56 = 4,256, PReLU 56; conv1x1 56->12: 56*12+12 = 684, PReLU 12;
    # 4 x [conv3x3 12->12: 9*12*12+12 = 1,308, PReLU 12] = 5,280; conv1x1 12->56: 12*56+56 = 728, PReLU 56;
    # deconv9x9 56->3: 9*9*56*3+3 = 13,611
    "FSRCNN": 4_256 + 56 + 684 + 12 + 5_280 + 728 + 56 + 13_611,  # 24,683
    # conv5x5 3->64: 5*5*3*64+64 = 4,864; conv3x3 64->32: 9*64*32+32 = 18,464; conv3x3 32->3*16: 9*32*48+48 = 13,872
    "ESPCN": 4_864 + 18_464 + 13_872,  # 37,200
    # conv3x3 3->64: 9*3*64+64 = 1,792; 18 x conv3x3 64->64: 18*(9*64*64+64) = 18*36,928 = 664,704;
    # conv3x3 64->3: 9*64*3+3 = 1,731
    "VDSR": 1_792 + 664_704 + 1_731,  # 668,227
    # head 1,792; 16 blocks x 2 x 36,928 = 1,181,696; body conv 36,928;
    # 2 x [conv3x3 64->256: 9*64*256+256 = 147,712] = 295,424; tail conv3x3 64->3: 1,731
    "EDSRBaseline": 1_792 + 1_181_696 + 36_928 + 295_424 + 1_731,  # 1,517,571
    # head 1,792; 6 IMDBs x 104,020 (see test_imdb_parameter_count_and_shape) = 624,120;
    # conv1x1 384->64: 384*64+64 = 24,640; conv3x3 64->64: 36,928; upsampler conv3x3 64->3*16: 9*64*48+48 = 27,696
    "IMDN": 1_792 + 624_120 + 24_640 + 36_928 + 27_696,  # 715,176
    # conv9x9 3->64: 15,616, PReLU 64; 16 blocks x [2 x conv3x3 no bias 36,864 + 2 x BN 128 + PReLU 64] = 16*74,048
    # = 1,184,768; conv3x3 no bias 36,864 + BN 128; 2 x [conv3x3 64->256: 147,712 + PReLU 64] = 295,552;
    # conv9x9 64->3: 9*9*64*3+3 = 15,555
    "SRResNet": 15_616 + 64 + 1_184_768 + 36_864 + 128 + 295_552 + 15_555,  # 1,548,547
}


@pytest.mark.parametrize("name", NETS)
def test_signature_starts_with_common_interface(name):
    params = list(inspect.signature(NETS[name]).parameters.values())[:4]
    assert [(p.name, p.default) for p in params] == [
        ("spatial_dims", 2),
        ("in_channels", 1),
        ("out_channels", None),
        ("scale", 4),
    ]


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("name", NETS)
def test_output_shape_2d(name, scale, channels):
    net = NETS[name](spatial_dims=2, in_channels=channels, scale=scale).eval()
    with torch.no_grad():
        out = net(torch.rand(2, channels, 8, 6))
    assert out.shape == (2, channels, 8 * scale, 6 * scale)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("scale", [2, 3])
@pytest.mark.parametrize("name", NETS)
def test_output_shape_3d(name, scale, channels):
    net = NETS[name](spatial_dims=3, in_channels=channels, scale=scale, **SMALL_3D[name]).eval()
    with torch.no_grad():
        out = net(torch.rand(1, channels, 6, 5, 4))
    assert out.shape == (1, channels, 6 * scale, 5 * scale, 4 * scale)


@pytest.mark.parametrize("name", [n for n in NETS if n != "VDSR"])
def test_out_channels(name):
    net = NETS[name](spatial_dims=2, in_channels=3, out_channels=1, scale=2).eval()
    with torch.no_grad():
        assert net(torch.rand(1, 3, 8, 8)).shape == (1, 1, 16, 16)


@pytest.mark.parametrize("name", ["EDSRBaseline", "SRResNet"])
def test_x8(name):
    net = NETS[name](spatial_dims=2, scale=8, features=8, num_blocks=1).eval()
    with torch.no_grad():
        assert net(torch.rand(1, 1, 4, 4)).shape == (1, 1, 32, 32)


@pytest.mark.parametrize("name", ["SRCNN", "VDSR"])
def test_interpolating_nets_accept_fractional_scale(name):
    net = NETS[name](spatial_dims=2, scale=2.5).eval()
    with torch.no_grad():
        assert net(torch.rand(1, 1, 12, 9)).shape == (1, 1, 30, 23)  # floor(n * 2.5 + 0.5)


@pytest.mark.parametrize("name", NETS)
def test_parameter_count_3ch_x4(name):
    assert count_parameters(NETS[name](spatial_dims=2, in_channels=3, scale=4)) == PARAMS_3CH_X4[name]


def test_parameter_counts_match_the_literature():
    assert abs(count_parameters(IMDN(2, 3, scale=4)) - 715_000) / 715_000 < 0.01  # IMDN paper: 715K
    # the paper's Table 1 (1 channel): SRCNN 0.057 M (the 9-5-5 network), FSRCNN 0.012 M, VDSR 0.665 M
    srcnn_955 = count_parameters(SRCNN(2, 1, kernel_sizes=(9, 5, 5)))
    assert srcnn_955 == (9 * 9 * 64 + 64) + (5 * 5 * 64 * 32 + 32) + (5 * 5 * 32 + 1)  # 57,281
    assert round(srcnn_955 / 1e6, 3) == 0.057
    assert round(count_parameters(FSRCNN(2, 1)) / 1e6, 3) == 0.013  # 12,809 with biases and PReLU slopes
    assert round(count_parameters(VDSR(2, 1)) / 1e6, 3) == 0.666  # 665,921 with biases
    assert round(count_parameters(EDSRBaseline(2, 3)) / 1e6, 3) == 1.518  # EDSR paper: 1.5 M


def test_imdb_parameter_count_and_shape():
    block = IMDB(2, 64, 16)
    # conv3x3 64->64: 36,928; 2 x conv3x3 48->64: 2 x 27,712; conv3x3 48->16: 6,928; conv1x1 64->64: 4,160;
    # CCA conv1x1 64->4 and 4->64: 260 + 320
    assert count_parameters(block) == 36_928 + 2 * 27_712 + 6_928 + 4_160 + 260 + 320  # 104,020
    x = torch.rand(2, 64, 5, 5)
    assert block(x).shape == x.shape
    assert IMDB(3, 16, 4)(torch.rand(1, 16, 3, 3, 3)).shape == (1, 16, 3, 3, 3)


@pytest.mark.parametrize(("scale", "padding", "output_padding"), [(2, 4, 1), (3, 3, 0), (4, 3, 1)])
def test_fsrcnn_deconvolution_geometry(scale, padding, output_padding):
    deconv = FSRCNN(scale=scale).deconv
    assert (deconv.kernel_size, deconv.stride) == ((9, 9), (scale, scale))
    assert (deconv.padding, deconv.output_padding) == ((padding, padding), (output_padding, output_padding))


@pytest.mark.parametrize("name", ["EDSRBaseline", "SRResNet"])
@pytest.mark.parametrize(("scale", "stages"), [(2, [2]), (3, [3]), (4, [2, 2])])
def test_upsampler_stages(name, scale, stages):
    net = NETS[name](scale=scale, num_blocks=0, features=8)
    assert [m.scale_factor for m in net.upsample if isinstance(m, SubpixelUpsample)] == stages


def test_vdsr_is_a_residual_on_the_interpolated_input():
    net = VDSR(scale=3, depth=3, features=4).eval()
    last = net.body[-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)
    x = torch.rand(1, 1, 7, 7)
    torch.testing.assert_close(net(x), upsample_image(x, 3))


@pytest.mark.parametrize("name", NETS)
def test_gradients_reach_every_parameter(name):
    net = NETS[name](spatial_dims=2, in_channels=3, scale=4)
    for module_name, module in net.named_modules():
        if module_name.endswith("attention.excite.0"):
            # IMDN's channel attention squeezes 64 channels into 4 ReLU units; at initialisation all 4 can be
            # negative for every input (some block has such a dead bottleneck for about 1 seed in 6). A
            # positive bias makes them live, so this test checks the wiring rather than the random draw.
            torch.nn.init.constant_(module.bias, 1.0)
    assert_all_parameters_get_gradients(net, net(torch.rand(2, 3, 8, 8)).mean())


@pytest.mark.parametrize("name", NETS)
def test_gradients_3d(name):
    net = NETS[name](spatial_dims=3, scale=2, **SMALL_3D[name])
    net(torch.rand(2, 1, 4, 4, 4)).mean().backward()
    assert all(p.grad is not None for p in net.parameters())


@pytest.mark.parametrize("name", NETS)
@pytest.mark.parametrize("scale", [0, -2, 9, float("nan")])
def test_out_of_range_scale_raises(name, scale):
    with pytest.raises(ValueError, match=f"got {scale}"):
        NETS[name](scale=scale)


@pytest.mark.parametrize("name", ["FSRCNN", "ESPCN", "IMDN", "EDSRBaseline", "SRResNet"])
def test_fractional_scale_raises_for_fixed_scale_nets(name):
    with pytest.raises(ValueError, match=r"got 2\.5"):
        NETS[name](scale=2.5)


@pytest.mark.parametrize("name", ["EDSRBaseline", "SRResNet"])
@pytest.mark.parametrize("scale", [1, 5, 6, 7])
def test_unsupported_scale_raises(name, scale):
    with pytest.raises(ValueError, match=f"supports scale 2, 3, 4, 8, got {scale}"):
        NETS[name](scale=scale)


@pytest.mark.parametrize("name", NETS)
def test_bad_spatial_dims_and_channels_raise(name):
    with pytest.raises(ValueError, match="got 1"):
        NETS[name](spatial_dims=1)
    with pytest.raises(ValueError, match="got 0"):
        NETS[name](in_channels=0)


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: VDSR(in_channels=1, out_channels=3), "in_channels=1, out_channels=3"),
        (lambda: IMDN(in_channels=3, out_channels=1, image_residual=True), "image_residual.*in_channels=3, out_"),
        (lambda: VDSR(depth=1), "depth=1"),
        (lambda: SRCNN(kernel_sizes=(9, 2, 5)), r"kernel_sizes=\(9, 2, 5\)"),
        (lambda: SRCNN(features=(64,)), r"features=\(64,\)"),
        (lambda: ESPCN(features=(64, 0)), r"features=\(64, 0\)"),
        (lambda: FSRCNN(num_mapping_layers=-1), "-1"),
        (lambda: IMDN(num_blocks=0), "got 0"),
        (lambda: IMDN(distillation_channels=64), "distillation_channels=64, channels=64"),
        (lambda: IMDB(2, 64, 0), "distillation_channels=0"),
        (lambda: EDSRBaseline(num_blocks=-1), "num_blocks=-1"),
        (lambda: SRResNet(features=0), "features=0"),
    ],
)
def test_invalid_architecture_arguments_raise(factory, message):
    with pytest.raises(ValueError, match=message):
        factory()


def test_imdn_image_residual_starts_as_the_interpolated_input():
    torch.manual_seed(0)
    net = IMDN(2, 1, scale=3, image_residual=True, **SMALL_3D["IMDN"])
    x = torch.rand(2, 1, 10, 12)
    assert torch.equal(net(x), upsample_image(x, 3.0))
    plain = IMDN(2, 1, scale=3, **SMALL_3D["IMDN"])
    assert net.state_dict().keys() == plain.state_dict().keys()  # the skip adds no parameter


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_imdn_reads_the_authors_checkpoint_layout_and_folds_it_to_grey(tmp_path, scale):
    """The authors' RGB checkpoint (generated here in their layout) loads into our IMDN: RGB as published,
    and grey = the RGB network fed three equal channels with its three outputs averaged."""
    authors, state = authors_checkpoint(scale)
    path = tmp_path / f"IMDN_x{scale}.pth"
    torch.save(state, path)
    assert is_authors_imdn_state_dict(state) and not is_authors_imdn_state_dict(IMDN(2, 1, scale=scale).state_dict())
    rgb = load_checkpoint(path, IMDN(2, 3, scale=scale))
    gray = load_checkpoint(path, IMDN(2, 1, scale=scale))
    x = torch.rand(2, 3, 11, 13)
    with torch.no_grad():
        torch.testing.assert_close(rgb(x), authors(x), atol=2e-5, rtol=1e-4)
        grey_input = x[:, :1]
        expected = authors(grey_input.expand(-1, 3, -1, -1)).mean(dim=1, keepdim=True)
        torch.testing.assert_close(gray(grey_input), expected, atol=2e-5, rtol=1e-4)


def test_imdn_authors_checkpoint_is_refused_where_it_cannot_fit():
    _, state = authors_checkpoint(2)
    with pytest.raises(ValueError, match="without an image-space skip"):
        IMDN(2, 1, scale=2, image_residual=True).adapt_state_dict(state)
    with pytest.raises(ValueError, match="1 channel or stay RGB"):
        imdn_state_dict_from_authors(state, in_channels=2)
    with pytest.raises(ValueError, match="not an IMDN authors' checkpoint"):
        imdn_state_dict_from_authors(IMDN(2, 1, scale=2).state_dict())
    # a plain state dict of ours passes through unchanged
    ours = IMDN(2, 1, scale=2).state_dict()
    assert IMDN(2, 1, scale=2).adapt_state_dict(ours).keys() == ours.keys()
