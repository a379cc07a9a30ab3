"""super_resolve: sizes, types, model selection, colour images and one clear error per bad input."""

import importlib
import json
import math

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

import monai_rmisr.networks.regroup
from monai_rmisr import RMISR, EDSRBaseline
from monai_rmisr.inference import MODELS_ENV, PRETRAINED, super_resolve
from monai_rmisr.networks.regroup import FusedPFMDB
from monai_rmisr.networks.utils import upsample_image

super_resolve_module = importlib.import_module("monai_rmisr.inference.super_resolve")  # the package re-exports the name


def small_rmisr(scale=2.0, upsampler="subpixel", in_channels=1, perturb=0.0):
    """A fast RMISR (1 PFMDB, 32 features). Untrained with the image residual it is exactly bicubic;
    ``perturb`` > 0 gives its output layer random weights of that std, like a trained residual."""
    network = RMISR(
        2,
        in_channels,
        scale=scale,
        features=32,
        num_blocks=1,
        distillation_channels=8,
        upsampler=upsampler,
        meta_hidden_channels=16,
        image_residual=True,
    )
    if perturb:
        with torch.no_grad():
            for p in network.upsample.parameters():
                p.normal_(0, perturb)
    return network


def image(h=12, w=10, channels=None, seed=0):
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels is None else (channels, h, w)
    return rng.random(shape, dtype=np.float32)


def bicubic(x: np.ndarray, scale: float) -> np.ndarray:
    out = upsample_image(torch.from_numpy(x)[None, None], scale)[0, 0]
    return out.clamp(0, 1).numpy()


@pytest.fixture
def models(tmp_path, monkeypatch):
    monkeypatch.setenv(MODELS_ENV, str(tmp_path))
    return tmp_path


def save_stand_in(folder, name, seed=0):
    torch.manual_seed(seed)
    entry = PRETRAINED[name]
    network = entry.network(**entry.kwargs)
    with torch.no_grad():  # a non-trivial residual, so that a wrong network would show
        for p in network.upsample.parameters():
            p.normal_(0, 0.01)
    torch.save(network.state_dict(), folder / f"{name}.pt")
    return network.eval()


@pytest.mark.parametrize(("size", "scale", "expected"), [((12, 10), 2, (24, 20)), ((5, 7), 2.5, (13, 18))])
def test_untrained_image_residual_network_is_bicubic(size, scale, expected):
    x = image(*size)
    upsampler = "subpixel" if float(scale).is_integer() else "meta"
    out = super_resolve(x, scale, model=small_rmisr(2.0, upsampler))
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == expected  # halves round up
    np.testing.assert_allclose(out, bicubic(x, scale), atol=1e-6)


def test_types_dtypes_and_shapes_follow_the_input():
    network = small_rmisr()
    x = image(channels=1)
    assert super_resolve(x, 2, model=network).shape == (1, 24, 20)
    assert super_resolve(x.astype(np.float64), 2, model=network).dtype == np.float64
    t = torch.from_numpy(x[0]).double()
    out = super_resolve(t, 2, model=network)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64 and out.shape == (24, 20)
    np.testing.assert_allclose(out.numpy(), super_resolve(x[0], 2, model=network), atol=1e-6)
    big_endian = x.astype(">f4")  # as read from some files: torch takes native byte order only
    np.testing.assert_array_equal(super_resolve(big_endian, 2, model=network), super_resolve(x, 2, model=network))


def test_device_and_bicubic_channels_are_checked_with_a_message():
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="PyTorch sees no CUDA GPU"):
            super_resolve(image(), 2, model=small_rmisr(), device="cuda")
    with pytest.raises(ValueError, match="not a device"):
        super_resolve(image(), 2, model=small_rmisr(), device="gpu0")
    with pytest.raises(ValueError, match=r"takes one channel at a time, got 5 channels \(shape \(5, 12, 10\)\);"):
        super_resolve(image(channels=5), 2, model="bicubic")
    # an (H, W, C) colour image as PIL and imageio give it: the message says what to do
    with pytest.raises(ValueError, match=r"got 12 channels .* \(channels last\? move them first: np.moveaxis"):
        super_resolve(np.zeros((12, 10, 3), np.float32), 2, model="bicubic")


def test_output_is_clipped():
    torch.manual_seed(0)
    out = super_resolve(image(16, 16), 2, model=small_rmisr(perturb=0.2))
    assert out.min() == 0.0 and out.max() == 1.0


def test_user_network_state_is_kept():
    network = small_rmisr().train()
    super_resolve(image(), 2, model=network)
    assert network.training


def test_cpu_path_runs_a_regrouped_copy_with_the_same_output(monkeypatch):
    torch.manual_seed(0)
    network = small_rmisr(perturb=0.05)
    with torch.no_grad():  # every weight random, so the grouped convolutions matter
        for p in network.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    before = {k: v.clone() for k, v in network.state_dict().items()}
    x = image(20, 18)
    ran = []
    runner, _ = monai_rmisr.networks.regroup.cpu_inference_network(network)
    runner.register_forward_hook(lambda module, args, out: ran.append(module))
    monkeypatch.setattr(super_resolve_module, "inference_network", lambda net, device, dtype: (runner, False))
    out = super_resolve(x, 2, model=network, tile=None)
    assert ran == [runner] and runner is not network
    # PyConv-3's 7x7 and 5x5 branches (8 groups of 1 output, 4 of 2 at 32 features) in one of 4 groups of 4
    assert {m.groups for m in runner.modules() if isinstance(m, torch.nn.Conv2d) and m.groups > 1} == {4}
    assert any(isinstance(m, FusedPFMDB) for m in runner.modules())  # and each cascade stage fused
    with torch.no_grad():
        expected = network.eval()(torch.from_numpy(x)[None, None]).clamp(0, 1)[0, 0].numpy()
    assert np.abs(out - expected).max() < 1e-5
    after = network.state_dict()  # the caller's module: same groups, shapes and values
    assert all(torch.equal(v, after[k]) for k, v in before.items())
    assert {m.groups for m in network.modules() if isinstance(m, torch.nn.Conv2d) and m.groups > 1} == {8, 4}


def test_rgb_is_super_resolved_channel_by_channel():
    torch.manual_seed(0)
    network = small_rmisr(perturb=0.02)
    rgb = image(channels=3)
    out = super_resolve(rgb, 2, model=network)
    assert out.shape == (3, 24, 20)
    for c in range(3):
        np.testing.assert_allclose(out[c], super_resolve(rgb[c], 2, model=network), atol=1e-6)


def test_a_network_for_the_image_channels_gets_the_whole_image():
    torch.manual_seed(0)
    network = small_rmisr(in_channels=3, perturb=0.02).eval()
    rgb = image(channels=3)
    with torch.no_grad():
        expected = network(torch.from_numpy(rgb)[None])[0].clamp(0, 1).numpy()
    np.testing.assert_allclose(super_resolve(rgb, 2, model=network), expected, atol=1e-5)


def test_auto_picks_the_dedicated_network(models):
    reference = save_stand_in(models, "rmisr_bl_x2")
    x = image(16, 16)
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)[None, None])[0, 0].clamp(0, 1).numpy()
    np.testing.assert_allclose(super_resolve(x, 2), expected, atol=1e-5)
    np.testing.assert_allclose(super_resolve(x, 2.0, model="rmisr_bl_x2"), expected, atol=1e-5)


def test_auto_uses_the_meta_network_for_other_scales(models):
    with pytest.raises(FileNotFoundError, match=r"rmisr_meta.* is not available: .* holds no rmisr_meta.pt"):
        super_resolve(image(), 2.5)
    reference = save_stand_in(models, "rmisr_meta")
    x = image(8, 8)
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)[None, None], 2.5)[0, 0].clamp(0, 1).numpy()
    np.testing.assert_allclose(super_resolve(x, 2.5), expected, atol=1e-5)
    # a dedicated scale whose network is not shipped falls back to the meta network, with a warning
    with pytest.warns(UserWarning, match="rmisr_bl_x3 is not shipped yet"):
        out = super_resolve(x, 3)
    assert out.shape == (24, 24)


def test_checkpoint_paths(tmp_path):
    torch.manual_seed(0)
    network = small_rmisr(perturb=0.02)
    torch.save({"model": network.state_dict()}, tmp_path / "mine.pt")
    config = {"_target_": "RMISR", "scale": 2, "features": 32, "num_blocks": 1, "distillation_channels": 8}
    (tmp_path / "mine.json").write_text(json.dumps({**config, "image_residual": True}))
    x = image()
    np.testing.assert_allclose(super_resolve(x, 2, model=tmp_path / "mine.pt"), super_resolve(x, 2, model=network))
    with pytest.raises(ValueError, match="fixed x2 network, got scale=3"):
        super_resolve(x, 3, model=str(tmp_path / "mine.pt"))
    with pytest.raises(FileNotFoundError, match="checkpoint file not found"):
        super_resolve(x, 2, model=tmp_path / "other.pt")
    with pytest.raises(ValueError, match="unknown model 'rmisr'"):
        super_resolve(x, 2, model="rmisr")


@pytest.mark.parametrize("scale", [1, 1.0, 0.5, -2, math.nan, math.inf, True, "2", None])
def test_bad_scale(scale):
    with pytest.raises(ValueError, match="scale must be a"):
        super_resolve(image(), scale, model=small_rmisr())


@pytest.mark.parametrize(
    ("model", "scale", "message"),
    [
        ("rmisr_bl_x2", 3, "model 'rmisr_bl_x2' is a fixed x2 network, got scale=3"),
        ("rmisr_vp_x4", 2.5, "model 'rmisr_vp_x4' is a fixed x4 network, got scale=2.5"),
        ("rmisr_meta", 8.5, r"model 'rmisr_meta' accepts scales in \(1, 8\], got scale=8.5"),
        ("auto", 9, r"the model 'auto' supports scales in \(1, 8\], got scale=9"),
    ],
)
def test_scale_the_model_cannot_do(models, model, scale, message):
    # checked before any weights file is read: the folder is empty
    with pytest.raises(ValueError, match=message):
        super_resolve(image(), scale, model=model)


def test_scale_of_a_given_network():
    with pytest.raises(ValueError, match="RMISR is a fixed x2 network, got scale=4"):
        super_resolve(image(), 4, model=small_rmisr())
    with pytest.raises(ValueError, match=r"RMISR accepts scales in \(1, 8\], got scale=10"):
        super_resolve(image(), 10, model=small_rmisr(upsampler="meta"))


def test_a_torchscript_network_is_read_as_the_network_it_was_scripted_from():
    # a scripted arbitrary-scale network was taken for a fixed x2 one ("RecursiveScriptModule is a fixed x2
    # network, got scale=2.5"): its MetaUpsample and first convolution were looked up by class, which TorchScript
    # does not keep; a scripted 3-channel network was fed one channel at a time
    meta = small_rmisr(2.0, "meta", perturb=0.05).eval()
    scripted = torch.jit.script(meta)
    np.testing.assert_allclose(
        super_resolve(image(), 2.5, model=scripted), super_resolve(image(), 2.5, model=meta), atol=1e-5
    )
    with pytest.raises(ValueError, match=r"RecursiveScriptModule accepts scales in \(1, 8\], got scale=10"):
        super_resolve(image(), 10, model=scripted)
    # its memory estimate, and so its automatic tiles, are the eager network's (it ran whole, at twice the budget)
    from monai_rmisr.inference.tiling import forward_bytes

    assert forward_bytes(scripted, (64, 64), 4) == forward_bytes(meta, (64, 64), 4)
    colour = small_rmisr(2.0, in_channels=3, perturb=0.05).eval()
    rgb = image(channels=3)
    np.testing.assert_allclose(
        super_resolve(rgb, 2, model=torch.jit.script(colour)), super_resolve(rgb, 2, model=colour), atol=1e-5
    )


def _with(value, index=(0, 0)):
    x = image()
    x[index] = value
    return x


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (_with(np.nan), "1 non-finite"),
        (_with(np.inf), "1 non-finite"),
        (_with(1.5), r"values must be in \[0, 1\], got \[.*, 1.5\]"),
        (_with(-0.1), r"values must be in \[0, 1\], got \[-0.1, "),
        (np.zeros(10, np.float32), r"2-D \(H, W\), channel-first \(C, H, W\) or a channel-first volume .*\(10,\)"),
        (np.zeros((1, 1, 2, 8, 8), np.float32), r"\(C, H, W, D\), got shape \(1, 1, 2, 8, 8\)"),
        (np.zeros((5, 8, 8, 3), np.float32), r"takes 1-channel images, got 5 channels .* or \(C, H, W, D\)"),
        (
            np.zeros((1, 1, 32, 32), np.float32),
            r"a 4-D image is a channel-first volume \(C, H, W, D\) with H and W >= 8",
        ),
        (np.zeros((2, 3, 32, 32), np.float32), r"got shape \(2, 3, 32, 32\); a batch \(B, C, H, W\) goes one image"),
        (np.zeros((0, 8), np.float32), "image is empty"),
        ((image() * 255).astype(np.uint8), "float array with values in \\[0, 1\\], got dtype uint8"),
        (torch.zeros(8, 8, dtype=torch.int64), "float tensor with values in \\[0, 1\\], got dtype torch.int64"),
        ([[0.5, 0.5]], "numpy array or a torch tensor, got list"),
        (image(channels=5), "takes 1-channel images, got 5 channels"),
    ],
)
def test_bad_image(bad, message):
    with pytest.raises(ValueError, match=message):
        super_resolve(bad, 2, model=small_rmisr())


def test_range_tolerance_for_round_off():
    x = image()
    x[0, 0], x[0, 1] = -1e-7, 1 + 1e-7
    assert super_resolve(x, 2, model=small_rmisr()).shape == (24, 20)


@pytest.mark.parametrize("tile", [4, 32, 63, -8, 2.5, True, "64"])
def test_bad_tile(tile):
    with pytest.raises(ValueError, match=r"tile must be 'auto', an integer >= 64"):
        super_resolve(image(), 2, model=small_rmisr(), tile=tile)


def test_tile_0_is_the_whole_image():
    # what a command line can say for None (rmisr upscale --tile 0, and the bundle's --tile 0: MONAI's command line
    # drops a None); the bundle refused 0 with a message that recommended it
    network = small_rmisr()
    np.testing.assert_array_equal(
        super_resolve(image(), 2, model=network, tile=0), super_resolve(image(), 2, model=network, tile=None)
    )


@pytest.mark.parametrize("scale", [2, 2.5, 3])
def test_bicubic_model_is_matlab_bicubic_with_the_networks_output_size(scale):
    from monai_rmisr.transforms import imresize

    x = image(14, 11, channels=2)
    out = super_resolve(x, scale, model="bicubic")
    size = (math.floor(14 * scale + 0.5), math.floor(11 * scale + 0.5))
    assert out.shape == (2, *size)
    np.testing.assert_allclose(out, np.clip(imresize(x, output_size=size), 0, 1), atol=1e-6)
    tiled = super_resolve(image(160, 144), scale, model="bicubic", tile=64)
    whole = super_resolve(image(160, 144), scale, model="bicubic")
    assert tiled.shape == whole.shape and np.abs(tiled - whole).max() < 1e-3


def test_a_metatensors_affine_moves_to_the_sr_grid():
    # the result kept the LR affine: saved, it covered twice the physical extent
    affine = torch.tensor([[0.7, 0, 0, -40.0], [0, 0.5, 0, 10.0], [0, 0, 3.0, 0], [0, 0, 0, 1]], dtype=torch.float64)
    image_data = np.random.default_rng(0).random((1, 16, 12), np.float32)
    image = MetaTensor(torch.from_numpy(image_data.copy()), affine)
    image.meta["filename_or_obj"] = "slice.nii.gz"
    for model in (small_rmisr(), "bicubic"):
        sr = super_resolve(image, 2, model=model)
        assert isinstance(sr, MetaTensor) and sr.shape == (1, 32, 24)
        assert sr.meta["filename_or_obj"] == "slice.nii.gz"
        assert getattr(sr, "spatial_ndim", None) == getattr(image, "spatial_ndim", None)  # (MONAI 1.6's attribute)
        expected = affine.clone()
        expected[0, 0], expected[1, 1] = 0.35, 0.25
        expected[0, 3], expected[1, 3] = -40.0 - 0.175, 10.0 - 0.125  # the first SR pixel's centre
        torch.testing.assert_close(sr.affine, expected)
    torch.testing.assert_close(image.affine, affine)  # the input untouched
    assert np.array_equal(image.numpy(), image_data)
    assert isinstance(super_resolve(image[0], 2, model=small_rmisr()), MetaTensor)  # (H, W) too


def test_a_network_passed_in_keeps_its_memory_layout():
    # super_resolve converted a plain 2-D network (IMDN, EDSR, ...) to channels-last memory in place
    network = EDSRBaseline(2, 1, 1, scale=2, num_blocks=1, features=8)
    super_resolve(image(16, 16), 2, model=network)
    assert all(p.is_contiguous() for p in network.parameters())


def test_a_volume_is_super_resolved_slice_by_slice_in_plane():
    network = small_rmisr(perturb=0.01)
    rng = np.random.default_rng(1)
    volume = rng.random((2, 80, 72, 3), dtype=np.float32)  # (C, H, W, D), two channels
    out = super_resolve(volume, 2, model=network)
    assert out.shape == (2, 160, 144, 3) and out.dtype == np.float32
    for d in range(3):
        np.testing.assert_array_equal(out[..., d], super_resolve(volume[..., d], 2, model=network))
    tiled = super_resolve(torch.from_numpy(volume), 2, model=network, tile=64)  # torch in, torch out; tiles per slice
    assert isinstance(tiled, torch.Tensor) and tiled.shape == (2, 160, 144, 3)
    for d in range(3):
        torch.testing.assert_close(
            tiled[..., d], super_resolve(torch.from_numpy(volume[..., d]), 2, model=network, tile=64)
        )
    assert np.abs(tiled.numpy() - out).max() < 0.01  # tiles close to whole slices


def test_a_metatensor_volume_keeps_its_slice_spacing():
    affine = torch.tensor([[0.7, 0, 0, -40.0], [0, 0.5, 0, 10.0], [0, 0, 3.0, 5.0], [0, 0, 0, 1]], dtype=torch.float64)
    volume = MetaTensor(torch.from_numpy(np.random.default_rng(2).random((1, 16, 12, 4), np.float32)), affine)
    sr = super_resolve(volume, 2, model="bicubic")
    assert isinstance(sr, MetaTensor) and sr.shape == (1, 32, 24, 4)
    expected = affine.clone()
    expected[0, 0], expected[1, 1] = 0.35, 0.25
    expected[0, 3], expected[1, 3] = -40.0 - 0.175, 10.0 - 0.125  # in-plane: the first SR pixel's centre
    torch.testing.assert_close(sr.affine, expected)  # the slice axis (spacing 3 mm, origin 5 mm) as it was


def test_a_3d_network_is_refused_with_a_message():
    network = RMISR(3, 1, scale=2, features=32, num_blocks=1, distillation_channels=8, image_residual=True)
    with pytest.raises(ValueError, match=r"super_resolve runs 2-D networks .* got a 3-D one"):
        super_resolve(np.zeros((1, 8, 8, 8), np.float32), 2, model=network)


def test_a_volume_shows_one_progress_bar_over_its_slices(capsys):
    super_resolve(np.zeros((1, 80, 80, 3), np.float32), 2, model=small_rmisr(), tile=64, progress=True)
    err = capsys.readouterr().err
    assert "slices" in err and "3/3" in err


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_a_reduced_precision_network_is_refused_naming_the_precision_option(dtype):
    # a float16 network ran (once the trunk took its dtype) but its tiles' channel statistics overflowed (NaN),
    # and bfloat16 weights moved tiled results by 0.4; precision="bfloat16" is the measured way
    network = RMISR(spatial_dims=2, in_channels=1, scale=2, features=32, num_blocks=1).to(dtype)
    with pytest.raises(ValueError, match=r"weights are (float16|bfloat16): super_resolve runs float32 networks.*"):
        super_resolve(torch.rand(1, 20, 20), 2, model=network)
    assert next(network.parameters()).dtype == dtype  # left as it was
    out = super_resolve(torch.rand(1, 20, 20), 2, model=network.float())
    assert out.shape == (1, 40, 40)


def test_a_volume_loaded_without_its_channel_axis_is_refused(tmp_path):
    # LoadImage() without ensure_channel_first gives (H, W, D) with spatial_ndim 3: it was taken for (C, H, W), its
    # slice axis resized and its first axis kept (pixdim (0.5, 1.0, 3.0) for (1.0, 1.0, 3.0) at x2), silently
    import nibabel as nib
    from monai.transforms import LoadImage

    nib.save(nib.Nifti1Image(np.random.rand(40, 50, 3).astype(np.float32), np.diag([1, 1, 3, 1])), tmp_path / "v.nii")
    volume = LoadImage(image_only=True)(tmp_path / "v.nii")
    with pytest.raises(ValueError, match="3-D MetaTensor without a channel axis"):
        super_resolve(volume, 2, model="bicubic")
    with_channel = LoadImage(image_only=True, ensure_channel_first=True)(tmp_path / "v.nii")
    assert super_resolve(with_channel, 2, model="bicubic").shape == (1, 80, 100, 3)
    plane = MetaTensor(torch.rand(1, 40, 50))  # (C, H, W) as MONAI users make it: spatial_ndim 2
    assert super_resolve(plane, 2, model="bicubic").shape == (1, 80, 100)
    for cut in (with_channel[..., 1], with_channel[..., 1:2].squeeze(-1)):  # a slice of a volume: spatial_ndim 3 too
        assert super_resolve(cut, 2, model="bicubic").shape == (1, 80, 100)


def test_a_module_on_another_device_is_copied_there_not_moved():
    # resolve_model (super_resolve, the inferer) called model.to(device): a caller's CPU network given device="cuda"
    # was moved to the GPU itself. The "meta" device stands in for a GPU here.
    from monai_rmisr.inference import resolve_model

    network = small_rmisr()
    resolved, run_scale, name = resolve_model(network, 2, "meta")
    assert resolved is not network and next(resolved.parameters()).device.type == "meta"
    assert next(network.parameters()).device.type == "cpu" and run_scale == 2.0 and name == "RMISR"
    assert resolve_model(network, 2, "cpu")[0] is network  # where it is: as it is
