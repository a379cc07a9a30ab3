import pytest
import torch

from monai_rmisr.losses import VGG19_LAYER_NAMES, VGG19Features

# torchvision's vgg19().features: the conv layers sit at these indices
TORCHVISION_CONV_INDICES = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]


def _torchvision_format_state_dict() -> dict[str, torch.Tensor]:
    """A same-format stand-in for torchvision's ImageNet VGG-19 file (random values)."""
    state, in_channels = {}, 3
    widths = [64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512]
    for index, width in zip(TORCHVISION_CONV_INDICES, widths):
        state[f"features.{index}.weight"] = torch.randn(width, in_channels, 3, 3) * 0.05
        state[f"features.{index}.bias"] = torch.randn(width) * 0.05
        in_channels = width
    state["classifier.0.weight"] = torch.randn(8, 8)  # present in real files, ignored
    return state


def test_layer_names_follow_torchvision_indices():
    conv_names = [name for name in VGG19_LAYER_NAMES if name.startswith("conv")]
    assert [VGG19_LAYER_NAMES.index(n) for n in conv_names] == TORCHVISION_CONV_INDICES
    assert VGG19_LAYER_NAMES.index("relu3_4") == 17


def test_loads_a_torchvision_format_file(tmp_path):
    state = _torchvision_format_state_dict()
    path = tmp_path / "vgg19.pth"
    torch.save(state, path)
    vgg = VGG19Features(("relu5_4",), weights_path=path)
    assert torch.equal(vgg.features[34].weight, state["features.34.weight"])
    assert torch.equal(vgg.features[0].bias, state["features.0.bias"])


def test_missing_file_tells_the_user_what_to_supply(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"VGG-19 weights not found: .*nope\.pth.*torch\.save"):
        VGG19Features(weights_path=tmp_path / "nope.pth")


def test_wrong_file_is_rejected(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, path)
    with pytest.raises(ValueError, match="not a torchvision VGG-19 state dict"):
        VGG19Features(("relu2_2",), weights_path=path)


def test_grayscale_is_replicated_and_weights_are_frozen():
    vgg = VGG19Features(("relu1_2", "relu2_2"))
    gray = torch.rand(2, 1, 16, 16, requires_grad=True)
    out_gray = vgg(gray)
    out_rgb = vgg(gray.detach().expand(-1, 3, -1, -1))
    assert [o.shape for o in out_gray] == [(2, 64, 16, 16), (2, 128, 8, 8)]
    assert all(torch.allclose(a, b) for a, b in zip(out_gray, out_rgb))
    assert not any(p.requires_grad for p in vgg.parameters())
    out_gray[1].sum().backward()
    assert gray.grad is not None and gray.grad.abs().sum() > 0
    vgg.train()
    assert not vgg.training


def test_unknown_layer_and_channel_count():
    with pytest.raises(ValueError, match="relu9_9"):
        VGG19Features(("relu9_9",))
    with pytest.raises(ValueError, match="got 2"):
        VGG19Features(("relu1_1",))(torch.rand(1, 2, 8, 8))
