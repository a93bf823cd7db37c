"""What `tune` says at the end: importances, the Pareto front, and optuna-dashboard serving it."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import redirect_stdout
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from benchmark.cli import EXIT_USER_ERROR, main
from benchmark.settings import TuneSettings
from benchmark.tuning import insight

TINY = ["--subset", "300", "--epochs", "1", "--precision", "float32", "--pruner", "none"]
MULTI = "mnist-mlp-accuracy-flops"  # the default name of an accuracy,flops study of mlp


def tune(folder: Path, *args: str) -> int:
    """`tune --arch mlp` on the tiny settings with the folder's stores; the exit code."""
    stores = ["--storage", f"sqlite:///{folder / 'optuna.db'}", "--experiment", "insight"]
    stores += ["--tracking-uri", f"sqlite:///{folder / 'mlflow.db'}"]
    return main(["tune", "--arch", "mlp", *TINY, *stores, *args])


def parent_run(folder: Path, study: str):
    """The newest tuning parent run of a study."""
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("insight")
    runs = client.search_runs(
        [experiment.experiment_id],
        f"tags.run_kind = 'tuning' and tags.study_name = '{study}'",
        order_by=["attributes.start_time DESC"],
    )
    return client, runs[0]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory):
    """One store: a 1-trial study extended to 3, and a 3-trial accuracy,flops study."""
    folder = tmp_path_factory.mktemp("insight")
    outputs = {}
    for name, args in (
        ("one", ["--trials", "1"]),
        ("three", ["--trials", "3"]),
        ("multi", ["--trials", "3", "--objective", "accuracy,flops"]),
    ):
        buffer = io.StringIO()
        with redirect_stdout(buffer):
            outputs[name] = (tune(folder, *args), buffer.getvalue())
    return folder, outputs


def test_fewer_than_two_complete_trials_skip_importances_in_one_line(tuned) -> None:
    _, outputs = tuned
    code, printed = outputs["one"]
    assert code == 0
    lines = [line for line in printed.splitlines() if "importance" in line]
    assert lines == [
        "parameter importances skipped: study mnist-mlp has 1 complete trial(s) and fANOVA "
        "needs at least 2 (pruned and failed trials have no final value)"
    ]
    assert "Traceback" not in printed


def test_importances_are_printed_and_logged_as_metrics_of_the_parent_run(tuned) -> None:
    folder, outputs = tuned
    code, printed = outputs["three"]
    assert code == 0
    assert "What mattered in study mnist-mlp" in printed
    study = optuna.load_study(study_name="mnist-mlp", storage=f"sqlite:///{folder / 'optuna.db'}")
    # Seeded: computed again from the same trials, fANOVA gives the same figures.
    again = optuna.importance.get_param_importances(study, evaluator=insight.evaluator())
    client, parent = parent_run(folder, "mnist-mlp")
    logged = {
        key.removeprefix("importance."): value
        for key, value in parent.data.metrics.items()
        if key.startswith("importance.")
    }
    assert set(logged) == set(study.best_trial.params) == set(again)
    assert logged == pytest.approx(again)
    assert sum(logged.values()) == pytest.approx(1.0)
    for param, value in again.items():  # each printed with its value, 3 places
        assert any(param in line and f"{value:.3f}" in line for line in printed.splitlines())
    artifacts = {item.path for item in client.list_artifacts(parent.info.run_id)}
    assert {"param_importances.png", "optimization_history.png"} <= artifacts


def test_the_report_shows_importances_and_history_of_a_tune_only_experiment(tuned) -> None:
    folder, _ = tuned
    output = folder / "report"
    args = ["report", "--experiment", "insight", "--output", str(output)]
    assert main([*args, "--tracking-uri", f"sqlite:///{folder / 'mlflow.db'}"]) == 0
    page = (output / "index.html").read_text()
    _, parent = parent_run(folder, "mnist-mlp")
    assert "Tuning: what mattered" in page
    assert 'alt="optimisation history of study mnist-mlp"' in page
    assert f'alt="optimisation history of study {MULTI}"' in page
    for key, value in parent.data.metrics.items():
        if key.startswith("importance."):
            assert f"<td>{key.removeprefix('importance.')}</td>" in page
            assert f">{value:.3f}</td>" in page


def test_a_multi_objective_study_prints_plots_and_logs_its_pareto_front(tuned) -> None:
    folder, outputs = tuned
    code, printed = outputs["multi"]
    assert code == 0
    study = optuna.load_study(study_name=MULTI, storage=f"sqlite:///{folder / 'optuna.db'}")
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    front = sorted(trial.number for trial in study.best_trials)
    assert f"Pareto front of study {MULTI}: {len(front)} of 3 complete trials" in printed
    assert f"--study-name {MULTI}" in printed and "--params trial:N" in printed
    client, parent = parent_run(folder, MULTI)
    assert parent.data.metrics["pareto_trials"] == len(front)
    assert sorted(map(int, parent.data.tags["pareto_trials"].split(","))) == front
    artifacts = {item.path for item in client.list_artifacts(parent.info.run_id)}
    assert {"pareto_front.csv", "pareto_front.png"} <= artifacts
    assert "importance.flops.hidden_1" in parent.data.metrics  # importances per objective
    trial = study.trials[front[0]]
    experiment = parent.info.experiment_id
    (run,) = client.search_runs(
        [experiment], f"tags.study_name = '{MULTI}' and tags.trial_number = '{trial.number}'"
    )
    assert run.data.metrics["flops_per_image"] == trial.values[1]  # the trial's cost, logged


def test_a_pareto_trial_is_trained_as_a_variant_by_run_params(tuned) -> None:
    folder, _ = tuned
    study = optuna.load_study(study_name=MULTI, storage=f"sqlite:///{folder / 'optuna.db'}")
    chosen = max(trial.number for trial in study.best_trials)
    args = ["run", "--arch", "mlp", "--subset", "300", "--epochs", "1", "--precision", "float32"]
    args += ["--experiment", "insight", "--tracking-uri", f"sqlite:///{folder / 'mlflow.db'}"]
    args += ["--storage", f"sqlite:///{folder / 'optuna.db'}", "--study-name", MULTI]
    args += ["--output-dir", str(folder), "--params", f"trial:{chosen}"]
    assert main(args) == 0
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("insight").experiment_id
    (run,) = client.search_runs([experiment], "tags.run_kind = 'training'")
    assert run.data.tags["variant"] == f"trial-{chosen}"
    assert run.data.tags["study_name"] == MULTI
    assert run.data.tags["study_trial"] == str(chosen)
    for key, value in study.trials[chosen].params.items():
        assert run.data.params[key] == str(value)


def test_resuming_a_study_with_other_objectives_is_one_line(tuned, capsys) -> None:
    folder, _ = tuned
    assert tune(folder, "--study-name", MULTI, "--objective", "accuracy") == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err == (
        f"error: study '{MULTI}' optimises accuracy,flops, not accuracy; pass --objective "
        "accuracy,flops to resume it, or another --study-name\n"
    )


def test_a_trial_that_is_not_complete_is_refused_in_one_line(tuned, capsys) -> None:
    folder, _ = tuned
    args = ["run", "--arch", "mlp", "--subset", "300", "--params", "trial:99", "--study-name"]
    args += [MULTI, "--storage", f"sqlite:///{folder / 'optuna.db'}"]
    assert main([*args, "--tracking-uri", f"sqlite:///{folder / 'mlflow.db'}"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: study '{MULTI}' has no complete trial 99 (complete trials: 0, 1, 2)\n"


@pytest.mark.parametrize(
    ("objective", "message"),
    [
        ("accuracy,speed", "unknown metric 'speed'"),
        ("accuracy,latency,latency", "latency is named twice"),
        ("accuracy,", "unknown metric ''"),
        ("latency,flops", "accuracy must be one of the objectives"),
    ],
)
def test_a_bad_objective_is_one_line_listing_the_valid_ones(
    objective, message, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["tune", "--arch", "mlp", "--objective", objective]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert message in err and "accuracy, latency, flops, params" in err
    assert len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # no store, no study


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("trial:x", "trial:N takes a trial number"),
        ("tuned", "invalid choice: 'tuned' (choose from default, best, trial:N, notebook, wide)"),
    ],
)
def test_a_bad_params_is_one_line(params, message, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--arch", "mlp", "--params", params]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_multi_objective_study_has_its_own_default_name() -> None:
    assert TuneSettings(arch="mlp").name == "mnist-mlp"
    assert TuneSettings(arch="mlp", objectives=["accuracy", "latency"]).name == (
        "mnist-mlp-accuracy-latency"
    )


def test_importances_of_a_study_without_complete_trials_are_skipped() -> None:
    study = optuna.create_study(study_name="empty")
    study.add_trial(optuna.trial.create_trial(state=TrialState.FAIL))
    assert insight.importances(study).startswith("parameter importances skipped: study empty")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_dashboard_command_serves_the_studies(tuned, capsys) -> None:
    folder, _ = tuned
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmark", "dashboard", "--port", str(port)],
        cwd=folder,  # the default storage: optuna.db here
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline, listed = time.time() + 120, None
        while time.time() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as r:
                    listed = json.load(r)
                break
            except OSError:
                time.sleep(0.5)
        assert listed is not None, server.stdout.read() if server.poll() is not None else "slow"
        names = {study["study_name"] for study in listed["study_summaries"]}
        # and the grid of a `run` in the same folder, if one ran: its queue shares the storage
        assert {name for name in names if not name.startswith("grid-")} == {"mnist-mlp", MULTI}
        storage = f"sqlite:///{folder / 'optuna.db'}"
        assert main(["dashboard", "--storage", storage, "--port", str(port)]) == EXIT_USER_ERROR
        err = capsys.readouterr().err
        assert err.startswith(f"error: cannot serve on 127.0.0.1:{port}: ")
        assert len(err.splitlines()) == 1
        server.terminate()  # SIGTERM: Ctrl-C for the command, which then exits
        assert server.wait(timeout=60) == 0
    finally:
        if server.poll() is None:  # never leave a server behind
            server.kill()
            server.wait()
