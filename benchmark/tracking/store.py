"""The MLflow store: which one, opening it (checked, HTTP calls bounded), the experiment in it."""

from __future__ import annotations

import contextlib
import os
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException

from benchmark.errors import BenchmarkError, first_line
from benchmark.runtime import check_writable
from benchmark.settings import DEFAULT_TRACKING_URI
from benchmark.settings.stores import tracking_uri as tracking_uri_rule
from benchmark.tracking.health import ask_health

# MLflow's HTTP client retries a failed request 7 times with growing pauses and waits 120 s for
# each answer: a dead server stalls a call for minutes. These bounds make a call to a server
# that refuses connections give up in about 5 s and one to a server that stopped answering in
# at most about 35 s (3 attempts of 10 s, pauses of 0 and 2 s, up to 1 s jitter each); a user
# can still set each variable to something else. Set by `bound_http_requests` when a store is
# opened (MLflow reads them at every request), not at import.
HTTP_BOUNDS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}
# One attempt of at most 2 s: for a call whose answer does not matter on a store already down.
QUICK_ATTEMPT = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "2"}


def bound_http_requests() -> None:
    """Bound MLflow's HTTP retries and waits (HTTP_BOUNDS) unless the user set them already."""
    for name, value in HTTP_BOUNDS.items():
        os.environ.setdefault(name, value)


@contextlib.contextmanager
def one_quick_attempt() -> Iterator[None]:
    """MLflow's HTTP calls in the block try once, for at most 2 s (QUICK_ATTEMPT)."""
    saved = {name: os.environ.get(name) for name in QUICK_ATTEMPT}
    os.environ.update(QUICK_ATTEMPT)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# The experiment kind MLflow's UI reads to open an experiment as model training (runs, metrics,
# charts) instead of GenAI (traces); the value its own kind selector writes for "Machine
# learning". MLflow 3.17's UI takes the view from the address instead (see tracking.views).
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING_KIND = "custom_model_development"


def resolve_tracking_uri(cli_value: str | None) -> str:
    """--tracking-uri, else MLFLOW_TRACKING_URI, else a SQLite file in the working directory."""
    return cli_value or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def use_store(tracking_uri: str) -> None:
    """Point this process's MLflow client at a store already checked by `connect`."""
    bound_http_requests()
    mlflow.set_tracking_uri(tracking_uri)


def connect(tracking_uri: str, experiment: str, create: bool = True) -> str:
    """Check the store answers, point MLflow at it and return the experiment's id.

    With `create=False` a missing store or experiment is an error instead of being made.
    """
    check_store(tracking_uri, create)
    use_store(tracking_uri)
    with _store_lock(tracking_uri):
        try:
            found = mlflow.get_experiment_by_name(experiment)
            if found is None and create:
                return _create_experiment(experiment)
            if found is not None and create and EXPERIMENT_KIND_TAG not in found.tags:
                # made before the tool tagged its experiments, or by hand: tag it on first use
                mlflow.MlflowClient().set_experiment_tag(
                    found.experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND
                )
        except Exception as error:  # any store failure is the user's setup to fix
            raise BenchmarkError(
                f"tracking store {tracking_uri} failed: {first_line(error)}"
            ) from None
    if found is None:
        raise BenchmarkError(
            f"no experiment {experiment!r} in {tracking_uri}; run "
            "'python -m benchmark run' first or pass --experiment"
        )
    return found.experiment_id


def _create_experiment(name: str) -> str:
    """Create the experiment, or take the one another process created a moment earlier."""
    try:
        return mlflow.create_experiment(name, tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING_KIND})
    except MlflowException:
        found = mlflow.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


@contextlib.contextmanager
def _store_lock(tracking_uri: str) -> Iterator[None]:
    """Serialise first use of a SQLite store between processes on this host.

    MLflow creates and migrates the schema on first use; two processes doing it at once
    (two `tune` workers on a new store, say) break each other's migration. The lock is on the
    store's folder, which exists already, so no lock file is left behind.
    """
    if not tracking_uri.startswith("sqlite:///"):
        yield
        return
    import fcntl

    database = Path(tracking_uri.removeprefix("sqlite:///")).expanduser().resolve()
    folder = os.open(database.parent, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        yield
    finally:
        os.close(folder)  # releases the lock


def check_store(tracking_uri: str, create: bool = True) -> None:
    """Refuse an unreachable server or a missing SQLite folder (or file, with create=False)."""
    try:
        tracking_uri_rule(tracking_uri)  # a flag was checked already; MLFLOW_TRACKING_URI not
    except ValueError as error:
        raise BenchmarkError(f"tracking URI {tracking_uri}: {error}") from None
    if tracking_uri.startswith(("http://", "https://")):
        try:
            with ask_health(tracking_uri):
                pass
        except urllib.error.HTTPError as error:  # it answers, but refuses: say so, not "down"
            raise BenchmarkError(
                f"tracking server {tracking_uri} answered {error.code} {error.reason} to a "
                "health check; check the user and password (or token) it expects"
            ) from None
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
        _check_sqlite_opens(database)


def _check_sqlite_opens(database: Path) -> None:
    """Refuse a SQLite file that cannot be opened for writing, before MLflow retries for minutes."""
    if not database.exists():
        check_writable(database.parent, "tracking store folder")
        return
    try:
        with open(database, "r+b"):
            pass
    except OSError as error:
        reason = error.strerror or first_line(error)
        raise BenchmarkError(f"tracking store {database} cannot be written ({reason})") from None
