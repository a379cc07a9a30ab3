"""The wheel (#26): every registry model's weights inside, where ``models_dir`` looks; one copy in the repository."""

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import monai_rmisr
from monai_rmisr.inference import MODELS_ENV, PRETRAINED, models_search_path

# the second tier (processes, servers, whole runs): `make test-integration`; .ci/run runs both
pytestmark = pytest.mark.integration

REPO = Path(monai_rmisr.__file__).resolve().parents[1]
BUNDLE_MODELS = REPO / "bundles" / "rmisr" / "models"
MAX_WEIGHTS_BYTES = 10_000_000  # each shipped weights file stays under 10 MB


def in_a_git_checkout() -> bool:
    return shutil.which("git") is not None and (REPO / ".git").exists()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    """The wheel of this working tree, built by ``.ci/check_wheel build`` (pip, as ``pip install .`` builds it)."""
    if not in_a_git_checkout():
        pytest.skip("needs a git checkout (.ci/check_wheel builds from the files git knows)")
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [str(REPO / ".ci" / "check_wheel"), "build", str(out)],
        env={**os.environ, "PYTHON3": sys.executable},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (path,) = out.glob("*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


@pytest.fixture
def packaged_folder(monkeypatch: pytest.MonkeyPatch) -> str:
    """Where the loader looks inside an installed package, as a path in the wheel: ``monai_rmisr/models``."""
    monkeypatch.delenv(MODELS_ENV, raising=False)
    return models_search_path()[-1].relative_to(REPO).as_posix()


def test_the_wheel_carries_every_registry_models_weights(wheel, packaged_folder):
    assert packaged_folder == "monai_rmisr/models"
    for name in PRETRAINED:
        member = f"{packaged_folder}/{name}.pt"
        assert member in wheel.namelist(), f"{member} is not in the wheel"
        assert wheel.getinfo(member).file_size < MAX_WEIGHTS_BYTES
        assert wheel.read(member) == (BUNDLE_MODELS / f"{name}.pt").read_bytes()


def test_the_wheel_holds_the_weights_once_and_the_command(wheel, packaged_folder):
    names = wheel.namelist()
    weights = sorted(name for name in names if name.endswith(".pt"))
    files = [path for path in BUNDLE_MODELS.glob("*.pt") if not path.is_symlink()]  # not models/model.pt
    assert weights == sorted(f"{packaged_folder}/{path.name}" for path in files)
    assert not [name for name in names if name.startswith("bundles/")]
    (entry_points,) = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
    assert "rmisr = monai_rmisr.__main__:main" in wheel.read(entry_points).decode()


def test_the_repository_holds_one_copy_of_the_weights():
    if not in_a_git_checkout():
        pytest.skip("needs a git checkout")
    tracked = subprocess.run(
        ["git", "ls-files", "*.pt"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in PRETRAINED:
        copies = [path for path in tracked if Path(path).name == f"{name}.pt"]
        assert copies == [f"bundles/rmisr/models/{name}.pt"], copies
    assert not [path for path in tracked if path.startswith("monai_rmisr/")]
    assert not (REPO / "monai_rmisr" / "models").exists()  # the copy is made in the build folder only


def test_a_build_without_the_weights_says_where_they_belong(tmp_path):
    pytest.importorskip("setuptools")
    source = tmp_path / "src"
    source.mkdir()
    for name in ("setup.py", "pyproject.toml", "README.md", "LICENSE", "MANIFEST.in"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "monai_rmisr", source / "monai_rmisr", ignore=shutil.ignore_patterns("__pycache__"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode != 0
    assert f"no weights files (*.pt) in {source / 'bundles' / 'rmisr' / 'models'}" in build.stdout + build.stderr
    assert not list(tmp_path.glob("*.whl"))
