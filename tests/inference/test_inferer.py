"""``SuperResolutionInferer``: a MONAI ``Inferer`` over ``super_resolve``, and the bundle root of a running config."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import MetaTensor, decollate_batch, list_data_collate
from monai.inferers import Inferer
from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged, SaveImage, ScaleIntensityd

from monai_rmisr.config import default_bundle_root
from monai_rmisr.inference import SuperResolutionInferer, load_pretrained, super_resolve

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def network() -> torch.nn.Module:
    return load_pretrained("rmisr_bl_x2")


def test_a_batch_is_each_image_super_resolved(network):
    images = torch.rand(2, 1, 24, 20)
    inferer = SuperResolutionInferer(2)
    assert isinstance(inferer, Inferer)
    result = inferer(images, network)
    assert result.shape == (2, 1, 48, 40) and float(result.min()) >= 0.0 and float(result.max()) <= 1.0
    for image, sr in zip(images, result):
        assert torch.equal(sr, super_resolve(image, 2, model=network))


def test_a_collated_batch_keeps_each_images_metadata(network, tmp_path):
    # a batch of MetaTensors (MONAI's list_data_collate) came back stacked with the first image's metadata and
    # "not a batch": SaveImaged then failed in an evaluator, and every prediction named the first input
    files = []
    for i, spacing in enumerate([(0.7, 0.5), (1.0, 2.0)]):
        files.append(tmp_path / f"lr{i}.nii.gz")
        nib.save(nib.Nifti1Image(np.random.rand(32, 24).astype(np.float32), np.diag([*spacing, 1, 1])), files[-1])
    loading = Compose([LoadImaged("lr"), EnsureChannelFirstd("lr"), ScaleIntensityd("lr")])
    batch = list_data_collate([loading({"lr": str(f)}) for f in files])
    result = SuperResolutionInferer(2)(batch["lr"], network)
    assert isinstance(result, MetaTensor) and result.is_batch and result.shape == (2, 1, 64, 48)
    items = decollate_batch({"pred": result})
    assert [Path(item["pred"].meta["filename_or_obj"]).name for item in items] == ["lr0.nii.gz", "lr1.nii.gz"]
    for item, spacing in zip(items, [(0.35, 0.25), (0.5, 1.0)]):
        assert item["pred"].pixdim.tolist()[:2] == pytest.approx(spacing)  # MONAI 1.4 lists a third, 1.0
    SaveImage(output_dir=tmp_path / "out", output_postfix="sr", separate_folder=False)(items[1]["pred"])
    assert nib.load(tmp_path / "out" / "lr1_sr.nii.gz").header.get_zooms()[:2] == pytest.approx((0.5, 1.0))


def test_a_batch_of_volumes_is_super_resolved_in_plane_and_saved_with_its_slice_spacing(network, tmp_path):
    # a MONAI pipeline on a thick-slice NIfTI volume: each slice in-plane, the slices and their spacing kept
    nib.save(
        nib.Nifti1Image(np.random.rand(24, 20, 3).astype(np.float32), np.diag([0.7, 0.5, 3.0, 1])),
        tmp_path / "ct.nii.gz",
    )
    loading = Compose([LoadImaged("lr"), EnsureChannelFirstd("lr"), ScaleIntensityd("lr")])
    batch = list_data_collate([loading({"lr": str(tmp_path / "ct.nii.gz")})])
    assert batch["lr"].shape == (1, 1, 24, 20, 3)
    result = SuperResolutionInferer(2)(batch["lr"], network)
    assert isinstance(result, MetaTensor) and result.shape == (1, 1, 48, 40, 3)
    for d in range(3):
        assert torch.equal(
            result[0, ..., d].as_tensor(), super_resolve(batch["lr"][0, ..., d].as_tensor(), 2, model=network)
        )
    (item,) = decollate_batch({"pred": result})
    SaveImage(output_dir=tmp_path / "out", output_postfix="sr", separate_folder=False)(item["pred"])
    saved = nib.load(tmp_path / "out" / "ct_sr.nii.gz")
    assert saved.shape == (48, 40, 3) and saved.header.get_zooms() == pytest.approx((0.35, 0.25, 3.0))


def test_tiles_and_self_ensemble_are_passed_on(network):
    image = torch.rand(1, 1, 80, 72)
    tiled = SuperResolutionInferer(2, tile=64)(image, network)
    assert torch.equal(tiled[0], super_resolve(image[0], 2, model=network, tile=64))
    assert not torch.equal(tiled, SuperResolutionInferer(2, tile=None)(image, network))
    ensemble = SuperResolutionInferer(2, self_ensemble=True)(image, network)
    assert torch.equal(ensemble[0], super_resolve(image[0], 2, model=network, self_ensemble=True))


def test_settings_are_checked_where_super_resolve_takes_them(network):
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        SuperResolutionInferer(2)(torch.rand(1, 24, 20), network)
    with pytest.raises(ValueError, match="scale"):
        SuperResolutionInferer(3)(torch.rand(1, 1, 24, 20), network)  # the x2 network
    with pytest.raises(ValueError, match=r"tile must be 'auto', an integer >= 64"):
        SuperResolutionInferer(2, tile=32)  # when it is made, not at its first call


def test_default_bundle_root_outside_a_running_workflow(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Path(default_bundle_root()) == ROOT / "bundles" / "rmisr"  # the checkout this package comes from
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "metadata.json").write_text("{}")
    assert default_bundle_root() == "."  # the current folder, when it is a bundle
