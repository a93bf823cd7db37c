"""End-to-end checks of the command line on a tiny subset, asserted through MLflow."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

import architectures
from benchmark.cli import EXIT_USER_ERROR, main
from benchmark.cli.arguments import build_parser
from benchmark.errors import BenchmarkError
from benchmark.results import leaderboard
from benchmark.settings import (
    BoardSettings,
    PredictSettings,
    ReportSettings,
    RunSettings,
    TuneSettings,
)
from tests.conftest import in_process, store_after

# The HTTP server test is near the end: its server starts with the first test of the module.
pytestmark = pytest.mark.usefixtures("mlflow_server_process")

SMOKE = ["--subset", "300", "--epochs", "1", "--experiment", "smoke"]
ARTIFACTS = {
    "confusion_matrix.png",
    "confusion_matrix.csv",
    "classification_report.txt",
    "classification_report.json",
    "training_curves.png",
    "model_summary.txt",
}
PARAMS = {
    "arch",
    "dataset",
    "seed",
    "train_size",
    "val_size",
    "test_size",
    "backend",
    "keras_version",
    "tensorflow_version",
    "mlflow_version",
    "epochs",
    "batch_size",
    "optimizer",
    "learning_rate",
    "early_stopping",
}
FINAL_METRICS = {
    "test_loss",
    "test_accuracy",
    "test_f1_macro",
    "test_precision_macro",
    "test_recall_macro",
    "test_precision_weighted",
    "test_recall_weighted",
    "params",
    "train_seconds",
    "seconds_per_epoch",
    "inference_ms_per_image",
}


def training_runs(client: MlflowClient, experiment: str = "smoke") -> list:
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id], "tags.run_kind = 'training'")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory):
    """One smoke `run` of two architectures into a fresh store; shared by the checks below."""
    folder, uri, (code,) = store_after(
        tmp_path_factory, "smoke", ["run", "--arch", "basic", "lenet5", *SMOKE]
    )
    return folder, uri, code


def test_run_exits_zero_and_writes_the_leaderboard(smoke) -> None:
    folder, _, code = smoke
    assert code == 0
    board = pd.read_csv(folder / "leaderboard.csv")
    assert list(board.columns) == leaderboard.COLUMNS
    assert sorted(board["architecture"]) == ["basic", "lenet5"]
    assert list(board["rank"]) == [1, 2]
    assert board["test_accuracy_mean"].is_monotonic_decreasing
    assert list(board["seeds"]) == [1, 1]
    assert (folder / "leaderboard.md").read_text().startswith("| rank | architecture |")
    assert (folder / "mlruns").is_dir()


def test_each_architecture_is_a_top_level_run_naming_its_comparison(smoke) -> None:
    _, uri, _ = smoke
    client = MlflowClient(uri)
    runs = training_runs(client)
    assert sorted(run.data.tags["arch"] for run in runs) == ["basic", "lenet5"]
    from benchmark.training import precision
    from benchmark.training.hardware import cpu_info

    for run in runs:  # every timing names the machine it came from, and its arithmetic
        assert run.data.tags["cpu_model"] == cpu_info()[0]
        assert run.data.tags["machine"].startswith(cpu_info()[0])
        assert run.data.tags["precision"] == precision.resolve("auto")  # bfloat16 on a Zen 5
    # Top-level runs (not nested, so MLflow's UI lists them), each naming the comparison.
    assert not any("mlflow.parentRunId" in run.data.tags for run in runs)
    parents = {run.data.tags["comparison_run_id"] for run in runs}
    assert len(parents) == 1
    parent = client.get_run(parents.pop())
    assert parent.data.tags["run_kind"] == "comparison"
    assert {"leaderboard.csv", "leaderboard.md", "validation_accuracy.png"} <= {
        item.path for item in client.list_artifacts(parent.info.run_id)
    }
    for run in runs:
        assert run.info.status == "FINISHED"
        assert PARAMS <= set(run.data.params)
        assert run.data.params["train_size"] == "300"
        assert FINAL_METRICS <= set(run.data.metrics)
        assert 0.0 <= run.data.metrics["test_accuracy"] <= 1.0
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert [m.step for m in client.get_metric_history(run.info.run_id, key)] == [1]
        assert {"git_commit", "dataset_digest", "config_hash"} <= set(run.data.tags)
        assert run.inputs.dataset_inputs, "the dataset is logged as an MLflow input"
        artifacts = {item.path for item in client.list_artifacts(run.info.run_id)}
        assert ARTIFACTS <= artifacts


def test_logged_model_loads_and_predicts(smoke, tiny_splits) -> None:
    import mlflow

    from benchmark.data.splits import to_model_input

    _, uri, _ = smoke
    mlflow.set_tracking_uri(uri)
    run = training_runs(MlflowClient(uri))[0]
    model = mlflow.keras.load_model(f"runs:/{run.info.run_id}/model")
    assert model.predict(to_model_input(tiny_splits.x_test[:4]), verbose=0).shape == (4, 10)


def test_classification_report_has_four_digits(smoke) -> None:
    _, uri, _ = smoke
    client = MlflowClient(uri)
    run = training_runs(client)[0]
    path = client.download_artifacts(run.info.run_id, "classification_report.txt")
    text = Path(path).read_text()
    assert "macro avg" in text and "weighted avg" in text
    assert any(len(token.split(".")[-1]) == 4 for token in text.split() if "." in token)


def test_second_run_skips_finished_work_and_force_reruns(smoke, capsys) -> None:
    folder, uri, _ = smoke
    client = MlflowClient(uri)
    before = len(training_runs(client))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        assert main(["run", "--arch", "basic", "lenet5", *SMOKE, "--tracking-uri", uri]) == 0
        assert "skipped" in capsys.readouterr().out
        assert len(training_runs(client)) == before
        assert main(["run", "--arch", "lenet5", *SMOKE, "--tracking-uri", uri, "--force"]) == 0
    assert len(training_runs(client)) == before + 1


def test_the_notebook_preset_trains_its_protocol_as_its_own_row(store: str) -> None:
    """`--params notebook`: Adam 1e-3 constant, all 20 epochs (no early stopping), own variant."""
    args = ["run", "--arch", "basic", "--params", "notebook", "--subset", "100"]
    assert main([*args, "--experiment", "nb", "--tracking-uri", store]) == 0
    client = MlflowClient(store)
    (run,) = training_runs(client, "nb")
    params = run.data.params
    assert (params["epochs"], params["lr_schedule"], params["learning_rate"]) == (
        "20",
        "constant",
        "0.001",
    )
    assert params["early_stopping"] == "False" and run.data.tags["variant"] == "notebook"
    assert len(client.get_metric_history(run.info.run_id, "val_accuracy")) == 20
    board = pd.read_csv("leaderboard.csv")
    assert list(board["variant"]) == ["notebook"]


def test_quiet_prints_no_progress_and_verbose_prints_debug_lines(smoke, capsys) -> None:
    folder, uri, _ = smoke
    args = ["run", "--arch", "basic", "lenet5", *SMOKE, "--tracking-uri", uri]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        assert main(["-q", *args]) == 0
        quiet = capsys.readouterr().out
        assert main([*args, "--verbose"]) == 0
        verbose = capsys.readouterr().out
    assert "skipped" not in quiet and "data:" not in quiet
    assert "basic" in quiet and "lenet5" in quiet, "the leaderboard is a result: still printed"
    assert "[basic 1/2] skipped" in verbose and "data: mnist" in verbose
    assert "[basic 1/2] configuration" in verbose, "-v adds the debug lines"
    assert verbose.count("] configuration ") == 2, "one debug line per job"


def test_leaderboard_command_reads_mlflow(smoke, capsys) -> None:
    _, uri, _ = smoke
    assert (
        main(["leaderboard", "--experiment", "smoke", "--tracking-uri", uri, "--format", "csv"])
        == 0
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == ",".join(leaderboard.COLUMNS)
    assert len(lines) == 3
    assert (
        main(
            ["leaderboard", "--experiment", "smoke", "--tracking-uri", uri, "--format", "markdown"]
        )
        == 0
    )
    assert "| 1 |" in capsys.readouterr().out


def test_list_prints_names_and_parameter_counts(capsys) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "121,994" in out
    for name in architectures.names():
        assert name in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "--arch", "mlp"], RunSettings(archs=["mlp"])),
        (["run", "--all", "--seeds", "2"], RunSettings(archs=architectures.names(), seeds=[0, 1])),
        (["run", "--arch", "mlp", "--ensemble"], RunSettings(archs=["mlp"], ensemble_k=5)),
        (["run", "--arch", "mlp", "--jobs", "3"], RunSettings(archs=["mlp"], jobs=3)),
        (["run", "--arch", "mlp", "--jobs", "auto"], RunSettings(archs=["mlp"], jobs=None)),
        (["tune", "--arch", "mlp", "--heartbeat", "3"], TuneSettings("mlp", heartbeat_seconds=3)),
        (["leaderboard", "--ensemble-k", "2"], BoardSettings(ensemble_k=2)),
        (["report"], ReportSettings()),
        (["predict", "a.png"], PredictSettings(images=["a.png"])),
    ],
)
def test_parser_defaults_and_options_are_the_settings_fields(args, expected) -> None:
    parsed = build_parser().parse_args(args)
    assert type(expected).from_args(parsed) == expected
    options = {
        flag
        for item in dataclasses.fields(expected)
        for option in item.metadata.get("options", ())
        for flag in option.flags
    }
    command = build_parser()._subparsers._group_actions[0].choices[args[0]]
    parsed_flags = {flag for action in command._actions for flag in action.option_strings}
    parsed_flags |= {action.dest for action in command._actions if not action.option_strings}
    assert parsed_flags - {"-h", "--help", "-q", "--quiet", "-v", "--verbose"} == options


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (lambda: TuneSettings("mlp", seed=-1), "argument --seed: must be 0 or more, got -1"),
        (lambda: TuneSettings("mlp", pruner="often"), "argument --pruner: invalid choice"),
        (lambda: RunSettings(["mlp"], epochs=0), "argument --epochs: must be a positive whole"),
        (lambda: RunSettings(["mlp"], seeds=[1, 1]), "seeds must be distinct"),
        (lambda: RunSettings(["nope"]), "unknown architecture 'nope'"),
    ],
)
def test_settings_made_in_python_are_checked_like_the_command_line(settings, message) -> None:
    with pytest.raises(BenchmarkError, match=re.escape(message)):
        settings()


def run_cli(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run(
        [sys.executable, "-m", "benchmark", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--arch", "nope"], "unknown architecture 'nope'; choose from: augmented, basic"),
        (["run", "--all", "--epochs", "0"], "--epochs: must be a positive whole number"),
        (["run", "--all", "--subset", "-5"], "--subset: must be between 10"),
        (["run", "--all", "--subset", "ten"], "expected a whole number"),
        (["run", "--all", "--seed", "1", "--seeds", "2"], "not allowed with argument --seed"),
        (["run", "--all", "--seeds", "0"], "--seeds: must be 1 to 10000, got 0"),
        (["run", "--all", "--seed", "-1"], "--seed: must be 0 or more"),
        (["run", "--all", "--ensemble-k", "0"], "--ensemble-k: must be a positive whole number"),
        (["run", "--all", "--tracking-uri", "http://127.0.0.1:9"], "is unreachable"),
        (["leaderboard"], "no MLflow store at"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(args: list[str], message: str, store, capsys) -> None:
    try:
        code = main(args)
    except SystemExit as exit_:  # argparse refuses malformed values itself
        code = exit_.code
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert not Path("mlruns").exists(), "nothing was trained"


def test_leaderboard_of_an_unknown_experiment_is_refused(smoke, capsys) -> None:
    _, uri, _ = smoke
    assert main(["leaderboard", "--experiment", "never-run", "--tracking-uri", uri]) == 2
    assert "no experiment 'never-run'" in capsys.readouterr().err


def test_bad_input_in_a_real_process_has_no_traceback(tmp_path) -> None:
    result = run_cli("run", "--arch", "nope", cwd=tmp_path)
    assert result.returncode == EXIT_USER_ERROR
    assert "error: unknown architecture 'nope'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.slow  # fault injection: waits on purpose for kills, heartbeats or races
def test_interrupted_run_leaves_nothing_running_and_resumes(tmp_path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = [
        "run",
        "--arch",
        "mlp",
        "lenet5",
        "--subset",
        "300",
        "--epochs",
        "60",
        "--experiment",
        "interrupt",
        "--tracking-uri",
        uri,
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmark", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen = []
    for line in process.stdout:  # wait until the second architecture is training
        seen.append(line)
        if "[lenet5 2/2] epoch 2/" in line:
            break
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    assert process.returncode == 130, "".join(seen) + rest
    assert "Traceback" not in rest
    client = MlflowClient(uri)
    runs = training_runs(client, "interrupt")
    assert {run.info.status for run in runs} == {"FINISHED", "FAILED"}
    assert not [run for run in runs if run.info.status == "RUNNING"]

    # The resume trains lenet5 for all 60 epochs: 1-3 s each on 2 cores, more when they are shared.
    again = run_cli(*args, cwd=tmp_path, timeout=900)
    assert again.returncode == 0, again.stderr
    assert "[mlp 1/2] skipped" in again.stdout
    finished = [r for r in training_runs(client, "interrupt") if r.info.status == "FINISHED"]
    assert sorted(run.data.tags["arch"] for run in finished) == ["lenet5", "mlp"]


def test_killed_process_run_is_closed_on_next_start(store: str) -> None:
    import mlflow

    from benchmark import tracking

    experiment_id = tracking.connect(store, "orphans")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    tags = {"run_kind": "training", "host": os.uname().nodename, "pid": str(dead.pid)}
    with mlflow.start_run(experiment_id=experiment_id, tags=tags) as run:
        pass
    MlflowClient().update_run(run.info.run_id, status="RUNNING")
    time.sleep(0.1)
    assert tracking.close_orphaned_runs(experiment_id) == [run.info.run_name]
    assert MlflowClient().get_run(run.info.run_id).info.status == "KILLED"


def test_run_against_an_http_tracking_server(mlflow_server, tmp_path, monkeypatch, capsys) -> None:
    """A real `mlflow server` on loopback: runs, metrics and proxied artifacts land there.

    The command runs in this process: the server, not a new process's TensorFlow import, is
    what this test is about.
    """
    result = in_process(
        "run", "--arch", "mlp", *SMOKE, "--tracking-uri", mlflow_server,
        cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    client = MlflowClient(mlflow_server)
    (run,) = training_runs(client)
    assert run.data.metrics["test_accuracy"] > 0
    assert ARTIFACTS <= {item.path for item in client.list_artifacts(run.info.run_id)}
    assert not (tmp_path / "mlruns").exists(), "artifacts went to the server, not cwd"
