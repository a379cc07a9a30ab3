"""``tile="auto"`` (the default): large images in tiles chosen from a memory budget, small ones whole; tile progress."""

import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom.data
import pytest
import torch
from PIL import Image

from monai_rmisr.__main__ import build_parser, main
from monai_rmisr.inference.super_resolve import resolve_model, super_resolve
from monai_rmisr.inference.tiling import auto_tile, forward_bytes, tile_memory_budget

from .test_tiled import smooth_image

# the module (monai_rmisr.inference.super_resolve is also the name of its function)
tiling_module = importlib.import_module("monai_rmisr.inference.tiling")


@pytest.fixture(scope="module")
def x2_network():
    return resolve_model("rmisr_bl_x2", 2)[0]


def test_auto_tile_leaves_small_images_whole_and_tiles_large_ones(x2_network):
    assert auto_tile(x2_network, (512, 512), 2) is None  # a CT slice: 928 MiB estimated, within 1152 MiB
    assert auto_tile(resolve_model("rmisr_bl_x4", 4)[0], (512, 512), 4) is None  # 1024 MiB
    tile = auto_tile(x2_network, (1955, 1841), 2)  # RG1_UNCR: 13.4 GB estimated
    assert tile == 496 and forward_bytes(x2_network, (tile, tile), 2) <= tiling_module.TILE_MEMORY_BUDGET
    meta = resolve_model("rmisr_meta", 4)[0]  # builds per-pixel weights at the SR size: smaller tiles
    assert auto_tile(meta, (1955, 1841), 4) == 128
    assert auto_tile(resolve_model("bicubic", 4)[0], (1024, 1024), 4) is None  # 16 B per SR pixel


def test_auto_tiles_are_the_smallest_that_need_no_more_windows(monkeypatch):
    bicubic = resolve_model("bicubic", 2)[0]
    monkeypatch.setattr(tiling_module, "TILE_MEMORY_BUDGET", forward_bytes(bicubic, (224, 224), 2))
    # tiles of 224 fit the budget; 2 x 2 windows of 160 (overlap 0.25) cover a 256 x 256 image as well, 144 do not
    assert auto_tile(bicubic, (256, 256), 2) == 160
    assert auto_tile(bicubic, (256, 256), 2, overlap=0.5) == 176  # with more overlap the tiles grow
    windows = []
    bicubic.register_forward_hook(lambda module, args, out: windows.append(tuple(args[0].shape[2:])))
    out = super_resolve(smooth_image(256, 256), 2, model=bicubic)
    assert out.shape == (512, 512) and windows == [(160, 160)] * 4


@pytest.mark.integration
def test_auto_matches_the_whole_image_when_it_fits_and_is_close_when_tiled(x2_network, monkeypatch):
    image = smooth_image(200, 184)
    whole = super_resolve(image, 2, model=x2_network, tile=None)
    np.testing.assert_array_equal(super_resolve(image, 2, model=x2_network), whole)  # fits: not tiled, bit-identical
    # a budget of tiles of 112: now 200 x 184 is "large" (3 x 2 windows; no smaller tile needs as few)
    monkeypatch.setattr(tiling_module, "TILE_MEMORY_BUDGET", forward_bytes(x2_network, (112, 112), 2))
    assert auto_tile(x2_network, image.shape, 2) == 112
    auto = super_resolve(image, 2, model=x2_network)
    np.testing.assert_array_equal(auto, super_resolve(image, 2, model=x2_network, tile=112))
    difference = np.abs(auto - whole)
    # tiles see zero padding at their borders (their ICCA statistics are the image's): close, not identical
    assert 0 < difference.max() < 0.01 and difference.mean() < 1e-3, (difference.max(), difference.mean())


def _png(path: Path, size: int = 48) -> Path:
    Image.fromarray((smooth_image(size, size) * 255).astype(np.uint8)).save(path)
    return path


@pytest.mark.parametrize("quiet", [False, True])
def test_a_tiled_single_image_shows_a_tile_progress_bar_unless_quiet(tmp_path, capsys, quiet):
    source = _png(tmp_path / "in.png", 192)
    args = ["upscale", str(source), "-o", str(tmp_path / "out.png"), "--scale", "2", "--model", "bicubic"]
    assert main([*args, "--tile", "64", *(["-q"] if quiet else [])]) == 0
    err = capsys.readouterr().err
    if quiet:
        assert err == ""
    else:
        assert "16/16" in err and "100%" in err  # 192 pixels, 64-pixel tiles every 48 pixels: 4 x 4 tiles
    assert main([*args, "--overwrite"]) == 0  # small enough to run whole under "auto": no bar
    assert "100%" not in capsys.readouterr().err


def test_the_tile_option(tmp_path, capsys):
    base = ["upscale", "in.png", "-o", "out.png", "--scale", "2"]
    assert build_parser().parse_args(base).tile == "auto"
    assert build_parser().parse_args([*base, "--tile", "0"]).tile == 0  # the whole image (check_tile: None)
    assert build_parser().parse_args([*base, "--tile", "64"]).tile == 64
    with pytest.raises(SystemExit):
        build_parser().parse_args([*base, "--tile", "big"])
    assert "expected 'auto', 0 (whole image) or a size, got 'big'" in capsys.readouterr().err
    source = _png(tmp_path / "in.png")
    # tiles of 16 came out up to 0.19 (of the range) from the whole image's result, 32 up to 0.023
    assert main(["upscale", str(source), "-o", str(tmp_path / "out.png"), "--scale", "2", "--tile", "32"]) == 2
    assert "tile must be 'auto', an integer >= 64" in capsys.readouterr().err
    assert not (tmp_path / "out.png").exists()


RG1_COMMAND = """
import resource, subprocess, sys
done = subprocess.run([sys.executable, "-m", "monai_rmisr", "upscale", *sys.argv[1:]], capture_output=True, text=True)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, done.stderr[-500:].replace("\\n", " "))
"""


@pytest.mark.slow
@pytest.mark.parametrize("scale", [2, 4])
def test_rg1_upscale_without_tile_stays_under_2_gb(tmp_path, scale):
    # 1955 x 1841 radiograph: the whole-image x2 run peaked at 5.5 GB (issue #26) to 10.5 GB (1 thread);
    # "auto" tiles it (5 x 5 tiles of 496 at x2 and x4); 3-20 min each on the busy 2-core machine (docs/inference.md)
    source = pydicom.data.get_testdata_file("RG1_UNCR.dcm")
    output = tmp_path / "rg1.dcm"
    args = [source, "--scale", str(scale), "-o", str(output), "-q"]
    done = subprocess.run(
        [sys.executable, "-c", RG1_COMMAND, *args],
        capture_output=True,
        text=True,
        timeout=3600,
        cwd=Path(__file__).resolve().parents[2],
    )
    code, peak_kb, err = done.stdout.split(" ", 2)
    assert code == "0", err
    print(f"RG1_UNCR x{scale}: peak RSS {int(peak_kb) * 1024 / 1e9:.2f} GB")  # shown with -s
    assert int(peak_kb) < 2 * 2**20, f"peak RSS {int(peak_kb) * 1024 / 1e9:.2f} GB"
    written = pydicom.dcmread(output)
    assert (written.Rows, written.Columns) == (1955 * scale, 1841 * scale)


def test_on_a_gpu_the_budget_is_a_share_of_its_available_memory(x2_network, monkeypatch):
    free, cached = 90 * 2**30, 10 * 2**30  # free on the device, and held by PyTorch's cache but unused
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free, 141 * 2**30))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: cached + 2**30)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 2**30)
    assert tile_memory_budget("cuda") == (free + cached) // 4
    # RG1_UNCR (13.4 GB estimated at x2) runs whole within a quarter of 100 GiB, in tiles on the CPU
    assert auto_tile(x2_network, (1955, 1841), 2, device="cuda") is None
    assert auto_tile(x2_network, (1955, 1841), 2, device=torch.device("cpu")) == 496
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (2**30, 141 * 2**30))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: 0)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 0)
    assert tile_memory_budget("cuda:0") == tiling_module.TILE_MEMORY_BUDGET  # a nearly full GPU: never below the CPU's
