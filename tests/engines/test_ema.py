"""WeightEMA: the exponential moving average of the weights a run validates and saves."""

import logging

import pytest
import torch
from ignite.engine import Engine, Events

from monai_rmisr import RMISR
from monai_rmisr.engines import WeightEMA

from .bundle_helpers import run_training, training_parser


def _network() -> torch.nn.Module:
    torch.manual_seed(0)
    return RMISR(2, 1, scale=2, num_blocks=1)


def test_each_iteration_moves_the_average_a_fraction_towards_the_network():
    network = _network()
    start = {k: v.clone() for k, v in network.state_dict().items()}

    def step(engine, batch):  # a training step: the weights move by 1
        with torch.no_grad():
            for p in network.parameters():
                p.add_(1.0)

    trainer = Engine(step)
    ema = WeightEMA(network, decay=0.75)
    ema.attach(trainer)
    trainer.run([0, 0], max_epochs=1)
    # after two steps: 0.75 * (0.75 * w0 + 0.25 * (w0 + 1)) + 0.25 * (w0 + 2) = w0 + 0.6875
    for name, value in ema.averaged.state_dict().items():
        assert torch.allclose(value, start[name] + 0.6875), name
    assert all(not p.requires_grad for p in ema.averaged.parameters()) and not ema.averaged.training


def test_decay_zero_is_off():
    network = _network()
    ema = WeightEMA(network, decay=0)
    assert ema.evaluated is network and ema.averaged is None and ema.state_dict() == {}
    trainer = Engine(lambda engine, batch: None)
    ema.attach(trainer)  # attaches nothing
    assert not trainer.has_event_handler(ema.start, Events.STARTED)
    with pytest.raises(ValueError, match="keeps no weight average"):
        ema.load_state_dict(network.state_dict())


@pytest.mark.parametrize("decay", [1.0, -0.1, 1.5, "abc", True, None])
def test_a_decay_outside_0_1_is_an_error_naming_the_setting(decay):
    with pytest.raises(ValueError, match=r"^--ema_decay must be 0 \(off\) or in \(0, 1\), got "):
        WeightEMA(_network(), decay=decay)


def test_a_run_validates_and_saves_the_average(tmp_path):
    parser = training_parser(tmp_path, max_epochs=2, learning_rate=1e-3, ema_decay=0.5, keep_checkpoints=None)
    run_training(parser)
    network = parser.get_parsed_content("network")
    ema = parser.get_parsed_content("ema")
    assert parser.get_parsed_content("validate#evaluator").network is ema.averaged
    checkpoints = [
        torch.load(tmp_path / "checkpoints" / f"checkpoint_epoch={epoch}.pt", weights_only=True) for epoch in (1, 2)
    ]
    last = checkpoints[-1]
    assert all(torch.equal(last["ema"][k], v) for k, v in ema.averaged.state_dict().items())
    assert all(torch.equal(last["network"][k], v) for k, v in network.state_dict().items())
    assert any(not torch.equal(last["ema"][k], last["network"][k]) for k in last["network"])
    best = torch.load(tmp_path / "model.pt", weights_only=True)  # the best epoch's average
    assert any(all(torch.equal(best[k], c["ema"][k]) for k in best) for c in checkpoints)


def test_a_run_without_ema_saves_the_network_as_before(tmp_path):
    parser = training_parser(tmp_path, max_epochs=1)
    run_training(parser)
    assert parser.get_parsed_content("validate#evaluator").network is parser.get_parsed_content("network")
    assert torch.load(tmp_path / "checkpoints" / "checkpoint_epoch=1.pt", weights_only=True)["ema"] == {}


def test_resume_continues_the_average_exactly(tmp_path):
    straight = training_parser(tmp_path / "straight", max_epochs=4, ema_decay=0.9)
    run_training(straight)
    run_training(training_parser(tmp_path / "resumed", max_epochs=2, ema_decay=0.9))
    second = training_parser(tmp_path / "resumed", max_epochs=4, ema_decay=0.9, resume=True)
    run_training(second)
    expected = straight.get_parsed_content("ema").state_dict()
    got = second.get_parsed_content("ema").state_dict()
    assert all(torch.equal(expected[k], got[k]) for k in expected)


def test_switching_the_average_on_when_resuming_starts_it_from_the_network(tmp_path, caplog):
    run_training(training_parser(tmp_path, max_epochs=1))
    second = training_parser(tmp_path, max_epochs=2, ema_decay=0.9, resume=True)
    with caplog.at_level(logging.WARNING):
        run_training(second)
    assert any("holds no weight average" in r.getMessage() for r in caplog.records)
    saved = torch.load(tmp_path / "checkpoints" / "checkpoint_epoch=2.pt", weights_only=True)
    assert saved["ema"].keys() == saved["network"].keys()


def test_the_average_starts_from_the_initial_weights(tmp_path):
    # not from the network's random initialisation, which the config builds before the weights are loaded
    start = _network()
    for p in start.parameters():
        torch.nn.init.normal_(p, std=0.1)
    torch.save(start.state_dict(), tmp_path / "start.pt")
    parser = training_parser(
        tmp_path / "run", max_epochs=1, epoch_length=1, ema_decay=0.9, init_weights=str(tmp_path / "start.pt")
    )
    run_training(parser)
    trained = parser.get_parsed_content("network").state_dict()
    averaged = parser.get_parsed_content("ema").averaged.state_dict()
    for name, value in start.state_dict().items():
        if value.is_floating_point():
            assert torch.allclose(averaged[name], 0.9 * value + 0.1 * trained[name], atol=1e-6), name
