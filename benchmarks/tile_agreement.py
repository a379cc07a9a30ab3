"""How far tiles move a super-resolved image from the whole-image result (docs/inference.md, "Tiles").

``python benchmarks/tile_agreement.py``

Two images in [0, 1] at x2 with ``rmisr_bl_x2``: the top-left 1024 x 1024 of RG1_UNCR (pydicom-data's chest
radiograph, min-max normalised) with the automatic tiles and tiles of 256 and 128, and scikit-image's ``camera``
(512 x 512) with tiles of 112 and 64, each with the channel attention's statistics of the whole image (the default,
``tile_statistics="image"``) and of each tile (``"tile"``). One line each: the largest absolute difference from
``tile=None``, its 99.9th percentile, its mean and the seconds taken, then the machine.

``python benchmarks/tile_agreement.py --passes``: how many passes the whole image's statistics need
(``monai_rmisr/inference/tile_statistics.py``). A 128 x 128 crop of ``camera`` in tiles of 48 through ``rmisr_bl_x2``,
``rmisr_meta`` at x2.5 and ``rmisr_vp_x4``, the statistics gathered in 1 and 2 passes and in as many passes as the
network has attention modules (exact): the largest difference from the exact tiles and from the whole image (and that
of tiles with their own statistics). Then,
on one thread, the seconds of ``camera``'s top-left 224 x 224 at x2 in tiles of 112 with the image's statistics and
with each tile's.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import skimage.data
import torch
from pydicom.data import get_testdata_file

from monai_rmisr import super_resolve
from monai_rmisr.benchmark import machine_description
from monai_rmisr.inference import load_pretrained, tiled_forward
from monai_rmisr.inference.tile_statistics import attention_modules, image_statistics, with_statistics
from monai_rmisr.io import read_image
from monai_rmisr.networks.utils import forward_at_scale


def images() -> dict[str, tuple[np.ndarray, tuple[object, ...]]]:
    """Name -> (the image, the tiles to compare)."""
    radiograph = read_image(get_testdata_file("RG1_UNCR.dcm")).array[0]
    radiograph = ((radiograph - radiograph.min()) / (radiograph.max() - radiograph.min()))[:1024, :1024]
    camera = skimage.data.camera().astype(np.float32) / 255.0
    return {
        "RG1_UNCR 1024 x 1024": (radiograph.astype(np.float32), ("auto", 256, 128)),
        "camera 512 x 512": (camera, (112, 64)),
    }


def agreement() -> None:
    for name, (image, tiles) in images().items():
        start = time.perf_counter()
        whole = super_resolve(image, 2, model="rmisr_bl_x2", tile=None)
        print(f"{name}, whole image: {time.perf_counter() - start:.1f} s")
        for tile in tiles:
            for statistics in ("image", "tile"):
                start = time.perf_counter()
                sr = super_resolve(image, 2, model="rmisr_bl_x2", tile=tile, tile_statistics=statistics)
                seconds = time.perf_counter() - start
                difference = np.abs(sr - whole)
                print(
                    f"{name}, tiles {tile}, statistics of the {statistics}: max {difference.max():.4f}, 99.9th "
                    f"percentile {np.percentile(difference, 99.9):.5f}, mean {difference.mean():.2e}, {seconds:.1f} s"
                )


def passes() -> None:
    camera = torch.from_numpy(skimage.data.camera().astype(np.float32) / 255.0)[None, None]
    crop = camera[..., 200:328, 150:278]
    with torch.inference_mode():
        for model, scale in (("rmisr_bl_x2", 2), ("rmisr_meta", 2.5), ("rmisr_vp_x4", 4)):
            network = load_pretrained(model).eval()
            whole = forward_at_scale(network, crop, scale).clamp(0, 1)
            modules = len(attention_modules(network))
            tiled = {}
            for count in (1, 2, modules):
                gathered = image_statistics(
                    lambda window, n=network, s=scale: forward_at_scale(n, window, s), network, crop, [48, 48], 0.25,
                    passes=count,
                )  # fmt: skip
                with with_statistics(gathered):
                    tiled[count] = tiled_forward(network, crop, scale, 48, statistics="tile").clamp(0, 1)
            own = tiled_forward(network, crop, scale, 48, statistics="tile").clamp(0, 1)
            own_difference = (own - whole).abs().max()
            print(f"{model}, each tile's own statistics: max difference from the whole image {own_difference:.4f}")
            for count, result in tiled.items():
                exact, from_whole = (result - tiled[modules]).abs().max(), (result - whole).abs().max()
                print(
                    f"{model} ({modules} attention modules), {count} pass(es): max difference from the exact tiles "
                    f"{exact:.2e}, from the whole image {from_whole:.5f}"
                )
        torch.set_num_threads(1)
        corner = camera[..., :224, :224]
        for statistics in ("image", "tile", "image", "tile"):
            start = time.perf_counter()
            super_resolve(corner[0], 2, model="rmisr_bl_x2", tile=112, tile_statistics=statistics)
            seconds = time.perf_counter() - start
            print(f"224 x 224 in tiles of 112, statistics of the {statistics}, one thread: {seconds:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passes", action="store_true", help="the passes the image's statistics need, and the time")
    if parser.parse_args().passes:
        passes()
    else:
        agreement()
    print(machine_description())


if __name__ == "__main__":
    main()
