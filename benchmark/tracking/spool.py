"""A finished training is never lost: its results are written to a folder, then logged.

When logging fails (a store that stopped answering or is full, an artifact store that refuses
writes), the folder is kept under `.benchmark-pending/<config_hash>/` in the working directory
(see kept.py) and a later `run` logs it into its run once the store answers again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import LoggedModelStatus
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.tracking import MlflowClient

from benchmark.errors import BenchmarkError, first_line
from benchmark.redaction import redact_url
from benchmark.tracking import kept
from benchmark.tracking.artifacts import log_written, write_result
from benchmark.tracking.health import RECOVERY_SECONDS, StoreHealth, describe_failure, disk_full
from benchmark.training.result import TrainingResult

log = logging.getLogger(__name__)


@dataclass
class TrainingRun:
    """A training run as started: enough to log its results again into the same or a new run."""

    run_id: str
    experiment_id: str
    run_name: str
    config: str
    tags: dict[str, str]
    params: dict[str, str]
    # How the store answered this run's calls; not part of the record kept with its results.
    health: StoreHealth = field(default_factory=StoreHealth, repr=False, compare=False)

    def record(self) -> dict[str, Any]:
        """What a kept result stores of its run, to log it again later."""
        return {key: value for key, value in asdict(self).items() if key != "health"}


def log_result(
    result: TrainingResult, run: TrainingRun, logged_epochs: int, pngs: dict[str, bytes]
) -> None:
    """Log a finished training and its figures (`pngs`, artifact name -> PNG, drawn by
    figures.runs) into the active run; keep it locally if that fails, and say where.

    The results are written whole to disk first, next to where they are kept, so that logging
    cannot use up the space keeping them needs; they are removed once logged.
    """

    def write(folder: Path) -> None:
        write_result(result, folder, pngs)
        record = {**run.record(), "logged_epochs": logged_epochs}
        (folder / kept.RECORD_FILE).write_text(json.dumps(record, indent=1))  # last: it is whole

    staged = kept.stage(run.config, write)
    try:
        _log_with_one_retry(staged, logged_epochs, result.model, run.health)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM while logging or waiting for the store
        where = kept.publish(staged)
        log.warning(
            f"interrupted while logging the finished training {run.run_name}: its results "
            f"are kept in {where} and the next 'python -m benchmark run' in this folder "
            "logs them"
        )
        raise
    except Exception as error:  # noqa: BLE001 - whatever failed, the results must survive
        run.health.mark_down(error)
        where = kept.publish(staged)
        _discard_unfinished_models(run.run_id, run.experiment_id)  # frees what it had written
        uri = redact_url(mlflow.get_tracking_uri())
        raise BenchmarkError(
            f"logging the finished training {run.run_name} to {uri} "
            f"failed ({describe_failure(error)}); its results are kept in {where} and "
            "the next 'python -m benchmark run' in this folder logs them"
        ) from None
    kept.discard(staged)


def _log_with_one_retry(folder: Path, logged_epochs: int, model: Any, health: StoreHealth) -> None:
    """Log the folder; if the store is down, wait up to RECOVERY_SECONDS for it, once.

    A full disk is not waited for: it answers at once, and frees no space by itself.
    """
    if not health.down or health.full:
        try:
            log_written(folder, logged_epochs, model)
            return
        except Exception as error:  # noqa: BLE001 - a store that went away may come back
            if disk_full(error):
                raise
            health.mark_down(error)
    uri = mlflow.get_tracking_uri()
    if uri.startswith(("http://", "https://")):  # a server may come back; a file store does not
        log.warning(
            f"tracking server not answering ({health.reason}); waiting up to "
            f"{RECOVERY_SECONDS} s for it before keeping the results locally"
        )
    if not health.wait_until_answering(uri):
        raise BenchmarkError(f"the store stopped answering: {health.reason}")
    log_written(folder, logged_epochs, model)


def _discard_unfinished_models(run_id: str, experiment_id: str) -> None:
    """Delete the run's logged models that never became READY, and their files, if it can."""
    try:
        client = MlflowClient()
        found = client.search_logged_models(
            [experiment_id], filter_string=f"source_run_id = '{run_id}'"
        )
        for model in found:
            if model.status == LoggedModelStatus.READY:
                continue
            with contextlib.suppress(Exception):  # a remote store may not delete files
                get_artifact_repository(model.artifact_location).delete_artifacts()
            client.delete_logged_model(model.model_id)
    except Exception as error:  # noqa: BLE001 - a leftover model is harmless; try again later
        log.debug(f"removing an unfinished logged model failed: {first_line(error)}")


def sync_pending(experiment_id: str) -> list[str]:
    """Log every kept result of this experiment into its run and mark it FINISHED; their names."""
    synced = []
    for folder, record in kept.entries():
        if record["experiment_id"] != experiment_id:
            continue
        with _claimed(folder) as claimed:
            if claimed is None:  # another process is logging it right now
                continue
            try:
                _log_again(claimed, record, experiment_id)
            except Exception as error:  # noqa: BLE001 - keep it for the next try
                raise BenchmarkError(
                    f"logging the kept results in {folder} failed "
                    f"({describe_failure(error)}); they stay there for the next "
                    "'python -m benchmark run'"
                ) from None
            kept.discard(claimed)
        synced.append(record["run_name"])
    return synced


@contextlib.contextmanager
def _claimed(folder: Path) -> Iterator[Path | None]:
    """Rename the folder to one only this process uses; put it back unless it was logged.

    The name is a staging name: should this process die, the next `run` takes it back.
    """
    claimed = folder.with_name(f"{kept.STAGING}{os.getpid()}-{folder.name}")
    try:
        folder.rename(claimed)
    except OSError:
        yield None
        return
    try:
        yield claimed
    finally:
        if claimed.exists():
            kept.publish(claimed)


def _log_again(folder: Path, record: dict[str, Any], experiment_id: str) -> None:
    """Resume the run the results came from (or start one like it) and log them into it."""
    client = MlflowClient()
    try:
        run = client.get_run(record["run_id"])
        if run.info.status == "FINISHED":  # logged already, by a process that then lost the store
            return
        _discard_unfinished_models(record["run_id"], experiment_id)
        start: dict[str, Any] = {"run_id": record["run_id"]}
    except MlflowException:  # the store was replaced: a new run with the same tags and params
        start = {"experiment_id": experiment_id, "run_name": record["run_name"]}
        start["tags"] = record["tags"]
    with mlflow.start_run(**start, nested=mlflow.active_run() is not None):
        if "tags" in start:
            mlflow.log_params(record["params"])
        log_written(folder, int(record.get("logged_epochs", 0) if "run_id" in start else 0))
