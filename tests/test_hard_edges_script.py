"""benchmarks/hard_edges.py prints, per model, the largest output on pixel-hard edges (docs/inference.md's numbers)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_hard_edges_script_measures_the_overshoot():
    command = [sys.executable, str(ROOT / "benchmarks" / "hard_edges.py"), "--model", "bicubic", "rmisr_bl_x2"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert "torch" in lines[0] and len(lines) == 3
    largest = {
        line.split(":")[0]: [float(v) for v in re.findall(r"max (\d\.\d+)", line)] for line in lines[1:]
    }  # disk, square, blurred disk
    assert all(v < 0.35 for v in largest["bicubic"])  # bicubic barely overshoots a 0.3 step
    assert largest["rmisr_bl_x2"][0] > 0.6 and largest["rmisr_bl_x2"][2] < 0.35  # hard edge rings, a soft one not
