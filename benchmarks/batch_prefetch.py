"""A folder batch with and without the reader thread that decodes the next input during the network.

Run: ``python benchmarks/batch_prefetch.py [--rounds 2]``

Writes six copies of the lossy JPEG 2000 CR image ``RG3_J2KI`` (1760x1760, pydicom-data; each in its own
folder) and eight 1536x1536 deflate-compressed 16-bit TIFFs to a temporary folder, times the decode of one
of each, then times ``upscale_batch`` at x2 with ``prefetch`` off and on, alternating, ``--rounds`` times:
bicubic on both sets, and RMISR-BL x2 on a 256x256 ``--roi`` of the TIFFs. Prints the machine first.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile
import torch
from pydicom.data import get_testdata_file

from monai_rmisr.inference.batch import upscale_batch
from monai_rmisr.inference.upscale import Upscaler


def write_inputs(root: Path) -> dict[str, Path]:
    """The two input folders under ``root``."""
    dicom, tiff = root / "j2k", root / "tiff"
    for k in range(6):
        (dicom / f"p{k}").mkdir(parents=True)
        shutil.copy(get_testdata_file("RG3_J2KI.dcm"), dicom / f"p{k}" / "x.dcm")
    tiff.mkdir()
    rows, cols = np.mgrid[0:1536, 0:1536]
    for k in range(8):
        image = (32767 + 30000 * np.sin(cols / (40 + k)) * np.cos(rows / 37)).astype(np.uint16)
        tifffile.imwrite(tiff / f"i{k}.tif", image, compression="zlib", compressionargs={"level": 9})
    return {"j2k": dicom, "tiff": tiff}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="alternating off/on rounds (default 2)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, capability {torch.backends.cpu.get_cpu_capability()}, torch threads "
          f"{torch.get_num_threads()}, torch {torch.__version__}")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        inputs = write_inputs(root)
        roi_model = Upscaler(2, model="rmisr_bl_x2", roi="0,0,256,256")
        cases = [
            ("bicubic, 6 x J2K DICOM", Upscaler(2, model="bicubic"), inputs["j2k"]),
            ("bicubic, 8 x TIFF", Upscaler(2, model="bicubic"), inputs["tiff"]),
            ("rmisr_bl_x2 on a 256x256 ROI, 8 x TIFF", roi_model, inputs["tiff"]),
        ]
        for name, upscaler, source in cases:
            first = sorted(source.iterdir())[0]
            started = time.perf_counter()
            upscaler.read(first)
            print(f"{name}: one read {1000 * (time.perf_counter() - started):.0f} ms")
            for round_ in range(args.rounds):
                for prefetch in (False, True):
                    output = root / f"out-{len(list(root.iterdir()))}"
                    started = time.perf_counter()
                    report = upscale_batch(upscaler, source, output, progress=False, prefetch=prefetch)
                    seconds = time.perf_counter() - started
                    print(f"  round {round_ + 1}, prefetch {prefetch}: {seconds:.2f} s ({len(report.written)} written)")


if __name__ == "__main__":
    main()
