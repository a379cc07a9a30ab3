"""A training run stopped by Ctrl-C says how to go on (InterruptedRunHandler), instead of two tracebacks."""

import logging
import signal

import pytest
import torch
from ignite.engine import Engine

import monai_rmisr.config
import monai_rmisr.engines.handlers
from monai_rmisr.engines import InterruptedRunHandler


@pytest.fixture
def bundle_cli(monkeypatch):
    """As under ``python -m monai.bundle``: Ctrl-C is one line and exit 130 there, Python's elsewhere."""
    monkeypatch.setattr(monai_rmisr.config, "bundle_cli_process", lambda: True)
    monkeypatch.setattr(monai_rmisr.engines.handlers, "bundle_cli_process", lambda: True)
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in handlers.items():  # pytest's process gets its own back
        signal.signal(number, handler)


def _engine_failing_at(iteration: int, error: BaseException) -> Engine:
    def step(engine, batch):
        if engine.state.iteration == iteration:
            raise error

    return Engine(step)


def test_ctrl_c_names_the_checkpoint_to_resume_from_and_exits_130(tmp_path, caplog, bundle_cli):
    torch.save({"network": {}}, tmp_path / "checkpoint_epoch=1.pt")
    engine = _engine_failing_at(5, KeyboardInterrupt())
    InterruptedRunHandler(tmp_path).attach(engine)
    with caplog.at_level(logging.ERROR, logger="monai_rmisr"), pytest.raises(SystemExit) as stopped:
        engine.run([0, 1, 2], max_epochs=3)
    assert stopped.value.code == 130
    said = caplog.text
    assert "training stopped by Ctrl-C in epoch 2 (iteration 5)" in said
    assert f"its newest checkpoint is {tmp_path / 'checkpoint_epoch=1.pt'}: add --resume true" in said
    assert "(epoch 2 runs again from its start)" in said
    caplog.clear()
    validator = _engine_failing_at(2, KeyboardInterrupt())  # before MONAI's StatsHandler, which logs a traceback
    InterruptedRunHandler(tmp_path, validating=True).attach(validator)
    with caplog.at_level(logging.ERROR, logger="monai_rmisr"), pytest.raises(SystemExit):
        validator.run([0, 1, 2], max_epochs=1)
    assert "training stopped by Ctrl-C while validating epoch 1; its newest checkpoint is" in caplog.text


def test_ctrl_c_before_any_checkpoint_and_other_errors(tmp_path, caplog, bundle_cli):
    engine = _engine_failing_at(1, KeyboardInterrupt())
    InterruptedRunHandler(tmp_path / "checkpoints").attach(engine)  # not made yet
    with caplog.at_level(logging.ERROR, logger="monai_rmisr"), pytest.raises(SystemExit):
        engine.run([0, 1], max_epochs=1)
    assert "it has saved no checkpoint yet: run the command again to start it" in caplog.text
    engine = _engine_failing_at(1, RuntimeError("out of memory"))
    InterruptedRunHandler(tmp_path).attach(engine)
    with pytest.raises(RuntimeError, match="out of memory"):  # anything else goes on as before
        engine.run([0, 1], max_epochs=1)


def test_the_bundle_attaches_it_to_the_trainer():
    import json
    from pathlib import Path

    config = json.loads((Path(__file__).resolve().parents[2] / "bundles/rmisr/configs/train.json").read_text())
    handlers = [handler["_target_"] for handler in config["train"]["handlers"]]
    assert "monai_rmisr.engines.InterruptedRunHandler" in handlers
    first = config["validate"]["handlers"][0]  # ahead of StatsHandler, whose traceback it spares
    assert first["_target_"] == "monai_rmisr.engines.InterruptedRunHandler" and first["validating"] is True


def test_ctrl_c_before_the_trainer_starts_is_one_line_and_exit_130(tmp_path, caplog, bundle_cli):
    # the preflight reads the data set's images and the run builds its engines: a Ctrl-C then printed MONAI's and
    # Python's tracebacks
    import os
    import signal

    from monai_rmisr.config import exit_on_ctrl_c

    signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's own (pytest's runs have their own)
    exit_on_ctrl_c("training")
    with caplog.at_level(logging.ERROR, logger="monai_rmisr"), pytest.raises(SystemExit) as stopped:
        os.kill(os.getpid(), signal.SIGINT)
    assert stopped.value.code == 130
    assert "training stopped by Ctrl-C before its first iteration" in caplog.text
    assert "run the same command again to start it" in caplog.text
    # once the trainer starts, Ctrl-C is its InterruptedRunHandler's (a KeyboardInterrupt), naming the checkpoint
    caplog.clear()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    exit_on_ctrl_c("training")

    def step(engine, batch):
        if engine.state.iteration == 2:
            os.kill(os.getpid(), signal.SIGINT)

    engine = Engine(step)
    InterruptedRunHandler(tmp_path).attach(engine)
    with caplog.at_level(logging.ERROR, logger="monai_rmisr"), pytest.raises(SystemExit):
        engine.run([0, 1, 2], max_epochs=1)
    assert "training stopped by Ctrl-C in epoch 1 (iteration 2)" in caplog.text
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # exit_on_ctrl_c took SIGTERM too: pytest's process gets it back
    with pytest.raises(ValueError, match="run must be one of training, inference, evaluation, got 'train'"):
        exit_on_ctrl_c("train")


def test_sigterm_ends_a_run_as_ctrl_c_does_with_exit_143(tmp_path, caplog, bundle_cli):
    # kill, timeout, a job scheduler's cancel: the run ended with exit 143 and not a word of its checkpoint
    import os
    import signal

    from monai_rmisr.config import exit_on_ctrl_c

    torch.save({"network": {}}, tmp_path / "checkpoint_epoch=1.pt")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    try:
        exit_on_ctrl_c("training")
        with caplog.at_level(logging.ERROR, logger="monai_rmisr"), pytest.raises(SystemExit) as stopped:
            os.kill(os.getpid(), signal.SIGTERM)  # before the trainer starts
        assert stopped.value.code == 143
        assert "training stopped by SIGTERM before its first iteration" in caplog.text
        caplog.clear()
        exit_on_ctrl_c("training")

        def step(engine, batch):
            if engine.state.iteration == 5:
                os.kill(os.getpid(), signal.SIGTERM)

        engine = Engine(step)
        InterruptedRunHandler(tmp_path).attach(engine)
        with caplog.at_level(logging.ERROR, logger="monai_rmisr"), pytest.raises(SystemExit) as stopped:
            engine.run([0, 1, 2], max_epochs=3)
        assert stopped.value.code == 143
        assert "training stopped by SIGTERM in epoch 2 (iteration 5); its newest checkpoint is" in caplog.text
        assert "add --resume true to the same command to go on" in caplog.text
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # a SIGTERM handler of the program's own is left as it is
    own = lambda signum, frame: None  # noqa: E731
    signal.signal(signal.SIGTERM, own)
    try:
        exit_on_ctrl_c("training")
        assert signal.getsignal(signal.SIGTERM) is own
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def test_an_ignored_ctrl_c_stays_ignored(bundle_cli):
    # a background job of a non-interactive shell starts with SIGINT ignored: a signal to its group must not stop it
    import signal

    from monai_rmisr.config import exit_on_ctrl_c, hand_ctrl_c_to_python

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_on_ctrl_c("inference")
    hand_ctrl_c_to_python()
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_outside_the_command_line_ctrl_c_stays_pythons(tmp_path, caplog):
    # a script, a notebook or a REPL that runs a bundle config: the handler stayed after the run (a later Ctrl-C at
    # the REPL's prompt quit it), and the trainer's Ctrl-C was a SystemExit no `except KeyboardInterrupt` catches
    import signal

    from monai_rmisr.config import bundle_cli_process, exit_on_ctrl_c

    assert not bundle_cli_process()  # pytest's process
    before = signal.getsignal(signal.SIGINT)
    exit_on_ctrl_c("inference")
    assert signal.getsignal(signal.SIGINT) is before
    engine = _engine_failing_at(1, KeyboardInterrupt())
    InterruptedRunHandler(tmp_path).attach(engine)
    with caplog.at_level(logging.ERROR, logger="monai_rmisr"), pytest.raises(KeyboardInterrupt):
        engine.run([0, 1], max_epochs=1)
    assert "training stopped by Ctrl-C in epoch 1" in caplog.text  # the line still says how to go on


def test_every_bundle_run_hands_ctrl_c_over_from_its_first_step():
    # inference.json and evaluate.json printed MONAI's and Python's tracebacks (about 100 lines) on a Ctrl-C
    import json
    from pathlib import Path

    configs = Path(__file__).resolve().parents[2] / "bundles/rmisr/configs"
    runs = {"train.json": "training", "multi_gpu_train.json": "training"}
    runs |= {"inference.json": "inference", "evaluate.json": "evaluation"}
    for name, run in runs.items():
        first = json.loads((configs / name).read_text())["initialize"][0]
        assert first == f"$monai_rmisr.config.exit_on_ctrl_c('{run}')", name
