"""A finished training is never lost: its results are written to a folder, then logged.

When logging fails (a store that stopped answering, an artifact store that refuses writes),
the folder is kept under `.benchmark-pending/<config_hash>/` in the working directory and a
later `run` logs it into its run once the store answers again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from benchmark.errors import BenchmarkError, first_line
from benchmark.redaction import redact_url
from benchmark.tracking import store
from benchmark.tracking.artifacts import log_written, write_result
from benchmark.training.result import TrainingResult

PENDING_FOLDER = Path(".benchmark-pending")
RECORD_FILE = "run.json"
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


def log_result(result: TrainingResult, run: TrainingRun, logged_epochs: int) -> None:
    """Log a finished training into the active run; keep it locally if that fails, and say where."""
    with tempfile.TemporaryDirectory(prefix="benchmark-result-") as staging:
        folder = Path(staging) / run.config
        write_result(result, folder)
        (folder / RECORD_FILE).write_text(
            json.dumps({**asdict(run), "logged_epochs": logged_epochs}, indent=1)
        )
        try:
            _log_with_one_retry(folder, logged_epochs, result.model)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM while logging or waiting for the store
            kept = _keep(folder)
            log.warning(
                f"interrupted while logging the finished training {run.run_name}: its results "
                f"are kept in {kept} and the next 'python -m benchmark run' in this folder "
                "logs them"
            )
            raise
        except Exception as error:  # noqa: BLE001 - whatever failed, the results must survive
            store.mark_down(error)
            kept = _keep(folder)
            uri = redact_url(mlflow.get_tracking_uri())
            raise BenchmarkError(
                f"logging the finished training {run.run_name} to {uri} "
                f"failed ({first_line(error)}); its results are kept in {kept} and the next "
                "'python -m benchmark run' in this folder logs them"
            ) from None


def _log_with_one_retry(folder: Path, logged_epochs: int, model: Any) -> None:
    """Log the folder; if the store is down, wait up to store.RECOVERY_SECONDS for it, once."""
    if not store.is_down():
        try:
            log_written(folder, logged_epochs, model)
            return
        except Exception as error:  # noqa: BLE001 - a store that went away may come back
            store.mark_down(error)
    uri = mlflow.get_tracking_uri()
    if uri.startswith(("http://", "https://")):  # a server may come back; a file store does not
        log.warning(
            f"tracking server not answering ({store.down_reason()}); waiting up to "
            f"{store.RECOVERY_SECONDS} s for it before keeping the results locally"
        )
    if not store.wait_until_answering(uri):
        raise BenchmarkError(f"the store stopped answering: {store.down_reason()}")
    log_written(folder, logged_epochs, model)


def _keep(folder: Path) -> Path:
    """Move a staged result under .benchmark-pending/ (replacing an older copy); return it."""
    target = PENDING_FOLDER.resolve() / folder.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(target, ignore_errors=True)
    shutil.move(str(folder), str(target))
    return target


def pending() -> list[Path]:
    """The kept results waiting to be logged, oldest first."""
    if not PENDING_FOLDER.is_dir():
        return []
    found = [path for path in PENDING_FOLDER.iterdir() if (path / RECORD_FILE).is_file()]
    return sorted(found, key=lambda path: path.stat().st_mtime)


def sync_pending(experiment_id: str) -> list[str]:
    """Log every kept result of this experiment into its run and mark it FINISHED; their names."""
    synced = []
    for folder in pending():
        record = json.loads((folder / RECORD_FILE).read_text())
        if record["experiment_id"] != experiment_id:
            continue
        with _claimed(folder) as claimed:
            if claimed is None:  # another process is logging it right now
                continue
            try:
                _log_again(claimed, record, experiment_id)
            except Exception as error:  # noqa: BLE001 - keep it for the next try
                raise BenchmarkError(
                    f"logging the kept results in {folder} failed ({first_line(error)}); "
                    "they stay there for the next 'python -m benchmark run'"
                ) from None
            shutil.rmtree(claimed, ignore_errors=True)
        synced.append(record["run_name"])
    return synced


@contextlib.contextmanager
def _claimed(folder: Path) -> Iterator[Path | None]:
    """Rename the folder to one only this process uses; put it back unless it was logged."""
    claimed = folder.with_name(f"{folder.name}.syncing-{os.getpid()}")
    try:
        folder.rename(claimed)
    except OSError:
        yield None
        return
    try:
        yield claimed
    finally:
        if claimed.exists():
            claimed.rename(folder)


def _log_again(folder: Path, record: dict[str, Any], experiment_id: str) -> None:
    """Resume the run the results came from (or start one like it) and log them into it."""
    client = MlflowClient()
    try:
        run = client.get_run(record["run_id"])
        if run.info.status == "FINISHED":  # logged already, by a process that then lost the store
            return
        start: dict[str, Any] = {"run_id": record["run_id"]}
    except MlflowException:  # the store was replaced: a new run with the same tags and params
        start = {"experiment_id": experiment_id, "run_name": record["run_name"]}
        start["tags"] = record["tags"]
    with mlflow.start_run(**start, nested=mlflow.active_run() is not None):
        if "tags" in start:
            mlflow.log_params(record["params"])
        log_written(folder, int(record.get("logged_epochs", 0) if "run_id" in start else 0))
