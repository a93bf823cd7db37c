"""`run --jobs N`: worker processes share one invocation's trainings (its own module, so that
pytest-xdist, which hands out whole modules, runs it beside the others)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from benchmark.settings import DEFAULT_EXPERIMENT
from benchmark.training import hardware
from tests.conftest import in_process
from tests.test_faults_run import TINY, benchmark, started, training_runs

ARCHS = ["mlp", "lenet5", "speedrun"]


def comparison_runs(uri: str) -> list:
    """Every comparison run of the default experiment, newest first."""
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(DEFAULT_EXPERIMENT)
    return client.search_runs([experiment.experiment_id], "tags.run_kind = 'comparison'")


def test_two_jobs_train_each_configuration_once_in_worker_processes(
    tmp_path: Path, migrated_schema: Path, monkeypatch, capfd
) -> None:
    shutil.copyfile(migrated_schema, tmp_path / "mlflow.db")  # a store in place, to save time
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # absolute: MLflow caches stores by URI
    args = ["run", "--arch", *ARCHS, *TINY, "--tracking-uri", uri]
    # The parent in this process, TensorFlow loaded; its two workers are new processes.
    result = in_process(*args, "--jobs", "2", cwd=tmp_path, monkeypatch=monkeypatch, capsys=capfd)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "Traceback" not in out
    runs = training_runs(uri)
    assert sorted(run.data.tags["arch"] for run in runs) == sorted(ARCHS)
    assert {run.info.status for run in runs} == {"FINISHED"}
    (comparison,) = comparison_runs(uri)
    assert comparison.data.params["jobs"] == "2"
    threads = max(1, hardware.cpu_cores() // 2)
    for run in runs:
        tags = run.data.tags
        assert tags["comparison_run_id"] == comparison.info.run_id  # a tag, not nesting
        assert "mlflow.parentRunId" not in tags
        assert tags["pid"] != str(os.getpid()), "trained in a worker, not in the parent"
        assert tags["threads"] == str(threads)
        assert (f", {threads} thread" in tags["machine"]) == (threads < hardware.cpu_cores())
    trainings = [line for line in out.splitlines() if " training up to " in line]
    assert len(trainings) == 3 and {line[:3] for line in trainings} <= {"j0 ", "j1 "}, out
    # The most work first (MACs per image x epochs): speedrun, then mlp, then lenet5.
    labels = {line.split("]")[0][3:] + "]" for line in trainings}
    assert labels == {"[speedrun 1/3]", "[mlp 2/3]", "[lenet5 3/3]"}, out
    assert "leaderboard written" in out

    # The worker count is not part of a configuration: one process finds all three finished.
    again = in_process(*args, cwd=tmp_path, monkeypatch=monkeypatch, capsys=capfd)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (again.stdout + again.stderr).count("skipped: finished run") == 3, again.stdout
    assert len(training_runs(uri)) == 3


@pytest.mark.slow  # interrupts training on purpose and trains again
def test_ctrl_c_stops_every_worker_between_batches_and_the_next_run_finishes(
    tmp_path: Path,
) -> None:
    args = ["run", "--arch", "lenet5", "mlp", "basic", "--subset", "5000", "--epochs", "3"]
    # In its own process group, as a terminal's command is.
    process = started(*args, "--jobs", "2", cwd=tmp_path, start_new_session=True)
    seen = []
    for line in process.stdout:
        seen.append(line)
        if " epoch 1/3 " in line:
            break
    assert process.poll() is None, "".join(seen)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
    sent = time.monotonic()
    out = "".join(seen) + process.communicate(timeout=120)[0]
    took = time.monotonic() - sent
    assert process.returncode == 130, out
    assert "Traceback" not in out and "interrupted: finished runs are kept" in out
    assert took < 30, f"{took:.1f} s after Ctrl-C"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    runs = training_runs(uri)
    assert "RUNNING" not in {run.info.status for run in runs}, out
    for run in runs:  # no worker outlived the command
        with pytest.raises(ProcessLookupError):
            os.kill(int(run.data.tags["pid"]), 0)
    finished = {run.data.tags["arch"] for run in runs if run.info.status == "FINISHED"}

    again = benchmark(*args, "--jobs", "2", cwd=tmp_path, timeout=600)
    said = again.stdout + again.stderr
    assert again.returncode == 0, said
    assert said.count("skipped: finished run") == len(finished), said
    done = Counter(
        run.data.tags["arch"] for run in training_runs(uri) if run.info.status == "FINISHED"
    )
    assert done == Counter(["lenet5", "mlp", "basic"]), done


@pytest.mark.slow  # kills a worker on purpose
def test_a_worker_killed_gives_its_cell_back_and_another_trains_it(tmp_path: Path) -> None:
    args = ["run", "--arch", "basic", "lenet5", "--subset", "5000", "--epochs", "3", "--jobs", "2"]
    process = started(*args, cwd=tmp_path, stderr=subprocess.PIPE)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    deadline = time.monotonic() + 300
    victim = None
    while victim is None and time.monotonic() < deadline:
        time.sleep(1)
        running = [r for r in training_runs(uri) if r.data.tags.get("arch") == "basic"]
        if running and running[0].info.status == "RUNNING":
            victim = int(running[0].data.tags["pid"])
    assert victim is not None, "basic never started training"
    os.kill(victim, signal.SIGKILL)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, out + err
    assert "Traceback" not in out + err
    assert "which stopped: queued again" in out + err, out + err
    statuses = Counter((run.data.tags["arch"], run.info.status) for run in training_runs(uri))
    expected = {("basic", "KILLED"): 1, ("basic", "FINISHED"): 1, ("lenet5", "FINISHED"): 1}
    assert statuses == expected, statuses


@pytest.mark.slow  # interrupts a long queue on purpose
def test_ctrl_c_with_many_jobs_left_in_the_queue_exits_at_once(tmp_path: Path) -> None:
    # 3,000 queued jobs are more than a pipe holds: the command must not wait to hand them over.
    args = ["run", "--arch", "mlp", *TINY, "--seeds", "3000", "--jobs", "2"]
    process = started(*args, cwd=tmp_path, start_new_session=True)
    seen = []
    for line in process.stdout:
        seen.append(line)
        if " test accuracy " in line:
            break
    os.killpg(process.pid, signal.SIGINT)
    try:
        out = "".join(seen) + process.communicate(timeout=60)[0]
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail("the command was still running 60 s after Ctrl-C")
    assert process.returncode == 130, out
    assert "interrupted: finished runs are kept" in out


class _Rows:
    """Splits as worker_count reads them: only the number of training images."""

    def __init__(self, count: int) -> None:
        self.x_train = range(count)


@pytest.mark.parametrize(
    ("jobs", "archs", "seeds", "images", "cores", "expected"),
    [
        (None, ["basic", "mlp"], [0, 1], 54_000, 2, 2),  # 2 x 11 epochs x 54,000 images
        (None, ["basic", "mlp"], [0], 54_000, 2, 1),  # 594,000 images: start-up costs more
        (None, ["basic", "mlp"], [0, 1], 5_000, 2, 2),  # a subset: the same budget in images
        (None, ["basic"], [0, 1, 2, 3, 4, 5, 6], 54_000, 2, 2),  # seeds count as trainings
        (None, ["augmented"], [0], 54_000, 2, 1),  # one training: nothing to share the cores
        (None, ["basic", "mlp"], [0, 1], 54_000, 1, 1),  # one core
        (3, ["basic", "mlp"], [0], 500, 2, 2),  # asked for: never more than the trainings
        (1, ["basic", "mlp"], [0], 54_000, 2, 1),
    ],
)
def test_auto_trains_two_at_a_time_when_the_work_repays_the_workers_start_up(
    monkeypatch, jobs, archs, seeds, images, cores, expected
) -> None:
    from benchmark import plan
    from benchmark.settings import RunSettings

    monkeypatch.setattr(hardware, "cpu_cores", lambda: cores)
    settings = RunSettings(archs=archs, seeds=seeds, jobs=jobs)
    assert plan.worker_count(archs, settings, _Rows(images), {}) == expected


def sigterm_to_the_group_while_both_workers_train(folder: Path) -> tuple[int, str, dict]:
    """`run --jobs 2` in its own process group, SIGTERM to the whole group (what `timeout`,
    systemd, Slurm and `kill -- -PGID` send) once both workers train; (exit code, output,
    statuses of the training runs by architecture)."""
    args = ["run", "--arch", "mlp", "lenet5", "--subset", "2000", "--epochs", "50", "--force"]
    process = started(*args, "--jobs", "2", cwd=folder, start_new_session=True)
    seen, training = [], set()
    for line in process.stdout:
        seen.append(line)
        if " epoch " in line and line[:3] in ("j0 ", "j1 "):
            training.add(line[:3])
        if len(training) == 2:
            break
    if process.poll() is not None or len(training) < 2:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail("both workers never trained at once:\n" + "".join(seen))
    os.killpg(process.pid, signal.SIGTERM)
    try:
        out = "".join(seen) + process.communicate(timeout=120)[0]
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail("still running 120 s after SIGTERM to its process group")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    newest = {}
    for run in sorted(training_runs(uri), key=lambda run: run.info.start_time):
        newest[run.data.tags["arch"]] = run.info.status
    return process.returncode, out, newest


@pytest.mark.slow  # interrupts training on purpose, three times
def test_sigterm_to_the_process_group_ends_every_workers_run_failed(
    tmp_path: Path, migrated_schema: Path
) -> None:
    """Each worker gets the group's SIGTERM and then the parent's: the second is the same request
    and must not cut the first one's clean-up short (it left a run RUNNING in 2 of 8 tries)."""
    shutil.copyfile(migrated_schema, tmp_path / "mlflow.db")
    for _ in range(3):
        code, out, statuses = sigterm_to_the_group_while_both_workers_train(tmp_path)
        assert code == 130, out
        assert "Traceback" not in out and "interrupted: finished runs are kept" in out, out
        assert statuses == {"mlp": "FAILED", "lenet5": "FAILED"}, out
