"""Averaging the weights of several checkpoints of one run: the function, the CLI and the bundle setting."""

import pytest
import torch
from torch import nn

from monai_rmisr import RMISR
from monai_rmisr.__main__ import main
from monai_rmisr.engines import average_checkpoints

from .bundle_helpers import run_training, training_parser


def _small_net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return RMISR(2, 1, scale=2, num_blocks=1)


def test_the_average_is_the_mean_of_each_tensor_and_loads_into_the_network(tmp_path):
    nets = [_small_net(seed) for seed in range(3)]
    paths = []
    for i, net in enumerate(nets):
        paths.append(tmp_path / f"checkpoint_epoch={i}.pt")
        # a trainer checkpoint (network under "network") and a plain state dict both count
        torch.save({"network": net.state_dict(), "optimizer": {}} if i else net.state_dict(), paths[-1])
    averaged = average_checkpoints(paths)
    for name, value in averaged.items():
        expected = sum(net.state_dict()[name].double() for net in nets) / 3
        assert value.dtype == torch.float32
        torch.testing.assert_close(value, expected.float(), rtol=0, atol=1e-7)
    _small_net(9).load_state_dict(averaged)  # strict: same names and shapes
    assert torch.equal(average_checkpoints(paths[:1])["trunk.head.weight"], nets[0].state_dict()["trunk.head.weight"])


def test_checkpoints_of_different_networks_are_refused_naming_the_file(tmp_path):
    torch.save(_small_net(0).state_dict(), tmp_path / "a.pt")
    torch.save(RMISR(2, 1, scale=3, num_blocks=1).state_dict(), tmp_path / "x3.pt")
    with pytest.raises(ValueError, match=r"x3\.pt does not hold the same network as .*a\.pt"):
        average_checkpoints([tmp_path / "a.pt", tmp_path / "x3.pt"])
    with pytest.raises(ValueError, match="no checkpoints"):
        average_checkpoints([])


def test_integer_tensors_must_agree(tmp_path):
    first, second = nn.BatchNorm2d(2).state_dict(), nn.BatchNorm2d(2).state_dict()
    torch.save(first, tmp_path / "a.pt")
    torch.save(second, tmp_path / "b.pt")
    assert average_checkpoints([tmp_path / "a.pt", tmp_path / "b.pt"])["num_batches_tracked"].item() == 0
    second["num_batches_tracked"] += 5
    torch.save(second, tmp_path / "b.pt")
    with pytest.raises(ValueError, match="'num_batches_tracked' differs"):
        average_checkpoints([tmp_path / "a.pt", tmp_path / "b.pt"])


def test_cli_writes_the_average_and_refuses_to_overwrite_or_half_write(tmp_path, capsys):
    for seed in (0, 1):
        torch.save(_small_net(seed).state_dict(), tmp_path / f"{seed}.pt")
    inputs = [str(tmp_path / "0.pt"), str(tmp_path / "1.pt")]
    output = tmp_path / "averaged.pt"
    assert main(["average-weights", str(output), *inputs]) == 0
    written = torch.load(output, weights_only=True)
    assert all(torch.equal(written[k], v) for k, v in average_checkpoints(inputs).items())

    before = output.read_bytes()
    assert main(["average-weights", str(output), *inputs]) == 2  # exists, no --overwrite
    assert "already exists" in capsys.readouterr().err and output.read_bytes() == before
    assert main(["average-weights", inputs[0], *inputs, "--overwrite"]) == 2  # never over an input
    assert "would overwrite the input" in capsys.readouterr().err

    torch.save(RMISR(2, 1, scale=3, num_blocks=1).state_dict(), tmp_path / "x3.pt")
    assert main(["average-weights", str(tmp_path / "mixed.pt"), inputs[0], str(tmp_path / "x3.pt")]) == 2
    assert "does not hold the same network" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.pt", "1.pt", "averaged.pt", "x3.pt"]


# None is null in a config; "null" is what `--keep_checkpoints null` hands over: both keep all
@pytest.mark.parametrize("keep,first", [(3, 2), (None, 1), ("null", 1)])
def test_keep_checkpoints_sets_how_many_epoch_checkpoints_a_run_keeps(tmp_path, keep, first):
    run_training(training_parser(tmp_path, max_epochs=4, keep_checkpoints=keep))
    kept = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert kept == [f"checkpoint_epoch={epoch}.pt" for epoch in range(first, 5)]
    assert (
        main(["average-weights", str(tmp_path / "swa.pt"), *map(str, sorted((tmp_path / "checkpoints").iterdir()))])
        == 0
    )


def test_the_average_of_a_runs_checkpoints_gets_its_architecture_file_and_loads_with_model(tmp_path, capsys):
    """A run's epoch checkpoints say their architecture through the run's model.json: the average gets a sidecar,
    so `rmisr upscale --model` and load_checkpoint read it (and an epoch checkpoint itself)."""
    import json

    from monai_rmisr.inference import load_checkpoint, network_def_of

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    call = {"_target_": "RMISR", "spatial_dims": 2, "in_channels": 1, "scale": 2, "num_blocks": 1}
    (run / "model.json").write_text(json.dumps(call))
    inputs = []
    for epoch in (1, 2):
        inputs.append(run / "checkpoints" / f"checkpoint_epoch={epoch}.pt")
        torch.save({"network": _small_net(epoch).state_dict(), "optimizer": {}}, inputs[-1])
    assert network_def_of(inputs[0]) == call and network_def_of(tmp_path / "nothing.pt") is None
    output = tmp_path / "swa.pt"
    assert main(["average-weights", str(output), *map(str, inputs)]) == 0
    assert "its architecture in swa.json, so --model reads it" in capsys.readouterr().out
    assert json.loads((tmp_path / "swa.json").read_text()) == call
    averaged = load_checkpoint(output)
    assert all(torch.equal(averaged.state_dict()[k], v) for k, v in average_checkpoints(inputs).items())
    assert isinstance(load_checkpoint(inputs[0]), RMISR)  # an epoch checkpoint as --model
    # checkpoints that say different architectures: refused, nothing written
    other = tmp_path / "other.pt"
    torch.save(_small_net(3).state_dict(), other)
    (tmp_path / "other.json").write_text(json.dumps({**call, "image_residual": True}))
    assert main(["average-weights", str(tmp_path / "mixed.pt"), str(inputs[0]), str(other)]) == 2
    assert "the checkpoints are of different networks" in capsys.readouterr().err
    assert not (tmp_path / "mixed.pt").exists() and not (tmp_path / "mixed.json").exists()
    # --overwrite with checkpoints that say no architecture: the earlier average's architecture file goes
    plain = [tmp_path / "p0.pt", tmp_path / "p1.pt"]
    for seed, path in enumerate(plain):
        torch.save(_small_net(seed).state_dict(), path)
    assert main(["average-weights", str(output), *map(str, plain), "--overwrite"]) == 0
    assert "no checkpoint says its architecture" in capsys.readouterr().out and not (tmp_path / "swa.json").exists()
    # an existing architecture file of the output is not replaced without --overwrite
    (tmp_path / "again.json").write_text("{}")
    assert main(["average-weights", str(tmp_path / "again.pt"), *map(str, inputs)]) == 2
    assert "'again.json', the architecture file of OUTPUT, already exists" in capsys.readouterr().err.replace(
        str(tmp_path) + "/", ""
    )
    # an OUTPUT named like its own architecture file (.json): refused before anything is written (it failed with a
    # raw rename error and left the architecture file at OUTPUT's name)
    assert main(["average-weights", str(tmp_path / "w.json"), *map(str, inputs)]) == 2
    assert "ends in .json, the name its architecture file takes" in capsys.readouterr().err
    assert not (tmp_path / "w.json").exists() and not list(tmp_path.glob(".*w.json"))
