"""benchmarks/through_plane.py: adding slices, the network against bicubic along z (docs/inference.md, "Volumes")."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_through_plane_script_scores_the_network_above_bicubic_on_the_mr_head(capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location("through_plane", ROOT / "benchmarks" / "through_plane.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    small = script.phantom
    monkeypatch.setattr(script, "phantom", lambda: small(32))  # a small procedural volume: seconds
    script.main(["--scales", "2"])
    rows = [line.split("|")[1:-1] for line in capsys.readouterr().out.splitlines() if line.startswith("| ")][1:]
    assert [(row[0].strip(), row[1].strip(), row[2].strip()) for row in rows] == [
        ("procedural (96^3)", "x2", "16 -> 32"),
        ("emri_small (MR head)", "x2", "5 -> 10"),
    ]
    for _name, _scale, _slices, bicubic, network in rows:
        assert 20 < float(bicubic) < 70 and 20 < float(network) < 70
    assert float(rows[1][4]) > float(rows[1][3]) + 0.5  # measured 29.52 against 28.55
