"""benchmarks/cpu_memory.py runs end to end and prints one row per model with its measured and estimated memory."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.integration
@pytest.mark.parametrize("flag", [[], ["--no-nnpack"]])
def test_cpu_memory_script_prints_the_growth_and_the_estimate(flag):
    command = [sys.executable, str(ROOT / "benchmarks" / "cpu_memory.py"), "--models", "rmisr_bl_x2", "--size", "64"]
    run = subprocess.run([*command, *flag], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [line.strip("|").split("|") for line in run.stdout.splitlines() if line.startswith("| rmisr")]
    assert len(rows) == 1 and rows[0][0].strip() == "rmisr_bl_x2" and int(rows[0][1]) == 64
    grown, estimate = float(rows[0][2]), float(rows[0][3])
    assert grown >= 0 and estimate == pytest.approx((3584 + 4 * 32) / 1000, abs=0.01)
