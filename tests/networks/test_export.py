"""TorchScript and ONNX exports compute what the eager network computes."""

import os
import stat

import pytest
import torch

from monai_rmisr import RMISR, RMISRVP
from monai_rmisr.networks import nets
from monai_rmisr.networks.export import export_onnx, export_torchscript

ort = pytest.importorskip("onnxruntime")

SMALL = {"num_blocks": 1}
CASES = {
    "rmisr_x2": lambda: RMISR(2, 1, scale=2, **SMALL),
    "rmisr_x3_rgb": lambda: RMISR(2, 3, scale=3, **SMALL),
    "rmisr_x4_image_residual": lambda: RMISR(2, 1, scale=4, image_residual=True, **SMALL),
    "rmisr_meta": lambda: RMISR(2, 1, scale=2.5, upsampler="meta", meta_hidden_channels=16, **SMALL),
    "rmisr_vp_x4": lambda: RMISRVP(2, 1, scale=4, sr_blocks=2, guidance_blocks=(1, 2)),
}
COMPARISON = [n for n in nets.__all__ if n not in ("RMISR", "RMISRVP")]
for _name in COMPARISON:
    CASES[_name] = lambda n=_name: getattr(nets, n)(2, 1, scale=2)


def _eval(factory):
    torch.manual_seed(0)
    return factory().eval()


@pytest.mark.parametrize("case", sorted(CASES))
def test_torchscript_matches_eager(case, tmp_path):
    net = _eval(CASES[case])
    path = export_torchscript(net, tmp_path / "net.ts")
    scripted = torch.jit.load(str(path))
    for shape in [(1, net_in(net), 13, 11), (2, net_in(net), 8, 17)]:
        x = torch.rand(shape)
        with torch.no_grad():
            assert torch.allclose(scripted(x), net(x), atol=1e-4)


def test_torchscript_keeps_the_call_time_scale(tmp_path):
    net = _eval(CASES["rmisr_meta"])
    scripted = torch.jit.load(str(export_torchscript(net, tmp_path / "meta.ts")))
    x = torch.rand(1, 1, 9, 7)
    with torch.no_grad():
        for scale in (1.5, 3.7, 5.0):
            assert torch.allclose(scripted(x, scale), net(x, scale), atol=1e-4)
        for scale, text in ((9.0, "9"), (0.5, "0.5")):  # the eager message, not TorchScript's "8." and "9."
            with pytest.raises(torch.jit.Error, match=rf"scale must be a finite number in \[1, 8\], got {text}\.$"):
                scripted(x, scale)


def test_torch_export_of_the_arbitrary_scale_network_takes_other_sizes():
    # torch.export's default (non-strict) tracing fixed the example's size: the up-sampler read its input size with
    # int(), which specialises a symbolic size ("Guard failed: x.size()[2] == 32" at any other size)
    net = _eval(CASES["rmisr_meta"])
    size = torch.export.Dim.AUTO
    exported = torch.export.export(net, (torch.rand(2, 1, 16, 16),), dynamic_shapes=({0: size, 2: size, 3: size},))
    for shape in [(1, 1, 9, 13), (3, 1, 20, 11)]:
        x = torch.rand(shape)
        with torch.no_grad():
            out = exported.module()(x)
            assert out.shape == net(x).shape and torch.allclose(out, net(x), atol=1e-5)


def test_torchscript_of_rmisr_3d(tmp_path):
    net = RMISR(3, 1, scale=2, features=32, num_blocks=1, distillation_channels=8).eval()
    scripted = torch.jit.load(str(export_torchscript(net, tmp_path / "net3d.ts")))
    x = torch.rand(1, 1, 5, 4, 6)
    with torch.no_grad():
        assert torch.allclose(scripted(x), net(x), atol=1e-4)


ONNX_CASES = ["rmisr_x2", "rmisr_x3_rgb", "rmisr_x4_image_residual", "rmisr_vp_x4", "rmisr_meta", *COMPARISON]


@pytest.mark.integration
@pytest.mark.parametrize("case", ONNX_CASES)
def test_onnx_matches_eager_at_other_sizes(case, tmp_path):
    net = _eval(CASES[case])
    channels = net_in(net)
    path = export_onnx(net, tmp_path / "net.onnx", in_channels=channels, example_size=16)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for shape in [(1, channels, 16, 16), (2, channels, 21, 13)]:
        x = torch.rand(shape)
        (onnx_out,) = session.run(None, {"lr": x.numpy()})
        with torch.no_grad():
            expected = net(x).numpy()
        assert onnx_out.shape == expected.shape
        assert abs(onnx_out - expected).max() < 1e-4
    assert [p.name for p in tmp_path.iterdir()] == ["net.onnx"]  # the weights inside it, no file beside it


@pytest.mark.integration
def test_an_onnx_export_of_the_arbitrary_scale_network_loads_where_it_is_moved(tmp_path):
    """The dynamo exporter (the meta upsampler) wrote the shipped-size network's weights to a file named after the
    export's hidden temporary file, left beside the .onnx, which then failed to load once moved."""
    net = RMISR(2, 1, upsampler="meta").eval()
    path = export_onnx(net, tmp_path / "meta.onnx", in_channels=1, example_size=16)
    assert [p.name for p in tmp_path.iterdir()] == ["meta.onnx"]
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    path = path.rename(moved / "renamed.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.rand(1, 1, 12, 10)
    (onnx_out,) = session.run(None, {"lr": x.numpy()})
    with torch.no_grad():
        assert abs(onnx_out - net(x).numpy()).max() < 1e-4


def test_exported_files_get_the_usual_permissions(tmp_path):
    # a temporary file from mkstemp is the owner's alone (0600); renamed into place it used to stay so
    umask = os.umask(0o022)
    try:
        path = export_torchscript(RMISR(2, 1, scale=2, num_blocks=1), tmp_path / "net.ts")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["net.ts"]


def test_export_to_missing_folder_fails_cleanly(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        export_torchscript(RMISR(2, 1, scale=2, num_blocks=1), tmp_path / "nope" / "net.ts")


def net_in(net) -> int:
    first = next(m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d)))
    return first.in_channels


def test_an_export_leaves_a_training_network_training(tmp_path):
    # both exports switched the caller's network to eval mode for good (an export mid-training went on with
    # BatchNorm's running statistics frozen in SRResNet)
    network = nets.ESPCN(spatial_dims=2, in_channels=1, scale=2).train()
    export_torchscript(network, tmp_path / "a.pt")
    assert network.training
    export_onnx(network, tmp_path / "a.onnx", in_channels=1)
    assert network.training
    network.eval()
    export_torchscript(network, tmp_path / "b.pt")
    assert not network.training
