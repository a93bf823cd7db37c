"""Reading runs back for the leaderboard and the report: rows, metric histories, artifacts."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import tempfile
from collections.abc import Iterator

import keras
import mlflow
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from benchmark.errors import BenchmarkError, first_line
from benchmark.tracking.artifacts import PROBABILITIES_ARTIFACT
from benchmark.tracking.runs import RUN_KIND_COMPARISON, RUN_KIND_TRAINING, SKIPPED_PARAM

# The leaderboard downloads one small artifact per run; a progress bar each would bury it.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def finished_training_runs(experiment_id: str, run_ids: list[str] | None = None) -> pd.DataFrame:
    """Finished training runs as rows: run_id, start_time, tags.*, metrics.*, params.*."""
    filter_string = f"tags.run_kind = '{RUN_KIND_TRAINING}' and attributes.status = 'FINISHED'"
    runs = mlflow.search_runs(
        [experiment_id], filter_string=filter_string, order_by=["attributes.start_time DESC"]
    )
    if run_ids is not None and not runs.empty:
        runs = runs[runs["run_id"].isin(run_ids)]
    return runs


def skipped_architectures(experiment_id: str) -> dict[str, str]:
    """Architectures the newest comparison skipped as too large for the data, with why."""
    runs = MlflowClient().search_runs(
        [experiment_id],
        filter_string=f"tags.run_kind = '{RUN_KIND_COMPARISON}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    text = runs[0].data.params.get(SKIPPED_PARAM, "{}") if runs else "{}"
    try:
        skipped = json.loads(text)
    except ValueError:  # not written by this code
        return {}
    return {str(k): str(v) for k, v in skipped.items()} if isinstance(skipped, dict) else {}


def metric_history(run_id: str, key: str) -> list[float]:
    """One metric's values in step order."""
    history = MlflowClient().get_metric_history(run_id, key)
    return [metric.value for metric in sorted(history, key=lambda metric: metric.step)]


def load_test_probabilities(run_id: str) -> tuple[np.ndarray, np.ndarray] | None:
    """A run's test-set (probabilities, y_true), or None for runs logged without them."""
    return _load_test_probabilities(mlflow.get_tracking_uri(), run_id)


@functools.lru_cache(maxsize=64)  # a finished run's artifact never changes; about 0.4 MB each
def _load_test_probabilities(
    tracking_uri: str, run_id: str
) -> tuple[np.ndarray, np.ndarray] | None:
    client = MlflowClient(tracking_uri)
    if PROBABILITIES_ARTIFACT not in {item.path for item in client.list_artifacts(run_id)}:
        return None
    with tempfile.TemporaryDirectory() as folder:
        path = client.download_artifacts(run_id, PROBABILITIES_ARTIFACT, folder)
        with np.load(path) as saved:
            arrays = saved["probabilities"], saved["y_true"]
    for array in arrays:  # shared through the cache: nobody may change them in place
        array.setflags(write=False)
    return arrays


@contextlib.contextmanager
def _no_download_progress() -> Iterator[None]:
    """Mute MLflow's per-download progress bars, which would drown the report's own lines."""
    key = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    saved = os.environ.get(key)
    os.environ[key] = "false"
    try:
        yield
    finally:
        os.environ.pop(key) if saved is None else os.environ.__setitem__(key, saved)


def artifact_text(run_id: str, path: str) -> str | None:
    """A run's text artifact, or None when the run has no such file."""
    try:
        with _no_download_progress():
            return mlflow.artifacts.load_text(f"runs:/{run_id}/{path}")
    except (mlflow.exceptions.MlflowException, OSError):
        return None


def load_run_model(run_id: str) -> keras.Model:
    """The Keras model logged with a training run."""
    try:
        with _no_download_progress():
            return mlflow.keras.load_model(f"runs:/{run_id}/model")
    except (mlflow.exceptions.MlflowException, OSError) as error:
        raise BenchmarkError(
            f"cannot load the model of run {run_id}: {first_line(error)}"
        ) from None
