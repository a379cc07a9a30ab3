"""benchmarks/gpu_inference.py runs end to end (on the CPU here: ``--device cpu`` exists to try the script)."""

import json
import subprocess
import sys
from pathlib import Path

from monai_rmisr.hardware import native_bfloat16

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_inference_script_times_every_path_and_writes_its_table(tmp_path):
    table = tmp_path / "table.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "gpu_inference.py"), "--device", "cpu", "--size", "24"]
    command += ["--repeats", "1", "--models", "IMDN x4", "RMISR-BL x2", "--no-quality", "--json", str(table)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = json.loads(table.read_text())["rows"]
    paths = {(row["model"], row["path"]) for row in rows}
    for path in (
        "float32",
        "float32_strict",
        "channels_last",
        "float16",
        "bfloat16",
        "float16_contiguous",
        "regrouped",
    ):
        assert ("IMDN x4", path) in paths and ("RMISR-BL x2", path) in paths
    assert ("RMISR-BL x2", "super_resolve") in paths and ("IMDN x4", "super_resolve") not in paths
    assert (("RMISR-BL x2", "super_resolve_bf16") in paths) == native_bfloat16("cpu")  # refused where emulated
    assert all(row["ms"] > 0 for row in rows)
    assert next(row for row in rows if row["model"] == "IMDN x4" and row["path"] == "float32")["ratio"] == 1.0
