"""Two workers logging the same training split at once on a new store: both runs link it.

Found with `run --jobs 2` on a brand-new store: both workers found no dataset row, both inserted
one, and the store's unique key failed the second worker's run with `sqlite3.IntegrityError:
UNIQUE constraint failed: datasets`.
"""

from __future__ import annotations

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from benchmark.tracking import runs

REFUSAL = (
    "(sqlite3.IntegrityError) UNIQUE constraint failed: datasets.experiment_id, datasets.name, "
    "datasets.digest"
)


def start(experiment_id: str, splits, arch: str) -> str:
    with runs.start_training_run(experiment_id, arch, {}, 0, splits, arch, {}) as run:
        return run.run_id


def test_the_worker_that_loses_the_race_links_the_other_workers_dataset(
    store, tiny_splits, monkeypatch
) -> None:
    mlflow.set_tracking_uri(store)
    experiment_id = mlflow.create_experiment("race")
    real = mlflow.log_input
    calls = []

    def racing(dataset, context=None):
        calls.append(context)
        if len(calls) == 1:  # the other worker inserts the row first; this insert is refused
            with mlflow.start_run(experiment_id=experiment_id, nested=True):
                real(dataset, context=context)
            raise MlflowException(REFUSAL)
        return real(dataset, context=context)

    monkeypatch.setattr(runs.mlflow, "log_input", racing)
    run_id = start(experiment_id, tiny_splits, "basic")
    inputs = MlflowClient(store).get_run(run_id).inputs.dataset_inputs
    assert [each.dataset.digest for each in inputs] == [tiny_splits.digest]
    assert MlflowClient(store).get_run(run_id).info.status == "FINISHED"


def test_any_other_store_error_still_stops_the_run(store, tiny_splits, monkeypatch) -> None:
    mlflow.set_tracking_uri(store)
    experiment_id = mlflow.create_experiment("broken")

    def broken(dataset, context=None):
        raise MlflowException("database is locked")

    monkeypatch.setattr(runs.mlflow, "log_input", broken)
    with pytest.raises(MlflowException, match="database is locked"):
        start(experiment_id, tiny_splits, "basic")
