import math

import pytest
import torch
import torch.nn.functional as F

from monai_rmisr.networks.blocks import MetaUpsample
from monai_rmisr.networks.blocks.meta_upsample import AxisPlacement, placed_in


def naive_meta_sr(module: MetaUpsample, x: torch.Tensor, scale: float) -> torch.Tensor:
    """Meta-SR written the slow, literal way: predict a filter per output pixel (formulas 15-17), the output pixel
    projected on the grid the output has (``i * h / out_h``: ``i / scale`` where ``h * scale`` is whole)."""
    k = module.kernel_size
    _, c, h, w = x.shape
    out_h, out_w = math.floor(h * scale + 0.5), math.floor(w * scale + 0.5)
    padded = F.pad(x, [k // 2] * 4)
    out = torch.zeros(x.shape[0], module.out_channels, out_h, out_w, dtype=x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            u, v = i * h / out_h, j * w / out_w
            qi, qj = math.floor(u), math.floor(v)
            position = torch.tensor([u - qi, v - qj, 1 / scale], dtype=x.dtype)
            taps = module.weight_layer(torch.relu(module.position_layer(position)))
            filt = taps.view(module.out_channels, c, k, k)
            patch = padded[:, :, qi : qi + k, qj : qj + k]
            out[:, :, i, j] = torch.einsum("ocyx,bcyx->bo", filt, patch)
    return out


@pytest.mark.parametrize("scale", [1.5, 2.0, 2.5, 3.7])
def test_vectorised_meta_upsample_equals_per_pixel_meta_sr(scale):
    module = MetaUpsample(2, in_channels=4, out_channels=2, hidden_channels=8).double()
    x = torch.randn(2, 4, 5, 4, dtype=torch.float64)
    with torch.no_grad():
        fast = module(x, scale)
        slow = naive_meta_sr(module, x, scale)
    assert fast.shape == slow.shape
    assert torch.allclose(fast, slow, atol=1e-10)


def test_a_placed_window_projects_on_its_image_grid():
    # 11 x 9 LR features at x2.5 give 28 x 23 (27.5 and 22.5 rounded up: grids of 28 / 11 and 23 / 9, not 2.5). A
    # window from LR (4, 2) of 6 x 6 (output from (10, 5), 15 x 15) placed in the image gives the image's output
    # pixels wherever its 3 x 3 neighbourhood lies inside the window; unplaced it projects on its own grid (2.5).
    torch.manual_seed(0)
    module = MetaUpsample(2, in_channels=4, out_channels=2, hidden_channels=8).double()
    x = torch.randn(1, 4, 11, 9, dtype=torch.float64)
    window = x[:, :, 4:10, 2:8]
    with torch.no_grad():
        whole = module(x, 2.5)
        with placed_in([AxisPlacement(4, 10, 11, 28), AxisPlacement(2, 5, 9, 23)]):
            placed = module(window, 2.5)
        unplaced = module(window, 2.5)
    assert whole.shape == (1, 2, 28, 23) and placed.shape == unplaced.shape == (1, 2, 15, 15)

    def inside(start, out_start, n, m):  # window output pixels whose source pixel has both neighbours in the window
        source = [(out_start + i) * n // m - start for i in range(15)]
        return [i for i, s in enumerate(source) if 1 <= s <= 4]

    rows, columns = inside(4, 10, 11, 28), inside(2, 5, 9, 23)
    assert len(rows) >= 9 and len(columns) >= 9
    expected = whole[:, :, 10:25, 5:20][:, :, rows][:, :, :, columns]
    torch.testing.assert_close(placed[:, :, rows][:, :, :, columns], expected)
    assert not torch.allclose(unplaced[:, :, rows][:, :, :, columns], expected)
    with pytest.raises(ValueError, match="placed_in needs 2 AxisPlacements"), placed_in([AxisPlacement(0, 0, 11, 28)]):
        module(x, 2.5)


@pytest.mark.parametrize("scale", [1.0, 1.5, 2.5, 3.7, 4.5, 5.0, 8.0])
def test_output_size_is_rounded_input_times_scale(scale):
    module = MetaUpsample(2, 8, 1, hidden_channels=4)
    out = module(torch.rand(1, 8, 7, 10), scale)
    assert out.shape == (1, 1, math.floor(7 * scale + 0.5), math.floor(10 * scale + 0.5))


def test_3d_meta_upsample():
    module = MetaUpsample(3, 8, 1, hidden_channels=4)
    assert module(torch.rand(1, 8, 3, 4, 5), 2.5).shape == (1, 1, 8, 10, 13)


@pytest.mark.parametrize("bad", [0.5, 8.5, float("nan"), -2.0])
def test_bad_scale_is_rejected_with_its_value(bad):
    module = MetaUpsample(2, 8, 1, hidden_channels=4)
    with pytest.raises(ValueError, match=f"got {bad}"):
        module(torch.rand(1, 8, 4, 4), bad)


def test_bfloat16_autocast_reads_the_right_lr_pixels_beyond_column_256():
    """Output positions used to be built in the feature dtype: under bfloat16 autocast, integers above
    256 are not exact, so wide images read wrong LR columns (and the last one failed with an index past
    the end). Positions are float32 now: bfloat16 differs from float32 by its rounding alone, everywhere."""
    from monai_rmisr import load_pretrained

    network = load_pretrained("rmisr_meta")
    torch.manual_seed(0)
    x = torch.rand(1, 1, 16, 320)  # 320 LR columns -> 1,280 output columns at x4
    with torch.no_grad():
        reference = network(x, 4.0)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low_precision = network(x, 4.0).float()
    assert low_precision.shape == reference.shape == (1, 1, 64, 1280)
    error = (low_precision - reference).abs()
    near, far = error[..., : 4 * 256].max().item(), error[..., 4 * 256 :].max().item()
    assert far < 0.05 and near < 0.05, (near, far)
