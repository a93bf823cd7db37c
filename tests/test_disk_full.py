"""A full disk: kept results are whole or absent, unreadable ones are skipped, nothing is lost.

The disks are real: small tmpfs mounts (root or CAP_SYS_ADMIN needed, else the tests skip and
say why) filled with a file, as a log or a download fills a disk in real life.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow.entities import LoggedModelStatus
from mlflow.tracking import MlflowClient

from benchmark.tracking import health, kept, spool, store
from tests.conftest import in_process, logged_messages, read_until
from tests.test_faults_run import ENV, one_line_error, store_figures, training_runs

CHUNK = 64 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[str, str], Path]]:
    """Mount a tmpfs of the given size at tmp_path/NAME; unmounted at the end."""
    mounted: list[Path] = []

    def mount(name: str, size: str) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        command = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        except FileNotFoundError:
            pytest.skip("no mount command on this machine")
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)


def fill(folder: Path, leave: int = 0) -> Path:
    """Write a file in `folder` until the disk has at most `leave` bytes free; return it."""
    filler = folder / "filler"
    with open(filler, "wb") as out:
        while True:
            stats = os.statvfs(folder)
            free = stats.f_bavail * stats.f_frsize - leave
            if free <= 0:
                break
            try:
                out.write(b"\0" * min(CHUNK, free))
                out.flush()
            except OSError as error:
                assert error.errno == errno.ENOSPC
                break
    return filler


def write_entry(folder: Path, payload: bytes) -> None:
    """What a training's results look like to kept.py: a record, numbers, a model, artifacts."""
    import zipfile

    (folder / "artifacts").mkdir()
    (folder / "artifacts" / "test_probabilities.npz").write_bytes(payload)
    with zipfile.ZipFile(folder / kept.MODEL_FILE, "w") as model:
        model.writestr("weights", payload)
    (folder / kept.NUMBERS_FILE).write_text(json.dumps({"metrics": {}}))
    record = {"run_id": "r", "experiment_id": "1", "run_name": "mlp-seed0", "tags": {}}
    (folder / kept.RECORD_FILE).write_text(json.dumps({**record, "params": {}}))


@pytest.fixture
def own_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary folder of this test's own, so the fallback spool folder is the test's."""
    folder = tmp_path / "temp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_kept_results_are_whole_or_absent_whatever_byte_the_disk_fills_at(
    small_disk, monkeypatch, own_temp
) -> None:
    """An older copy, then a new one on a disk with 0, 4 kB, ... free: never a partial copy."""
    work = small_disk("work", "2m")
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(work / "no-temp"))  # no fallback: see it fail
    older = kept.publish(kept.stage("abc", lambda folder: write_entry(folder, b"old" * 50_000)))
    seen = set()
    for room in range(0, 800_000, 40_000):
        filler = fill(work, leave=room)
        try:
            new = kept.publish(
                kept.stage("abc", lambda folder: write_entry(folder, b"n" * 300_000))
            )
            seen.add("new")
        except Exception:  # noqa: BLE001 - the write may fail anywhere; what is left counts
            new = None
            seen.add("failed")
        filler.unlink()
        assert [path.name for path in (work / ".benchmark-pending").iterdir()] == ["abc"]
        payload = (older / "artifacts" / "test_probabilities.npz").read_bytes()
        assert payload in (b"old" * 50_000, b"n" * 300_000), len(payload)
        assert [folder for folder, _ in kept.entries()] == [older]
        if new is not None:
            assert payload == b"n" * 300_000
    assert seen == {"new", "failed"}  # both outcomes happened: the disk did fill


def test_results_go_to_the_temporary_folder_when_the_working_folder_is_full(
    small_disk, monkeypatch, own_temp
) -> None:
    work = small_disk("work", "1m")
    monkeypatch.chdir(work)
    fill(work)
    staged = kept.stage("abc", lambda folder: write_entry(folder, b"x" * 100_000))
    where = kept.publish(staged)
    assert where.parent.parent == own_temp
    assert not (work / ".benchmark-pending").exists()  # the partial copy was removed
    assert [folder for folder, _ in kept.entries()] == [where]


def test_an_unreadable_kept_entry_is_skipped_with_one_line(tmp_path, monkeypatch, own_temp) -> None:
    """The 0-byte files a full disk left behind used to fail every later run."""
    monkeypatch.chdir(tmp_path)
    broken = tmp_path / ".benchmark-pending" / "75dc3df91062bccf"
    (broken / "artifacts").mkdir(parents=True)
    for name in ("run.json", "numbers.json", "model.keras", "artifacts/confusion_matrix.png"):
        (broken / name).write_bytes(b"")
    whole = tmp_path / ".benchmark-pending" / "0123456789abcdef"
    whole.mkdir()
    write_entry(whole, b"w")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    with logged_messages() as messages:
        assert spool.sync_pending("no such experiment") == []
        assert [folder.name for folder, _ in kept.entries()] == [whole.name]
    skipped = [message for message in messages if "skipping the kept results" in message]
    assert len(skipped) == 2 and str(broken) in skipped[0], messages
    assert broken.is_dir()  # left for the user to look at


def test_results_of_a_process_that_died_while_logging_them_are_taken_over(
    tmp_path, monkeypatch, own_temp
) -> None:
    monkeypatch.chdir(tmp_path)
    dead = subprocess.Popen(["true"])
    dead.wait()
    spool_folder = tmp_path / ".benchmark-pending"
    whole = spool_folder / f"{kept.STAGING}{dead.pid}-0123456789abcdef"
    whole.mkdir(parents=True)
    write_entry(whole, b"w")
    partial = spool_folder / f"{kept.STAGING}{dead.pid}-fedcba9876543210"
    partial.mkdir()
    (partial / kept.MODEL_FILE).write_bytes(b"PK")
    mine = spool_folder / f"{kept.STAGING}{os.getpid()}-1111111111111111"  # alive: logging it
    mine.mkdir()
    write_entry(mine, b"m")
    assert [folder.name for folder, _ in kept.entries()] == ["0123456789abcdef"]
    assert not partial.exists() and mine.is_dir()


def test_an_emptied_spool_folder_is_removed(tmp_path, monkeypatch, own_temp) -> None:
    monkeypatch.chdir(tmp_path)
    staged = kept.stage("abc", lambda folder: write_entry(folder, b"x"))
    kept.discard(staged)
    assert not (tmp_path / ".benchmark-pending").exists()


def test_a_sqlite_store_leaves_no_lock_file(tmp_path, monkeypatch, own_temp) -> None:
    store.connect(f"sqlite:///{tmp_path / 'mlflow.db'}", "lock-check")
    assert list(own_temp.iterdir()) == []


def test_a_full_disk_is_named_as_such_with_its_path(small_disk, monkeypatch) -> None:
    disk = small_disk("store", "1m")
    database = disk / "mlflow.db"
    with sqlite3.connect(database) as connection:
        connection.execute("create table numbers (value blob)")
    fill(disk)
    monkeypatch.setattr(mlflow, "get_tracking_uri", lambda: f"sqlite:///{database}")
    with pytest.raises(sqlite3.OperationalError) as sqlite_full:
        with sqlite3.connect(database) as connection:
            connection.execute("insert into numbers values (zeroblob(100000))")
    said = health.describe_failure(sqlite_full.value)
    assert said == f"disk full at {database} (database or disk is full)"
    source = disk.parent / "artifacts"  # what the traceback showed: a copied folder
    source.mkdir()
    (source / "model.keras").write_bytes(b"x" * 100_000)
    with pytest.raises(shutil.Error) as copy_full:
        shutil.copytree(source, disk / "kept")
    said = health.describe_failure(copy_full.value)
    assert said == f"disk full at {disk / 'kept' / 'model.keras'} (no space left on device)"
    assert health.describe_failure(RuntimeError("connection refused")) == "connection refused"


def test_a_working_folder_too_small_to_keep_results_is_refused_before_training(
    small_disk, monkeypatch, capsys, fault_report
) -> None:
    """The reproduction of the issue: mlp, 1000 images, a 3 MB working folder."""
    started = time.monotonic()
    work = small_disk("work", "3m")
    result = in_process(
        "run", "--arch", "mlp", "--subset", "1000", "--epochs", "1",
        "--tracking-uri", f"sqlite:///{work / 'mlflow.db'}",
        cwd=work, monkeypatch=monkeypatch, capsys=capsys,
    )  # fmt: skip
    line = one_line_error(result)
    assert f"the working folder {work} has" in line and "MB free" in line, line
    assert "training up to" not in result.stdout + result.stderr
    assert training_runs(f"sqlite:///{work / 'mlflow.db'}") == []
    fault_report.update(
        scenario="working folder too small to keep a training's results", trainings=0, lost=0,
        duplicates=0, running=0, seconds=time.monotonic() - started, bound=None,
        note="refused before training, one line, exit 2",
    )  # fmt: skip


LENET = ["--arch", "lenet5", "--subset", "1000", "--epochs", "2"]


def benchmark_run(args: list[str], cwd: Path, temp: Path) -> subprocess.Popen:
    """`python -m benchmark run ARGS` in `cwd` with its own temporary folder, output merged."""
    return subprocess.Popen(
        [sys.executable, "-m", "benchmark", "run", *args],
        cwd=cwd, env={**ENV, "TMPDIR": str(temp)}, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


def run_and_fill_while_training(
    args: list[str], cwd: Path, disk: Path, temp: Path
) -> tuple[subprocess.CompletedProcess, Path]:
    """Start `run`, fill `disk` once the first epoch ended; the finished process, the filler."""
    process = benchmark_run(args, cwd, temp)
    seen = read_until(process, "epoch 1/")
    filler = fill(disk)
    out, _ = process.communicate(timeout=300)
    said = "".join(seen) + out
    return subprocess.CompletedProcess(process.args, process.returncode, "", said), filler


def rerun_logs_the_kept_results(args: list[str], cwd: Path, temp: Path, uri: str) -> dict:
    """Run the same command once space is free: it logs the kept results and trains nothing."""
    again = benchmark_run(args, cwd, temp)
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0, out
    assert "logged the kept results of lenet5-seed0" in out, out
    assert "skipped: finished run" in out and "training up to" not in out, out
    runs = training_runs(uri)
    assert [run.info.status for run in runs] == ["FINISHED"]
    assert runs[0].data.metrics["test_accuracy"] > 0
    run_id = runs[0].info.run_id
    client = MlflowClient(uri)
    artifacts = {item.path for item in client.list_artifacts(run_id)}
    assert {"test_probabilities.npz", "confusion_matrix.png"} <= artifacts
    models = client.search_logged_models(
        [runs[0].info.experiment_id], filter_string=f"source_run_id = '{run_id}'"
    )
    assert [model.status for model in models] == [LoggedModelStatus.READY]  # no PENDING leftover
    assert not (cwd / ".benchmark-pending").exists()
    assert [path.name for path in temp.iterdir()] == []  # no fallback folder, no lock file
    figures = store_figures(uri)
    assert figures == {"duplicates": 0, "running": 0, "champion_repeats": 0}, figures
    return figures


@pytest.mark.slow  # two trainings of lenet5 on a disk filled on purpose
def test_working_folder_full_during_training_loses_nothing(
    small_disk, tmp_path, fault_report
) -> None:
    """Store, artifacts and .benchmark-pending/ on one disk, filled while the model trains."""
    work, temp = small_disk("work", "8m"), tmp_path / "temp"
    temp.mkdir()
    uri = f"sqlite:///{work / 'mlflow.db'}"
    started = time.monotonic()
    result, filler = run_and_fill_while_training(LENET, work, work, temp)
    line = one_line_error(result)
    assert f"disk full at {work}" in line, line
    kept_in = [path for path in temp.iterdir() if path.name.startswith("cnn-benchmark-kept-")]
    assert len(kept_in) == 1 and str(kept_in[0]) in line, line  # the working folder took none
    filler.unlink()  # space is freed
    left_running = sum(run.info.status == "RUNNING" for run in training_runs(uri))
    figures = rerun_logs_the_kept_results(LENET, work, temp, uri)
    fault_report.update(
        scenario="working folder full (store, artifacts, .benchmark-pending/ on one disk)",
        trainings=1, lost=0, **figures, seconds=time.monotonic() - started, bound=None,
        note="exit 2, one line naming the full disk and the temporary folder keeping the "
        f"results; {left_running} training run RUNNING until the rerun, which logged them",
    )  # fmt: skip


@pytest.mark.slow  # two trainings of lenet5 on a disk filled on purpose
def test_store_full_during_training_loses_nothing(small_disk, tmp_path, fault_report) -> None:
    """A SQLite store on a disk of its own, filled while the model trains."""
    disk, work, temp = small_disk("store", "4m"), tmp_path / "work", tmp_path / "temp"
    work.mkdir()
    temp.mkdir()
    uri = f"sqlite:///{disk / 'mlflow.db'}"
    args = [*LENET, "--tracking-uri", uri]
    started = time.monotonic()
    result, filler = run_and_fill_while_training(args, work, disk, temp)
    line = one_line_error(result)
    assert f"disk full at {disk / 'mlflow.db'} (database or disk is full)" in line, line
    assert "stopped answering" not in line
    assert str(work / ".benchmark-pending") in line, line
    filler.unlink()
    left_running = sum(run.info.status == "RUNNING" for run in training_runs(uri))
    figures = rerun_logs_the_kept_results(args, work, temp, uri)
    fault_report.update(
        scenario="store full (a SQLite store on its own disk)", trainings=1, lost=0, **figures,
        seconds=time.monotonic() - started, bound=None,
        note="exit 2, one line naming the full store and .benchmark-pending/; "
        f"{left_running} training run RUNNING until the rerun, which logged the kept results",
    )  # fmt: skip
