"""``SuperResolutionInferer``: a MONAI ``Inferer`` over ``super_resolve``, and the bundle root of a running config."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from monai.inferers import Inferer

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


def test_tiles_and_self_ensemble_are_passed_on(network):
    image = torch.rand(1, 1, 40, 36)
    tiled = SuperResolutionInferer(2, tile=16)(image, network)
    assert torch.equal(tiled[0], super_resolve(image[0], 2, model=network, tile=16))
    assert not torch.equal(tiled, SuperResolutionInferer(2, tile=None)(image, network))
    ensemble = SuperResolutionInferer(2, self_ensemble=True)(image, network)
    assert torch.equal(ensemble[0], super_resolve(image[0], 2, model=network, self_ensemble=True))


def test_settings_are_checked_where_super_resolve_takes_them(network):
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        SuperResolutionInferer(2)(torch.rand(1, 24, 20), network)
    with pytest.raises(ValueError, match="scale"):
        SuperResolutionInferer(3)(torch.rand(1, 1, 24, 20), network)  # the x2 network
    with pytest.raises(ValueError, match="tile"):
        SuperResolutionInferer(2, tile=4)(torch.rand(1, 1, 24, 20), network)


def test_default_bundle_root_outside_a_running_workflow(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Path(default_bundle_root()) == ROOT / "bundles" / "rmisr"  # the checkout this package comes from
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "metadata.json").write_text("{}")
    assert default_bundle_root() == "."  # the current folder, when it is a bundle
