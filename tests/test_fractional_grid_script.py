"""benchmarks/fractional_grid.py: rmisr_meta where n x scale is not whole, whole image and tiles (docs/inference.md)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_fractional_grid_script_scores_whole_and_tiled_alike(capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location("fractional_grid", ROOT / "benchmarks" / "fractional_grid.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    monkeypatch.setattr(script, "CASES", ((2.5, 80), (2.5, 81)))  # small crops: 200 and 203 output pixels, 2 x 2 tiles
    script.main()
    rows = [line.split("|")[1:-1] for line in capsys.readouterr().out.splitlines() if line.startswith("| ")][1:]
    assert len(rows) == 6 and {row[0].strip() for row in rows} == {"camera", "coins", "moon"}
    for _name, scale, side, size, whole, tiled in rows:
        assert scale.strip() == "x2.5"
        assert int(size) == {80: 200, 81: 203}[int(side)]
        assert 20 < float(whole) < 60 and abs(float(tiled) - float(whole)) < 0.1  # the tiles on the image's grid
