"""Bundle configs reach every network by name once ``monai_rmisr`` is imported."""

import pytest
import torch
from monai.bundle import ConfigParser

import monai_rmisr
from monai_rmisr import networks

NETWORK_NAMES = list(networks.nets.__all__)


@pytest.mark.parametrize("name", NETWORK_NAMES)
def test_target_resolves_by_bare_name(name):
    parser = ConfigParser(
        {
            "imports": ["$import monai_rmisr"],
            "network_def": {"_target_": name, "spatial_dims": 2, "in_channels": 1, "scale": 2},
        }
    )
    net = parser.get_parsed_content("network_def")
    assert type(net) is getattr(networks.nets, name)
    assert net(torch.rand(1, 1, 12, 12)).shape == (1, 1, 24, 24)


def test_config_arguments_reach_the_network():
    parser = ConfigParser(
        {
            "imports": ["$import monai_rmisr"],
            "net": {"_target_": "RMISR", "in_channels": 3, "scale": 3, "num_blocks": 2, "upsampler": "subpixel"},
        }
    )
    net = parser.get_parsed_content("net")
    assert len(net.trunk.blocks) == 2
    assert net(torch.rand(1, 3, 4, 4)).shape == (1, 3, 12, 12)


def test_public_names_do_not_clash_with_monai():
    import monai.networks.blocks
    import monai.networks.nets
    import monai.transforms

    monai_names = set(dir(monai.networks.nets)) | set(dir(monai.networks.blocks)) | set(dir(monai.transforms))
    assert not (set(monai_rmisr.__all__) & monai_names)
    assert not (set(networks.__all__) & monai_names)
