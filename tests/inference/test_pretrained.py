"""The pretrained-model registry: names, weights lookup, loading and its error messages."""

import json
import pickle
import re
from pathlib import Path

import pytest
import torch

import monai_rmisr
from monai_rmisr import RMISR, RMISRVP
from monai_rmisr.inference import (
    MODELS_ENV,
    PRETRAINED,
    build_network,
    list_pretrained,
    load_checkpoint,
    load_pretrained,
    load_state_dict,
    models_dir,
    models_search_path,
    pretrained_path,
    save_sidecar,
    untrained_network,
)

NAMES = ["rmisr_bl_x2", "rmisr_bl_x3", "rmisr_bl_x4", "rmisr_vp_x4", "rmisr_meta"]


@pytest.fixture
def models(tmp_path, monkeypatch):
    """An empty weights folder, set as ``$MONAI_RMISR_MODELS``."""
    monkeypatch.setenv(MODELS_ENV, str(tmp_path))
    return tmp_path


def save_stand_in(folder: Path, name: str) -> dict:
    """Save an untrained network of ``name``'s architecture as ``<name>.pt``; return its state dict."""
    entry = PRETRAINED[name]
    state = entry.network(**entry.kwargs).state_dict()
    torch.save(state, folder / f"{name}.pt")
    return state


def test_names_and_registry_entries():
    assert list_pretrained() == NAMES
    for scale in (2, 3, 4):
        entry = PRETRAINED[f"rmisr_bl_x{scale}"]
        assert entry.network is RMISR and entry.scale == scale
        assert entry.kwargs == {"spatial_dims": 2, "in_channels": 1, "scale": scale, "image_residual": True}
    assert PRETRAINED["rmisr_vp_x4"].network is RMISRVP and PRETRAINED["rmisr_vp_x4"].scale == 4
    meta = PRETRAINED["rmisr_meta"]
    assert meta.kwargs["upsampler"] == "meta" and meta.scale is None and meta.max_scale == 8


def test_models_dir_default_and_override(monkeypatch, tmp_path):
    monkeypatch.delenv(MODELS_ENV, raising=False)
    repo = Path(monai_rmisr.__file__).resolve().parents[1]
    assert models_dir() == repo / "bundles" / "rmisr" / "models"
    assert pretrained_path("rmisr_bl_x2") == repo / "bundles" / "rmisr" / "models" / "rmisr_bl_x2.pt"
    monkeypatch.setenv(MODELS_ENV, str(tmp_path))
    assert pretrained_path("rmisr_meta") == tmp_path / "rmisr_meta.pt"


def test_models_lookup_order_env_then_bundle_then_package(monkeypatch, tmp_path):
    # an installed layout: <site>/monai_rmisr/__init__.py, a wheel's copy in <site>/monai_rmisr/models
    site = tmp_path / "site"
    package_models = site / "monai_rmisr" / "models"
    bundle_models = site / "bundles" / "rmisr" / "models"
    monkeypatch.setattr(monai_rmisr, "__file__", str(site / "monai_rmisr" / "__init__.py"))
    monkeypatch.delenv(MODELS_ENV, raising=False)
    assert models_search_path() == [bundle_models, package_models]
    assert models_dir() == package_models  # neither exists: the error names the wheel's folder
    package_models.mkdir(parents=True)
    assert models_dir() == package_models  # a wheel install
    bundle_models.mkdir(parents=True)
    assert models_dir() == bundle_models  # a checkout: the bundle's folder wins over a copy
    override = tmp_path / "mine"  # the variable wins even over a missing folder, so its error names it
    monkeypatch.setenv(MODELS_ENV, str(override))
    assert models_search_path() == [override] and models_dir() == override
    monkeypatch.setenv(MODELS_ENV, "")  # empty means unset
    assert models_dir() == bundle_models


def test_a_wheel_install_loads_the_packaged_weights(monkeypatch, tmp_path):
    site = tmp_path / "site"
    (site / "monai_rmisr" / "models").mkdir(parents=True)
    state = save_stand_in(site / "monai_rmisr" / "models", "rmisr_bl_x2")
    monkeypatch.setattr(monai_rmisr, "__file__", str(site / "monai_rmisr" / "__init__.py"))
    monkeypatch.delenv(MODELS_ENV, raising=False)
    assert list_pretrained(available_only=True) == ["rmisr_bl_x2"]
    loaded = load_pretrained("rmisr_bl_x2").state_dict()
    assert all(torch.equal(loaded[k], state[k]) for k in state)


def test_available_only(models):
    assert list_pretrained(available_only=True) == []
    save_stand_in(models, "rmisr_bl_x3")
    assert list_pretrained(available_only=True) == ["rmisr_bl_x3"]


@pytest.mark.parametrize("call", [load_pretrained, pretrained_path])
def test_unknown_name_lists_known_names(call):
    with pytest.raises(ValueError, match="unknown pretrained model 'rmisr_x2'") as info:
        call("rmisr_x2")
    for name in NAMES:
        assert name in str(info.value)


def test_missing_weights_file_is_a_clear_error(models):
    with pytest.raises(FileNotFoundError) as info:
        load_pretrained("rmisr_bl_x4")
    message = str(info.value)
    assert f"${MODELS_ENV} is set to '{models}', which holds no rmisr_bl_x4.pt" in message


@pytest.mark.parametrize("name", NAMES)
def test_load_pretrained_builds_the_registry_network(models, name):
    state = save_stand_in(models, name)
    network = load_pretrained(name, device="cpu")
    entry = PRETRAINED[name]
    assert type(network) is entry.network and not network.training
    assert network.scale == entry.kwargs["scale"] and network.image_residual
    loaded = network.state_dict()
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    assert all(p.device.type == "cpu" for p in network.parameters())


@pytest.mark.parametrize("key", ["model", "network"])
def test_monai_checkpoint_dicts_are_accepted(models, key):
    state = RMISR(2, 1, scale=2, image_residual=True).state_dict()
    torch.save({key: state, "optimizer": {"lr": torch.tensor(1e-3)}}, models / "rmisr_bl_x2.pt")
    network = load_pretrained("rmisr_bl_x2")
    assert torch.equal(network.trunk.head.weight, state["trunk.head.weight"])


def test_weights_of_another_architecture_are_rejected(models):
    torch.save(RMISR(2, 1, scale=3, image_residual=True).state_dict(), models / "rmisr_bl_x2.pt")
    with pytest.raises(ValueError, match="does not fit the 'rmisr_bl_x2' architecture"):
        load_pretrained("rmisr_bl_x2")


class _Payload:
    """Anything but tensors: ``weights_only=True`` must refuse to unpickle it."""


def test_weights_are_loaded_with_weights_only(models):
    torch.save({"trunk.head.weight": _Payload()}, models / "rmisr_bl_x2.pt")
    with pytest.raises(ValueError, match="not a PyTorch weights file that can be read safely") as err:
        load_pretrained("rmisr_bl_x2")
    assert isinstance(err.value.__cause__, pickle.UnpicklingError)  # refused by torch.load(weights_only=True)
    assert "holds Python objects beyond tensors (tests.inference.test_pretrained._Payload)" in str(err.value)
    assert "weights_only=False" not in str(err.value)  # torch's advice to load it unsafely is not passed on
    # the same in torch.save's format before 1.6 (a plain pickle)
    torch.save({"trunk.head.weight": _Payload()}, models / "rmisr_bl_x2.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(ValueError, match="holds Python objects beyond tensors"):
        load_pretrained("rmisr_bl_x2")


def test_an_image_given_as_weights_is_named_as_no_weights_file(tmp_path):
    from PIL import Image

    Image.new("L", (8, 8)).save(tmp_path / "scan.png")
    with pytest.raises(ValueError) as err:
        load_state_dict(tmp_path / "scan.png")
    assert str(err.value) == (
        f"{tmp_path / 'scan.png'} is not a PyTorch weights file that can be read safely: not a file that torch.save "
        "wrote."
    )


def test_a_checkpoint_with_a_weight_average_loads_the_average(tmp_path):
    trained, averaged = RMISR(2, 1, scale=2, num_blocks=1), RMISR(2, 1, scale=2, num_blocks=1)
    torch.save({"network": trained.state_dict(), "ema": averaged.state_dict()}, tmp_path / "ema.pt")
    torch.save({"network": trained.state_dict(), "ema": {}}, tmp_path / "no_ema.pt")  # a run without --ema_decay
    loaded, plain = load_state_dict(tmp_path / "ema.pt"), load_state_dict(tmp_path / "no_ema.pt")
    assert all(torch.equal(loaded[k], v) for k, v in averaged.state_dict().items())
    assert all(torch.equal(plain[k], v) for k, v in trained.state_dict().items())
    assert not all(torch.equal(loaded[k], plain[k]) for k in plain)


def test_file_without_state_dict(tmp_path):
    torch.save([1, 2, 3], tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="holds no network state dict"):
        load_state_dict(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError, match="checkpoint file not found"):
        load_state_dict(tmp_path / "missing.pt")


def test_a_run_folder_given_as_the_checkpoint_names_its_model_file(tmp_path):
    # "checkpoint file not found: runs/mine" when runs/mine was there: a folder
    from monai_rmisr import super_resolve

    torch.save(RMISR(2, 1, scale=2, num_blocks=1).state_dict(), tmp_path / "model.pt")
    expected = f"checkpoint '{tmp_path}' is a folder, not a file: give its model file, '{tmp_path / 'model.pt'}'."
    for load in (load_state_dict, load_checkpoint):
        with pytest.raises(IsADirectoryError) as failure:
            load(tmp_path)
        assert str(failure.value) == expected
    with pytest.raises(IsADirectoryError, match="is a folder, not a file: give its model file"):
        super_resolve(torch.rand(1, 16, 16), model=str(tmp_path), scale=2)
    (tmp_path / "model.pt").unlink()
    with pytest.raises(IsADirectoryError, match="is a folder, not a file: give a checkpoint file"):
        load_checkpoint(tmp_path)


def test_load_checkpoint_architecture_sources(tmp_path):
    reference = RMISR(2, 1, scale=3, image_residual=True)
    state = reference.state_dict()
    # 1. a sidecar JSON with the constructor call
    torch.save(state, tmp_path / "fine_tuned.pt")
    sidecar = {"_target_": "RMISR", "spatial_dims": 2, "in_channels": 1, "scale": 3, "image_residual": True}
    (tmp_path / "fine_tuned.json").write_text(json.dumps(sidecar))
    network = load_checkpoint(tmp_path / "fine_tuned.pt")
    assert isinstance(network, RMISR) and network.scale == 3 and network.image_residual and not network.training
    # 2. a registry file name
    torch.save(state, tmp_path / "rmisr_bl_x3.pt")
    assert load_checkpoint(tmp_path / "rmisr_bl_x3.pt").scale == 3
    # 3. the network given
    assert load_checkpoint(tmp_path / "rmisr_bl_x3.pt", RMISR(2, 1, scale=3, image_residual=True)).scale == 3
    # none of these: a clear error naming the sidecar it looked for
    torch.save(state, tmp_path / "bare.pt")
    with pytest.raises(ValueError, match=r"cannot tell the architecture of checkpoint .*bare\.json"):
        load_checkpoint(tmp_path / "bare.pt")
    # a file that is no checkpoint, without a sidecar (the bundle's --model junk.pt): named as not a weights file, not
    # asked for a sidecar, which would not help
    (tmp_path / "junk.pt").write_text("not weights")
    with pytest.raises(ValueError, match=r"not a file that torch\.save wrote") as err:
        untrained_network(tmp_path / "junk.pt")
    assert "sidecar" not in str(err.value)
    # a mistyped path (the bundle's --model): says the file is missing, not that a sidecar is
    with pytest.raises(FileNotFoundError, match=r"checkpoint file not found: .*typo\.pt"):
        untrained_network(tmp_path / "typo.pt")
    # a word that is no registry name (the bundle's --model nosuch): the registry's names, not a missing file
    with pytest.raises(ValueError, match=r"unknown model 'nosuch': expected one of rmisr_bl_x2, "):
        untrained_network("nosuch")


def test_sidecar_targets_are_restricted():
    assert isinstance(build_network({"_target_": "monai_rmisr.RMISR", "scale": 2}), RMISR)
    with pytest.raises(ValueError, match=r"'_target_' must name one of the networks .* got 'os\.system'"):
        build_network({"_target_": "os.system", "command": "true"})


def test_save_sidecar_writes_what_load_checkpoint_reads(tmp_path):
    net = RMISR(spatial_dims=2, in_channels=1, scale=3, num_blocks=1)
    torch.save(net.state_dict(), tmp_path / "mine.pt")
    call = {"_target_": "RMISR", "spatial_dims": 2, "in_channels": 1, "scale": 3, "num_blocks": 1}
    assert save_sidecar(tmp_path / "mine.pt", call) == tmp_path / "mine.json"
    assert json.loads((tmp_path / "mine.json").read_text()) == call
    assert load_checkpoint(tmp_path / "mine.pt").scale == 3


@pytest.mark.parametrize(
    "call,message",
    [
        ({"scale": 2}, "a network_def needs a '_target_' class name, got {'scale': 2}."),
        ({"_target_": "RMISR", "scale": torch.tensor(2)}, "cannot be written as JSON"),
    ],
)
def test_save_sidecar_refuses_a_bad_network_def_and_writes_nothing(tmp_path, call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        save_sidecar(tmp_path / "mine.pt", call)
    assert not list(tmp_path.iterdir())


def test_a_missing_weights_file_under_the_models_variable_names_the_variable(monkeypatch, tmp_path):
    # the model is shipped; the folder the variable names lacks it (or does not exist)
    for folder, lacks in ((tmp_path / "mine", "which does not exist"), (tmp_path, "which holds no rmisr_bl_x2.pt")):
        monkeypatch.setenv(MODELS_ENV, str(folder))
        with pytest.raises(FileNotFoundError) as failure:
            load_pretrained("rmisr_bl_x2")
        message = str(failure.value)
        assert f"${MODELS_ENV} is set to '{folder}', {lacks}" in message and "unset" in message


def test_a_sidecar_beside_registry_weights_builds_their_network(models):
    # a run fine-tuned with --image_residual false, copied into $MONAI_RMISR_MODELS as rmisr_bl_x2.pt with its
    # model.json as rmisr_bl_x2.json: the registry's architecture (with the image residual) was built, and the
    # output came out up to half the range off without a word
    run = {"_target_": "RMISR", "spatial_dims": 2, "in_channels": 1, "scale": 2, "image_residual": False}
    torch.save(build_network(run).state_dict(), models / "rmisr_bl_x2.pt")
    (models / "rmisr_bl_x2.json").write_text(json.dumps(run))
    assert load_pretrained("rmisr_bl_x2").image_residual is False
    x = torch.rand(1, 1, 12, 10)
    with torch.no_grad():
        torch.testing.assert_close(load_pretrained("rmisr_bl_x2")(x), load_checkpoint(models / "rmisr_bl_x2.pt")(x))
    # a sidecar of another scale, class or channel count is not what the name promises
    for changed, said in (
        ({"scale": 3}, "scale 3, not 2"),
        ({"_target_": "RMISRVP"}, "_target_ 'RMISRVP', not 'RMISR'"),
        ({"in_channels": 3}, "in_channels 3, not 1"),
    ):
        (models / "rmisr_bl_x2.json").write_text(json.dumps({**run, **changed}))
        with pytest.raises(ValueError, match=re.escape(said)) as caught:
            load_pretrained("rmisr_bl_x2")
        assert f"give the file by its path (--model {models / 'rmisr_bl_x2.pt'})" in str(caught.value)
        for other_reader in (untrained_network, load_checkpoint):  # the bundle's inference.json builds with these
            with pytest.raises(ValueError, match=re.escape(said)):
                other_reader("rmisr_bl_x2")
    # rmisr_meta promises any scale: the scale its run trained at is no promise
    meta = {**PRETRAINED["rmisr_meta"].kwargs, "_target_": "RMISR", "scale": 3.0}
    torch.save(build_network(meta).state_dict(), models / "rmisr_meta.pt")
    (models / "rmisr_meta.json").write_text(json.dumps(meta))
    assert load_pretrained("rmisr_meta").upsampler_kind == "meta"
