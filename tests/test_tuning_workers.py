"""Two `tune` worker processes on the default SQLite study (its own module, so that pytest-xdist,
which hands out whole modules, can run it beside test_tuning.py)."""

from __future__ import annotations

import shutil

from mlflow.tracking import MlflowClient

from tests.conftest import in_process
from tests.test_tuning import TINY, assert_one_run_per_finished_trial, trial_runs


def test_worker_processes_share_the_default_sqlite_study(
    tmp_path, migrated_schema, monkeypatch, capfd
) -> None:
    # A migrated MLflow store in place: creating one at once is the slow test's subject below.
    shutil.copyfile(migrated_schema, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # absolute: MLflow caches stores by URI
    args = ["tune", "--arch", "mlp", "--trials", "4", "--workers", "2", *TINY]
    args += ["--tracking-uri", uri]
    # The parent in this process, TensorFlow loaded; its two workers are new processes.
    result = in_process(*args, cwd=tmp_path, monkeypatch=monkeypatch, capsys=capfd)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output and "cudart" not in output
    assert {line[:3] for line in output.splitlines() if "complete:" in line} == {"w0 ", "w1 "}
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"  # the default, in the working directory
    assert_one_run_per_finished_trial(uri, storage, "mnist-mlp", 4)
    (parent,) = MlflowClient(uri).search_runs(
        [MlflowClient(uri).get_experiment_by_name("tune").experiment_id],
        "tags.run_kind = 'tuning'",
    )
    for run in trial_runs(MlflowClient(uri), "mnist-mlp"):
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
