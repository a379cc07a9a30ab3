"""benchmarks/cpu_kernels.py runs end to end and prints one timed row per kernel pair and dtype."""

import subprocess
import sys
from pathlib import Path

import pytest

from monai_rmisr.networks.nnpack import nnpack_available

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.integration
def test_cpu_kernels_script_times_every_pair_in_both_dtypes():
    command = [sys.executable, str(ROOT / "benchmarks" / "cpu_kernels.py"), "--size", "32", "--repeats", "1"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("CPU ") and "capability" in run.stdout.splitlines()[0]
    rows = [
        line.strip("|").split("|") for line in run.stdout.splitlines() if line.startswith("| ") and "ms" not in line
    ]
    kernels = {(cells[0].strip(), cells[1].strip()) for cells in rows}
    nnpack = 9 if nnpack_available() else 0  # float32 convolutions against NNPACK, where this torch has it
    assert len(rows) == 16 + nnpack and len(kernels) == 16 + nnpack  # 8 pairs x float32 / bfloat16, none twice
    assert sum("NNPACK" in cells[0] for cells in rows) == nnpack
    assert {dtype for _, dtype in kernels} == {"float32", "bfloat16"}
    for cells in rows:
        before, after = float(cells[2]), float(cells[3])  # two decimals: a tiny kernel may print 0.00
        assert before >= 0 and after > -1.0  # (the in-place time has a copy's time subtracted: may dip below 0)
        if "x7" in cells[0] or "3x3" in cells[0]:  # the convolutions take measurable time either way
            assert before > 0 and after > 0
