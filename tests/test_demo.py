"""``python -m monai_rmisr.demo``'s arguments: a weights file given is used or refused, never replaced."""

from __future__ import annotations

import pytest

from monai_rmisr.demo import main


def test_a_mistyped_or_broken_weights_file_is_refused_not_replaced_by_an_untrained_network(tmp_path, capsys):
    # --weights with a typo wrote a figure of an untrained network (labelled so, exit 0); a file that is no checkpoint
    # ended in a KeyError traceback
    with pytest.raises(SystemExit) as exit_info:
        main(["--weights", str(tmp_path / "typo.pt"), "--output-dir", str(tmp_path / "out")])
    assert exit_info.value.code == 2 and f"--weights: no such file: {tmp_path / 'typo.pt'}" in capsys.readouterr().err
    broken = tmp_path / "notes.pt"
    broken.write_text("not weights")
    with pytest.raises(SystemExit) as exit_info:
        main(["--weights", str(broken), "--output-dir", str(tmp_path / "out")])
    assert exit_info.value.code == 2 and "is not a PyTorch weights file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # no figure
