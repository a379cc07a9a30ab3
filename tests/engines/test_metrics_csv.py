import csv

from ignite.engine import Engine, Events

from monai_rmisr.engines import MetricsCSVHandler


def _evaluator(scores):
    """An evaluator as MONAI's: a key metric, best_metric_epoch -1 until a score is kept, greater is better."""
    evaluator = Engine(lambda engine, batch: None)
    evaluator.state.key_metric_name, evaluator.state.best_metric, evaluator.state.best_metric_epoch = "val_psnr", -1, -1
    evaluator.metric_cmp_fn = lambda current, best: current > best
    new_bests = []

    @evaluator.on(Events.EPOCH_COMPLETED)
    def keep_best(engine):  # MONAI's Workflow._compare_metrics, reduced
        score = scores.pop(0)
        if engine.state.best_metric_epoch == -1 or engine.metric_cmp_fn(score, engine.state.best_metric):
            engine.state.best_metric, engine.state.best_metric_epoch = score, 99
            new_bests.append(score)

    return evaluator, new_bests


def test_a_resumed_run_knows_its_best_score(tmp_path):
    with open(tmp_path / "metrics.csv", "w", newline="") as f:  # what the first part of the run wrote
        writer = csv.DictWriter(f, fieldnames=["epoch", "iteration", "val_psnr"])
        writer.writeheader()
        writer.writerows(
            [{"epoch": 1, "iteration": 2, "val_psnr": 29.44}, {"epoch": 2, "iteration": 4, "val_psnr": 28.1}]
        )
    evaluator, new_bests = _evaluator([25.24, 30.0])
    MetricsCSVHandler(tmp_path, evaluator=evaluator).attach(Engine(lambda engine, batch: None))
    evaluator.run([0])
    assert (evaluator.state.best_metric, evaluator.state.best_metric_epoch) == (29.44, 1) and new_bests == []
    evaluator.run([0])
    assert new_bests == [30.0]  # a real improvement is still one


def test_a_fresh_run_starts_without_a_best(tmp_path):
    evaluator, new_bests = _evaluator([25.0])
    MetricsCSVHandler(tmp_path, evaluator=evaluator).attach(Engine(lambda engine, batch: None))
    evaluator.run([0])
    assert new_bests == [25.0]


def _run(tmp_path, epochs, val_interval, scores, resume_from=0, initial=False):
    """A trainer of two iterations per epoch whose evaluator scores every ``val_interval`` epochs (after the
    epoch, before the row, as the bundle's ValidationHandler does); ``resume_from`` completed epochs loaded."""
    evaluator = Engine(lambda engine, batch: None)
    evaluator.state.key_metric_name = "val_psnr"  # as MONAI's evaluators have it from their construction
    scores = list(scores)

    @evaluator.on(Events.EPOCH_COMPLETED)
    def score(engine):
        engine.state.metrics = {"val_psnr": scores.pop(0)}

    trainer = Engine(lambda engine, batch: {"loss": 1.0})
    if initial:
        trainer.add_event_handler(Events.EPOCH_STARTED(once=1), lambda engine: evaluator.run([0]))
    trainer.add_event_handler(Events.EPOCH_COMPLETED(every=val_interval), lambda engine: evaluator.run([0]))
    MetricsCSVHandler(tmp_path, evaluator=evaluator).attach(trainer)
    if resume_from:
        trainer.state.epoch, trainer.state.iteration, trainer.state.epoch_length = resume_from, 2 * resume_from, 2
        trainer.state.max_epochs = epochs
    trainer.run([0, 1], max_epochs=epochs)
    with open(tmp_path / "metrics.csv", newline="") as f:
        return list(csv.reader(f))


def test_epochs_not_validated_leave_the_scores_empty_and_every_row_has_the_header_columns(tmp_path):
    rows = _run(tmp_path, epochs=3, val_interval=2, scores=[31.5])
    assert rows[0] == ["epoch", "iteration", "seconds", "lr", "loss", "val_psnr"]
    assert all(len(row) == len(rows[0]) for row in rows)
    assert [(row[0], row[-1]) for row in rows[1:]] == [("1", ""), ("2", "31.5"), ("3", "")]


def test_the_starting_weights_score_is_epoch_0_and_not_repeated(tmp_path):
    rows = _run(tmp_path, epochs=2, val_interval=2, scores=[30.0, 31.0], initial=True)
    assert [(row[0], row[-1]) for row in rows[1:]] == [("0", "30.0"), ("1", ""), ("2", "31.0")]


def test_a_resumed_run_drops_the_rows_of_the_epochs_it_runs_again(tmp_path):
    _run(tmp_path, epochs=3, val_interval=1, scores=[30.0, 31.0, 32.0])  # then killed before epoch 3's checkpoint
    rows = _run(tmp_path, epochs=4, val_interval=1, scores=[32.5, 33.0], resume_from=2)
    assert [(row[0], row[-1]) for row in rows[1:]] == [("1", "30.0"), ("2", "31.0"), ("3", "32.5"), ("4", "33.0")]


def test_a_file_of_rows_longer_than_its_header_keeps_every_score_on_resume(tmp_path):
    """Before bundle 0.34.0 a run with --val_interval 2 wrote a header without score columns and validated rows
    with the scores after it: a resumed run rewrites the file and keeps them, under the key metric's name."""
    (tmp_path / "metrics.csv").write_text("epoch,iteration,seconds,lr,loss\n1,2,0.1,1.0,0.5\n2,4,0.1,1.0,0.4,31.0\n")
    rows = _run(tmp_path, epochs=3, val_interval=1, scores=[32.0], resume_from=2)
    assert rows[0] == ["epoch", "iteration", "seconds", "lr", "loss", "val_psnr"]
    assert [(row[0], row[-1]) for row in rows[1:]] == [("1", ""), ("2", "31.0"), ("3", "32.0")]
