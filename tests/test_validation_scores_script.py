"""benchmarks/validation_scores.py prints each validation image's PSNR; the mean is the run's val_psnr."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.integration
def test_validation_scores_script_names_each_image_and_means_them():
    command = [sys.executable, str(ROOT / "benchmarks" / "validation_scores.py"), "--model", "rmisr_bl_x2"]
    run = subprocess.run(
        [*command, "--scale", "2", "--val-ct-phantom-images", "1"], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert "torch" in lines[0] and len(lines) == 3
    names = lines[1].removeprefix("images: ").split(", ")
    assert names[0] == "CT_small" and names[-2:] == ["display frame 0", "CT phantom 0"]
    mean = float(re.search(r"mean (\d+\.\d+)", lines[2]).group(1))
    scores = [float(v) for v in re.findall(r"(?:; )[^;:]+? (\d+\.\d+)", lines[2])]
    assert len(scores) == len(names) and mean == pytest.approx(np.mean(scores), abs=1e-3)
    assert all(20 < score < 60 for score in scores)  # dB of a trained x2 on real and procedural images
