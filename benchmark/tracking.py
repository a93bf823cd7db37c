"""The only module that speaks to MLflow: stores, runs, params, metrics and artifacts."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import os
import platform
import socket
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.tracking import MlflowClient
from mlflow.types import Schema, TensorSpec
from sklearn.metrics import classification_report, confusion_matrix

from benchmark import plots
from benchmark.data import Splits
from benchmark.errors import BenchmarkError
from benchmark.runner import TrainingResult

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
DEFAULT_EXPERIMENT = "cnn-benchmark"
RUN_KIND_TRAINING = "training"
RUN_KIND_COMPARISON = "comparison"
DEFAULT_VARIANT = "default"  # runs without a variant tag (older runs) are read as this
PROBABILITIES_ARTIFACT = "test_probabilities.npz"

# MLflow warns that a uv environment has no pip; the logged requirements are pinned anyway.
logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
# The leaderboard downloads one small artifact per run; a progress bar each would bury it.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def resolve_tracking_uri(cli_value: str | None) -> str:
    """--tracking-uri, else MLFLOW_TRACKING_URI, else a SQLite file in the working directory."""
    return cli_value or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def connect(tracking_uri: str, experiment: str, create: bool = True) -> str:
    """Check the store answers, point MLflow at it and return the experiment's id.

    With `create=False` a missing store or experiment is an error instead of being made.
    """
    if tracking_uri.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(tracking_uri.rstrip("/") + "/health", timeout=5):
                pass
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise BenchmarkError(
                f"tracking server {tracking_uri} is unreachable ({reason}); start it or pass "
                "another --tracking-uri"
            ) from None
    elif tracking_uri.startswith("sqlite:///"):
        database = Path(tracking_uri.removeprefix("sqlite:///")).expanduser().resolve()
        if not database.parent.is_dir():
            raise BenchmarkError(f"tracking store folder {database.parent} does not exist")
        if not create and not database.exists():
            raise BenchmarkError(
                f"no MLflow store at {database}; run 'python -m benchmark run' "
                "first or pass --tracking-uri"
            )
    mlflow.set_tracking_uri(tracking_uri)
    try:
        found = mlflow.get_experiment_by_name(experiment)
        if found is None and create:
            return mlflow.create_experiment(experiment)
    except Exception as error:  # any store failure is the user's setup to fix
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise BenchmarkError(f"tracking store {tracking_uri} failed: {first_line}") from None
    if found is None:
        raise BenchmarkError(
            f"no experiment {experiment!r} in {tracking_uri}; run "
            "'python -m benchmark run' first or pass --experiment"
        )
    return found.experiment_id


def config_hash(arch: str, params: dict[str, Any], seed: int, splits: Splits, **extra: Any) -> str:
    """A digest of everything that determines a run's outcome, used to skip finished work."""
    payload = {
        "arch": arch,
        "params": params,
        "seed": seed,
        "data": splits.digest,
        **splits.sizes,
        **extra,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[
        :16
    ]


def find_finished_run(experiment_id: str, config: str) -> str | None:
    """The id of a finished run with this configuration hash, if there is one."""
    runs = MlflowClient().search_runs(
        [experiment_id],
        filter_string=f"tags.config_hash = '{config}' and attributes.status = 'FINISHED'",
        max_results=1,
    )
    return runs[0].info.run_id if runs else None


def close_orphaned_runs(experiment_id: str) -> list[str]:
    """Mark RUNNING runs whose process on this host is gone as KILLED; return their names."""
    client, closed = MlflowClient(), []
    host = socket.gethostname()
    for run in client.search_runs([experiment_id], "attributes.status = 'RUNNING'"):
        tags = run.data.tags
        if tags.get("host") != host or not tags.get("pid", "").isdigit():
            continue
        if int(tags["pid"]) != os.getpid() and not _process_alive(int(tags["pid"])):
            client.set_terminated(run.info.run_id, status="KILLED")
            closed.append(run.info.run_name)
    return closed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _process_tags() -> dict[str, str]:
    return {"host": socket.gethostname(), "pid": str(os.getpid()), "git_commit": git_commit()}


def git_commit() -> str:
    """The commit of the code that runs, or 'unknown' outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@contextlib.contextmanager
def comparison_run(experiment_id: str, name: str, settings: dict[str, Any]) -> Iterator[str]:
    """A parent run grouping one invocation's training runs; yields its run id."""
    tags = {"run_kind": RUN_KIND_COMPARISON, **_process_tags()}
    with mlflow.start_run(experiment_id=experiment_id, run_name=name, tags=tags) as run:
        mlflow.log_params({key: str(value) for key, value in settings.items()})
        yield run.info.run_id


@contextlib.contextmanager
def training_run(
    experiment_id: str,
    arch: str,
    params: dict[str, Any],
    seed: int,
    splits: Splits,
    config: str,
    extra_params: dict[str, Any],
    extra_tags: dict[str, str] | None = None,
    variant: str = DEFAULT_VARIANT,
) -> Iterator[str]:
    """A nested run for one architecture and seed, with params, tags and the dataset input."""
    tags = {
        "run_kind": RUN_KIND_TRAINING,
        "arch": arch,
        "seed": str(seed),
        "variant": variant,
        "config_hash": config,
        "dataset_digest": splits.digest,
        **_process_tags(),
        **(extra_tags or {}),
    }
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"{arch}-seed{seed}", nested=True, tags=tags
    ) as run:
        mlflow.log_params(
            {
                **params,
                "arch": arch,
                "dataset": splits.dataset,
                "seed": seed,
                **splits.sizes,
                **extra_params,
                **environment_params(),
            }
        )
        dataset = mlflow.data.from_numpy(
            splits.x_train.reshape(len(splits.x_train), -1),
            targets=splits.y_train,
            name=f"{splits.dataset}-train",
            digest=splits.digest,
        )
        mlflow.log_input(dataset, context="training")
        yield run.info.run_id


def environment_params() -> dict[str, str]:
    """Backend and library versions, so a result can be traced to its software."""
    import tensorflow as tf

    return {
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "mlflow_version": mlflow.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
    }


class EpochLogger(keras.callbacks.Callback):
    """Log loss, accuracy, val_loss and val_accuracy to the active run after every epoch."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        wanted = ("loss", "accuracy", "val_loss", "val_accuracy")
        mlflow.log_metrics(
            {k: float(v) for k, v in (logs or {}).items() if k in wanted}, step=epoch + 1
        )


def log_result(result: TrainingResult, log: Any = print) -> None:
    """Final metrics, figures, reports and the model, into the active run."""
    mlflow.log_metrics(
        {
            **result.test_metrics,
            "params": result.param_count,
            "train_seconds": result.train_seconds,
            "seconds_per_epoch": result.seconds_per_epoch,
            "evaluation_seconds": result.evaluation_seconds,
            "inference_ms_per_image": result.inference_ms_per_image,
            "best_val_accuracy": result.best_val_accuracy,
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
            "diverged": float(result.diverged),
            **_cost_metrics(result),
        }
    )
    for epoch, seconds in enumerate(result.epoch_end_seconds, start=1):
        mlflow.log_metric("epoch_seconds", seconds, step=epoch)
    _log_probabilities(result.probabilities, result.y_true)
    labels = [str(label) for label in range(result.probabilities.shape[1])]
    matrix = confusion_matrix(result.y_true, result.y_pred, labels=range(len(labels)))
    title = f"{result.arch}: test accuracy {result.test_metrics['test_accuracy']:.4f}"
    _log_figure(plots.confusion_matrix_figure(matrix, labels, title), "confusion_matrix.png")
    mlflow.log_text(
        pd.DataFrame(matrix, index=labels, columns=labels).to_csv(), "confusion_matrix.csv"
    )
    report_args = {
        "y_true": result.y_true,
        "y_pred": result.y_pred,
        "digits": 4,
        "target_names": labels,
        "zero_division": 0,
    }
    mlflow.log_text(classification_report(**report_args), "classification_report.txt")
    mlflow.log_dict(
        classification_report(**report_args, output_dict=True), "classification_report.json"
    )
    _log_figure(plots.training_curves_figure(result.history, result.arch), "training_curves.png")
    summary = io.StringIO()
    result.model.summary(print_fn=lambda line, **_: summary.write(line + "\n"))
    mlflow.log_text(summary.getvalue(), "model_summary.txt")
    _log_diagram(result.model, log)
    mlflow.keras.log_model(
        result.model,
        name="model",
        signature=_signature(result),
        pip_requirements=_model_requirements(),
    )


def _cost_metrics(result: TrainingResult) -> dict[str, float]:
    """Inference cost and time to target; time_to_target_seconds only when it was reached."""
    metrics = {
        "macs_per_image": result.macs_per_image,
        "flops_per_image": result.flops_per_image,
        "latency_p50_ms": result.latency_p50_ms,
        "latency_p95_ms": result.latency_p95_ms,
        "throughput_images_per_second": result.throughput_images_per_second,
        "target_accuracy": result.target_accuracy,
    }
    if result.time_to_target_seconds is not None:
        metrics["time_to_target_seconds"] = result.time_to_target_seconds
    return metrics


def _log_probabilities(probabilities: np.ndarray, y_true: np.ndarray) -> None:
    """Log the test-set softmax outputs and labels, for significance tests and ensembles."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / PROBABILITIES_ARTIFACT
        np.savez_compressed(
            path,
            probabilities=np.asarray(probabilities, dtype=np.float32),
            y_true=np.asarray(y_true, dtype=np.uint8),
        )
        mlflow.log_artifact(str(path))


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


def _log_figure(fig: Any, artifact: str) -> None:
    mlflow.log_figure(fig, artifact)
    plots.close(fig)


def _log_diagram(model: keras.Model, log: Any) -> None:
    """Log architecture.png when pydot and graphviz's dot are installed; say so when not."""
    import shutil
    import tempfile

    if shutil.which("dot") is None:
        log("tracking: graphviz 'dot' not found; skipping the architecture diagram")
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "architecture.png"
        try:
            keras.utils.plot_model(model, to_file=str(path), show_shapes=True)
        except (ImportError, OSError) as error:
            log(f"tracking: architecture diagram failed ({error}); skipping it")
            return
        mlflow.log_artifact(str(path))


def _signature(result: TrainingResult) -> ModelSignature:
    """Float images of the model's input shape in, class probabilities out."""
    image_shape = tuple(result.model.input_shape[1:])
    return ModelSignature(
        inputs=Schema([TensorSpec(np.dtype("float32"), (-1, *image_shape))]),
        outputs=Schema([TensorSpec(np.dtype("float32"), (-1, result.probabilities.shape[1]))]),
    )


def _model_requirements() -> list[str]:
    """Pinned requirements for the logged model; given so MLflow skips its slow inference."""
    import tensorflow as tf

    return [
        f"keras=={keras.__version__}",
        f"tensorflow=={tf.__version__}",
        f"mlflow=={mlflow.__version__}",
        f"numpy=={np.__version__}",
    ]


def log_comparison(
    board: pd.DataFrame,
    curves: dict[str, list[float]],
    folder: Path,
    metrics: dict[str, float] | None = None,
) -> None:
    """Write leaderboard.csv/.md to `folder`, log them, the overlay and `metrics` to the run."""
    from benchmark.leaderboard import to_markdown

    if metrics:
        mlflow.log_metrics(metrics)
    folder.mkdir(parents=True, exist_ok=True)
    board.to_csv(folder / "leaderboard.csv", index=False)
    (folder / "leaderboard.md").write_text(to_markdown(board) + "\n")
    mlflow.log_artifact(str(folder / "leaderboard.csv"))
    mlflow.log_artifact(str(folder / "leaderboard.md"))
    _log_figure(plots.validation_overlay_figure(curves), "validation_accuracy.png")


def training_runs(experiment_id: str, run_ids: list[str] | None = None) -> pd.DataFrame:
    """Finished training runs as rows: run_id, start_time, tags.*, metrics.*, params.*."""
    filter_string = f"tags.run_kind = '{RUN_KIND_TRAINING}' and attributes.status = 'FINISHED'"
    runs = mlflow.search_runs(
        [experiment_id], filter_string=filter_string, order_by=["attributes.start_time DESC"]
    )
    if run_ids is not None and not runs.empty:
        runs = runs[runs["run_id"].isin(run_ids)]
    return runs


def metric_history(run_id: str, key: str) -> list[float]:
    """One metric's values in step order."""
    history = MlflowClient().get_metric_history(run_id, key)
    return [metric.value for metric in sorted(history, key=lambda metric: metric.step)]
