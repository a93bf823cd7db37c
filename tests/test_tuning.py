"""`tune` end to end: a real Optuna storage, a real MLflow store, PostgreSQL for distribution."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

import architectures
from benchmark.cli import EXIT_USER_ERROR, main
from benchmark.errors import BenchmarkError
from benchmark.results import leaderboard
from benchmark.tuning import failures, studies
from benchmark.tuning.failures import Failure

TINY = ["--subset", "300", "--epochs", "2", "--experiment", "tune"]
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def cli(*args: str, cwd: Path) -> subprocess.Popen:
    """Start `python -m benchmark ...` as its own process (stdout and stderr piped)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.Popen(
        [sys.executable, "-m", "benchmark", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finished_trials(storage: str, study: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=study, storage=storage).get_trials(states=FINISHED)


def trial_runs(client: MlflowClient, study: str) -> list:
    experiment = client.get_experiment_by_name("tune")
    return client.search_runs(
        [experiment.experiment_id],
        f"tags.run_kind = 'trial' and tags.study_name = '{study}'",
    )


@pytest.fixture(scope="module")
def study3(tmp_path_factory: pytest.TempPathFactory):
    """A 3-trial study on a subset with the median pruner; shared by the checks below."""
    folder = tmp_path_factory.mktemp("tune")
    storage = f"sqlite:///{folder / 'optuna.db'}"
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    previous = Path.cwd()
    os.chdir(folder)
    try:
        args = ["tune", "--arch", "dropout", "--trials", "3", "--storage", storage]
        code = main([*args, "--tracking-uri", uri, "--precision", "float32", *TINY])
    finally:
        os.chdir(previous)
    return folder, storage, uri, code


def test_study_reaches_the_trial_count_with_nested_runs(study3) -> None:
    folder, storage, uri, code = study3
    assert code == 0
    trials = finished_trials(storage, "mnist-dropout")
    assert len(trials) == 3
    assert trials[0].user_attrs.get("defaults") is True  # the defaults are trial 0
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("tune")
    (parent,) = client.search_runs([experiment.experiment_id], "tags.run_kind = 'tuning'")
    assert parent.data.tags["study_name"] == "mnist-dropout"
    assert parent.data.params["precision"] == "float32"
    assert parent.data.tags["storage"].startswith("sqlite:///")
    assert parent.data.metrics["best_val_accuracy"] == max(t.value for t in trials)
    artifacts = {item.path for item in client.list_artifacts(parent.info.run_id)}
    assert {"trials.csv", "optimization_history.png", "param_importances.png"} <= artifacts
    children = trial_runs(client, "mnist-dropout")
    assert sorted(int(r.data.tags["trial_number"]) for r in children) == [0, 1, 2]
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.data.tags["trial_state"] == "complete"
        assert child.info.status == "FINISHED"
        assert "learning_rate" in child.data.params
        assert child.data.params["precision"] == "float32"  # as resolved, with the trial
        history = client.get_metric_history(child.info.run_id, "val_accuracy")
        assert [m.step for m in history] == [1, 2]


def test_best_params_are_reused_by_run_and_marked_tuned(study3, monkeypatch) -> None:
    folder, storage, uri, _ = study3
    monkeypatch.chdir(folder)
    study = optuna.load_study(study_name="mnist-dropout", storage=storage)
    args = ["run", "--arch", "dropout", "--subset", "300", "--epochs", "1"]
    common = ["--experiment", "tune", "--tracking-uri", uri, "--storage", storage]
    assert main([*args, "--params", "best", *common]) == 0
    assert main([*args, *common]) == 0
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("tune")
    board = leaderboard.from_experiment(experiment.experiment_id)
    assert sorted(board["variant"]) == ["default", "tuned"]
    tuned = board[board["variant"] == "tuned"].iloc[0]
    run = client.get_run(tuned["run_ids"].split()[0])
    assert run.data.tags["study_trial"] == str(study.best_trial.number)
    for key, value in study.best_trial.params.items():
        assert run.data.params[key] == str(value)


@pytest.mark.slow  # fault injection: waits on purpose for kills, heartbeats or races
def test_interrupted_study_finishes_only_the_remainder_and_extends(tmp_path) -> None:
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    args = ["tune", "--arch", "dropout", "--storage", storage, "--subset", "300"]
    args += ["--epochs", "3", "--experiment", "tune", "--pruner", "none"]
    first = cli(*args, "--trials", "3", cwd=tmp_path)
    for line in first.stdout:  # interrupt in the middle of the second trial
        if "trial 1] epoch 1/3" in line:
            first.send_signal(signal.SIGINT)
            break
    output = first.communicate(timeout=120)[0]
    assert first.returncode == 130, output
    assert "Traceback" not in output
    study = optuna.load_study(study_name="mnist-dropout", storage=storage)
    *done, interrupted = study.trials
    assert interrupted.state == TrialState.FAIL
    assert interrupted.user_attrs["fail_reason"] == "interrupted"
    assert failures.kind_of(interrupted) is Failure.INTERRUPTED
    assert 1 <= len(done) < 3 and all(t.state == TrialState.COMPLETE for t in done)

    second = cli(*args, "--trials", "3", cwd=tmp_path)
    assert second.wait(timeout=300) == 0, second.stdout.read()
    assert len(finished_trials(storage, "mnist-dropout")) == 3
    third = cli(*args, "--trials", "4", cwd=tmp_path)
    assert third.wait(timeout=300) == 0, third.stdout.read()
    study = optuna.load_study(study_name="mnist-dropout", storage=storage)
    assert len(study.get_trials(states=FINISHED)) == 4
    assert len(study.trials) == 5  # the interrupted trial stays, failed, and is not counted


@pytest.mark.slow  # fault injection: waits on purpose for kills, heartbeats or races
def test_processes_starting_on_one_new_store_do_not_break_its_creation(tmp_path) -> None:
    code = "from benchmark import tracking; print(tracking.connect('sqlite:///mlflow.db', 'x'))"
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", code], cwd=tmp_path, stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    ids = [process.communicate(timeout=300)[0].strip() for process in starts]
    assert [process.returncode for process in starts] == [0, 0, 0]
    assert len(set(ids)) == 1


def test_pruned_and_failed_trials_are_recorded_and_the_study_goes_on(tiny_splits, store) -> None:
    from benchmark import tracking
    from benchmark.settings import TuneSettings
    from benchmark.tuning.trial import Objective

    settings = TuneSettings(arch="mlp", trials=10, epochs=3, storage=f"{store}x")
    experiment_id = tracking.connect(store, "tune")
    study = optuna.create_study(
        study_name=settings.name,
        direction="maximize",
        # Every trial is hopeless from its third epoch on.
        pruner=optuna.pruners.ThresholdPruner(lower=1.01, n_warmup_steps=2),
    )
    study.enqueue_trial({"learning_rate": 1e-3})
    study.enqueue_trial({"dropout": 1.5})  # Keras refuses the rate: the trial raises
    study.enqueue_trial({"learning_rate": 1e9, "optimizer": "adam", "lr_schedule": "constant"})
    with tracking.tuning_run(experiment_id, settings.name, "memory", "mlp", {}) as parent:
        objective = Objective(settings, tiny_splits, experiment_id, parent)
        study.optimize(objective, n_trials=3, catch=(Exception,))
    pruned, failed, diverged = study.trials
    assert pruned.state == TrialState.PRUNED and pruned.user_attrs["epochs_trained"] == 3
    assert diverged.state == TrialState.FAIL and "NaN" in diverged.user_attrs["fail_reason"]
    assert failed.state == TrialState.FAIL and "rate" in failed.user_attrs["fail_reason"]
    assert [failures.kind_of(t) for t in study.trials] == [None, *[Failure.TRAINING] * 2]
    client = MlflowClient(store)
    runs = {r.data.tags["trial_number"]: r for r in trial_runs(client, settings.name)}
    assert runs["0"].data.tags["trial_state"] == "pruned"
    assert runs["0"].info.status == "FINISHED"
    assert runs["1"].data.tags["trial_state"] == "failed"
    assert runs["1"].info.status == "FAILED"
    assert "rate" in runs["1"].data.tags["fail_reason"]
    assert runs["2"].info.status == "FAILED" and "NaN" in runs["2"].data.tags["fail_reason"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--arch", "nope"], "unknown architecture 'nope'"),
        (["--arch", "mlp", "--storage", "postgresql://u:secret@127.0.0.1:1/x"], "unreachable"),
        (["--arch", "mlp", "--storage", "sqlite:////no/such/folder/o.db"], "does not exist"),
        (["--arch", "mlp", "--trials", "0"], "must be a positive whole number"),
        (["--arch", "mlp", "--pruner", "sometimes"], "invalid choice"),
        (["--arch", "mlp", "--seed", "-1"], "--seed: must be 0 or more"),
        (["--arch", "mlp", "--seed", "one"], "expected a whole number"),
    ],
)
def test_bad_input_is_one_line_before_training(args, message, store, capsys) -> None:
    try:
        code = main(["tune", *args, "--tracking-uri", store])
    except SystemExit as exit_:  # argparse refuses malformed values itself
        code = exit_.code
    assert code == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert "secret" not in err


def test_run_with_best_params_needs_a_study(store, capsys) -> None:
    args = ["run", "--arch", "dropout", "--params", "best", "--tracking-uri", store]
    assert main([*args, "--subset", "300"]) == EXIT_USER_ERROR
    assert "no study storage at optuna.db" in capsys.readouterr().err
    assert not Path("optuna.db").exists(), "looking for a study creates no file"


def test_a_study_of_another_architecture_is_refused(study3, capsys) -> None:
    _, storage, uri, _ = study3
    args = ["tune", "--arch", "mlp", "--study-name", "mnist-dropout", "--storage", storage]
    assert main([*args, "--tracking-uri", uri, *TINY]) == EXIT_USER_ERROR
    assert "belongs to architecture 'dropout'" in capsys.readouterr().err


# ---- distributed: a real PostgreSQL server and a real MLflow server on loopback ----


def assert_one_run_per_finished_trial(uri: str, storage: str, study: str, trials: int) -> None:
    finished = finished_trials(storage, study)
    assert len(finished) == trials
    numbers = [t.number for t in finished]
    assert len(set(numbers)) == len(numbers)
    defaults = [t.number for t in finished if t.user_attrs.get("defaults")]
    assert len(defaults) == 1, f"the defaults ran once, not in trials {defaults}"
    runs = trial_runs(MlflowClient(uri), study)
    ended = [int(r.data.tags["trial_number"]) for r in runs if r.data.tags.get("trial_state")]
    assert set(numbers) <= set(ended), "every finished trial has its MLflow run"
    assert len(ended) == len(set(ended)), "no trial number was run twice"


def test_workers_opening_an_empty_database_at_once_all_connect(postgres) -> None:
    # Each worker creates the tables it does not see; on PostgreSQL the losers of that race
    # get a unique violation, which must not end them.
    import psycopg

    with psycopg.connect(postgres, autocommit=True) as connection:
        connection.execute("CREATE DATABASE empty_at_start")
    url = postgres.rsplit("/", 1)[0] + "/empty_at_start"
    start = threading.Barrier(4)
    opened: list[object] = []
    errors: list[str] = []

    def worker() -> None:
        start.wait()
        try:
            opened.append(studies.open_storage(url))
        except Exception as error:
            errors.append(str(error))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(opened) == 4, "a worker was still opening the storage after 2 minutes"


@pytest.mark.slow  # fault injection: waits on purpose for kills, heartbeats or races
def test_two_workers_share_one_postgres_study(postgres, mlflow_server, tmp_path) -> None:
    # Trials of a few seconds each, so the second process starts before the first is done.
    args = ["tune", "--arch", "dropout", "--trials", "6", "--storage", postgres]
    args += ["--study-name", "two-workers", "--tracking-uri", mlflow_server, *TINY]
    workers = [cli(*args, cwd=tmp_path) for _ in range(2)]
    outputs = [worker.communicate(timeout=600)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    assert all("complete" in output for output in outputs), "both workers ran trials"
    assert_one_run_per_finished_trial(mlflow_server, postgres, "two-workers", 6)


@pytest.mark.slow  # fault injection: waits on purpose for kills, heartbeats or races
def test_a_killed_worker_s_trial_is_retried(postgres, mlflow_server, tmp_path) -> None:
    args = ["tune", "--arch", "mlp", "--trials", "3", "--storage", postgres, "--heartbeat", "2"]
    args += ["--study-name", "killed", "--tracking-uri", mlflow_server, *TINY[:2]]
    args += ["--epochs", "4", "--experiment", "tune"]
    victim = cli(*args, cwd=tmp_path)
    for line in victim.stdout:
        if "epoch 1/4" in line:  # in the middle of its first trial
            victim.kill()
            break
    victim.wait(timeout=60)
    survivor = cli(*args, cwd=tmp_path)
    output = survivor.communicate(timeout=600)[0]
    assert survivor.returncode == 0, output
    study = optuna.load_study(study_name="killed", storage=postgres)
    states = [t.state for t in study.trials]
    assert states.count(TrialState.FAIL) == 1, states
    assert_one_run_per_finished_trial(mlflow_server, postgres, "killed", 3)
    retried = [t for t in study.trials if "retry_history" in t.system_attrs]
    assert retried, "the dead worker's trial was queued again"


def test_a_planted_password_reaches_neither_the_output_nor_the_stores(
    postgres, store, tmp_path, capfd
) -> None:
    """Issue 12: a password in any URL form never leaves the process.

    The cluster trusts loopback, so it accepts and ignores the planted passwords and the
    studies really run; then every byte of the MLflow store (database and artifacts) and of
    the output is searched for them.
    """
    server = postgres.removeprefix("postgresql://postgres@")
    storages = {
        "userinfo": f"postgresql://postgres:plantedpwA@{server}",
        "query": f"postgresql://postgres@{server}?password=plantedpwB",
        "unescaped-at": f"postgresql://postgres:pl@ntedpwC@{server}",
    }
    codes = {}
    for name, storage in storages.items():
        args = ["tune", "--arch", "mlp", "--trials", "1", "--storage", storage]
        args += ["--study-name", f"planted-{name}", "--tracking-uri", store, *TINY[:2]]
        codes[name] = main([*args, "--epochs", "1", "--experiment", "tune"])
    output = "".join(capfd.readouterr())
    assert codes["userinfo"] == codes["query"] == 0, output
    assert codes["unescaped-at"] in (0, EXIT_USER_ERROR), output  # ran, or one line
    assert "Traceback" not in output
    secrets = ("plantedpwA", "plantedpwB", "pl@ntedpwC", "ntedpwC")
    assert not [secret for secret in secrets if secret in output], output
    found = [
        (str(path.relative_to(tmp_path)), secret)
        for path in tmp_path.rglob("*")
        if path.is_file()
        for secret in secrets
        if secret.encode() in path.read_bytes()
    ]
    assert found == [], "a planted password was written to the MLflow store"
    client = MlflowClient(store)
    parents = client.search_runs(
        [client.get_experiment_by_name("tune").experiment_id], "tags.run_kind = 'tuning'"
    )
    assert len(parents) >= 2, "the studies ran and were logged"
    assert all("***" in run.data.tags["storage"] for run in parents), "masked, not dropped"


def test_a_study_that_searched_another_space_is_refused_in_one_line() -> None:
    """A study made before one_cycle joined the schedules cannot take trials from the new space."""
    mlp = architectures.get("mlp")
    old = optuna.distributions.CategoricalDistribution(["constant", "cosine"])
    now = studies._recorder(mlp).distributions["lr_schedule"]
    for distribution, refused in ((old, True), (now, False)):
        study = optuna.create_study(direction="maximize")
        study.add_trial(
            optuna.trial.create_trial(
                params={"lr_schedule": "cosine"},
                distributions={"lr_schedule": distribution},
                value=0.9,
            )
        )
        if refused:
            message = "searched another space for lr_schedule (constant, cosine; now constant, "
            with pytest.raises(BenchmarkError, match=re.escape(message)):
                studies._check_same_space(study, mlp)
        else:
            studies._check_same_space(study, mlp)
