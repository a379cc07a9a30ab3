"""What a derived image records of the weights that made it: the SHA-256 of the weights file, in every format."""

import hashlib
import importlib
import shutil

import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from monai_rmisr import __version__
from monai_rmisr.inference import list_pretrained, pretrained_path, resolve_model, weights_sha256
from monai_rmisr.inference.pretrained import WeightsChangedError
from monai_rmisr.inference.upscale import Upscaler
from monai_rmisr.io.dicom_writer import derivation_description
from tests.helpers import dicom_testdata

from .test_super_resolve import small_rmisr


def _file_sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_shipped_models_are_named_by_their_files_sha256(tmp_path):
    names = list_pretrained(available_only=True)
    assert names, "no shipped weights here"
    for name in names:  # what sha256sum prints, and the bundle's large_files.yml lists
        assert weights_sha256(name) == _file_sha256(pretrained_path(name))
    (tmp_path / "mine").mkdir()  # named after a registry model: its architecture is known
    copy = shutil.copy(pretrained_path("rmisr_bl_x2"), tmp_path / "mine" / "rmisr_bl_x2.pt")
    assert weights_sha256(copy) == weights_sha256("rmisr_bl_x2")
    # "auto" resolves to the registry model; the CPU's rewritten copy of the network does not change the digest
    assert Upscaler(2, model="auto").derivation["weights_sha256"] == weights_sha256("rmisr_bl_x2")
    assert Upscaler(2, model=copy).derivation["weights_sha256"] == weights_sha256("rmisr_bl_x2")
    assert Upscaler(2, model="bicubic").derivation["weights_sha256"] is None  # interpolation has no weights
    with pytest.raises(FileNotFoundError, match="no weights file"):
        weights_sha256(tmp_path / "missing.pt")


def test_a_registry_name_is_its_shipped_file_whatever_the_working_folder_holds(tmp_path, monkeypatch):
    # a folder (an earlier -o rmisr_bl_x2/out.png) or a file named like a shipped model in the working folder: the
    # network is the shipped one, and so is the digest (the folder stopped rmisr upscale and rmisr info)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rmisr_bl_x2").mkdir()
    (tmp_path / "rmisr_bl_x3").write_bytes(b"not these weights")
    assert Upscaler(2, model="rmisr_bl_x2").weights_sha256 == _file_sha256(pretrained_path("rmisr_bl_x2"))
    assert Upscaler(3, model="auto").weights_sha256 == _file_sha256(pretrained_path("rmisr_bl_x3"))
    # load_checkpoint (the bundle's inference.json, through load_checkpoint_and_digest) by the same rule: it loaded
    # a file of the registry name in the working folder, while the digest was the shipped file's
    from monai_rmisr.inference import load_checkpoint_and_digest, load_pretrained

    (tmp_path / "rmisr_bl_x2").rmdir()
    shutil.copy(pretrained_path("rmisr_bl_x3"), tmp_path / "rmisr_bl_x2")
    network, digest = load_checkpoint_and_digest("rmisr_bl_x2")
    assert digest == _file_sha256(pretrained_path("rmisr_bl_x2"))
    shipped = load_pretrained("rmisr_bl_x2").state_dict()
    assert all(torch.equal(value, shipped[key]) for key, value in network.state_dict().items())


def test_a_network_loaded_elsewhere_records_the_digest_it_is_given(tmp_path):
    # the MONAI Label app keeps resolve_model's network (on the CPU a rewritten copy, other tensors) and gives the
    # file's digest; without one, a module records its own state dict's
    network = resolve_model("rmisr_bl_x2", 2)[0]
    given = Upscaler(2, model=network, weights_sha256=weights_sha256("rmisr_bl_x2"))
    assert given.derivation["weights_sha256"] == _file_sha256(pretrained_path("rmisr_bl_x2"))
    assert Upscaler(2, model=network).weights_sha256 == weights_sha256(network)
    assert Upscaler(2, model="bicubic", weights_sha256="0" * 64).weights_sha256 is None


def test_a_modules_digest_follows_its_weights():
    network = small_rmisr()
    twin = small_rmisr()
    twin.load_state_dict(network.state_dict())
    assert weights_sha256(network) == weights_sha256(twin) and len(weights_sha256(network)) == 64
    with torch.no_grad():
        next(twin.parameters()).view(-1)[0] += 1e-6
    assert weights_sha256(network) != weights_sha256(twin)


def test_dicom_output_names_the_package_as_processing_equipment_after_the_sources_equipment(tmp_path):
    source = pydicom.dcmread(dicom_testdata("CT_small.dcm"))
    theirs = Dataset()
    theirs.Manufacturer = "Some PACS vendor"
    theirs.ContributionDescription = "anonymised"
    source.ContributingEquipmentSequence = Sequence([theirs])
    source.save_as(tmp_path / "ct.dcm")
    upscaler = Upscaler(2, model="rmisr_bl_x2")
    upscaler.file(tmp_path / "ct.dcm", tmp_path / "out.dcm")
    ds = pydicom.dcmread(tmp_path / "out.dcm")
    first, ours = ds.ContributingEquipmentSequence
    assert first.Manufacturer == "Some PACS vendor" and first.ContributionDescription == "anonymised"
    code = ours.PurposeOfReferenceCodeSequence[0]
    assert (code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning) == ("109102", "DCM", "Processing Equipment")
    assert ours.Manufacturer == "monai-rmisr" and ours.ManufacturerModelName == "rmisr_bl_x2"
    assert ours.SoftwareVersions == __version__ and len(ours.ContributionDateTime) == 14
    description = derivation_description({"derivation": upscaler.derivation})
    assert ours.ContributionDescription == description and ds.DerivationDescription.endswith(description)
    assert f"(weights SHA-256 {_file_sha256(pretrained_path('rmisr_bl_x2'))})" in description
    assert len(pydicom.dcmread(tmp_path / "ct.dcm").ContributingEquipmentSequence) == 1  # the source as it was


def test_png_and_nifti_outputs_name_the_weights(tmp_path):
    digest = _file_sha256(pretrained_path("rmisr_bl_x2"))
    pixels = (np.random.default_rng(0).random((24, 20)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "in.png")
    upscaler = Upscaler(2, model="rmisr_bl_x2")
    upscaler.file(tmp_path / "in.png", tmp_path / "out.png")
    with Image.open(tmp_path / "out.png") as out:
        assert out.info["Description"] == f"SR x2 monai-rmisr {__version__} rmisr_bl_x2 weights SHA-256 {digest}"
    nib.save(nib.Nifti1Image(pixels.astype(np.int16)[..., None], np.eye(4)), tmp_path / "in.nii.gz")
    upscaler.file(tmp_path / "in.nii.gz", tmp_path / "out.nii.gz")
    descrip = nib.load(tmp_path / "out.nii.gz").header["descrip"].item().decode()
    assert descrip == f"SR x2 monai-rmisr {__version__} rmisr_bl_x2 weights SHA-256 {digest[:12]}"  # 80 bytes at most
    # a long checkpoint name is shortened, not the digest
    (tmp_path / "runs").mkdir()
    long_name = tmp_path / "runs" / "rmisr_bl_x2.pt"
    shutil.copy(pretrained_path("rmisr_bl_x2"), long_name)
    named = Upscaler(2, model=long_name, model_name="checkpoint_iteration=120000_of_a_long_run.pt")
    named.file(tmp_path / "in.nii.gz", tmp_path / "named.nii.gz")
    descrip = nib.load(tmp_path / "named.nii.gz").header["descrip"].item().decode()
    assert len(descrip) == 80 and descrip.endswith(f"... weights SHA-256 {digest[:12]}"), descrip
    assert descrip.startswith(f"SR x2 monai-rmisr {__version__} checkpoint_iteration=")


def test_weights_that_change_while_they_are_loaded_are_refused(tmp_path, monkeypatch, capsys):
    # the digest was taken after the network was loaded: a run saving its model.pt in between gave outputs the
    # digest of other weights than those that made them. The file is hashed before and after it is loaded now.
    resolving = importlib.import_module("monai_rmisr.inference.super_resolve")  # (the package names the function)

    (tmp_path / "mine").mkdir()
    path = shutil.copy(pretrained_path("rmisr_bl_x2"), tmp_path / "mine" / "rmisr_bl_x2.pt")
    load = resolving.load_checkpoint

    def load_while_a_run_saves(checkpoint, *args, **kwargs):
        network = load(checkpoint, *args, **kwargs)
        with open(path, "ab") as stream:  # the file is rewritten after it was read
            stream.write(b"\0")
        return network

    monkeypatch.setattr(resolving, "load_checkpoint", load_while_a_run_saves)
    with pytest.raises(WeightsChangedError, match=r"rmisr_bl_x2.pt' changed while it was loaded"):
        Upscaler(2, model=path)
    # a failure of the run, not a bad argument: exit 1, one line
    from monai_rmisr.__main__ import main

    source = str(dicom_testdata("CT_small.dcm"))
    assert main(["upscale", source, "-o", str(tmp_path / "out.dcm"), "--scale", "2", "--model", str(path), "-q"]) == 1
    assert "changed while it was loaded" in capsys.readouterr().err and not (tmp_path / "out.dcm").exists()
    monkeypatch.setattr(resolving, "load_checkpoint", load)
    assert Upscaler(2, model=path).derivation["weights_sha256"] == _file_sha256(path)
    # the bundle's inference.json loads its network with load_checkpoint_and_digest, the same rule
    pretrained = importlib.import_module("monai_rmisr.inference.pretrained")
    monkeypatch.setattr(pretrained, "load_checkpoint", load_while_a_run_saves)
    with pytest.raises(WeightsChangedError, match=r"rmisr_bl_x2.pt' changed while it was loaded"):
        pretrained.load_checkpoint_and_digest(path)
    monkeypatch.setattr(pretrained, "load_checkpoint", load)
    network, digest = pretrained.load_checkpoint_and_digest(path)
    assert digest == _file_sha256(path) and isinstance(network, torch.nn.Module)
