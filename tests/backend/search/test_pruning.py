"""The pruner asked as epochs arrive (backend/search/pruning.py), on a real database and Redis."""

import redis

from backend.channels import cancel_key
from backend.search.coordinator import load_study
from backend.search.pruning import report_epoch, tell_grid_run
from backend.settings import get_settings
from tests.backend.helpers import make_experiment, set_run


def epochs(values, name="val_accuracy"):
    return [{"name": name, "axis": "epoch", "x": x, "value": v} for x, v in enumerate(values)]


def stop_value(run_id):
    value = redis.Redis.from_url(get_settings().REDIS_URL).get(cancel_key(run_id))
    return value.decode() if value else None


def test_a_grid_run_below_the_median_of_finished_runs_is_asked_to_stop_with_the_reason(client):
    experiment = make_experiment(client, grid={"training.seed": [1, 2, 3, 4]},
                                 pruner={"name": "median", "n_startup_trials": 2, "n_warmup_steps": 0})  # fmt: skip
    ids = [run["id"] for run in experiment["runs"]]
    for run_id, curve in zip(ids[:3], ([0.5, 0.7, 0.8], [0.6, 0.75, 0.85], [0.55, 0.8, 0.9]), strict=True):
        assert report_epoch(run_id, epochs(curve)) is None, "too few finished runs to prune"
        set_run(run_id, state="completed")
        tell_grid_run(run_id)
    assert [t.state.name for t in load_study(experiment["id"]).get_trials()] == ["COMPLETE"] * 3
    assert report_epoch(ids[3], epochs([0.58])) is None, "above the median 0.55 at epoch 1"
    reason = report_epoch(ids[3], epochs([0.58, 0.5]))
    assert reason == "val_accuracy 0.580 at epoch 2 is below the median 0.750 of 3 runs at that epoch"
    assert stop_value(ids[3]) == "prune:" + reason


def test_a_search_pruned_on_another_direction_than_its_objective_reports_the_right_sign(client):
    search = {"method": "random", "trials": 4, "parallel": 3, "seed": 1,
              "objective": {"metric": "final_val_loss", "direction": "minimize"},
              "space": {"regularization.dropout": {"uniform": [0, 0.5]}}}  # fmt: skip
    experiment = make_experiment(client, search=search, pruner={"name": "median", "metric": "val_accuracy",
                                                                "n_startup_trials": 1, "n_warmup_steps": 0})  # fmt: skip
    first, second, third = (run["id"] for run in experiment["runs"])
    report_epoch(first, epochs([0.8, 0.9]))
    set_run(first, state="completed", summary={"final_val_loss": 0.3})
    from backend.search.coordinator import step_study

    step_study(experiment["id"])
    assert report_epoch(second, epochs([0.85, 0.95])) is None, "better accuracy than the finished run"
    reason = report_epoch(third, epochs([0.3]))
    assert reason is not None and "val_accuracy 0.300 at epoch 1 is below the median 0.800 of 1 runs" in reason
