"""The bundle as the MONAI Model Zoo checks it (its ``ci/verify_bundle.py``: layout, metadata, properties,
``verify_net_in_out`` and ``ckpt_export`` on ``inference.json``), on a *copy* of the bundle folder, as the zoo
and its users hold it. The zoo's script itself runs in ``.ci/verify_model_zoo`` (it needs a zoo checkout)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
import torch
from monai.bundle import ConfigWorkflow, ckpt_export, verify_metadata, verify_net_in_out
from PIL import Image

from monai_rmisr.data.corpus import EXTRA_SOURCES, NATURAL_SOURCES, TEST_SOURCES, TRAIN_SOURCES
from monai_rmisr.inference import PRETRAINED, load_checkpoint, load_pretrained, untrained_network
from tests.helpers import dicom_testdata

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "bundles" / "rmisr"


@pytest.fixture(scope="module")
def bundle_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle folder copied elsewhere, symbolic links kept (as ``cp -r`` and a git checkout keep them)."""
    target = tmp_path_factory.mktemp("zoo") / "rmisr"
    shutil.copytree(BUNDLE, target, symlinks=True)
    return target


def test_the_layout_the_zoo_requires():
    for name in ("LICENSE", "configs/metadata.json", "configs/inference.json", "models/model.pt", "docs/README.md"):
        assert (BUNDLE / name).is_file(), name
    assert (BUNDLE / "docs" / "data_license.txt").is_file()


def test_model_pt_is_the_default_model_and_its_sidecar_says_so():
    model = BUNDLE / "models" / "model.pt"
    assert model.read_bytes() == (BUNDLE / "models" / "rmisr_bl_x2.pt").read_bytes()
    entry = PRETRAINED["rmisr_bl_x2"]
    assert json.loads((BUNDLE / "models" / "model.json").read_text()) == {"_target_": "RMISR", **entry.kwargs}
    x = torch.rand(1, 1, 20, 18)
    with torch.no_grad():
        assert torch.equal(load_checkpoint(model)(x), load_pretrained("rmisr_bl_x2")(x))


def test_a_copied_model_pt_without_its_link_reads_its_sidecar(tmp_path):
    """A bundle copied without symbolic links (a zip, ``shutil.copytree``) has a plain ``model.pt``."""
    shutil.copy(BUNDLE / "models" / "model.pt", tmp_path / "model.pt")
    with pytest.raises(ValueError, match="cannot tell the architecture"):
        untrained_network(tmp_path / "model.pt")
    shutil.copy(BUNDLE / "models" / "model.json", tmp_path / "model.json")
    assert type(untrained_network(tmp_path / "model.pt")).__name__ == "RMISR"
    assert load_checkpoint(tmp_path / "model.pt").scale == 2


@pytest.mark.filterwarnings("ignore:No hash value provided:UserWarning")  # a local file: nothing is downloaded
def test_metadata_against_the_local_copy_of_monais_schema(bundle_copy):
    verify_metadata(
        meta_file=str(bundle_copy / "configs" / "metadata.json"),
        filepath=str(bundle_copy / "configs" / "meta_schema.json"),
    )


def test_large_files_lists_every_weights_file_with_its_hash(tmp_path):
    """``large_files.yml`` as the zoo's CI reads it: every weights file listed, each one's hash right, so nothing
    is downloaded; a missing file would be, and has no address yet."""
    from monai.apps import download_url
    from monai.bundle import ConfigParser

    shutil.copytree(BUNDLE / "models", tmp_path / "models", symlinks=True)
    parser = ConfigParser()
    parser.read_config(str(BUNDLE / "large_files.yml"))
    entries = parser.get()["large_files"]
    assert sorted(entry["path"] for entry in entries) == sorted(
        f"models/{path.name}" for path in (BUNDLE / "models").glob("*.pt")
    )
    for entry in entries:
        assert entry["hash_type"] == "sha256"
        # the hash type named (MONAI before 1.6.1 checks md5 by default)
        download_url(entry["url"], tmp_path / entry["path"], hash_val=entry["hash_val"], hash_type=entry["hash_type"])
    meta = next(entry for entry in entries if entry["path"] == "models/rmisr_meta.pt")
    (tmp_path / meta["path"]).unlink()
    with pytest.raises(ValueError, match="unknown url type"):
        download_url(meta["url"], tmp_path / meta["path"], hash_val=meta["hash_val"], hash_type=meta["hash_type"])


def test_metadata_requirements_are_published_versions():
    """Every package the configs need beside torch, MONAI and numpy (monai-rmisr's own requirements, and the
    corpus extra's image packages for the default training data) at an exact version (the ones this release
    was tested with) that its requirement range accepts; monai-rmisr itself is not on PyPI, so the bundle
    README names it instead."""
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    metadata = json.loads((BUNDLE / "configs" / "metadata.json").read_text())
    required = metadata["required_packages_version"]
    assert "monai-rmisr" not in required
    needed = {}
    for text in requires("monai-rmisr"):
        requirement = Requirement(text)
        extra = requirement.marker is not None
        if (not extra and requirement.name not in ("torch", "monai", "numpy")) or (
            extra and requirement.marker.evaluate({"extra": "corpus"}) and requirement.name in _CORPUS_IMAGES
        ):
            needed[requirement.name] = requirement
    assert sorted(required) == sorted(needed)
    for name, wanted in required.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", wanted), (name, wanted)
        assert needed[name].specifier.contains(wanted), (name, wanted, str(needed[name].specifier))
    # the versions tested with: the development install's pins (an installed MONAI may be another in the range)
    pins = dict(re.findall(r"^([\w-]+)==(\S+)$", (BUNDLE.parents[1] / "constraints.txt").read_text(), re.M))
    assert metadata["monai_version"] == pins["monai"]
    assert metadata["pytorch_version"] == pins["torch"]
    assert metadata["version"] in metadata["changelog"]


_CORPUS_IMAGES = ("pydicom-data", "scikit-image")  # the corpus extra's packages that ship the default images


def test_inference_properties_from_a_copy_run_from_anywhere(bundle_copy, tmp_path, monkeypatch):
    """No --bundle_root: the copy's own folder, found from the config file's place, not the checkout's."""
    monkeypatch.chdir(tmp_path)
    workflow = ConfigWorkflow(config_file=str(bundle_copy / "configs" / "inference.json"), workflow_type="inference")
    workflow.initialize()
    assert workflow.check_properties() == []
    assert Path(workflow.bundle_root).resolve() == bundle_copy.resolve()
    assert type(workflow.inferer).__name__ == "SuperResolutionInferer"
    assert len(workflow.dataset) == len(TEST_SOURCES) and workflow.dataset_dir is None
    network = workflow.parser.get_parsed_content("network")
    reference = load_pretrained("rmisr_bl_x2")
    for (name, value), (_, expected) in zip(network.state_dict().items(), reference.state_dict().items()):
        assert torch.equal(value.cpu(), expected), name
    assert workflow.parser.get_parsed_content("upscaler").network is network


def test_verify_net_in_out_on_inference_json(bundle_copy):
    verify_net_in_out(
        net_id="network_def",
        meta_file=str(bundle_copy / "configs" / "metadata.json"),
        config_file=str(bundle_copy / "configs" / "inference.json"),
        bundle_root=str(bundle_copy),
    )


def test_ckpt_export_of_model_pt_with_inference_json(bundle_copy, tmp_path):
    exported = tmp_path / "model.ts"
    ckpt_export(
        net_id="network_def",
        filepath=str(exported),
        ckpt_file=str(bundle_copy / "models" / "model.pt"),
        meta_file=str(bundle_copy / "configs" / "metadata.json"),
        config_file=str(bundle_copy / "configs" / "inference.json"),
        bundle_root=str(bundle_copy),
    )
    scripted = torch.jit.load(str(exported))
    x = torch.rand(1, 1, 24, 20)
    with torch.no_grad():
        assert torch.allclose(scripted(x), load_pretrained("rmisr_bl_x2")(x), atol=1e-5)


@pytest.mark.integration
def test_run_from_inside_a_copied_bundle_uses_its_models(bundle_copy, tmp_path):
    """The zoo's way: ``cd rmisr && python -m monai.bundle run --config_file configs/inference.json``. The copy's
    model.pt is made a plain file, so the outputs name it (the checkout's is a link to rmisr_bl_x2.pt)."""
    copy = tmp_path / "rmisr"
    shutil.copytree(bundle_copy, copy, symlinks=False)
    assert not (copy / "models" / "model.pt").is_symlink()
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "ct.dcm").write_bytes(Path(dicom_testdata("CT_small.dcm")).read_bytes())
    Image.fromarray(np.tile(np.arange(32, dtype=np.uint8) * 8, (24, 1))).save(folder / "ramp.png")
    command = [sys.executable, "-m", "monai.bundle", "run", "--config_file", "configs/inference.json"]
    command += ["--dataset_dir", str(folder), "--output_dir", str(tmp_path / "out")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "2 written" in run.stdout and "0 failed" in run.stdout
    ct = pydicom.dcmread(tmp_path / "out" / "ct.dcm")
    digest = hashlib.sha256((copy / "models" / "model.pt").read_bytes()).hexdigest()  # the file's, as rmisr info's
    assert (ct.Rows, ct.Columns) == (256, 256)
    assert f"model model.pt (weights SHA-256 {digest});" in ct.DerivationDescription
    assert Image.open(tmp_path / "out" / "ramp.png").size == (64, 48)


def test_the_readme_has_the_zoo_templates_sections():
    text = (BUNDLE / "docs" / "README.md").read_text()
    headings = [line.strip("#* ").rstrip("*") for line in text.splitlines() if line.startswith("#")]
    for section in (
        "Authors",
        "Tags",
        "Model Description",
        "Data",
        "Performance",
        "Additional Usage Steps",
        "System Configuration",
        "Limitations",
        "Citation Info",
        "References",
    ):
        assert section in headings, section
    assert "10.1007/s00521-021-06287-x" in text and "Neural Computing and Applications" in text


def test_data_license_names_every_corpus_image():
    text = (BUNDLE / "docs" / "data_license.txt").read_text()
    for source in (*TEST_SOURCES, *TRAIN_SOURCES, *NATURAL_SOURCES, *EXTRA_SOURCES):
        assert source.filename in text, source.filename


def test_train_properties_and_the_trainer_runs_its_inferer(tmp_path):
    """MONAI's train properties (``train::inferer`` among them) are there, and the trainer really runs the
    forward pass through ``train#inferer``."""
    from monai.inferers import SimpleInferer

    workflow = ConfigWorkflow(
        config_file=str(BUNDLE / "configs" / "train.json"),
        workflow_type="train",
        output_dir=str(tmp_path / "run"),
        max_epochs=1,
        epoch_length=2,
        batch_size=2,
        patch_size=8,
    )
    workflow.initialize()
    assert workflow.check_properties() == []
    assert isinstance(workflow.train_inferer, SimpleInferer) and workflow.trainer.inferer is workflow.train_inferer

    calls = []

    class CountingInferer(SimpleInferer):
        def __call__(self, inputs, network, *args, **kwargs):
            calls.append(tuple(inputs.shape))
            return super().__call__(inputs, network, *args, **kwargs)

    workflow.trainer.inferer = CountingInferer()
    workflow.trainer.run()
    assert calls == [(2, 1, 8, 8)] * 2
