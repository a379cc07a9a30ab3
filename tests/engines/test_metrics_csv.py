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
