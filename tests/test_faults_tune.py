"""Faults on the `tune` path: a trial error that repeats, an unreachable tracking store."""

from __future__ import annotations

import time
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from benchmark.cli import EXIT_USER_ERROR, main
from benchmark.tuning import failures, studies
from benchmark.tuning.failures import Failure
from benchmark.tuning.trial import Objective

STUDY = "mnist-mlp"


def tune(store: str, *args: str) -> int:
    """`tune --arch mlp` on a subset with its study next to the store; the exit code."""
    storage = f"sqlite:///{Path(store.removeprefix('sqlite:///')).parent / 'optuna.db'}"
    common = ["--subset", "300", "--epochs", "1", "--experiment", "tune", "--storage", storage]
    # --timeout bounds the test if the study never stops: it then exits 0 and fails.
    return main(["tune", "--arch", "mlp", *common, "--tracking-uri", store, *args])


def trials(store: str) -> list[optuna.trial.FrozenTrial]:
    storage = f"sqlite:///{Path(store.removeprefix('sqlite:///')).parent / 'optuna.db'}"
    return optuna.load_study(study_name=STUDY, storage=storage).trials


def test_a_trial_error_that_repeats_stops_the_study_with_one_line(
    store, monkeypatch, capsys, fault_report
) -> None:
    def broken(self, trial, label, record):  # the same error every time, its number varies
        raise RuntimeError(f"broken input pipeline at step {trial.number * 7}")

    monkeypatch.setattr(Objective, "_train", broken)
    started = time.monotonic()
    code = tune(store, "--trials", "2", "--max-failures", "3", "--timeout", "60")
    took = time.monotonic() - started
    assert code == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "tune stopped: 3 trials in a row failed with RuntimeError: broken input" in err
    assert "--max-failures" in err and "Traceback" not in err
    found = trials(store)
    assert [t.state for t in found] == [TrialState.FAIL] * 3, "stops at K, keeps the trials"
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("tune")
    runs = client.search_runs([experiment.experiment_id], "tags.run_kind = 'trial'")
    assert sorted(run.info.status for run in runs) == ["FAILED"] * 3
    parents = client.search_runs([experiment.experiment_id], "tags.run_kind != 'trial'")
    assert [run.info.status for run in parents] == ["FINISHED"], "the study's run is closed"
    fault_report.update(
        scenario="a trial error that repeats (tune --max-failures 3)", trainings=0, lost=0,
        duplicates=0, running=sum(run.info.status == "RUNNING" for run in runs), seconds=took,
        bound=None, note="stopped after 3 failed trials with one line, exit 2",
    )  # fmt: skip


def test_different_errors_do_not_stop_the_study(store, monkeypatch) -> None:
    def flaky(self, trial, label, record):
        if trial.number < 3:  # two kinds of error, alternating, then a trial that works
            raise (ValueError if trial.number % 2 else OSError)(f"flaky {trial.number}")
        return {"accuracy": 0.5}

    monkeypatch.setattr(Objective, "_train", flaky)
    assert tune(store, "--trials", "1", "--max-failures", "2", "--timeout", "60") == 0
    assert [t.state for t in trials(store)] == [TrialState.FAIL] * 3 + [TrialState.COMPLETE]


def test_a_resumed_study_starts_a_new_streak(store, monkeypatch, capsys) -> None:
    """Failures of an earlier invocation do not stop the next one, which may have a fix."""
    monkeypatch.setattr(Objective, "_train", lambda *args: 1 / 0)
    assert tune(store, "--trials", "1", "--max-failures", "2", "--timeout", "60") == 2
    assert "ZeroDivisionError: division by zero" in capsys.readouterr().err
    monkeypatch.setattr(Objective, "_train", lambda *args: {"accuracy": 0.75})
    assert tune(store, "--trials", "1", "--max-failures", "2", "--timeout", "60") == 0
    assert [t.state for t in trials(store)][-1] == TrialState.COMPLETE


def test_a_failure_outside_training_also_stops_the_study(store, monkeypatch, capsys) -> None:
    """A trial whose MLflow run cannot start fails before training: it still has a reason and
    counts toward the streak (once, such trials had none and the study looped for ever)."""
    from benchmark import tracking

    def no_run(*args, **kwargs):
        raise RuntimeError("Run with id=0123abcd not found")

    monkeypatch.setattr(tracking, "trial_run", no_run)
    assert tune(store, "--trials", "2", "--max-failures", "3", "--timeout", "60") == 2
    err = capsys.readouterr().err
    assert "3 trials in a row failed with RuntimeError: Run with id=0123abcd not found" in err
    found = trials(store)
    assert [t.state for t in found] == [TrialState.FAIL] * 3
    assert all(t.user_attrs["fail_reason"].startswith("RuntimeError: Run") for t in found)
    assert all(failures.kind_of(t) is Failure.OUTSIDE for t in found)


def test_bookkeeping_failures_are_not_a_streak() -> None:
    """A surplus trial (another worker got there first) or a dead worker's is no error."""
    study = optuna.create_study()
    for kind in (Failure.SURPLUS, None, Failure.INTERRUPTED):
        trial = study.ask()
        if kind:
            failures.record(trial, kind, "RuntimeError: the same words")
        study.tell(trial, state=TrialState.FAIL)
    assert failures.repeated_failure(study, 0, 2) is None
    for kind in (Failure.TRAINING, Failure.OUTSIDE):
        trial = study.ask()
        failures.record(trial, kind, "RuntimeError: the same words")
        study.tell(trial, state=TrialState.FAIL)
    assert failures.repeated_failure(study, 0, 2) == "RuntimeError: the same words"
    assert failures.repeated_failure(study, 4, 2) is None, "only trials from `since` count"


def test_a_failure_is_known_by_its_kind_not_its_words() -> None:
    """A training error whose message reads like bookkeeping still makes a streak."""
    study = optuna.create_study()
    for _ in range(2):
        trial = study.ask()
        failures.record(trial, Failure.TRAINING, "surplus: a message that only looks alike")
        study.tell(trial, state=TrialState.FAIL)
    assert failures.repeated_failure(study, 0, 2) == "surplus: a message that only looks alike"
    assert [failures.kind_of(t) for t in study.trials] == [Failure.TRAINING] * 2
    assert study.trials[0].user_attrs["fail_reason"].startswith("surplus:")


def test_a_surplus_trial_is_recorded_as_bookkeeping() -> None:
    """The trial that would take a study past its target gives way, as a surplus."""
    study = optuna.create_study()
    study.tell(study.ask(), 0.5)
    trial = study.ask()
    with pytest.raises(RuntimeError, match="surplus: the study already had 1"):
        studies.refuse_surplus(trial, 1)
    assert failures.kind_of(trial) is Failure.SURPLUS and not Failure.SURPLUS.counts


@pytest.mark.parametrize("uri", ["sqlite:////no/such/dir/mlflow.db", "http://127.0.0.1:9"])
def test_an_unreachable_tracking_store_creates_no_study(uri, store, capsys) -> None:
    folder = Path(store.removeprefix("sqlite:///")).parent
    args = ["tune", "--arch", "mlp", "--subset", "300", "--tracking-uri", uri]
    assert main([*args, "--storage", f"sqlite:///{folder / 'optuna.db'}"]) == EXIT_USER_ERROR
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (folder / "optuna.db").exists(), "no study created, no subset pinned"
