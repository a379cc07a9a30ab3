"""NNPACK convolutions in the CPU inference form: the same function as ``nn.Conv2d``, float32 only."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from monai_rmisr import load_pretrained
from monai_rmisr.data import load_corpus
from monai_rmisr.networks import nnpack as nnpack_module
from monai_rmisr.networks.nnpack import MIN_NNPACK_IN_CHANNELS, NNPACKConv2d, nnpack_available, nnpack_convolutions
from monai_rmisr.networks.regroup import cpu_inference_network

needs_nnpack = pytest.mark.skipif(not nnpack_available(), reason="this torch build or CPU has no NNPACK")


def _randomised(conv: nn.Conv2d) -> nn.Conv2d:
    torch.manual_seed(0)
    with torch.no_grad():
        for p in conv.parameters():
            p.copy_(torch.randn_like(p) / (conv.in_channels // conv.groups * conv.kernel_size[0] ** 2) ** 0.5)
    return conv


@needs_nnpack
@pytest.mark.parametrize(
    "conv",
    [
        nn.Conv2d(64, 64, 3, padding=1),
        nn.Conv2d(16, 8, 3, padding=1, bias=False),
        nn.Conv2d(64, 32, 7, padding=3, groups=4),  # RMISR's merged pyramid convolution
        nn.Conv2d(32, 16, 5, padding=2, groups=2, bias=False),
    ],
)
@pytest.mark.parametrize("size", [(1, 1), (2, 3), (9, 7), (40, 36)])
@pytest.mark.parametrize("band_pixels", [nnpack_module.NNPACK_BAND_PIXELS, 48])  # 48: bands of 12 rows
def test_nnpack_convolution_equals_the_direct_one(conv, size, band_pixels, monkeypatch):
    monkeypatch.setattr(nnpack_module, "NNPACK_BAND_PIXELS", band_pixels)
    conv = _randomised(conv)
    fast = NNPACKConv2d(conv)
    x = torch.rand(2, conv.in_channels, *size)
    with torch.no_grad():
        expected, got = conv(x), fast(x)
    assert got.shape == expected.shape and got.dtype == torch.float32
    # Winograd rounds differently: about 1.5e-5 on unit-scale outputs; the inference paths promise 1e-4
    assert (got - expected).abs().max().item() < 1e-4
    # gradients flow as through the convolution (CPU fine-tuning of a CPU form is not a use, but nothing breaks)
    x.requires_grad_(True)
    fast(x).sum().backward()
    reference = x.detach().clone().requires_grad_(True)
    conv(reference).sum().backward()
    assert torch.allclose(x.grad, reference.grad, atol=1e-4)


@needs_nnpack
def test_other_inputs_take_the_direct_convolution():
    conv = _randomised(nn.Conv2d(16, 16, 3, padding=1))
    fast = NNPACKConv2d(conv)
    x = torch.rand(1, 16, 10, 10)
    with torch.no_grad():
        # float64 (the direct convolution) and channels-last float32 (NNPACK, on a contiguous copy): the same numbers
        wide = x.double()
        assert torch.allclose(copy.deepcopy(fast).double()(wide), copy.deepcopy(conv).double()(wide), atol=1e-12)
        assert torch.allclose(fast(x.contiguous(memory_format=torch.channels_last)), conv(x), atol=1e-4)
        # a CPU bfloat16 autocast runs the convolution in bfloat16, as nn.Conv2d does (the inference paths'
        # precision="bfloat16" is unchanged)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got, expected = fast(x), conv(x)
        assert got.dtype == expected.dtype == torch.bfloat16 and torch.equal(got, expected)


@needs_nnpack
def test_only_convolutions_nnpack_speeds_up_are_rewritten():
    class Standardised(nn.Conv2d):  # a subclass computes something else from its weights
        def forward(self, x):
            return self._conv_forward(x, (self.weight - self.weight.mean()) / self.weight.std(), self.bias)

    left = [
        nn.Conv2d(MIN_NNPACK_IN_CHANNELS - 1, 16, 3, padding=1),  # too few input channels (a network's head)
        nn.Conv2d(64, 64, 3, padding=1, groups=8),  # 8 input channels per group
        nn.Conv2d(16, 16, 3, padding=1, stride=2),
        nn.Conv2d(16, 16, 3, padding=2, dilation=2),
        nn.Conv2d(16, 16, 3, padding=1, padding_mode="reflect"),
        nn.Conv2d(16, 16, 3, padding=0),
        nn.Conv2d(16, 16, 3, padding="same"),
        nn.Conv2d(16, 16, 1),
        nn.Conv2d(16, 16, 9, padding=4),
        nn.Conv2d(16, 16, (3, 5), padding=(1, 2)),
        nn.Conv3d(16, 16, 3, padding=1),
        Standardised(16, 16, 3, padding=1),
    ]
    network = nn.Sequential(*left)
    assert nnpack_convolutions(network) is network
    taken = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1))
    before = copy.deepcopy(taken.state_dict())
    rewritten = nnpack_convolutions(taken)
    assert isinstance(rewritten[2], NNPACKConv2d) and type(rewritten[0]) is nn.Conv2d
    assert type(taken[2]) is nn.Conv2d and all(torch.equal(v, taken.state_dict()[k]) for k, v in before.items())
    assert rewritten.state_dict().keys() == taken.state_dict().keys()
    assert nnpack_convolutions(rewritten) is rewritten  # nothing left: no copy
    assert isinstance(nnpack_convolutions(nn.Conv2d(16, 16, 3, padding=1)), NNPACKConv2d)


@pytest.mark.parametrize(
    "conv",
    [
        nn.Conv2d(16, 16, 3, padding=1, stride=2),
        nn.Conv2d(16, 16, 3, padding=1, padding_mode="reflect"),
        nn.Conv2d(16, 16, 3, padding="same"),
        nn.Conv2d(16, 16, 4, padding=2),
    ],
)
def test_a_convolution_of_another_layout_is_refused_by_name(conv):
    with pytest.raises(ValueError, match=r"NNPACKConv2d: needs a plain nn\.Conv2d"):
        NNPACKConv2d(conv)


def test_without_nnpack_the_network_is_left_as_it_is(monkeypatch):
    monkeypatch.setattr(nnpack_module, "nnpack_available", lambda: False)
    network = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1))
    assert nnpack_convolutions(network) is network


@needs_nnpack
def test_the_cpu_form_of_a_shipped_model_keeps_its_output_on_a_real_image(monkeypatch):
    """The promise of the CPU inference form: RMISR-BL x4's output within 1e-4 of the paper's layout, on a CT
    crop from the TEST split (air at 0, bone at 1: the full range)."""
    image = next(img for img in load_corpus("test") if img.name == "693_UNCR")
    lr = torch.from_numpy(np.ascontiguousarray(image.array[:, 40:136, 40:104]))[None]  # 96 x 64: bands of 48 rows
    monkeypatch.setattr(nnpack_module, "NNPACK_BAND_PIXELS", 48 * 64)
    network = load_pretrained("rmisr_bl_x4").eval()
    form, channels_last = cpu_inference_network(network)
    assert not channels_last and sum(isinstance(m, NNPACKConv2d) for m in form.modules()) > 0
    with torch.no_grad():
        expected, got = network(lr), form(lr)
    assert (got - expected).abs().max().item() < 1e-4
