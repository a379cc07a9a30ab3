"""The ``rmisr`` command line: ``rmisr info``."""

import torch

from monai_rmisr.__main__ import main
from monai_rmisr.inference import MODELS_ENV, PRETRAINED


def test_info_lists_every_shipped_model_and_whether_its_weights_are_here(tmp_path, monkeypatch, capsys):
    # `rmisr upscale --model`'s help sends users here for the registry names
    monkeypatch.setenv(MODELS_ENV, str(tmp_path))
    entry = PRETRAINED["rmisr_bl_x3"]
    torch.save(entry.network(**entry.kwargs).state_dict(), tmp_path / "rmisr_bl_x3.pt")
    assert main(["info"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"weights files in {tmp_path}:" in lines[1]
    rows = {line.split()[0]: line.split()[1:3] for line in lines[3 : 3 + len(PRETRAINED)]}
    assert rows == {
        "rmisr_bl_x2": ["x2", "missing"],
        "rmisr_bl_x3": ["x3", "present"],
        "rmisr_bl_x4": ["x4", "missing"],
        "rmisr_vp_x4": ["x4", "missing"],
        "rmisr_meta": ["(1,8]", "missing"],
    }
    assert any(line.startswith("RMISR x4 ") for line in lines)  # the parameter counts follow
