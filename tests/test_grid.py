"""`run`'s grid on Optuna's storage: workers on several "hosts" of one PostgreSQL database and
one MLflow server on loopback, a worker killed mid-cell, and the grid's bad input."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from benchmark.cli import EXIT_USER_ERROR
from benchmark.grid import worker as grid_worker
from benchmark.grid.cells import Cell, Data
from benchmark.grid.queue import Grid, grid_name, holder_of
from benchmark.grid.versions import code_version
from benchmark.grid.worker import POLL_SECONDS
from benchmark.settings import REGISTERED_MODEL
from tests.conftest import in_process, new_database
from tests.test_faults_run import started, training_runs

HEARTBEAT = 3  # seconds between a cell's heartbeats (--heartbeat); stale after 3 missed
EPOCHS = 6  # a cell of 300 images trains a few seconds, so a kill lands in the middle of one
ARCHS = ("mlp", "basic")
SEEDS = 4


class Lines:
    """A process's output lines, read by a thread as they come (so its pipe never fills)."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process, self.lines = process, []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)


def victim_cell(storage: str, study: str, workers: dict[str, Lines]) -> tuple[str, str] | None:
    """(host, cell label) of a cell a worker is training: its trial RUNNING in the study, held
    by hostA or hostB, and that worker has printed an epoch of it. None if there is none yet."""
    try:
        trials = optuna.load_study(study_name=study, storage=storage).get_trials(
            deepcopy=False, states=(TrialState.RUNNING,)
        )
    except KeyError:  # `run` has not made the study yet
        return None
    for trial in trials:
        host = holder_of(trial).get("host")
        if host not in workers or "run_id" not in trial.user_attrs:
            continue
        label = Cell.from_json(trial.user_attrs["cell"]).label
        if any(label in line and " epoch 1/" in line for line in workers[host].lines):
            return host, label
    return None


@pytest.mark.slow  # three processes train 8 cells on purpose, one of them is killed
def test_workers_on_two_hosts_share_a_postgres_grid_and_a_killed_cell_is_trained_again(
    postgres, mlflow_server, tmp_path: Path, fault_report: dict
) -> None:
    storage = new_database(postgres, f"grid_{int(time.time() * 1000)}")
    experiment = f"grid-pg-{tmp_path.name}"  # the MLflow server is shared by the session
    study = grid_name(experiment, "mnist")
    args = ["run", "--storage", storage, "--tracking-uri", mlflow_server, "--arch", *ARCHS]
    args += ["--seeds", str(SEEDS), "--subset", "300", "--epochs", str(EPOCHS)]
    args += ["--heartbeat", str(HEARTBEAT), "--jobs", "1", "--experiment", experiment]
    join = ["worker", "--storage", storage, "--tracking-uri", mlflow_server, "--wait"]
    # The workers first, with --wait: they poll until `run` queues, then take cells.
    workers = {
        host: Lines(started(*join, "--host", host, cwd=tmp_path)) for host in ("hostA", "hostB")
    }
    run = started(*args, cwd=tmp_path)
    run_lines = Lines(run)
    try:
        victim, deadline = None, time.monotonic() + 600
        while victim is None and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.5)
            victim = victim_cell(storage, study, workers)
        assert victim is not None, run_lines.text() + "".join(w.text() for w in workers.values())
        host, label = victim
        workers[host].process.kill()  # kill -9, in the middle of an epoch of `label`
        killed_at = time.time()
        run.wait(timeout=600)
        run_lines.thread.join(timeout=10)
    finally:
        for lines in workers.values():
            if lines.process.poll() is None:
                lines.process.send_signal(signal.SIGTERM)
        for lines in (*workers.values(), run_lines):
            try:
                lines.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                lines.process.kill()
    said = run_lines.text()
    everything = said + "".join(w.text() for w in workers.values())
    assert run.returncode == 0, everything
    assert "Traceback" not in everything, everything

    # Every cell (2 archs x 4 seeds) has exactly one FINISHED run; the killed one is KILLED.
    runs = training_runs(mlflow_server, experiment)
    finished = [r for r in runs if r.info.status == "FINISHED"]
    per_cell = Counter((r.data.tags["arch"], r.data.tags["seed"]) for r in finished)
    assert len(per_cell) == len(ARCHS) * SEEDS and set(per_cell.values()) == {1}, per_cell
    assert Counter(r.info.status for r in runs) == {"FINISHED": 8, "KILLED": 1}, [
        (r.data.tags.get("host"), r.info.status) for r in runs
    ]
    (dead,) = [r for r in runs if r.info.status == "KILLED"]
    assert dead.data.tags["host"] == host
    (retry,) = [r for r in finished if r.data.tags["config_hash"] == dead.data.tags["config_hash"]]
    assert retry.data.tags["host"] != host, "trained again by another worker"
    # The retry starts once a worker sees the cell stale: 3 missed heartbeats, plus the time
    # the other workers take to finish the cell they hold (the longest cell here), plus a poll.
    longest = max((r.info.end_time - r.info.start_time) / 1000 for r in finished)
    waited = retry.info.start_time / 1000 - killed_at
    bound = 3 * HEARTBEAT + longest + 2 * POLL_SECONDS + 10
    assert waited < bound, f"retry of {label} started {waited:.1f} s after the kill"

    # Nothing RUNNING in the study either; the killed trial FAILED, its copy COMPLETE.
    trials = optuna.load_study(study_name=study, storage=storage).trials
    states = Counter(t.state for t in trials)
    assert states[TrialState.RUNNING] == states[TrialState.WAITING] == 0, states
    assert states[TrialState.COMPLETE] == len(ARCHS) * SEEDS, states
    assert states[TrialState.FAIL] == 1, states

    # The champion registered once: one version, of one of this experiment's runs.
    ids = {r.info.run_id for r in runs}
    versions = MlflowClient(mlflow_server).search_model_versions(f"name = '{REGISTERED_MODEL}'")
    assert len([v for v in versions if v.run_id in ids]) == 1

    # Who trained what: hostA, hostB and the `run` process's own host.
    trained_by = Counter(r.data.tags["host"] for r in finished)
    assert set(trained_by) <= {"hostA", "hostB", socket.gethostname()}, trained_by
    assert len(trained_by) >= 2, f"the cells were shared: {trained_by}"

    # The same `run` again trains nothing: every cell has its finished run.
    again = started(*args, cwd=tmp_path)
    out = again.communicate(timeout=600)[0]
    assert again.returncode == 0, out
    assert " training up to " not in out, out
    assert out.count("skipped: finished run") == len(ARCHS) * SEEDS, out
    assert len(training_runs(mlflow_server, experiment)) == len(runs)
    versions = MlflowClient(mlflow_server).search_model_versions(f"name = '{REGISTERED_MODEL}'")
    assert len([v for v in versions if v.run_id in ids]) == 1, "registered once, not per run"
    print(
        f"trained by host {dict(trained_by)}; killed {host} in {label}; retry started "
        f"{waited:.1f} s after the kill (bound {bound:.1f} s, longest cell {longest:.1f} s)"
    )
    fault_report.update(
        scenario="kill -9 of one of two remote workers (PostgreSQL, MLflow server)",
        trainings=len(runs), lost=0, duplicates=0, running=0,
        seconds=round(waited, 1), bound=round(bound, 1),
        note=f"trained by host: {dict(trained_by)}; killed {host} in {label}",
    )  # fmt: skip


# ---- bad input: no PostgreSQL needed -------------------------------------------------------


@pytest.mark.parametrize(
    "storage, message",
    [
        ("postgresql://u:secret@127.0.0.1:1/x", "is unreachable or invalid"),
        ("postgresql://u:secret@127.0.0.1:notaport/x", "is unreachable or invalid"),
        ("nosuchdb://u:secret@somewhere/x", "is unreachable or invalid"),
    ],
)
def test_a_bad_storage_is_one_line_before_training(
    storage: str, message: str, tmp_path: Path, store: str, monkeypatch, capsys
) -> None:
    args = ["run", "--arch", "mlp", "--subset", "300", "--epochs", "1", "--storage", storage]
    result = in_process(*args, "--tracking-uri", store, cwd=tmp_path, monkeypatch=monkeypatch,
                        capsys=capsys)  # fmt: skip
    assert result.returncode == EXIT_USER_ERROR, result.stdout + result.stderr
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert message in err and "***" in err, err
    assert "secret" not in result.stdout + err
    assert " training up to " not in result.stdout + err
    # No MLflow store, no study file: refused before any training, nothing created.
    assert sorted(path.name for path in tmp_path.iterdir()) == []


def test_a_worker_on_a_store_without_a_grid_says_so(tmp_path: Path, monkeypatch, capsys) -> None:
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    result = in_process("worker", "--storage", storage, cwd=tmp_path, monkeypatch=monkeypatch,
                        capsys=capsys)  # fmt: skip
    assert result.returncode == EXIT_USER_ERROR, result.stdout + result.stderr
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1 and f"no grid in {storage}" in err, err
    assert "--wait" in err


def test_a_worker_with_wait_says_it_waits_for_a_grid(tmp_path: Path, monkeypatch, capsys) -> None:
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    polls: list[float] = []

    def sleep(seconds: float) -> None:  # stands for the user's Ctrl-C after two polls
        polls.append(seconds)
        if len(polls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(grid_worker.time, "sleep", sleep)
    result = in_process("worker", "--storage", storage, "--wait", cwd=tmp_path,
                        monkeypatch=monkeypatch, capsys=capsys)  # fmt: skip
    out = result.stdout + result.stderr
    assert polls == [POLL_SECONDS, POLL_SECONDS], out
    assert out.count("waiting for new cells (--wait)") == 1, out
    assert "Traceback" not in out and "error:" not in out, out


def other_code_cell(experiment_id: str) -> Cell:
    """A cell as a `run` of other code would have queued it."""
    data = Data("mnist", "digest", None, None, 300, 0.1)
    return Cell(
        key="k1", config="c1", arch="mlp", seed=1, label="[mlp seed 1 1/1]",
        params={"epochs": 1, "batch_size": 128}, tags={"variant": "default"}, logged={},
        early_stopping=False, target_accuracy=None, dtype="float32", data=data,
        experiment_id=experiment_id, comparison_run_id="", force=False, max_retries=1,
        code="0123456789ab-other",
    )  # fmt: skip


def test_a_worker_of_other_code_refuses_naming_both_versions(
    tmp_path: Path, store: str, monkeypatch, capsys
) -> None:
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    grid = Grid.create(storage, grid_name("other", "mnist"), HEARTBEAT, store)
    assert grid.queue([other_code_cell("0")], {}) == 1
    result = in_process("worker", "--storage", storage, cwd=tmp_path, monkeypatch=monkeypatch,
                        capsys=capsys)  # fmt: skip
    assert result.returncode == EXIT_USER_ERROR, result.stdout + result.stderr
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert code_version() in err and "0123456789ab-other" in err, err
    (trial,) = grid.trials()
    assert trial.state == TrialState.WAITING, "left for a worker of its own code"


def test_a_cell_that_raises_is_retried_then_failed_and_listed_under_the_board(
    tmp_path: Path, store: str, monkeypatch, capsys
) -> None:
    calls: list[str] = []
    train = grid_worker.train_and_evaluate

    def basic_is_broken(architecture, *args, **kwargs):
        calls.append(architecture.name)
        if architecture.name == "basic":
            raise RuntimeError("the cell's own bug")
        return train(architecture, *args, **kwargs)

    monkeypatch.setattr(grid_worker, "train_and_evaluate", basic_is_broken)
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    args = ["run", "--arch", "mlp", "basic", "--subset", "300", "--epochs", "1"]
    args += ["--storage", storage, "--max-retries", "2", "--tracking-uri", store]
    result = in_process(*args, cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys)
    out = result.stdout + result.stderr
    assert result.returncode == EXIT_USER_ERROR, out
    assert "Traceback" not in out
    assert Counter(calls) == {"mlp": 1, "basic": 3}, "tried once, then retried twice"
    assert "failed [basic" in result.stdout, out
    assert "]: RuntimeError: the cell's own bug" in result.stdout, out
    assert result.stdout.index("mlp") < result.stdout.index("failed [basic"), "under the board"
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: 1 cell failed (listed above); run the same command again to retry them"
    ], result.stderr
    statuses = Counter((r.data.tags["arch"], r.info.status) for r in training_runs(store))
    assert statuses == {("mlp", "FINISHED"): 1, ("basic", "FAILED"): 3}, statuses
    (grid,) = Grid.all_in(storage)
    assert Counter(t.state for t in grid.trials()) == {TrialState.COMPLETE: 1, TrialState.FAIL: 3}

    shown = in_process("status", "--storage", storage, cwd=tmp_path, monkeypatch=monkeypatch,
                       capsys=capsys)  # fmt: skip
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "0 waiting, 0 running, 1 done, 1 failed" in shown.stdout, shown.stdout
    assert "RuntimeError: the cell's own bug" in shown.stdout, shown.stdout


def test_a_grid_whose_every_cell_fails_is_one_line_naming_status(
    tmp_path: Path, store: str, monkeypatch, capsys
) -> None:
    calls: list[int] = []

    def broken(*args, seed: int, **kwargs):
        calls.append(seed)
        raise RuntimeError("the cell's own bug")

    monkeypatch.setattr(grid_worker, "train_and_evaluate", broken)
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    args = ["run", "--arch", "mlp", "--subset", "300", "--epochs", "1", "--storage", storage]
    result = in_process(*args, "--max-retries", "0", "--tracking-uri", store, cwd=tmp_path,
                        monkeypatch=monkeypatch, capsys=capsys)  # fmt: skip
    assert result.returncode == EXIT_USER_ERROR, result.stdout + result.stderr
    assert len(calls) == 1, "--max-retries 0: tried once"
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "RuntimeError: the cell's own bug" in errors[0], result.stderr
    assert "python -m benchmark status --storage" in errors[0]
    assert {r.info.status for r in training_runs(store)} == {"FAILED"}


@pytest.mark.parametrize("command", ["worker", "status"])
def test_a_mistyped_sqlite_storage_is_not_created(
    command: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    # A typo in --storage must not leave an empty study database behind (nor give a waiting
    # worker a file no `run` will ever queue to).
    result = in_process(command, "--storage", "sqlite:///typo.db", cwd=tmp_path,
                        monkeypatch=monkeypatch, capsys=capsys)  # fmt: skip
    assert result.returncode == EXIT_USER_ERROR, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == [], "nothing created"


def test_a_waiting_worker_takes_cells_of_a_grid_queued_after_it_started(
    tmp_path: Path, store: str, monkeypatch, capsys
) -> None:
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    Grid.create(storage, grid_name("first", "mnist"), HEARTBEAT, store)  # one grid, no cells
    polls: list[float] = []

    def sleep(seconds: float) -> None:  # while the worker waits, another grid is queued
        polls.append(seconds)
        if len(polls) == 1:
            later = Grid.create(storage, grid_name("later", "mnist"), HEARTBEAT, store)
            later.queue([other_code_cell("0")], {})
        elif len(polls) == 3:
            raise KeyboardInterrupt  # the worker never looked at the new grid

    monkeypatch.setattr(grid_worker.time, "sleep", sleep)
    result = in_process("worker", "--storage", storage, "--wait", cwd=tmp_path,
                        monkeypatch=monkeypatch, capsys=capsys)  # fmt: skip
    # It finds the new grid's cell (of other code, so it refuses naming it, without training).
    assert result.returncode == EXIT_USER_ERROR, result.stdout + result.stderr
    assert "0123456789ab-other" in result.stderr, result.stderr
