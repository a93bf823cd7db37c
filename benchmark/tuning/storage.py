"""Optuna storages: open a database with heartbeats, its tables made once, its password masked.

Light: no TensorFlow, no data; `status` and the grid's workers open storages through it.
"""

from __future__ import annotations

import random
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError, ProgrammingError

from benchmark.errors import BenchmarkError, first_line
from benchmark.redaction import redact_text, redact_url
from benchmark.settings import HEARTBEAT_SECONDS

GRACE_HEARTBEATS = 3  # missed heartbeats before a running trial counts as dead
RETRIES = 3  # times a dead worker's trial is re-queued
SCHEMA_ATTEMPTS = 5  # tries to open a database that other workers are creating at once

warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def sqlite_file(url: str) -> Path | None:
    """The database file of a sqlite:/// URL with ~ expanded; None for any other URL."""
    if not url.startswith("sqlite:///"):
        return None
    return Path(url.removeprefix("sqlite:///")).expanduser()


def open_storage(
    url: str,
    heartbeat_seconds: int = HEARTBEAT_SECONDS,
    on_stale: Callable[[optuna.Study, FrozenTrial], None] | None = None,
) -> optuna.storages.RDBStorage:
    """Connect to a SQLAlchemy URL with heartbeats and retry of dead workers' trials.

    `on_stale` replaces the retry: it gets each trial failed for lack of heartbeats.
    """
    database = sqlite_file(url)
    if database is not None:
        folder = database.resolve().parent
        if not folder.is_dir():
            raise BenchmarkError(f"study storage folder {folder} does not exist")
    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": 60}  # seconds to wait for another writer
    elif url.startswith("postgresql"):
        engine_kwargs["connect_args"] = {"connect_timeout": 10}
    for attempt in range(1, SCHEMA_ATTEMPTS + 1):
        try:
            storage = optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=heartbeat_seconds,
                grace_period=GRACE_HEARTBEATS * heartbeat_seconds,
                heartbeat_stale_trial_callback=on_stale
                or optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=RETRIES),
            )
            if url.startswith("sqlite"):
                lock_on_begin(storage.engine)
            return storage
        except (IntegrityError, ProgrammingError) as error:
            # Workers started together on an empty database race to create its tables;
            # the losers find them made on the next attempt.
            if attempt == SCHEMA_ATTEMPTS:
                raise _unreachable(url, error) from None
            time.sleep(0.5 + random.random())
        except Exception as error:  # bad URL, missing driver, refused connection, bad password
            raise _unreachable(url, error) from None
    raise AssertionError("unreachable: the last attempt returns or raises")


def _unreachable(url: str, error: Exception) -> BenchmarkError:
    """The one-line error for a storage that could not be opened, password hidden."""
    return BenchmarkError(
        f"study storage {redact_url(url)} is unreachable or invalid: "
        + redact_text(first_line(error), url)
    )


def lock_on_begin(engine: Any) -> None:
    """Make each SQLite transaction take the write lock as it begins (BEGIN IMMEDIATE).

    Optuna claims a waiting trial by reading it `FOR UPDATE` and then writing RUNNING; SQLite
    ignores `FOR UPDATE`, so two processes could both read WAITING and both win the claim. With
    the lock taken at BEGIN, the second reader waits, then reads RUNNING. (SQLAlchemy's recipe
    for pysqlite: its driver's own transaction handling off, the BEGIN issued here.)
    """

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(connection: Any, record: Any) -> None:
        connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
