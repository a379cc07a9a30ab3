"""Tiled inference: exact output grid for any tiled scale, closeness to the whole image, no seams, memory."""

import json
import subprocess
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest
import skimage.data
import torch
import torch.nn.functional as F
from monai.data.utils import dense_patch_slices
from torch import nn

from monai_rmisr.inference import (
    BicubicUpsampler,
    blend_weights,
    load_pretrained,
    scale_period,
    super_resolve,
    tiled_forward,
)
from monai_rmisr.inference.tile_statistics import (
    attention_modules,
    extent_statistics,
    image_statistics,
    window_layout,
    with_statistics,
)
from monai_rmisr.networks.blocks import ICCA
from monai_rmisr.networks.utils import upsample_image
from monai_rmisr.transforms import imresize

from .test_super_resolve import small_rmisr


def smooth_image(h=80, w=80, seed=0) -> np.ndarray:
    """A radiograph-like test image: smooth structure plus 5% noise, min-max normalised to [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    x = F.interpolate(torch.rand(1, 1, h // 8, w // 8, generator=g), size=(h, w), mode="bicubic", align_corners=False)
    x = x + 0.05 * torch.rand(1, 1, h, w, generator=g)
    return ((x - x.min()) / (x.max() - x.min()))[0, 0].numpy()


class Bicubic(nn.Module):
    """A fixed-scale "network" without a scale argument: plain interpolation."""

    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return upsample_image(x, self.scale)


@pytest.mark.parametrize(
    ("scale", "period"), [(2, (1, 2)), (4.0, (1, 4)), (2.5, (2, 5)), (1.25, (4, 5)), (2.35, (20, 47)), (7 / 3, (3, 7))]
)
def test_scale_period(scale, period):
    assert scale_period(scale) == period


def test_scale_without_a_short_period_cannot_be_tiled():
    with pytest.raises(ValueError, match=r"q \* scale to be an integer for some q <= 100.*got scale=2\.345"):
        scale_period(2.345)
    with pytest.raises(ValueError, match=r"got scale=2\.345"):
        super_resolve(smooth_image(80, 80), 2.345, model=small_rmisr(upsampler="meta"), tile=64)
    network = small_rmisr(upsampler="meta")  # a tile covering the image is the whole image, at any scale
    whole = super_resolve(smooth_image(17, 23), 2.345, model=network, tile=None)
    np.testing.assert_array_equal(super_resolve(smooth_image(17, 23), 2.345, model=network, tile=256), whole)


@pytest.mark.parametrize("mode", ["edge", "gaussian"])
def test_blend_weights(mode):
    w = blend_weights((32, 24), 2, mode)
    assert w.shape == (64, 48) and w.dtype == torch.float32
    assert w.min() >= 1e-12 and w.max() <= 1
    # separable, so the share of each window in a blend is the 1-D share whatever the other axis
    torch.testing.assert_close(w, torch.outer(w[:, 24], w[32, :]) / w[32, 24])
    torch.testing.assert_close(w, w.flip(0).flip(1))


def test_edge_weights_fall_with_the_distance_to_the_window_edge():
    profile = blend_weights((64,), 2.5)  # 160 SR pixels
    assert profile.shape == (160,)
    d = (torch.arange(80) + 0.5) / 2.5  # LR distance of SR pixels 0..79 to the left edge
    torch.testing.assert_close(profile[:80], torch.exp(-16 / d.double()).clamp_min(1e-6).float())
    assert profile[2] / profile[40] < 1e-5  # a pixel 1 LR pixel from the edge hardly counts
    assert torch.equal(blend_weights((4, 4), 2, "constant"), torch.ones(8, 8))
    with pytest.raises(ValueError, match="mode must be 'edge', 'gaussian' or 'constant', got 'linear'"):
        blend_weights((4, 4), 2, "linear")


@pytest.mark.parametrize(
    ("scale", "upsampler", "size", "tile"),
    [
        (2, "subpixel", (48, 40), 64),  # one window
        (2, "subpixel", (48, 40), 256),
        (3, "subpixel", (40, 144), 64),  # one window across, tiles along
        (2.5, "meta", (40, 48), 64),
        # sizes off the scale's period (17 x 2.5, 96 x 3.7 not whole): a covering tile was padded to the period, and
        # the far border differed by up to 0.03 (the bundle's inference.json, tile 256, against rmisr upscale)
        (2.5, "meta", (17, 23), 256),
        (3.7, "meta", (80, 96), 256),
    ],
)
def test_a_tile_covering_the_image_is_the_whole_image_result(scale, upsampler, size, tile):
    torch.manual_seed(0)
    network = small_rmisr(2.0 if upsampler == "meta" else scale, upsampler, perturb=0.02)
    x = smooth_image(*size)
    whole = super_resolve(x, scale, model=network)
    tiled = super_resolve(x, scale, model=network, tile=tile)
    assert tiled.shape == whole.shape
    if tile >= max(size):
        np.testing.assert_array_equal(tiled, whole)
    else:  # tiles along the long axis only; measured 0.0013
        assert np.abs(tiled - whole).max() < 0.005


def _window_edges(size, tile, overlap, scale):
    """Output rows/columns where a window starts or ends inside the image (MONAI's window layout)."""
    interval = int(tile * (1 - overlap))
    starts = sorted({min(i * interval, size - tile) for i in range(-(-(size - tile) // interval) + 1)})
    edges = {e for s in starts for e in (s, s + tile)} - {0, size}
    return sorted(int(e * scale) for e in edges)


def test_tiles_of_the_bicubic_network_are_seamless():
    # untrained with the image residual, the network is exactly bicubic: tiles only differ within
    # 2 LR pixels of their borders (clamped taps), which the edge weights leave out of the blend.
    # Measured max |tiled - whole|: 2.4e-7 ("gaussian": 1.1e-4; MONAI's own map, floored at 1e-3: 0.014).
    network = small_rmisr()
    x = smooth_image(160, 160)
    whole = super_resolve(x, 2, model=network)
    tiled = super_resolve(x, 2, model=network, tile=64)
    np.testing.assert_allclose(whole, np.clip(upsample_image(torch.from_numpy(x)[None, None], 2)[0, 0], 0, 1))
    assert np.abs(tiled - whole).max() < 1e-5


@pytest.mark.parametrize("seed", [0, 1])
def test_tiles_of_a_trained_like_network_are_close_and_seamless(seed):
    # a random output layer (std 0.02) makes the network add detail that depends on the trunk,
    # whose zero padding and ICCA statistics are per tile. Measured on seeds 0-3: max |tiled - whole|
    # 0.0005-0.0012, mean 2-3e-5 (~10x larger within 4 LR pixels of a window edge than elsewhere,
    # but without a step: the jump of the difference across a window edge, at most 0.0016, is below
    # its largest jump elsewhere and ~0.3% of the largest jump of the SR image itself).
    torch.manual_seed(seed)
    network = small_rmisr(perturb=0.02)
    x = smooth_image(160, 160, seed=seed)
    whole = super_resolve(x, 2, model=network)
    diff = super_resolve(x, 2, model=network, tile=64) - whole
    assert np.abs(diff).max() < 0.005
    assert np.abs(diff).mean() < 1e-4

    edges = _window_edges(160, 64, 0.25, 2)
    assert edges == [96, 128, 192, 224]
    jumps = [np.abs(np.diff(diff, axis=axis)) for axis in (0, 1)]  # jump between pixel i and i+1
    at_edges = max(jumps[0][[e - 1 for e in edges]].max(), jumps[1][:, [e - 1 for e in edges]].max())
    others = [i for i in range(diff.shape[0] - 1) if i + 1 not in edges]
    elsewhere = max(jumps[0][others].max(), jumps[1][:, others].max())
    assert at_edges < max(elsewhere, 2e-3)
    assert at_edges < 0.01 * np.abs(np.diff(whole, axis=0)).max()


def test_edge_weights_beat_gaussian_where_windows_nearly_coincide():
    # MONAI puts the last window flush with the image end: on 72 pixels with 40-pixel tiles the
    # windows start at 0, 30 and 32, so pixels near the end of the second window are also near the
    # end of the third. Gaussian weights still give the second window's edge pixels ~20% there.
    torch.manual_seed(0)
    network = small_rmisr(3, perturb=0.02).eval()
    x = torch.from_numpy(smooth_image(72, 72))[None, None]
    with torch.no_grad():
        whole = network(x, 3)
        edge = (tiled_forward(network, x, 3, 40) - whole).abs().max()
        gaussian = (tiled_forward(network, x, 3, 40, mode="gaussian") - whole).abs().max()
    assert edge < 0.005 < 0.02 < gaussian  # measured 0.0013 and 0.047


@pytest.mark.parametrize(("scale", "size", "expected"), [(2.5, (160, 160), (400, 400)), (2.5, (161, 157), (403, 393))])
def test_fractional_scale_tiles(scale, size, expected):
    # tiles start on multiples of q = 2 LR pixels (5 output pixels); an odd size is reflect-padded and cropped.
    # Where H * s is not whole the whole image's output grid is round(H s) / H, not s: the tiles' meta up-sampler
    # projects on that grid (placed_in) and their bicubic residual is swapped for the whole image's. Before, the
    # untrained network (exactly bicubic) differed by up to 0.032 everywhere on 81 x 77.
    network = small_rmisr(upsampler="meta")
    x = smooth_image(*size)
    whole = super_resolve(x, scale, model=network)
    tiled = super_resolve(x, scale, model=network, tile=64)
    assert whole.shape == tiled.shape == expected
    assert np.abs(tiled - whole).max() < 1e-4  # measured 1.8e-5 on 81 x 77, 8e-7 on 80 x 80


@pytest.mark.parametrize("self_ensemble", [False, True])
def test_fractional_scale_tiles_of_a_trained_like_network_are_the_whole_image_up_to_their_borders(self_ensemble):
    # a window reaching past the far border runs on the part inside the image: the LR image padded to the scale's
    # period (a reflection) reached the last output pixels through the trunk where the whole image's convolutions
    # see zero padding, by up to 0.13 / 0.09 (self-ensemble) within 8 pixels of the far borders (0.27 with
    # rmisr_meta on camera at x3.3). Measured now: max 0.0010 / 0.0004, as inside.
    torch.manual_seed(0)
    network = small_rmisr(2.0, "meta", perturb=0.02)
    x = smooth_image(161, 157)
    options = {"self_ensemble": self_ensemble, "tile_statistics": "tile"}  # per-tile statistics: turned images
    diff = np.abs(
        super_resolve(x, 2.5, model=network, tile=64, **options) - super_resolve(x, 2.5, model=network, **options)
    )
    assert diff.max() < 0.005


@pytest.mark.parametrize("scale", [2.5, 3.3])
def test_plain_bicubic_tiled_off_the_scale_grid_is_the_whole_image(scale):
    # 101 x 97 at x2.5 / x3.3: the whole image's grid is round(n s) / n; tiles of plain bicubic interpolation
    # interpolated on the scale's grid instead (max 0.46 from the whole image on noise, 0.004 on camera); now the
    # whole image runs at once there, exact. On the grid (x2) tiles stay tiles.
    noise = np.random.default_rng(0).random((201, 197), dtype=np.float32)
    whole = super_resolve(noise, scale, model="bicubic", tile=None)
    np.testing.assert_array_equal(super_resolve(noise, scale, model="bicubic", tile=64), whole)
    turned = super_resolve(noise, scale, model="bicubic", tile=None, self_ensemble=True)
    np.testing.assert_array_equal(super_resolve(noise, scale, model="bicubic", tile=64, self_ensemble=True), turned)
    windows = []
    bicubic = BicubicUpsampler()
    bicubic.register_forward_hook(lambda module, args, out: windows.append(tuple(args[0].shape[2:])))
    super_resolve(noise[:200, :192], 2, model=bicubic, tile=64)
    assert windows and all(window == (64, 64) for window in windows)


def test_a_scripted_meta_network_tiled_off_the_scale_grid_says_it_cannot_be_placed():
    scripted = torch.jit.script(small_rmisr(2.0, "meta").eval())
    x = torch.from_numpy(smooth_image(41, 40))[None, None]
    with pytest.warns(UserWarning, match="TorchScript network's arbitrary-scale up-sampler cannot be told where"):
        out = tiled_forward(scripted, x, 2.5, 24)
    assert out.shape == (1, 1, 103, 100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # on the grid (40 x 2.5 = 100 both ways): nothing to place, no warning
        tiled_forward(scripted, x[..., :40, :], 2.5, 24)


def test_fractional_scale_tiles_of_rmisr_meta_score_as_the_whole_image():
    # rmisr_meta at x2.5 on 101 x 101 (253 x 253 out) of camera, its HR the 253 x 253 crop: whole 36.52 dB, tiled
    # 36.53 (on the exact-scale grid of before 32.98), pixels at most 0.0022 apart (0.15 at the far borders while
    # the windows there saw the image's padding to the scale's period)
    network = load_pretrained("rmisr_meta")
    hr = skimage.data.camera()[:253, :253].astype(np.float32) / 255
    lr = np.clip(imresize(hr[None], output_size=101)[0], 0, 1)
    whole = super_resolve(lr, 2.5, model=network, tile=None)
    tiled = super_resolve(lr, 2.5, model=network, tile=64)

    def psnr(sr):
        return 10 * np.log10(1 / np.mean((sr[3:-3, 3:-3] - hr[3:-3, 3:-3]) ** 2))

    assert psnr(whole) > 36.2 and abs(psnr(tiled) - psnr(whole)) < 0.05
    assert np.abs(tiled - whole).max() < 0.01


def test_tiled_forward_batches_fixed_scale_networks_and_3d():
    x = torch.rand(2, 1, 30, 26)
    out = tiled_forward(Bicubic(2), x, 2, tile=16)
    assert out.shape == (2, 1, 60, 52)
    assert (out - upsample_image(x, 2)).abs().max() < 0.01  # random noise, the hardest case: measured 3e-4
    volume = torch.rand(1, 1, 12, 10, 14)
    out = tiled_forward(Bicubic(2), volume, 2, tile=(12, 8, 8))
    assert out.shape == (1, 1, 24, 20, 28)
    assert (out - upsample_image(volume, 2)).abs().max() < 0.01  # measured 0.002
    torch.testing.assert_close(tiled_forward(Bicubic(2), volume, 2, tile=16), upsample_image(volume, 2))


def test_tiled_forward_errors():
    x = torch.rand(1, 1, 16, 16)
    with pytest.raises(ValueError, match=r"tile must be a positive integer .* got 0"):
        tiled_forward(Bicubic(2), x, 2, tile=0)
    with pytest.raises(ValueError, match=r"overlap must be in \[0, 1\), got 1"):
        tiled_forward(Bicubic(2), x, 2, tile=8, overlap=1)
    with pytest.raises(ValueError, match="expects a \\(B, C, H, W\\) or \\(B, C, D, H, W\\) tensor"):
        tiled_forward(Bicubic(2), x[0], 2, tile=8)
    with pytest.raises(RuntimeError, match="does it up-sample by exactly 3"):
        tiled_forward(Bicubic(2), x, 3, tile=8)


def camera_crop(size=128) -> np.ndarray:
    """A photograph's detail (scikit-image ``camera``: the cameraman's coat and tripod against the sky), in [0, 1]."""
    return skimage.data.camera().astype(np.float32)[200 : 200 + size, 150 : 150 + size] / 255.0


def test_tiles_take_the_whole_images_attention_statistics():
    # ICCA weights each feature map by its mean, spread and entropy: with each tile's own the shipped x2 moved
    # pixels by up to 0.055 from the whole-image result; with the image's, gathered tile by tile, 0.0019 (measured)
    x = camera_crop()
    whole = super_resolve(x, 2, model="rmisr_bl_x2")
    own = np.abs(super_resolve(x, 2, model="rmisr_bl_x2", tile=64, tile_statistics="tile") - whole)
    image = np.abs(super_resolve(x, 2, model="rmisr_bl_x2", tile=64) - whole)
    assert own.max() > 0.03
    assert image.max() < 0.005 and image.mean() < 0.1 * own.mean()


def test_tiled_self_ensemble_takes_each_turned_images_statistics():
    # with the image's statistics the ensemble turns the whole image, then tiles it (each turn has its own
    # statistics); tiles of 40 x 32 turn with it. Measured max 0.0019 from the whole-image ensemble (own: 0.046)
    x = camera_crop(64)
    whole = super_resolve(x, 2, model="rmisr_bl_x2", self_ensemble=True)
    network = load_pretrained("rmisr_bl_x2").eval()
    with torch.inference_mode():
        tiled = tiled_forward(network, torch.from_numpy(x)[None, None], 2, (40, 32), self_ensemble=True)
    assert np.abs(tiled[0, 0].clamp(0, 1).numpy() - whole).max() < 0.005


def test_image_statistics_leave_the_network_as_it_was():
    network = load_pretrained("rmisr_bl_x2").eval()
    attention = attention_modules(network)
    assert len(attention) == 4
    x = torch.from_numpy(camera_crop(64))[None, None]
    with torch.inference_mode():
        before = network(x, 2)
        tiled_forward(network, x, 2, 32)

        def failing(window):
            raise RuntimeError("out of memory")

        with pytest.raises(RuntimeError, match="out of memory"):
            image_statistics(failing, network, x, [32, 32], 0.25)
        torch.testing.assert_close(network(x, 2), before, rtol=0, atol=0)


def test_image_statistics_hold_in_their_own_thread_only():
    # a server (MONAI Label) runs requests on one network in several threads: one request's tiles must not give
    # their statistics to another's forward pass
    network = load_pretrained("rmisr_bl_x2").eval()
    x = torch.from_numpy(camera_crop(32))[None, None]
    inside, release = threading.Event(), threading.Event()
    zeros = {module: torch.zeros(1, module.excite[0].in_channels, 1, 1) for module in attention_modules(network)}

    def tiling_request():
        with with_statistics(zeros):
            inside.set()
            release.wait(30)

    with torch.inference_mode():
        before = network(x, 2)
        other = threading.Thread(target=tiling_request)
        other.start()
        try:
            assert inside.wait(30)
            torch.testing.assert_close(network(x, 2), before, rtol=0, atol=0)
            with with_statistics(zeros):  # here, in this thread, they do apply
                assert not torch.equal(network(x, 2), before)
        finally:
            release.set()
            other.join()


@pytest.mark.parametrize(("length", "window", "overlap"), [(80, 32, 0.25), (72, 40, 0.25), (100, 30, 0.5), (20, 32, 0)])
def test_window_layout_owns_each_position_once(length, window, overlap):
    layout = window_layout(length, window, overlap)
    starts = [start for start, _, _ in layout]
    if window < length:  # MONAI's sliding-window layout (the tiles' own at integer scales)
        expected = [s[0].start for s in dense_patch_slices((length,), (window,), (int(window * (1 - overlap)),))]
        assert starts == sorted(set(expected))
    owned = [position for _, lo, hi in layout for position in range(lo, hi)]
    assert owned == list(range(length))  # disjoint, in order, covering the axis
    size = min(window, length)
    for start, lo, hi in layout:  # each position belongs to the window whose centre is nearest (ties either way)
        for position in range(lo, hi):
            own = abs(position + 0.5 - (start + size / 2))
            assert all(own <= abs(position + 0.5 - (other + size / 2)) + 0.5 for other in starts)


class _StridedAttention(nn.Module):
    """Attention on features at half the input's resolution: the image's statistics cannot be gathered by window."""

    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(1, 16, 3, stride=2, padding=1)
        self.attention = ICCA(2, 16, reduction=4)
        self.up = nn.Conv2d(16, 16, 1)

    def forward(self, x):
        return F.pixel_shuffle(self.up(self.attention(self.down(x))), 4)[:, :1]


class _TwiceAttention(nn.Module):
    """One attention module run twice in a forward pass: its two inputs would share one pooled statistic."""

    def __init__(self):
        super().__init__()
        self.head = nn.Conv2d(1, 16, 3, padding=1)
        self.attention = ICCA(2, 16, reduction=4)
        self.tail = nn.Conv2d(16, 4, 3, padding=1)

    def forward(self, x):
        return F.pixel_shuffle(self.tail(self.attention(self.attention(self.head(x)) * 3.0)), 2)[:, :1]


@pytest.mark.parametrize("network", [_StridedAttention, _TwiceAttention])
def test_attention_that_cannot_be_gathered_falls_back_to_each_tiles_own(network):
    torch.manual_seed(0)
    network = network().eval()
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        own = tiled_forward(network, x, 2, tile=16, statistics="tile")
        with pytest.warns(UserWarning, match="each tile uses its own attention statistics"):
            default = tiled_forward(network, x, 2, tile=16)
    torch.testing.assert_close(default, own, rtol=0, atol=0)


def test_a_compiled_network_tiles_with_the_images_statistics():
    # torch.compile traces the network without the statistics: the tiles run its eager module (_orig_mod)
    network = load_pretrained("rmisr_bl_x2").eval()
    x = torch.from_numpy(camera_crop(64))[None, None]
    with torch.inference_mode():
        eager = tiled_forward(network, x, 2, 32)
        compiled = tiled_forward(torch.compile(network, backend="eager"), x, 2, 32)
    torch.testing.assert_close(compiled, eager, rtol=0, atol=0)


def test_extent_statistics_leave_the_padding_out():
    icca = ICCA(2, 16, reduction=4)
    x = torch.randn(1, 16, 12, 10)
    with extent_statistics([9, 7]):
        out = icca(x)
    torch.testing.assert_close(out, icca.attend(x, icca.channel_statistics(x[:, :, :9, :7])))
    assert not torch.allclose(out, icca(x))


def test_tile_statistics_errors():
    x = torch.rand(1, 1, 32, 32)
    with pytest.raises(ValueError, match=r"tile statistics must be one of image, tile, got 'whole'"):
        tiled_forward(Bicubic(2), x, 2, tile=16, statistics="whole")
    with pytest.raises(ValueError, match=r"tile statistics must be one of image, tile, got None"):
        super_resolve(smooth_image(16, 16), 2, model=small_rmisr(), tile_statistics=None)


RG1_SCRIPT = textwrap.dedent(
    """
    import json, resource, time
    import torch
    from monai_rmisr import RMISR
    from monai_rmisr.data import TEST_SOURCES, load_sources
    from monai_rmisr.inference import super_resolve

    torch.set_num_threads(1)  # memory is under test, not speed; do not compete with other jobs
    image = load_sources([s for s in TEST_SOURCES if s.name == "RG1_UNCR"])[0].array[0]
    network = RMISR(2, 1, scale=4, image_residual=True)
    start = time.perf_counter()
    sr = super_resolve(image, 4, model=network, tile=256)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"lr": image.shape, "sr": sr.shape, "peak_mb": peak, "seconds": time.perf_counter() - start,
                      "finite": bool(torch.isfinite(torch.from_numpy(sr)).all())}))
    """
)


@pytest.mark.slow
def test_rg1_at_x4_in_tiles_fits_in_2_gb():
    # 1955 x 1841 chest radiograph -> 7820 x 7364 (57.6 MP, 230 MB as float32). Measured (1 thread,
    # busy 2-core machine): peak RSS 1.1-1.3 GB, of which 0.44 GB before the call (torch, MONAI, the
    # image); then the output and MONAI's count map (230 MB each) and one 256 x 256 tile; 135-220 s.
    done = subprocess.run([sys.executable, "-c", RG1_SCRIPT], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["lr"] == [1955, 1841] and result["sr"] == [7820, 7364] and result["finite"]
    assert result["peak_mb"] < 2048, result
