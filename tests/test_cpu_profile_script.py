"""benchmarks/cpu_profile.py runs end to end and counts the multiply-adds of each form of RMISR-BL."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def multiply_adds(path: str) -> int:
    command = [sys.executable, str(ROOT / "benchmarks" / "cpu_profile.py"), "--size", "24", "--path", path]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "| convolution (input, weight) |" in run.stdout
    return int(re.search(r"multiply-adds per LR pixel \(.*\): ([\d,]+)", run.stdout).group(1).replace(",", ""))


@pytest.mark.integration
def test_the_cpu_form_does_the_zero_taps_of_the_merged_pyramid_convolution_more():
    paper, cpu_form = multiply_adds("contiguous"), multiply_adds("cpu_form")
    # per pyramid block (12 in RMISR-BL): the merged 7x7 (32 outputs x 16 inputs x 49 taps) in place of the 7x7
    # (16 x 8 x 49) and the 5x5 (16 x 16 x 25); the 1x1 convolutions as matrix products count the same
    assert cpu_form - paper == 12 * (32 * 16 * 49 - 16 * 8 * 49 - 16 * 16 * 25)
    # RMISR-BL x4 with the paper's layout: 944,192 per LR pixel at every size, plus the channel attention's 1x1
    # convolutions on (1, 64, 1, 1) statistics, 4 x 2 x 64 x 4 = 2,048 per image, 3.6 per pixel of a 24x24 input
    assert paper == round(944_192 + 2_048 / 24**2)
