"""Fault injection on `run`: real processes, real stores, a real `mlflow server` that dies."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from benchmark.settings import DEFAULT_EXPERIMENT, REGISTERED_MODEL
from tests.conftest import free_port, in_process

EXIT_USER_ERROR = 2
TINY = ["--subset", "300", "--epochs", "1"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}


def benchmark(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m benchmark ARGS` in `cwd`, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "benchmark", *args],
        cwd=cwd,
        env={key: value for key, value in ENV.items() if key != "MLFLOW_TRACKING_URI"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def training_runs(uri: str, experiment: str = DEFAULT_EXPERIMENT) -> list:
    """Every training run of the experiment, any status."""
    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    return client.search_runs([found.experiment_id], "tags.run_kind = 'training'")


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The error line of a failed command, checking there is exactly one and no traceback."""
    assert result.returncode == EXIT_USER_ERROR, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def test_unwritable_output_dir_is_refused_before_training(tmp_path, monkeypatch, capsys) -> None:
    result = in_process(
        "run", "--arch", "mlp", *TINY, "--output-dir", "/proc/nope",
        "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
        cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys,
    )  # fmt: skip
    assert "--output-dir /proc/nope is not writable" in one_line_error(result)
    assert training_runs(f"sqlite:///{tmp_path / 'mlflow.db'}") == []


def test_read_only_artifact_store_is_refused_before_training(tmp_path, monkeypatch, capsys) -> None:
    # A file where the artifact folder should be refuses writes even to root, unlike chmod.
    (tmp_path / "mlruns").write_text("not a folder")
    # An absolute store URI: in one process MLflow caches stores by URI, and the default
    # relative one would name an earlier test's store. Its artifacts still go to ./mlruns.
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = in_process(
        "run", "--arch", "mlp", *TINY, "--tracking-uri", store,
        cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys,
    )  # fmt: skip
    assert "artifact store" in one_line_error(result)
    assert training_runs(f"sqlite:///{tmp_path / 'mlflow.db'}") == []


def test_sqlite_store_that_cannot_be_written_fails_fast(tmp_path, monkeypatch, capsys) -> None:
    started = time.monotonic()
    result = in_process(
        "run", "--arch", "mlp", *TINY, "--tracking-uri", "sqlite:////proc/x.db",
        cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys,
    )  # fmt: skip
    assert "/proc is not writable" in one_line_error(result)
    assert time.monotonic() - started < 60  # MLflow alone retried for 126 s
    assert "retry" not in result.stderr.lower()


class Server:
    """An `mlflow server` of our own on loopback, to kill and start again on the same store."""

    def __init__(self, folder: Path, schema: Path) -> None:
        self.folder, self.port, self.process = folder, free_port(), None
        folder.mkdir(exist_ok=True)
        shutil.copyfile(schema, folder / "server.db")
        self.uri = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start it and wait until it answers."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1"]
            + ["--port", str(self.port), "--workers", "1"]
            + ["--backend-store-uri", f"sqlite:///{self.folder / 'server.db'}"]
            + ["--artifacts-destination", str(self.folder / "artifacts")],
            cwd=self.folder,
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # kill -9 reaches its worker too
        )
        for _ in range(240):
            try:
                urllib.request.urlopen(self.uri + "/health", timeout=1)
                return
            except OSError:
                time.sleep(0.5)
        pytest.fail("mlflow server did not start within 120 s")

    def kill(self) -> None:
        """kill -9 the server and its worker."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@pytest.fixture
def server(tmp_path: Path, migrated_schema: Path):
    """A server of this test's own, stopped at the end whatever happened."""
    own = Server(tmp_path / "server", migrated_schema)
    own.start()
    yield own
    if own.process and own.process.poll() is None:
        own.kill()


def _start_run_and_kill_server_while_training(server: Server, cwd: Path) -> subprocess.Popen:
    """Start `run` against the server and kill -9 the server once the first epoch ended."""
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmark", "run", "--arch", "lenet5", "--subset", "300"]
        + ["--epochs", "6", "--tracking-uri", server.uri],
        cwd=cwd,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen = []
    for line in process.stdout:
        seen.append(line)
        if "epoch 1/" in line:
            break
    assert process.poll() is None, "".join(seen)
    server.kill()
    return process


@pytest.mark.slow  # keeps a server down past the documented bound on purpose
def test_server_killed_for_good_keeps_results_and_next_run_logs_them(server, tmp_path) -> None:
    process = _start_run_and_kill_server_while_training(server, tmp_path)
    killed = time.monotonic()
    out, _ = process.communicate(timeout=300)
    waited = time.monotonic() - killed
    result = subprocess.CompletedProcess(process.args, process.returncode, "", out)
    line = one_line_error(result)
    assert ".benchmark-pending" in line, line
    assert waited < 120, f"{waited:.0f} s after the kill"  # training + 60 s recovery + calls
    kept = list((tmp_path / ".benchmark-pending").iterdir())
    assert len(kept) == 1 and (kept[0] / "model.keras").is_file()

    server.start()
    again = benchmark("run", "--arch", "lenet5", "--subset", "300", "--epochs", "6",
                      "--tracking-uri", server.uri, cwd=tmp_path)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "logged the kept results" in again.stdout + again.stderr
    assert "skipped" in again.stdout + again.stderr  # not trained a second time
    runs = training_runs(server.uri)
    assert [run.info.status for run in runs] == ["FINISHED"]
    assert runs[0].data.metrics["test_accuracy"] > 0
    artifacts = {item.path for item in MlflowClient(server.uri).list_artifacts(runs[0].info.run_id)}
    assert {"test_probabilities.npz", "confusion_matrix.png"} <= artifacts
    assert not list((tmp_path / ".benchmark-pending").iterdir())


@pytest.mark.slow  # keeps a server down for a while on purpose
def test_server_back_within_twenty_seconds_loses_nothing(server, tmp_path) -> None:
    process = _start_run_and_kill_server_while_training(server, tmp_path)
    time.sleep(10)  # plus the 10-30 s the server takes to start on 2 busy cores
    server.start()
    out, _ = process.communicate(timeout=300)
    assert process.returncode == 0, out
    assert "Traceback" not in out
    runs = training_runs(server.uri)
    assert [run.info.status for run in runs] == ["FINISHED"]
    assert runs[0].data.metrics["test_accuracy"] > 0


@pytest.mark.slow  # two processes race on purpose
def test_two_concurrent_runs_train_each_configuration_once(tmp_path: Path) -> None:
    args = [sys.executable, "-m", "benchmark", "run", "--arch", "mlp", "basic", "lenet5", *TINY]
    processes = [
        subprocess.Popen(
            args, cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )  # fmt: skip
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=900)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    runs = training_runs(uri)
    finished = Counter(r.data.tags["config_hash"] for r in runs if r.info.status == "FINISHED")
    assert sorted(finished.values()) == [1, 1, 1], finished
    assert not [run for run in runs if run.info.status == "RUNNING"]
    versions = MlflowClient(uri).search_model_versions(f"name = '{REGISTERED_MODEL}'")
    assert Counter(version.run_id for version in versions).most_common(1)[0][1] == 1
