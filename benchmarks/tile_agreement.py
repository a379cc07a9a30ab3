"""How far tiles move a super-resolved image from the whole-image result (docs/inference.md, "Tiles").

``python benchmarks/tile_agreement.py``

Two images in [0, 1] at x2 with ``rmisr_bl_x2``: the top-left 1024 x 1024 of RG1_UNCR (pydicom-data's chest
radiograph, min-max normalised) with the automatic tiles and tiles of 256 and 128, and scikit-image's ``camera``
(512 x 512) with tiles of 112 and 64. One line each: the largest absolute difference from ``tile=None``, its
99.9th percentile and its mean, then the machine.
"""

from __future__ import annotations

import numpy as np
import skimage.data
from pydicom.data import get_testdata_file

from monai_rmisr import super_resolve
from monai_rmisr.benchmark import machine_description
from monai_rmisr.io import read_image


def images() -> dict[str, tuple[np.ndarray, tuple[object, ...]]]:
    """Name -> (the image, the tiles to compare)."""
    radiograph = read_image(get_testdata_file("RG1_UNCR.dcm")).array[0]
    radiograph = ((radiograph - radiograph.min()) / (radiograph.max() - radiograph.min()))[:1024, :1024]
    camera = skimage.data.camera().astype(np.float32) / 255.0
    return {
        "RG1_UNCR 1024 x 1024": (radiograph.astype(np.float32), ("auto", 256, 128)),
        "camera 512 x 512": (camera, (112, 64)),
    }


def main() -> None:
    for name, (image, tiles) in images().items():
        whole = super_resolve(image, 2, model="rmisr_bl_x2", tile=None)
        for tile in tiles:
            difference = np.abs(super_resolve(image, 2, model="rmisr_bl_x2", tile=tile) - whole)
            print(
                f"{name}, tiles {tile}: max {difference.max():.4f}, 99.9th percentile "
                f"{np.percentile(difference, 99.9):.5f}, mean {difference.mean():.2e}"
            )
    print(machine_description())


if __name__ == "__main__":
    main()
