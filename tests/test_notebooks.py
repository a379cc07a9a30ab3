"""The notebooks are stored clean and run from top to bottom with the installed package."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from monai_rmisr import load_pretrained
from monai_rmisr.benchmark import network_scores
from monai_rmisr.data import load_corpus
from monai_rmisr.metrics import bicubic_baseline

# the second tier (processes, servers, whole runs): `make test-integration`; .ci/run runs both
pytestmark = pytest.mark.integration

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def _cells(path: Path) -> list[dict]:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4, f"{path.name}: nbformat {notebook['nbformat']}"
    return notebook["cells"]


def run_notebook(path: Path, cwd: Path, tmp: Path) -> str:
    """Execute the code cells in order in one fresh interpreter (non-interactive matplotlib,
    temporary files under ``tmp``); its stdout."""
    code = "\n\n".join("".join(cell["source"]) for cell in _cells(path) if cell["cell_type"] == "code")
    env = {**os.environ, "MPLBACKEND": "Agg", "TMPDIR": str(tmp)}
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{path.name} failed:\n{done.stderr[-3000:]}"
    return done.stdout


def test_the_quickstart_notebook_exists():
    assert NOTEBOOK_DIR / "quickstart.ipynb" in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    """Outputs would go stale with every new set of weights; the tests run the code instead."""
    code_cells = [cell for cell in _cells(path) if cell["cell_type"] == "code"]
    assert code_cells
    for cell in code_cells:
        assert cell["outputs"] == [] and cell["execution_count"] is None, "".join(cell["source"])[:80]


def _psnr(stdout: str, label: str, kind: str = "PSNR") -> float:
    match = re.search(rf"^{re.escape(label)}\s+(?:\S.*?\s)??{kind}\s+([\d.]+) dB", stdout, re.MULTILINE)
    assert match, f"no '{label} {kind}' line in:\n{stdout}"
    return float(match.group(1))


def test_quickstart_runs_and_shows_what_it_says(tmp_path):
    cwd, tmp = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    tmp.mkdir()
    stdout = run_notebook(NOTEBOOK_DIR / "quickstart.ipynb", cwd, tmp)

    assert "693_UNCR (CT): HR (1, 512, 512), LR (1, 256, 256)" in stdout
    bicubic, sr = _psnr(stdout, "bicubic"), _psnr(stdout, "RMISR-BL x2")
    # a clear margin over bicubic on a slice no model was trained on
    assert sr > bicubic + 2.0
    # the scores are the benchmark's (realistic protocol) on this TEST image
    ct = [image for image in load_corpus("test") if image.name == "693_UNCR"]
    assert bicubic == pytest.approx(bicubic_baseline(2, ct)["693_UNCR"].psnr, abs=0.006)
    assert sr == pytest.approx(network_scores(load_pretrained("rmisr_bl_x2"), 2, ct)["693_UNCR"].psnr, abs=0.006)
    assert _psnr(stdout, "RMISR-BL x2", "Laplacian-map PSNR") > _psnr(stdout, "bicubic", "Laplacian-map PSNR")

    assert "x2.5: LR (1, 200, 200) -> SR (1, 500, 500)" in stdout
    assert _psnr(stdout, "rmisr_meta", "x2.5 PSNR") > _psnr(stdout, "bicubic", "x2.5 PSNR") + 1.5

    dicom = {line.split()[0]: line for line in stdout.splitlines() if line.split()}
    assert re.search(r"128\s+-> 256$", dicom["Rows"]) and re.search(r"128\s+-> 256$", dicom["Columns"])
    assert "-> ['DERIVED', 'SECONDARY'" in dicom["ImageType"]
    assert "-> Super-resolved x2 in-plane by monai-rmisr" in dicom["DerivationDescription"]
    assert list(cwd.iterdir()) == [], "the notebook writes only to a temporary folder"
    assert [path.name for path in tmp.rglob("*.dcm")] == ["CT_small_x2.dcm"]
