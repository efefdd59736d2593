"""POST /api/experiments with a search, on SQLite and PostgreSQL: 422s, the first trials, ask and tell."""

from sqlalchemy import select

from backend.db import session_scope
from backend.experiments.models import Experiment
from backend.runs.models import Run
from backend.search.coordinator import load_study, step_study
from tests.backend.helpers import errors_by_field, make_experiment, set_run

SEARCH = {
    "method": "random",
    "trials": 5,
    "parallel": 2,
    "seed": 3,
    "space": {
        "regularization.kernel_l2": {"log_uniform": [1e-6, 1e-1]},
        "regularization.dropout": {"uniform": [0, 0.6]},
        "optimizer.name": {"choice": ["nadam", "sgd"]},
    },
}


def post(client, **search):
    return client.post("/api/experiments", json={"name": "s", "search": {**SEARCH, **search}})


def test_bad_spaces_are_422s_naming_the_field(client, monkeypatch):
    monkeypatch.setenv("REGLAB_MAX_TRIALS_PER_EXPERIMENT", "20")
    from backend.settings import get_settings

    get_settings.cache_clear()
    try:
        assert "not a run spec field" in errors_by_field(post(client, space={"nope.x": {"uniform": [0, 1]}}))["search.space.nope.x"]
        assert "is empty" in errors_by_field(post(client, space={"regularization.dropout": {"uniform": [0.4, 0.1]}}))["search.space.regularization.dropout"]
        assert "above 0" in errors_by_field(post(client, space={"regularization.kernel_l2": {"log_uniform": [0, 1e-2]}}))["search.space.regularization.kernel_l2"]
        assert "≤ 20" in errors_by_field(post(client, trials=21))["search.trials"]
        both = client.post("/api/experiments", json={"name": "s", "search": SEARCH, "grid": {"training.seed": [1, 2]}})
        assert "not both" in errors_by_field(both)["grid"]
    finally:
        get_settings.cache_clear()


def stored_trials(experiment_id: int) -> list[int]:
    with session_scope() as session:
        return sorted(session.scalars(select(Run.trial).where(Run.experiment_id == experiment_id)))


def test_a_search_queues_parallel_trials_then_tells_and_refills(client):
    experiment = make_experiment(client, search=SEARCH)
    runs = experiment["runs"]
    assert len(runs) == 2 and all(r["name"].startswith("trial ") for r in runs)
    assert experiment["search"]["trials"] == 5
    specs = [client.get(f"/api/runs/{r['id']}").json()["spec"] for r in runs]
    for spec in specs:
        assert 1e-6 <= spec["regularization"]["kernel_l2"] <= 1e-1
        assert 0 <= spec["regularization"]["dropout"] <= 0.6
    # After the answer, the next trial was asked ahead: Optuna has it, no run yet.
    assert [t.state.name for t in load_study(experiment["id"]).get_trials()] == ["RUNNING"] * 3
    assert stored_trials(experiment["id"]) == [0, 1]
    assert step_study(experiment["id"]) == [], "no slot is free while both run"
    assert len(load_study(experiment["id"]).get_trials()) == 3, "one trial ahead, not more"

    set_run(runs[0]["id"], state="completed", summary={"best_val_accuracy": 0.8})
    set_run(runs[1]["id"], state="diverged", summary={})
    added = step_study(experiment["id"])
    assert len(added) == 2
    study = load_study(experiment["id"])
    states = [t.state.name for t in study.get_trials()]
    # Trial 2 (asked ahead) and trial 3 got the slots; trial 4 is the next one, asked ahead.
    assert states == ["COMPLETE", "FAIL", "RUNNING", "RUNNING", "RUNNING"]
    assert study.get_trials()[0].value == 0.8
    assert stored_trials(experiment["id"]) == [0, 1, 2, 3]
    # A second step tells nothing twice and asks nothing new: 5 trials is the study's budget.
    assert step_study(experiment["id"]) == []
    assert len(load_study(experiment["id"]).get_trials()) == 5


def test_a_trial_without_runs_gets_them_in_the_next_slot_not_a_new_trial(client):
    experiment = make_experiment(client, search={**SEARCH, "parallel": 1, "replicates": 2})
    first = experiment["runs"]
    assert len(first) == 2 and {r["name"].rsplit("seed=", 1)[1] for r in first} == {"42", "43"}
    for run in first:
        set_run(run["id"], state="completed", summary={"best_val_accuracy": 0.5 if run is first[0] else 0.7})
    # Trial 1 was asked ahead; the API then asked Optuna for trial 2 and died before storing its runs.
    study = load_study(experiment["id"])
    from backend.search.space import distributions
    from backend.search.schemas import SearchIn

    study.ask(distributions(SearchIn.model_validate({**SEARCH, "parallel": 1, "replicates": 2})))
    added = step_study(experiment["id"])
    with session_scope() as session:
        trials = session.scalars(select(Run.trial).where(Run.id.in_(added))).all()
    assert trials == [1, 1]
    study = load_study(experiment["id"])
    assert [t.state.name for t in study.get_trials()] == ["COMPLETE", "RUNNING", "RUNNING"], "nothing asked"
    assert study.get_trials()[0].value == 0.6
    for run_id in added:
        set_run(run_id, state="completed", summary={"best_val_accuracy": 0.9})
    added = step_study(experiment["id"])
    with session_scope() as session:
        assert session.scalars(select(Run.trial).where(Run.id.in_(added))).all() == [2, 2]
    assert len(load_study(experiment["id"]).get_trials()) == 4, "trial 3 asked ahead once trial 2 took the slot"


def test_a_study_asks_nothing_past_its_trials_and_ends(client):
    experiment = make_experiment(client, search={**SEARCH, "trials": 2, "parallel": 1})
    assert len(load_study(experiment["id"]).get_trials()) == 2
    for trial in (0, 1):
        with session_scope() as session:
            run_id = session.scalar(select(Run.id).where(Run.experiment_id == experiment["id"], Run.trial == trial))
        set_run(run_id, state="completed", summary={"best_val_accuracy": 0.5})
        step_study(experiment["id"])
    study = load_study(experiment["id"])
    assert [t.state.name for t in study.get_trials()] == ["COMPLETE", "COMPLETE"]
    with session_scope() as session:
        assert session.get(Experiment, experiment["id"]).study_done_at is not None


def test_a_pruner_on_a_metric_no_run_records_is_a_422(client):
    body = {"name": "p", "grid": {"training.seed": [1, 2]}, "pruner": {"name": "median", "metric": "val_f1"}}
    assert "no run records" in errors_by_field(client.post("/api/experiments", json=body))["pruner.metric"]
    body["pruner"] = {"name": "median", "n_startup_trials": -3}
    assert "MedianPruner" in errors_by_field(client.post("/api/experiments", json=body))["pruner"]


def test_a_search_prunes_on_its_objective_series(client):
    experiment = make_experiment(client, search={**SEARCH, "objective": {"metric": "final_val_loss", "direction": "minimize"}},
                                 pruner={"name": "successive_halving"})  # fmt: skip
    assert experiment["pruner"] == {"name": "successive_halving", "metric": "val_loss", "direction": "minimize"}


def test_steps_at_once_never_ask_past_parallel_or_trials(client):
    from concurrent.futures import ThreadPoolExecutor

    experiment = make_experiment(client, search={**SEARCH, "trials": 4, "parallel": 2})
    for run in experiment["runs"]:
        set_run(run["id"], state="completed", summary={"best_val_accuracy": 0.5})
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda _: step_study(experiment["id"]), range(6)))
    trials = load_study(experiment["id"]).get_trials()
    with session_scope() as session:
        stored = session.scalars(select(Run.trial).where(Run.experiment_id == experiment["id"])).all()
    assert len(trials) == 4 and sorted(stored) == [0, 1, 2, 3]
    assert sum(t.state.name == "RUNNING" for t in trials) == 2


def test_odd_pruner_arguments_are_422s_not_errors(client):
    for pruner in ({"name": "hyperband", "reduction_factor": {"a": 1}}, {"name": "none", "patience": 3},
                   {"name": "successive_halving", "min_resource": [1]}):  # fmt: skip
        body = {"name": "p", "grid": {"training.seed": [1, 2]}, "pruner": pruner}
        assert any(f.startswith("pruner") for f in errors_by_field(client.post("/api/experiments", json=body))), pruner
