"""Peak working memory of ``super_resolve`` per LR pixel on the CPU: what ``LR_PIXEL_BYTES`` in
``monai_rmisr/inference/tiling.py`` estimates.

Run: ``python benchmarks/cpu_memory.py [--models rmisr_bl_x2 rmisr_bl_x4] [--size 384] [--no-nnpack]``

Each model runs in a fresh process (one thread): a 16 x 16 warm-up, then one whole-image ``super_resolve`` of a
``size`` x ``size`` random grey image; printed is the growth of the process's peak resident memory (``ru_maxrss``)
over that call, in KB (10^3 bytes) per LR pixel, beside the estimate ``forward_bytes`` gives. ``--no-nnpack``
runs the CPU form without NNPACK (``monai_rmisr.networks.nnpack.nnpack_available`` patched to False).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

CHILD = """
import resource, sys
import numpy as np, torch
torch.set_num_threads(1)
import monai_rmisr.networks.nnpack as nnpack
if sys.argv[3] == "off":
    nnpack.nnpack_available = lambda: False
from monai_rmisr import super_resolve
from monai_rmisr.inference.super_resolve import resolve_model
from monai_rmisr.inference.tiling import forward_bytes
name, size = sys.argv[1], int(sys.argv[2])
scale = float(name.rsplit("_x", 1)[1]) if "_x" in name else 2.0
super_resolve(np.random.rand(16, 16).astype(np.float32), scale, model=name, tile=None)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
super_resolve(np.random.rand(size, size).astype(np.float32), scale, model=name, tile=None)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
estimate = forward_bytes(resolve_model(name, scale)[0], (size, size), scale)
print(f"| {name} | {size} | {grown / size**2 / 1000:.2f} | {estimate / size**2 / 1000:.2f} |")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["rmisr_bl_x2", "rmisr_bl_x4"], help="shipped model names")
    parser.add_argument("--size", type=int, default=384, help="LR size (default 384)")
    parser.add_argument("--no-nnpack", action="store_true", help="the CPU form without NNPACK")
    args = parser.parse_args()
    print(f"NNPACK {'off' if args.no_nnpack else 'on (where available)'}, one thread")
    print("| model | LR size | peak growth, KB per LR pixel | estimate, KB per LR pixel |\n|---|---|---|---|")
    for name in args.models:
        run = subprocess.run(
            [sys.executable, "-c", CHILD, name, str(args.size), "off" if args.no_nnpack else "on"],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            sys.exit(f"cpu_memory.py: {name} failed:\n{run.stderr[-2000:]}")
        print(run.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
