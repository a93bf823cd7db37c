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
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from benchmark.errors import EXIT_USER_ERROR
from benchmark.settings import DEFAULT_EXPERIMENT, REGISTERED_MODEL
from tests.conftest import free_port, in_process, read_until

TINY = ["--subset", "300", "--epochs", "1"]
# PYTHONFAULTHANDLER: should a child still crash in native code, its output shows every
# thread's Python stack at the moment it did.
ENV = {
    **os.environ,
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "PYTHONUNBUFFERED": "1",
    "PYTHONFAULTHANDLER": "1",
}


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


def started(*args: str, cwd: Path, **options: Any) -> subprocess.Popen:
    """`python -m benchmark ARGS` started in `cwd`; stdout (and stderr, unless `options` say
    otherwise) readable as text from the process."""
    return subprocess.Popen(
        [sys.executable, "-m", "benchmark", *args],
        cwd=cwd,
        env=ENV,
        text=True,
        **{"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, **options},
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


def store_figures(uri: str, experiment: str = DEFAULT_EXPERIMENT) -> dict[str, int]:
    """Configurations with more than one FINISHED run, runs left RUNNING, champion repeats."""
    runs = training_runs(uri, experiment)
    finished = Counter(r.data.tags["config_hash"] for r in runs if r.info.status == "FINISHED")
    versions = MlflowClient(uri).search_model_versions(f"name = '{REGISTERED_MODEL}'")
    registered = Counter(version.run_id for version in versions)
    return {
        "duplicates": sum(count - 1 for count in finished.values()),
        "running": sum(run.info.status == "RUNNING" for run in runs),
        "champion_repeats": sum(count - 1 for count in registered.values()),
    }


def refused_before_training(scenario: str, started: float) -> dict:
    """The figures of a scenario refused before any training: nothing trained, nothing left."""
    return {
        "scenario": scenario, "trainings": 0, "lost": 0, "duplicates": 0, "running": 0,
        "seconds": time.monotonic() - started, "bound": None, "note": "refused before training",
    }  # fmt: skip


def test_unwritable_output_dir_is_refused_before_training(
    tmp_path, monkeypatch, capsys, fault_report
) -> None:
    started = time.monotonic()
    result = in_process(
        "run", "--arch", "mlp", *TINY, "--output-dir", "/proc/nope",
        "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
        cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys,
    )  # fmt: skip
    assert "--output-dir /proc/nope is not writable" in one_line_error(result)
    assert training_runs(f"sqlite:///{tmp_path / 'mlflow.db'}") == []
    fault_report.update(refused_before_training("unwritable --output-dir", started))


def test_read_only_artifact_store_is_refused_before_training(
    tmp_path, monkeypatch, capsys, fault_report
) -> None:
    started = time.monotonic()
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
    fault_report.update(refused_before_training("read-only artifact store", started))


def test_sqlite_store_that_cannot_be_written_fails_fast(
    tmp_path, monkeypatch, capsys, fault_report
) -> None:
    started = time.monotonic()
    result = in_process(
        "run", "--arch", "mlp", *TINY, "--tracking-uri", "sqlite:////proc/x.db",
        cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys,
    )  # fmt: skip
    assert "/proc is not writable" in one_line_error(result)
    assert time.monotonic() - started < 60  # MLflow alone retried for 126 s
    assert "retry" not in result.stderr.lower()
    fault_report.update(
        scenario="SQLite store that cannot be written", trainings=0, lost=0, duplicates=0,
        running=0, seconds=time.monotonic() - started, bound=60, note="one line, no retries",
    )  # fmt: skip


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
    process = started("run", "--arch", "lenet5", "--subset", "300", "--epochs", "6",
                      "--tracking-uri", server.uri, cwd=cwd)  # fmt: skip
    read_until(process, "epoch 1/")
    server.kill()
    return process


@pytest.mark.slow  # keeps a server down past the documented bound on purpose
def test_server_killed_for_good_keeps_results_and_next_run_logs_them(
    server, tmp_path, fault_report
) -> None:
    process = _start_run_and_kill_server_while_training(server, tmp_path)
    killed = time.monotonic()
    out, _ = process.communicate(timeout=300)
    waited = time.monotonic() - killed
    print(f"the run exited {waited:.1f} s after the server died")
    result = subprocess.CompletedProcess(process.args, process.returncode, "", out)
    line = one_line_error(result)
    assert ".benchmark-pending" in line, line
    # The bound: the rest of the training, RECOVERY_SECONDS (60) of waiting, and about 5 s
    # per call that finds the server gone (2 retries of a refused connection).
    assert waited < 120, f"{waited:.0f} s after the kill"
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
    assert not (tmp_path / ".benchmark-pending").exists()  # emptied, then removed
    fault_report.update(
        scenario="tracking server killed for good", trainings=1, lost=0,
        **store_figures(server.uri), seconds=waited, bound=120,
        note="exit 2 naming .benchmark-pending/; the next run logged the kept results",
    )  # fmt: skip


@pytest.mark.slow  # keeps a server down for a while on purpose
def test_server_back_within_twenty_seconds_loses_nothing(server, tmp_path, fault_report) -> None:
    process = _start_run_and_kill_server_while_training(server, tmp_path)
    killed = time.monotonic()
    time.sleep(20)  # plus the 10-30 s the server takes to start on 2 busy cores
    server.start()
    down = time.monotonic() - killed
    out, _ = process.communicate(timeout=300)
    assert process.returncode == 0, out
    assert "Traceback" not in out
    runs = training_runs(server.uri)
    assert [run.info.status for run in runs] == ["FINISHED"]
    assert runs[0].data.metrics["test_accuracy"] > 0
    fault_report.update(
        scenario=f"tracking server down for {down:.0f} s", trainings=1, lost=0,
        **store_figures(server.uri), seconds=time.monotonic() - killed, bound=120,
        note="exit 0, the run logged once the server answered",
    )  # fmt: skip


@pytest.mark.slow  # a server killed on purpose, then a signal
@pytest.mark.parametrize(
    ("moment", "signal_number"),
    [
        # Rich wraps long lines: each moment is the start of its message.
        ("tracking store stopped answering", signal.SIGINT),  # an epoch's metrics failed to log
        ("tracking server not answering", signal.SIGTERM),  # a finished training waits for it
    ],
    ids=["ctrl-c-while-training", "sigterm-while-waiting-for-the-server"],
)
def test_a_signal_while_the_server_is_down_is_honoured_within_seconds(
    server, tmp_path, fault_report, moment, signal_number
) -> None:
    process = _start_run_and_kill_server_while_training(server, tmp_path)
    seen = []
    for line in process.stdout:
        seen.append(line)
        if line.startswith(moment):
            break
    assert process.poll() is None, "".join(seen)
    process.send_signal(signal_number)
    sent = time.monotonic()
    out, _ = process.communicate(timeout=120)
    took = time.monotonic() - sent
    print(f"exited {took:.1f} s after the signal")
    assert process.returncode == 130, "".join(seen) + out
    assert "Traceback" not in out
    assert took < 10, f"{took:.1f} s after the signal"
    finished = moment == "tracking server not answering"
    kept = list((tmp_path / ".benchmark-pending").glob("*/model.keras"))
    assert len(kept) == (1 if finished else 0), out  # a finished training is kept, not dropped

    server.start()
    again = benchmark("run", "--arch", "lenet5", "--subset", "300", "--epochs", "6",
                      "--tracking-uri", server.uri, cwd=tmp_path)  # fmt: skip
    assert again.returncode == 0, again.stderr
    said = again.stdout + again.stderr
    assert ("logged the kept results" in said) == finished
    assert ("skipped" in said) == finished  # trained again only if it had not finished
    runs = training_runs(server.uri)
    assert sorted(run.info.status for run in runs) == ["FINISHED"] + ["KILLED"] * (not finished)
    fault_report.update(
        scenario=f"{signal.Signals(signal_number).name} while the server is down"
        + (" and a finished training waits for it" if finished else ", during training"),
        trainings=1 + (not finished), lost=0, **store_figures(server.uri), seconds=took, bound=10,
        note="exit 130" + (", results kept and logged by the next run" if finished else ""),
    )  # fmt: skip


@pytest.mark.slow  # two processes race on purpose
def test_two_concurrent_runs_train_each_configuration_once(tmp_path: Path, fault_report) -> None:
    args = [sys.executable, "-m", "benchmark", "run", "--arch", "mlp", "basic", "lenet5", *TINY]
    started = time.monotonic()
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
    trainings = sum(output.count(" training up to ") for output in outputs)
    assert trainings == 3, outputs
    fault_report.update(
        scenario="2 concurrent run --all on one store", trainings=trainings, lost=0,
        **store_figures(uri), seconds=time.monotonic() - started, bound=None,
        note="each configuration trained by one process, the other skipped or waited",
    )  # fmt: skip


# Where `run` is killed: after each marker line, the process gets SIGKILL at once.
KILL_POINTS = (
    ("after the data loaded, before training", "data: mnist"),
    ("while the first architecture trains", "[mlp 1/2] epoch 1/"),
    ("while a finished training is evaluated and logged", "[mlp 1/2] epoch 2/2"),
    ("between two architectures", "[basic 2/2] training up to"),
    ("while the leaderboard and champion are written", "[basic 2/2] test accuracy"),
)


@pytest.mark.slow  # kills a process five times on purpose
def test_kill_9_at_five_points_loses_repeats_and_orphans_nothing(tmp_path, fault_report) -> None:
    """kill -9 at five points, each followed by the same command, then one run to the end.

    Lost: a training a process reported finished that a later process trained again.
    """
    args = [sys.executable, "-m", "benchmark", "run", "-v", "--arch", "mlp", "basic"]
    args += ["--subset", "300", "--epochs", "2"]
    reported, lost, trainings, outputs = set(), 0, 0, []

    def account(lines: list[str]) -> None:
        nonlocal lost, trainings
        for line in lines:
            for arch in ("mlp", "basic"):
                if line.startswith(f"[{arch} ") and " training up to " in line:
                    trainings += 1
                    lost += arch in reported
                elif line.startswith(f"[{arch} ") and " test accuracy " in line:
                    reported.add(arch)

    for where, marker in KILL_POINTS:
        process = subprocess.Popen(
            args, cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        seen = []
        for line in process.stdout:
            seen.append(line)
            if line.startswith(marker):
                process.kill()
                break
        process.wait(timeout=60)
        outputs.append("".join(seen))
        assert process.returncode == -signal.SIGKILL, f"never reached {where}: " + outputs[-1]
        account(seen)
    final = subprocess.run(args, cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, "\n".join(outputs) + final.stdout + final.stderr
    account((final.stdout + final.stderr).splitlines())
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    figures = store_figures(uri)
    assert lost == 0, "\n".join(outputs)
    assert figures == {"duplicates": 0, "running": 0, "champion_repeats": 0}, figures
    finished = [run for run in training_runs(uri) if run.info.status == "FINISHED"]
    assert sorted(run.data.tags["arch"] for run in finished) == ["basic", "mlp"]
    versions = MlflowClient(uri).search_model_versions(f"name = '{REGISTERED_MODEL}'")
    assert len(versions) == 1, [version.run_id for version in versions]
    fault_report.update(
        scenario="kill -9 at 5 points, then the same command", trainings=trainings, lost=lost,
        **figures, seconds=None, bound=None,
        note="; ".join(where for where, _ in KILL_POINTS),
    )  # fmt: skip
