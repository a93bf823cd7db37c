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
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
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


def use_store(tracking_uri: str) -> None:
    """Point this process's MLflow client at a store already checked by `connect`."""
    mlflow.set_tracking_uri(tracking_uri)


def connect(tracking_uri: str, experiment: str, create: bool = True) -> str:
    """Check the store answers, point MLflow at it and return the experiment's id.

    With `create=False` a missing store or experiment is an error instead of being made.
    """
    check_store(tracking_uri, create)
    mlflow.set_tracking_uri(tracking_uri)
    with _store_lock(tracking_uri):
        try:
            found = mlflow.get_experiment_by_name(experiment)
            if found is None and create:
                return _create_experiment(experiment)
        except Exception as error:  # any store failure is the user's setup to fix
            text = str(error).strip()
            first_line = text.splitlines()[0] if text else repr(error)
            raise BenchmarkError(f"tracking store {tracking_uri} failed: {first_line}") from None
    if found is None:
        raise BenchmarkError(
            f"no experiment {experiment!r} in {tracking_uri}; run "
            "'python -m benchmark run' first or pass --experiment"
        )
    return found.experiment_id


def _create_experiment(name: str) -> str:
    """Create the experiment, or take the one another process created a moment earlier."""
    try:
        return mlflow.create_experiment(name)
    except MlflowException:
        found = mlflow.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


@contextlib.contextmanager
def _store_lock(tracking_uri: str) -> Iterator[None]:
    """Serialise first use of a SQLite store between processes on this host.

    MLflow creates and migrates the schema on first use; two processes doing it at once
    (two `tune` workers on a new store, say) break each other's migration.
    """
    if not tracking_uri.startswith("sqlite:///"):
        yield
        return
    import fcntl

    database = Path(tracking_uri.removeprefix("sqlite:///")).expanduser().resolve()
    digest = hashlib.sha256(str(database).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"cnn-benchmark-{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


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


# ---- tuning: one parent run per `tune` invocation, one nested run per Optuna trial ----

RUN_KIND_TUNING = "tuning"
RUN_KIND_TRIAL = "trial"


@contextlib.contextmanager
def tuning_run(
    experiment_id: str, study_name: str, storage: str, arch: str, settings: dict[str, Any]
) -> Iterator[str]:
    """The parent run of one `tune` invocation, tagged with study and (password-free) storage."""
    tags = {
        "run_kind": RUN_KIND_TUNING,
        "arch": arch,
        "study_name": study_name,
        "storage": storage,
        **_process_tags(),
    }
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"tune-{study_name}", tags=tags
    ) as run:
        mlflow.log_params({key: str(value) for key, value in settings.items()})
        yield run.info.run_id


@contextlib.contextmanager
def trial_run(
    experiment_id: str,
    parent_run_id: str,
    study_name: str,
    trial_number: int,
    arch: str,
) -> Iterator[dict[str, str]]:
    """A run nested under the invocation's parent for one trial; works in worker processes.

    Yields a dict whose "status" the caller may set to FAILED; an exception escaping the
    block (Ctrl-C included) also ends the run as FAILED.
    """
    tags = {
        "run_kind": RUN_KIND_TRIAL,
        "arch": arch,
        "study_name": study_name,
        "trial_number": str(trial_number),
        **_process_tags(),
    }
    active = mlflow.active_run()
    mlflow.start_run(
        experiment_id=experiment_id,
        run_name=f"{study_name}-trial-{trial_number}",
        nested=active is not None,
        parent_run_id=parent_run_id,
        tags=tags,
    )
    outcome = {"status": "FINISHED"}
    try:
        mlflow.log_params({"arch": arch, "trial_number": trial_number})
        yield outcome
    except BaseException:
        outcome["status"] = "FAILED"
        raise
    finally:
        mlflow.end_run(status=outcome["status"])


def log_trial_params(params: dict[str, Any]) -> None:
    """The hyperparameters a trial trains with, on the active trial run."""
    mlflow.log_params(params)


def end_trial_run(state: str, metrics: dict[str, float], reason: str = "") -> None:
    """Record a trial's outcome (complete, pruned or failed) on the active trial run."""
    mlflow.log_metrics({key: value for key, value in metrics.items() if np.isfinite(value)})
    mlflow.set_tag("trial_state", state)
    if reason:
        mlflow.set_tag("fail_reason", reason[:5000])


def log_study_summary(
    best_value: float | None,
    best_params: dict[str, Any],
    trials: pd.DataFrame,
    figures: dict[str, Any],
    counts: dict[str, int],
) -> None:
    """Best value and params, the trials table and Optuna's figures, into the active run."""
    if best_value is not None:
        mlflow.log_metric("best_val_accuracy", best_value)
        mlflow.log_params({f"best_{key}": value for key, value in best_params.items()})
    mlflow.log_metrics({f"trials_{state}": count for state, count in counts.items()})
    mlflow.log_text(trials.to_csv(index=False), "trials.csv")
    for artifact, fig in figures.items():
        _log_figure(fig, artifact)


def trial_runs(experiment_id: str, study_name: str) -> pd.DataFrame:
    """Every trial run of a study in the experiment, newest first."""
    return mlflow.search_runs(
        [experiment_id],
        filter_string=f"tags.run_kind = '{RUN_KIND_TRIAL}' and tags.study_name = '{study_name}'",
        order_by=["attributes.start_time DESC"],
    )


RUN_KIND_REPORT = "report"


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
        first_line = (str(error).strip().splitlines() or [repr(error)])[0]
        raise BenchmarkError(f"cannot load the model of run {run_id}: {first_line}") from None


def log_report(experiment_id: str, html_file: Path, source_run_ids: list[str]) -> str:
    """Log the HTML report to a new run tagged run_kind=report; return that run's id."""
    tags = {"run_kind": RUN_KIND_REPORT, **_process_tags()}
    with mlflow.start_run(experiment_id=experiment_id, run_name="report", tags=tags) as run:
        mlflow.log_param("training_runs", len(source_run_ids))
        mlflow.log_text("\n".join(source_run_ids) + "\n", "source_runs.txt")
        mlflow.log_artifact(str(html_file))
    return run.info.run_id


# --- Model registry: the champion model and loading it back ----------------------------------

REGISTERED_MODEL = "cnn-benchmark-mnist"
CHAMPION_ALIAS = "champion"
CHAMPION_URI = f"models:/{REGISTERED_MODEL}@{CHAMPION_ALIAS}"


def check_store(tracking_uri: str, create: bool = True) -> None:
    """Refuse an unreachable server or a missing SQLite folder (or file, with create=False)."""
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


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else repr(error)


def _champion_version(client: MlflowClient) -> ModelVersion | None:
    """The model version the champion alias points at, or None when there is none yet."""
    try:
        return client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION_ALIAS)
    except MlflowException as error:  # no registered model, or no alias on it
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise


def champion_candidates(experiment_id: str) -> pd.DataFrame:
    """Finished training runs of the experiment plus the run behind the current champion.

    The incumbent takes part wherever it was trained, so a run in another experiment (a smoke
    test, say) has to beat it to take the alias.
    """
    runs = training_runs(experiment_id)
    try:
        current = _champion_version(MlflowClient())
    except MlflowException as error:
        raise BenchmarkError(
            f"reading the champion from {mlflow.get_tracking_uri()} failed: {_first_line(error)}"
        ) from None
    if current is None or not current.run_id or current.run_id in set(runs.get("run_id", [])):
        return runs
    try:
        incumbent_experiment = MlflowClient().get_run(current.run_id).info.experiment_id
        incumbent = training_runs(incumbent_experiment, [current.run_id])
    except MlflowException:  # its run was deleted for good: the alias is up for grabs
        return runs
    if incumbent.empty:  # deleted (soft) or not a finished training run
        return runs
    return incumbent if runs.empty else pd.concat([runs, incumbent], ignore_index=True)


def _logged_model_uri(client: MlflowClient, run_id: str) -> str:
    """The run's logged model as models:/<model_id>; MLflow 3 keeps it outside run artifacts."""
    outputs = client.get_run(run_id).outputs
    logged = sorted(outputs.model_outputs, key=lambda output: output.step) if outputs else []
    return f"models:/{logged[-1].model_id}" if logged else f"runs:/{run_id}/model"


def register_champion(run_id: str, tags: dict[str, str]) -> tuple[int, str]:
    """Point the champion alias at the run's model; return (version, what happened).

    What happened is "registered" (a new version), "unchanged" (the alias already pointed at
    this run) or "moved" (an older version of this run got the alias back). A version is only
    created when no version of the registered model holds this run yet.
    """
    client = MlflowClient()
    try:
        current = _champion_version(client)
        if current is not None and current.run_id == run_id:
            return int(current.version), "unchanged"
        existing = client.search_model_versions(
            f"name = '{REGISTERED_MODEL}' and run_id = '{run_id}'"
        )
        if existing:
            version, outcome = str(existing[0].version), "moved"
        else:
            # register_model prints "Successfully registered ..." itself; the caller says it once.
            with contextlib.redirect_stderr(io.StringIO()):
                created = mlflow.register_model(
                    _logged_model_uri(client, run_id), REGISTERED_MODEL, tags=tags
                )
            version, outcome = str(created.version), "registered"
        client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION_ALIAS, version)
    except MlflowException as error:
        raise BenchmarkError(
            f"registering the champion in {mlflow.get_tracking_uri()} failed: {_first_line(error)}"
        ) from None
    return int(version), outcome


def load_model(tracking_uri: str, model_uri: str = CHAMPION_URI) -> keras.Model:
    """Load a logged or registered Keras model, by default the registered champion."""
    check_store(tracking_uri, create=False)
    mlflow.set_tracking_uri(tracking_uri)
    try:
        return mlflow.keras.load_model(model_uri)
    except MlflowException as error:
        if model_uri == CHAMPION_URI and error.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise BenchmarkError(
                f"no champion model in {tracking_uri} yet; run 'python -m benchmark run --all' "
                f"first (it registers the best run as {CHAMPION_URI}) or pass --tracking-uri"
            ) from None
        raise BenchmarkError(f"could not load model {model_uri}: {_first_line(error)}") from None
    except Exception as error:  # a broken store or artifact is the user's setup to fix
        raise BenchmarkError(f"could not load model {model_uri}: {_first_line(error)}") from None
