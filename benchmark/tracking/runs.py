"""Starting a comparison and its training runs: tags, params, dataset input, epoch metrics."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import platform
from collections.abc import Iterator
from typing import Any

import keras
import mlflow
import numpy as np
from mlflow.tracking import MlflowClient

from benchmark.data.splits import Splits
from benchmark.errors import first_line
from benchmark.tracking import store
from benchmark.tracking.processes import _process_tags
from benchmark.tracking.spool import TrainingRun
from benchmark.training import hardware

log = logging.getLogger(__name__)

RUN_KIND_TRAINING = "training"
RUN_KIND_COMPARISON = "comparison"
# A training run's link to the comparison run of the invocation that trained it. A tag, not
# MLflow's nesting (mlflow.parentRunId): the UI folds nested runs under a collapsed parent.
COMPARISON_TAG = "comparison_run_id"
SKIPPED_PARAM = "skipped_architectures"  # a comparison's {architecture: why} as JSON
MAX_TAG_CHARS = 5000  # MLflow refuses longer tag values on some stores
DEFAULT_VARIANT = "default"  # runs without a variant tag (older runs) are read as this


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
    if splits.dataset != "mnist":  # MNIST hashes stay as they were: its finished runs count
        payload |= {"dataset": splits.dataset, "input_shape": list(splits.input_shape)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[
        :16
    ]


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
    tags = {**tags, **_process_tags()}
    with _active_run(experiment_id=experiment_id, run_name=name, tags=tags) as run:
        mlflow.log_params({key: str(value) for key, value in settings.items()})
        yield run.info.run_id


@contextlib.contextmanager
def _active_run(**start: Any) -> Iterator[mlflow.ActiveRun]:
    """mlflow.start_run, ended FINISHED or FAILED without a second wait on a store that is down.

    MLflow's own `with` would call the dead store again on the way out and let that error
    replace the one that ended the block; a run left RUNNING is closed by the next invocation.
    """
    run = mlflow.start_run(**start)
    status = "FINISHED"
    try:
        yield run
    except BaseException:
        status = "FAILED"
        raise
    finally:
        end_active_run(status)


def end_active_run(status: str) -> None:
    """End the active run; when the store is known to be down, only forget it locally.

    A store whose disk is full answers at once, so ending the run is tried: it works when
    removing what the failed call had written made room.
    """
    if store.is_down() and not store.is_full():
        forget_active_run()
        return
    try:
        mlflow.end_run(status)
    except Exception as error:  # the run stays RUNNING; the next invocation closes it
        store.mark_down(error)
        log.debug(f"ending the run failed: {first_line(error)}")


def forget_active_run() -> None:
    """Drop the active run in this process without asking the store (ended or unreachable)."""
    from mlflow.tracking import fluent

    stack = fluent._active_run_stack.get()
    if stack:
        stack.pop()


@contextlib.contextmanager
def comparison_run(experiment_id: str, name: str, settings: dict[str, Any]) -> Iterator[str]:
    """A top-level run recording one invocation; its training runs name it in COMPARISON_TAG."""
    with parent_run(experiment_id, name, {"run_kind": RUN_KIND_COMPARISON}, settings) as run_id:
        yield run_id


@contextlib.contextmanager
def _set_aside_active_run() -> Iterator[str | None]:
    """Take the active run (the comparison) off MLflow's stack for a while; yield its id.

    A training run started beside it is then a top-level run, not one nested under it.
    """
    from mlflow.tracking import fluent

    stack = fluent._active_run_stack.get()
    aside = stack.pop() if stack else None
    try:
        yield aside.info.run_id if aside else None
    finally:
        if aside is not None:
            fluent._active_run_stack.get().append(aside)


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
        **_process_tags(),
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
    with _set_aside_active_run() as active_id:
        if parent_run_id or active_id:
            tags[COMPARISON_TAG] = parent_run_id or active_id
        with _active_run(experiment_id=experiment_id, run_name=name, tags=tags) as run:
            mlflow.log_params(logged)
            dataset = mlflow.data.from_numpy(
                splits.x_train.reshape(len(splits.x_train), -1),
                targets=splits.y_train,
                name=f"{splits.dataset}-train",
                digest=splits.digest,
            )
            mlflow.log_input(dataset, context="training")
            strings = {key: str(value) for key, value in logged.items()}
            yield TrainingRun(run.info.run_id, experiment_id, name, config, tags, strings)


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
    """Log loss, accuracy, val_loss and val_accuracy to the active run after every epoch.

    When the store stops answering, training goes on: it says so once and stops logging
    epochs; `logged_epochs` tells the results kept locally which epochs are still to log.
    """

    def __init__(self) -> None:
        super().__init__()
        self.logged_epochs = 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if store.is_down():
            return
        wanted = ("loss", "accuracy", "val_loss", "val_accuracy")
        try:
            mlflow.log_metrics(
                {k: float(v) for k, v in (logs or {}).items() if k in wanted}, step=epoch + 1
            )
        except Exception as error:  # noqa: BLE001 - any store failure; training goes on
            store.mark_down(error)
            what = "cannot write" if store.disk_full(error) else "stopped answering"
            log.warning(
                f"tracking store {what} ({store.describe_failure(error)}); training goes on "
                "and its results will be kept locally"
            )
            return
        self.logged_epochs = epoch + 1
