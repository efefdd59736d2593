"""The small coordinator of search studies: ask Optuna for trials as slots free, tell it how they ended.

It runs inside the API: on every pass of the dispatcher loop and as soon as a
study's run finishes. A step first starts runs in the free slots, then (after
they were sent) tells Optuna the finished trials and asks the next trial ahead,
so a run's start waits for neither the tell nor the sampler. Each part holds
the experiment's row lock (PostgreSQL; a SQLite stack has one API process), so
two API processes never fill the same slot. Restart-safe by construction: a
trial's number is stored on its runs, a trial Optuna handed out without runs
(asked ahead, or the API died before storing them) gets its runs in the next
free slot instead of a new trial, and a tell only touches trials Optuna still
has running.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import session_scope
from backend.experiments.models import Experiment
from backend.runs.models import Run
from backend.search import space
from backend.search.schemas import SearchIn
from backend.search.storage import get_storage, study_name
from backend.timeutil import utcnow
from reglab.states import COMPLETED, FINAL_STATES, PRUNED, QUEUED

log = logging.getLogger(__name__)

# Steps of one API process run one at a time (the dispatcher's thread and the finish hooks'): the row
# lock below orders processes on PostgreSQL, but SQLite has none, and two steps at once could both ask
# for the last slot.
_STEP_LOCK = threading.Lock()


def make_sampler(search: SearchIn, experiment_id: int, asked: int):
    """The study's sampler for its next ask.

    Samplers are rebuilt on every step (state lives in the database, not in an
    API process), so a seeded sampler is seeded by the number of trials asked
    so far: reproducible across restarts, yet a new draw each time. QMC keeps
    one seed, since its sequence is indexed by the trial count itself.
    """
    import optuna

    seed = None if search.seed is None else search.seed + asked
    if search.method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if search.method == "qmc":
        return optuna.samplers.QMCSampler(seed=experiment_id if search.seed is None else search.seed, warn_independent_sampling=False)
    # constant_liar: trials in flight count as bad guesses, so parallel asks spread out.
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def create_study(experiment_id: int, direction: str) -> None:
    import optuna

    optuna.create_study(storage=get_storage(), study_name=study_name(experiment_id), direction=direction,
                        load_if_exists=True)  # fmt: skip


def load_study(experiment_id: int, sampler=None, pruner=None):
    import optuna

    return optuna.load_study(study_name=study_name(experiment_id), storage=get_storage(), sampler=sampler, pruner=pruner)


def delete_study(experiment_id: int) -> None:
    """Drop the experiment's Optuna study, if it has one."""
    import optuna

    try:
        optuna.delete_study(study_name=study_name(experiment_id), storage=get_storage())
    except KeyError:
        pass


@dataclass
class Outcome:
    state: str  # COMPLETE | FAIL | PRUNED (Optuna's TrialState names)
    value: float | None = None


def outcome(runs: list[tuple[str, dict[str, Any]]], metric: str) -> Outcome:
    """How a trial ended from its replicates' (state, summary): the mean objective, or why there is none."""
    states = {state for state, _ in runs}
    if states - {COMPLETED, PRUNED}:
        return Outcome("FAIL")  # failed, diverged or cancelled replicates say nothing of the configuration
    if PRUNED in states:
        return Outcome("PRUNED")
    values = [summary.get(metric) for _, summary in runs]
    if any(not isinstance(v, (int, float)) or not math.isfinite(v) for v in values):
        return Outcome("FAIL")
    return Outcome("COMPLETE", sum(values) / len(values))


def tell(study, number: int, result: Outcome) -> None:
    """Tell a trial's result once: a trial already finished is left alone."""
    from optuna.trial import TrialState

    state = TrialState[result.state]
    if state == TrialState.COMPLETE:
        study.tell(number, result.value, skip_if_finished=True)
    else:
        study.tell(number, state=state, skip_if_finished=True)


def _new_runs(experiment: Experiment, search: SearchIn, number: int, params: dict[str, Any]) -> list[Run]:
    runs = []
    for replicate in range(search.replicates):
        spec = space.trial_spec(experiment.base, search, params, replicate)
        seed = spec["training"]["seed"] if search.replicates > 1 else None
        runs.append(Run(
            experiment_id=experiment.id, name=space.trial_name(number, search, params, seed), spec=spec, state=QUEUED,
            epoch=0, epochs=spec["training"]["epochs"], summary={}, trial=number,
        ))  # fmt: skip
    return runs


def _locked_experiment(session: Session, experiment_id: int, wait: bool) -> Experiment | None:
    query = select(Experiment).where(Experiment.id == experiment_id)
    if session.get_bind().dialect.name == "postgresql":
        # NO KEY UPDATE: inserting runs (a foreign key to this row) in the same transaction stays possible.
        # Without ``wait``, a study another API process is stepping right now is skipped (SKIP LOCKED).
        query = query.with_for_update(key_share=True, skip_locked=not wait)
    return session.scalars(query).first()


@dataclass
class _Slots:
    """Where a study stands: Optuna's trials against the runs stored for them."""

    study: Any
    search: SearchIn
    trials: list  # Optuna's FrozenTrials, by number
    by_trial: dict[int, list[tuple[str, dict]]]

    @property
    def spares(self) -> list:
        """Trials Optuna handed out that have no runs yet: asked ahead, or asked just before the API stopped."""
        return [t for t in self.trials if t.state.name == "RUNNING" and t.number not in self.by_trial]

    @property
    def in_flight(self) -> int:
        return sum(any(state not in FINAL_STATES for state, _ in runs) for runs in self.by_trial.values())

    def tell_finished(self) -> None:
        for trial in self.trials:
            runs = self.by_trial.get(trial.number)
            if trial.state.name == "RUNNING" and runs and all(state in FINAL_STATES for state, _ in runs):
                tell(self.study, trial.number, outcome(runs, self.search.objective.metric))

    def ask(self, experiment_id: int):
        self.study.sampler = make_sampler(self.search, experiment_id, len(self.trials))
        trial = self.study.ask(space.distributions(self.search))
        self.trials.append(trial)
        return trial


def _slots(session: Session, experiment: Experiment) -> _Slots:
    rows = session.execute(select(Run.trial, Run.state, Run.summary).where(Run.experiment_id == experiment.id)).all()
    by_trial: dict[int, list[tuple[str, dict]]] = {}
    for trial, state, summary in rows:
        if trial is not None:
            by_trial.setdefault(trial, []).append((state, summary or {}))
    study = load_study(experiment.id)
    return _Slots(study, SearchIn.model_validate(experiment.search), study.get_trials(deepcopy=False), by_trial)


def _locked_slots(session: Session, experiment_id: int, wait: bool) -> tuple[Experiment, _Slots] | None:
    experiment = _locked_experiment(session, experiment_id, wait)
    if experiment is None or experiment.search is None or experiment.study_done_at is not None:
        return None
    return experiment, _slots(session, experiment)


def start_trials(experiment_id: int, wait: bool = True) -> list[int]:
    """Give the study's free slots (``parallel`` minus the trials in flight) their runs; the new runs' ids.

    A trial asked ahead takes a slot as is, so a run's start does not wait for the sampler (tens of ms
    on the RDB storage, bench/search_overhead.py). Only when none is left are finished trials told and
    new ones asked here. ``wait``: wait for another process's step of the same study (else skip it).
    """
    if not _STEP_LOCK.acquire(blocking=wait):
        return []
    try:
        with session_scope() as session:
            located = _locked_slots(session, experiment_id, wait)
            if located is None:
                return []
            experiment, slots = located
            free = slots.search.parallel - slots.in_flight
            numbers = [trial.number for trial in slots.spares[: max(free, 0)]]
            trials = {trial.number: trial for trial in slots.trials}
            missing = min(free - len(numbers), slots.search.trials - len(slots.trials))
            if missing > 0:
                slots.tell_finished()  # first, so the new asks see every result
                for _ in range(missing):
                    trial = slots.ask(experiment_id)
                    trials[trial.number] = trial
                    numbers.append(trial.number)
            new = [run for number in numbers for run in _new_runs(experiment, slots.search, number, trials[number].params)]
            session.add_all(new)
            session.flush()
            return [run.id for run in new]
    finally:
        _STEP_LOCK.release()


def settle_study(experiment_id: int, wait: bool = True) -> None:
    """Tell Optuna how finished trials ended, ask the next trial ahead, and mark a study that is done.

    Runs after the new runs were sent. The trial asked ahead has no runs until a slot frees; if the API
    stops first, it is still a trial Optuna handed out without runs, which the next start gives its runs:
    a restart neither loses nor repeats it. It is sampled while the slots are busy, as if ``parallel``
    were one more (TPE's constant liar counts it as in flight).
    """
    if not _STEP_LOCK.acquire(blocking=wait):
        return
    try:
        with session_scope() as session:
            located = _locked_slots(session, experiment_id, wait)
            if located is None:
                return
            experiment, slots = located
            slots.tell_finished()
            if not slots.spares and len(slots.trials) < slots.search.trials:
                slots.ask(experiment_id)
            elif not slots.spares and slots.in_flight == 0:
                experiment.study_done_at = utcnow()
    finally:
        _STEP_LOCK.release()


def step_study(experiment_id: int, wait: bool = True, send: Callable[[list[int]], Any] | None = None) -> list[int]:
    """Start runs in the study's free slots, ``send`` them to the workers, then settle the study; the new runs' ids."""
    created = start_trials(experiment_id, wait)
    if send is not None and created:
        send(created)
    settle_study(experiment_id, wait)
    return created


def search_pass(send: Callable[[list[int]], Any]) -> list[int]:
    """Step every unfinished search study, ``send`` its new runs; the ids of the runs it queued."""
    with session_scope() as session:
        ids = list(session.scalars(
            select(Experiment.id).where(Experiment.search.is_not(None), Experiment.study_done_at.is_(None))
        ))  # fmt: skip
    created: list[int] = []
    for experiment_id in ids:
        try:
            created.extend(step_study(experiment_id, wait=False, send=send))
        except Exception:  # one broken study must not stop the others
            log.exception("search study of experiment %s: step failed", experiment_id)
    return created


def on_run_final(run_id: int, send: Callable[[list[int]], Any]) -> list[int]:
    """Step the study of a run that just ended, so its slot is refilled at once; new run ids."""
    with session_scope() as session:
        row = session.execute(
            select(Run.experiment_id, Experiment.search).join(Experiment).where(Run.id == run_id)
        ).one_or_none()
    if row is None or row.search is None:
        return []
    return step_study(row.experiment_id, send=send)
