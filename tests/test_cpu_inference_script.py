"""benchmarks/cpu_inference.py runs end to end and prints one row per model and inference path."""

import subprocess
import sys
from pathlib import Path

import pytest

from monai_rmisr.hardware import cpu_has_native_bfloat16

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.integration
def test_cpu_inference_script_times_every_path():
    command = [sys.executable, str(ROOT / "benchmarks" / "cpu_inference.py"), "--size", "24", "--repeats", "1"]
    command += ["--models", "IMDN x2", "RMISR-BL x2"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("CPU ") and "capability" in run.stdout.splitlines()[0]
    rows = [line.strip("|").split("|") for line in run.stdout.splitlines() if line.startswith("| ") and "x2 |" in line]
    table = {(cells[0].strip(), cells[1].strip()): cells[2:] for cells in rows}
    paths = ["eager", "channels_last", "cpu_form", "super_resolve", "torchscript"]
    paths += ["bfloat16", "super_resolve_bf16"] if cpu_has_native_bfloat16() else []
    for model in ("IMDN x2", "RMISR-BL x2"):
        for path in paths:
            ms, ratio, check = table[(model, path)]
            assert float(ms) > 0 and ratio.strip().endswith("x")
            if path in ("cpu_form", "super_resolve"):  # exact rewrites: float rounding only
                max_diff, dpsnr = (float(value) for value in check.split("/"))
                assert max_diff < 1e-4 and abs(dpsnr) < 1e-3
    assert table[("IMDN x2", "eager")][1].strip() == "1.00x"
