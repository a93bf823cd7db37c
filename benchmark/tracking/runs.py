"""Starting a comparison and its training runs: tags, params, dataset input, epoch metrics."""

from __future__ import annotations

import contextlib
import json
import logging
import platform
from collections.abc import Iterator
from typing import Any

import keras
import mlflow
import numpy as np
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from benchmark.data.splits import Splits
from benchmark.errors import first_line
from benchmark.tracking import store
from benchmark.tracking.health import StoreHealth, disk_full
from benchmark.tracking.processes import process_tags
from benchmark.tracking.spool import TrainingRun
from benchmark.training import hardware
from benchmark.training.result import HISTORY_KEYS

log = logging.getLogger(__name__)

RUN_KIND_TRAINING = "training"
RUN_KIND_COMPARISON = "comparison"
# A training run's link to the comparison run of the invocation that trained it. A tag, not
# MLflow's nesting (mlflow.parentRunId): the UI folds nested runs under a collapsed parent.
COMPARISON_TAG = "comparison_run_id"
PARENT_RUN_TAG = "mlflow.parentRunId"  # MLflow's nesting tag, removed from training runs
SKIPPED_PARAM = "skipped_architectures"  # a comparison's {architecture: why} as JSON
MAX_TAG_CHARS = 5000  # MLflow refuses longer tag values on some stores
DEFAULT_VARIANT = "default"  # runs without a variant tag (older runs) are read as this
# How SQLite and PostgreSQL word a unique key's refusal, as MLflow passes it on.
DUPLICATE_KEY = ("UNIQUE constraint failed", "duplicate key value")


def find_finished_run(experiment_id: str, config: str) -> tuple[str, float] | None:
    """The id and test accuracy of a finished run with this configuration hash, if any."""
    runs = MlflowClient().search_runs(
        [experiment_id],
        filter_string=f"tags.config_hash = '{config}' and attributes.status = 'FINISHED'",
        max_results=1,
    )
    if not runs:
        return None
    return runs[0].info.run_id, float(runs[0].data.metrics.get("test_accuracy", 0.0))


@contextlib.contextmanager
def parent_run(
    experiment_id: str, name: str, tags: dict[str, str], settings: dict[str, Any]
) -> Iterator[str]:
    """A top-level run with the process tags and each setting as a param; yields its run id."""
    tags = {**tags, **process_tags()}
    with _active_run(experiment_id=experiment_id, run_name=name, tags=tags) as run:
        mlflow.log_params({key: str(value) for key, value in settings.items()})
        yield run.info.run_id


@contextlib.contextmanager
def _active_run(health: StoreHealth | None = None, **start: Any) -> Iterator[mlflow.ActiveRun]:
    """mlflow.start_run, ended FINISHED or FAILED without a second wait on a store that is down.

    MLflow's own `with` would call the dead store again on the way out and let that error
    replace the one that ended the block; a run left RUNNING is closed by the next invocation.
    A block that failed, or whose `health` saw the store go down, ends with one quick try.
    """
    run = mlflow.start_run(**start)
    status = "FINISHED"
    try:
        yield run
    except BaseException:
        status = "FAILED"
        raise
    finally:
        down = health is not None and health.down and not health.full
        end_active_run(status, quick=status == "FAILED" or down)


def end_active_run(status: str, quick: bool = False) -> None:
    """End the active run; `quick`: with one short try (store.one_quick_attempt), no retries.

    mlflow.end_run takes the run off this process's stack before it asks the store, so the run
    is forgotten locally even when that fails. A store whose disk is full answers at once: the
    try works when removing what the failed call had written made room.
    """
    try:
        with store.one_quick_attempt() if quick else contextlib.nullcontext():
            mlflow.end_run(status)
    except Exception as error:  # the run stays RUNNING; the next invocation closes it
        log.debug(f"ending the run failed: {first_line(error)}")


@contextlib.contextmanager
def comparison_run(experiment_id: str, name: str, settings: dict[str, Any]) -> Iterator[str]:
    """A top-level run recording one invocation; its training runs name it in COMPARISON_TAG."""
    with parent_run(experiment_id, name, {"run_kind": RUN_KIND_COMPARISON}, settings) as run_id:
        yield run_id


@contextlib.contextmanager
def start_training_run(
    experiment_id: str,
    arch: str,
    params: dict[str, Any],
    seed: int,
    splits: Splits,
    config: str,
    extra_params: dict[str, Any],
    extra_tags: dict[str, str] | None = None,
    variant: str = DEFAULT_VARIANT,
    parent_run_id: str | None = None,
) -> Iterator[TrainingRun]:
    """A top-level run for one architecture and seed, with params, tags and the dataset input.

    Its COMPARISON_TAG names the active run (the comparison), or `parent_run_id` in a worker
    process that has none.
    """
    tags = {
        "run_kind": RUN_KIND_TRAINING,
        "arch": arch,
        "seed": str(seed),
        "variant": variant,
        "config_hash": config,
        "dataset_digest": splits.digest,
        "class_names": json.dumps(list(splits.names))[:MAX_TAG_CHARS],
        # Which machine, and which arithmetic, the timings of this run come from.
        **hardware.fingerprint(str(extra_params.get("precision", "float32"))),
        **process_tags(),
        **(extra_tags or {}),
    }
    logged = {
        **params,
        "arch": arch,
        "dataset": splits.dataset,
        "dataset_digest": splits.digest,
        "input_shape": "x".join(map(str, splits.input_shape)),
        "num_classes": splits.num_classes,
        "test_split": splits.test_split,
        "seed": seed,
        **splits.sizes,
        **extra_params,
        **environment_params(),
    }
    name = f"{arch}-seed{seed}"
    comparison = mlflow.active_run()
    if parent_run_id or comparison:
        tags[COMPARISON_TAG] = parent_run_id or comparison.info.run_id
    # Started on top of the comparison (MLflow allows that nested only), then made top-level.
    nested = comparison is not None
    health = StoreHealth()
    started = {"experiment_id": experiment_id, "run_name": name, "tags": tags, "nested": nested}
    with _active_run(health, **started) as run:
        if nested:
            MlflowClient().delete_tag(run.info.run_id, PARENT_RUN_TAG)
        mlflow.log_params(logged)
        dataset = mlflow.data.from_numpy(
            splits.x_train.reshape(len(splits.x_train), -1),
            targets=splits.y_train,
            name=f"{splits.dataset}-train",
            digest=splits.digest,
        )
        _log_training_input(dataset)
        strings = {key: str(value) for key, value in logged.items()}
        yield TrainingRun(run.info.run_id, experiment_id, name, config, tags, strings, health)


def _log_training_input(dataset: Any) -> None:
    """Log the training split as the active run's input, once more if another run won the race.

    On a new store, two workers logging the same dataset at once both find no row for it and
    both insert one; the store's unique key refuses the second (SQLite: "UNIQUE constraint
    failed: datasets", PostgreSQL: "duplicate key value"). Its second try finds the first's row
    and links it.
    """
    try:
        mlflow.log_input(dataset, context="training")
    except MlflowException as error:
        if not any(text in str(error) for text in DUPLICATE_KEY):
            raise
        log.debug(f"dataset {dataset.name} was logged by another run at once; linking it")
        mlflow.log_input(dataset, context="training")


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
    """Log the HISTORY_KEYS (loss, accuracy and their val_) to the active run after every epoch.

    When the store stops answering, training goes on: it says so once, marks `health` (a
    training run's, so its results are then kept without waiting again; a trial's own when
    None) down and stops logging epochs; `logged_epochs` tells the results kept locally which
    epochs are still to log.
    """

    def __init__(self, health: StoreHealth | None = None) -> None:
        super().__init__()
        self.health = health or StoreHealth()
        self.logged_epochs = 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.health.down:
            return
        try:
            mlflow.log_metrics(
                {k: float(v) for k, v in (logs or {}).items() if k in HISTORY_KEYS}, step=epoch + 1
            )
        except Exception as error:  # noqa: BLE001 - any store failure; training goes on
            self.health.mark_down(error)
            what = "cannot write" if disk_full(error) else "stopped answering"
            log.warning(
                f"tracking store {what} ({self.health.reason}); training goes on "
                "and its results will be kept locally"
            )
            return
        self.logged_epochs = epoch + 1
