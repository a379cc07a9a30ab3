"""The package version every derived image records is the newest entry of CHANGELOG.md."""

import re
from pathlib import Path

import monai_rmisr
from monai_rmisr.__main__ import main

CHANGELOG = Path(monai_rmisr.__file__).resolve().parents[1] / "CHANGELOG.md"


def test_the_version_is_the_changelogs_newest_entry(capsys):
    versions = re.findall(r"^## (\d+\.\d+\.\d+) \(", CHANGELOG.read_text(), flags=re.MULTILINE)
    assert versions and versions[0] == monai_rmisr.__version__, (versions[:2], monai_rmisr.__version__)
    assert len(set(versions)) == len(versions)  # one entry per version
    assert [tuple(map(int, v.split("."))) for v in versions] == sorted(
        (tuple(map(int, v.split("."))) for v in versions), reverse=True
    )  # newest first
    try:
        main(["--version"])
    except SystemExit as stop:
        assert stop.code == 0
    assert capsys.readouterr().out.strip() == f"monai-rmisr {monai_rmisr.__version__}"
