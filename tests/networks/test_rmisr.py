import math

import pytest
import torch

from monai_rmisr import RMISR, RMISRVP
from monai_rmisr.networks.utils import accepts_scale, check_scale, upsample_image

from .helpers import assert_all_parameters_get_gradients, count_parameters


def _blocks(channels: int, scale: int) -> dict[str, int]:
    pfmdb = 221_188  # see test_blocks.test_pfmdb_shape_and_parameter_breakdown
    return {
        "head": channels * 64 * 9 + 64,
        "pfmdb": 4 * pfmdb,
        "merge": 4 * 64 * 64 + 64,
        "smooth": 64 * 64 * 9 + 64,
        "upsampler": 64 * channels * scale**2 * 9 + channels * scale**2,
    }


@pytest.mark.parametrize("channels,scale", [(3, 4), (1, 4), (1, 2), (3, 2), (1, 3)])
def test_parameter_count_matches_breakdown(channels, scale):
    net = RMISR(2, channels, scale=scale)
    expected = sum(_blocks(channels, scale).values())
    assert count_parameters(net) == expected
    assert 800_000 <= expected <= 1_000_000


def test_paper_configuration_x4_rgb_is_967616_parameters():
    assert count_parameters(RMISR(2, 3, scale=4)) == 967_616


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("channels", [1, 3])
def test_subpixel_shapes_2d(scale, channels):
    net = RMISR(2, channels, scale=scale, num_blocks=1)
    assert net(torch.rand(2, channels, 9, 7)).shape == (2, channels, 9 * scale, 7 * scale)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_subpixel_shapes_3d(scale):
    net = RMISR(3, 1, scale=scale, features=32, num_blocks=1, distillation_channels=8)
    assert net(torch.rand(1, 1, 4, 5, 3)).shape == (1, 1, 4 * scale, 5 * scale, 3 * scale)


@pytest.mark.parametrize("scale", [1.5, 2.0, 2.5, 3.0, 3.7, 4.0, 4.5, 5.0])
def test_meta_shapes_at_call_time_scale(scale):
    net = RMISR(2, 1, upsampler="meta", num_blocks=1, meta_hidden_channels=16)
    out = net(torch.rand(1, 1, 11, 8), scale)
    assert out.shape == (1, 1, math.floor(11 * scale + 0.5), math.floor(8 * scale + 0.5))


def test_the_call_time_scale_reaches_a_wrapped_arbitrary_scale_network():
    net = RMISR(2, 1, upsampler="meta", num_blocks=1, meta_hidden_channels=16).eval()
    compiled = torch.compile(net)  # (compiles lazily, on its first call: not called here)
    wrapped = torch.nn.parallel.DataParallel(compiled)  # .module, then torch.compile's ._orig_mod
    assert accepts_scale(net) and accepts_scale(compiled) and accepts_scale(wrapped)
    assert not accepts_scale(torch.compile(torch.nn.Conv2d(1, 1, 3)))


def test_meta_3d():
    net = RMISR(3, 1, upsampler="meta", features=32, num_blocks=1, distillation_channels=8, meta_hidden_channels=8)
    assert net(torch.rand(1, 1, 4, 4, 3), 2.5).shape == (1, 1, 10, 10, 8)


def test_out_channels_and_default_scale():
    net = RMISR(2, 3, out_channels=1, scale=2, num_blocks=1)
    assert net(torch.rand(1, 3, 6, 6)).shape == (1, 1, 12, 12)


def test_image_residual_adds_the_interpolated_input():
    net = RMISR(2, 1, scale=2, num_blocks=1, image_residual=True)
    torch.nn.init.zeros_(net.upsample.shuffle.conv_block.weight)
    torch.nn.init.zeros_(net.upsample.shuffle.conv_block.bias)
    x = torch.rand(1, 1, 8, 8)
    expected = torch.nn.functional.interpolate(x, scale_factor=2.0, mode="bicubic", align_corners=False)
    assert torch.allclose(net(x), expected, atol=1e-6)


@pytest.mark.parametrize("upsampler", ["subpixel", "meta"])
def test_gradients_reach_every_parameter(upsampler):
    net = RMISR(2, 1, scale=2, num_blocks=2, upsampler=upsampler, meta_hidden_channels=8)
    out = net(torch.rand(2, 1, 8, 8), 2.0)
    assert_all_parameters_get_gradients(net, (out - 0.5).pow(2).mean())


def test_3d_gradients():
    net = RMISR(3, 1, scale=2, features=32, num_blocks=1, distillation_channels=8)
    assert_all_parameters_get_gradients(net, net(torch.rand(1, 1, 4, 4, 4)).pow(2).mean())


def test_subpixel_network_refuses_another_scale():
    net = RMISR(2, 1, scale=2, num_blocks=1)
    with pytest.raises(ValueError, match="built for x2 and cannot run at x3"):
        net(torch.rand(1, 1, 4, 4), 3.0)


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match=r"got 2\.5"):
        RMISR(2, 1, scale=2.5)  # sub-pixel needs an integer
    with pytest.raises(ValueError, match="'bicubic'"):
        RMISR(2, 1, upsampler="bicubic")
    with pytest.raises(ValueError, match="got 0"):
        RMISR(2, 1, scale=0)
    with pytest.raises(ValueError, match="got 0"):
        RMISR(2, 1, num_blocks=0)
    # the image-space skip adds the interpolated input: as many outputs as inputs (before: 3 out of 1 asked)
    for network in (RMISR, RMISRVP):
        with pytest.raises(ValueError, match=r"image_residual.*in_channels=3, out_channels=1"):
            network(2, 3, 1, image_residual=True)
    assert RMISR(2, 3, 1, scale=2, num_blocks=1)(torch.rand(1, 3, 8, 8)).shape == (1, 1, 16, 16)  # no skip: fine


@pytest.mark.parametrize("upsampler,scale", [("subpixel", 2.0), ("meta", 2.5)])
def test_untrained_image_residual_network_is_exactly_the_interpolation(upsampler, scale):
    net = RMISR(2, 1, scale=2, num_blocks=1, upsampler=upsampler, meta_hidden_channels=8, image_residual=True)
    x = torch.rand(1, 1, 9, 8)
    assert torch.equal(net(x, scale), upsample_image(x, scale))
    net(x, scale).sum().backward()
    zeroed = net.upsample.shuffle.conv_block if upsampler == "subpixel" else net.upsample.weight_layer
    assert zeroed.weight.grad.abs().sum() > 0  # the zeroed layer still learns


@pytest.mark.parametrize(
    ("value", "options", "expected"),
    [
        (2, {}, 2.0),
        (1.5, {"max_scale": 8.0}, 1.5),
        (8, {"max_scale": 8.0}, 8.0),
        (1, {"allow_one": True}, 1.0),
        (torch.tensor(2.5), {}, 2.5),
        (torch.tensor([3]), {}, 3.0),
    ],
)
def test_check_scale_accepts(value, options, expected):
    assert check_scale(value, **options) == expected and isinstance(check_scale(value, **options), float)


@pytest.mark.parametrize(
    ("value", "options", "message"),
    [
        (1, {}, r"in \(1, inf\), got 1"),
        (0.5, {"allow_one": True}, r"in \[1, inf\), got 0.5"),
        (8.5, {"max_scale": 8.0}, r"in \(1, 8\], got 8.5"),
        (float("inf"), {}, "got inf"),
        (float("nan"), {}, "got nan"),
        (True, {"allow_one": True}, "a real number, got True"),
        ("2", {}, "a real number, got '2'"),
        (None, {}, "a real number, got None"),
        (torch.tensor([2.0, 3.0]), {}, "a real number"),
        (torch.tensor(True), {}, "a real number"),
    ],
)
def test_check_scale_refuses_naming_the_value(value, options, message):
    """One rule for a scale, where a network is built and where a user's scale enters (inference)."""
    with pytest.raises(ValueError, match=message):
        check_scale(value, **options)


@pytest.mark.parametrize("features", [16, 48, 0])
def test_features_must_be_a_multiple_of_32(features):
    # the error came from deep inside PyConv-3 ("out_channels divisible by 32"), not naming the argument
    with pytest.raises(ValueError, match=rf"features must be a positive multiple of 32 .*got {features}"):
        RMISR(2, 1, scale=2, features=features)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("network", ["subpixel", "meta", "vp"])
def test_a_network_converted_as_a_whole_runs_in_its_dtype(network, dtype):
    """``.half()`` / ``.bfloat16()``, PyTorch's way to deploy in reduced precision: the trunk's head cast its input
    to float32 ("Input type (float) and bias type (c10::Half) should be the same"); IMDN and ESPCN ran."""
    torch.manual_seed(0)
    if network == "vp":
        model = RMISRVP(spatial_dims=2, in_channels=1, out_channels=1, scale=2, features=32)
    else:
        model = RMISR(spatial_dims=2, in_channels=1, scale=2, features=32, num_blocks=1, upsampler=network)
    x = torch.rand(1, 1, 12, 10)
    with torch.no_grad():
        reference = model.eval()(x)
        converted = model.to(dtype)(x.to(dtype))
    assert converted.shape == reference.shape and torch.isfinite(converted).all()
    assert (converted.float() - reference).abs().max() < 0.05
