"""The MLflow store: which one, whether it answers, and the experiment in it."""

from __future__ import annotations

import base64
import contextlib
import errno
import os
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import mlflow
from mlflow.exceptions import MlflowException

from benchmark.errors import BenchmarkError, first_line
from benchmark.redaction import redact_url
from benchmark.runtime import check_writable
from benchmark.settings import DEFAULT_TRACKING_URI
from benchmark.settings.stores import tracking_uri as tracking_uri_rule

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

RECOVERY_SECONDS = 60  # how long a finished training waits for its server to come back
_down: list[str] = []  # the first failure of a store call in this process, once one failed
_full: list[bool] = []  # whether that failure was a full disk: the store answers, but refuses
# What SQLite, the operating system and an MLflow server (which passes SQLite's words on)
# say when a disk or a quota is full.
DISK_FULL_WORDS = ("database or disk is full", "no space left on device", "disk quota exceeded")


def mark_down(error: BaseException) -> None:
    """Remember that the store stopped answering, so later calls do not wait on it again."""
    if not _down:
        _down.append(describe_failure(error))
        _full.append(disk_full(error) is not None)


def wait_until_answering(tracking_uri: str) -> bool:
    """Wait up to RECOVERY_SECONDS for a server that stopped answering; True once it answers."""
    if not tracking_uri.startswith(("http://", "https://")):
        return False  # a file store that failed does not heal by waiting
    deadline = time.monotonic() + RECOVERY_SECONDS
    while time.monotonic() < deadline:
        try:
            with _health(tracking_uri):
                _down.clear()
                return True
        except (urllib.error.URLError, OSError, ValueError):
            time.sleep(2)
    return False


def _health(tracking_uri: str) -> Any:
    """GET the server's /health as MLflow's client would ask: the URL's user:password@ (or
    MLFLOW_TRACKING_USERNAME/PASSWORD, or MLFLOW_TRACKING_TOKEN) sent as credentials, not as
    part of the host name."""
    parts = urlsplit(tracking_uri.rstrip("/"))
    host = parts.netloc.rpartition("@")[2]
    url = urlunsplit((parts.scheme, host, parts.path + "/health", "", ""))
    user = os.environ.get("MLFLOW_TRACKING_USERNAME") or unquote(parts.username or "")
    password = os.environ.get("MLFLOW_TRACKING_PASSWORD") or unquote(parts.password or "")
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    headers = {}
    if user or password:
        pair = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {pair}"
    elif token:
        headers["Authorization"] = f"Bearer {token}"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5)


def down_reason() -> str:
    """The first store failure of this process, or "" while none failed."""
    return _down[0] if _down else ""


def is_down() -> bool:
    """Whether a store call of this process already failed."""
    return bool(_down)


def is_full() -> bool:
    """Whether that failure was a full disk (calls fail at once, so trying again costs nothing)."""
    return bool(_full) and _full[0]


def describe_failure(error: BaseException) -> str:
    """A store failure in one line: "disk full at PATH (...)" for a full disk, else its message."""
    where = disk_full(error)
    if where is None:
        return first_line(error)
    words = next(w for w in DISK_FULL_WORDS if w in _chain_text(error).lower())
    return f"disk full at {where} ({words})"


def disk_full(error: BaseException) -> str | None:
    """The file or store a full disk refused, when that is what the error (or its cause) is."""
    if not any(words in _chain_text(error).lower() for words in DISK_FULL_WORDS):
        return None
    for link in _chain(error):
        if isinstance(link, shutil.Error) and link.args and isinstance(link.args[0], list):
            return str(link.args[0][0][1])  # (source, destination, why) per failed file
        if isinstance(link, OSError) and errno_full(link):
            run = mlflow.active_run()  # a file write without a name: the run's artifacts
            return str(link.filename or (run.info.artifact_uri if run else Path.cwd()))
    uri = mlflow.get_tracking_uri()
    if uri.startswith("sqlite:///"):
        return str(Path(uri.removeprefix("sqlite:///")).expanduser().resolve())
    return redact_url(uri)


def errno_full(error: OSError) -> bool:
    """Whether an OSError is a full disk or quota."""
    return error.errno in (errno.ENOSPC, errno.EDQUOT)


def _chain(error: BaseException) -> list[BaseException]:
    """The error and the errors it came from (its cause and context), without repeats."""
    found: list[BaseException] = []
    link: BaseException | None = error
    while link is not None and link not in found:
        found.append(link)
        link = link.__cause__ or link.__context__
    return found


def _chain_text(error: BaseException) -> str:
    return " ".join(str(link) for link in _chain(error))


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
            with _health(tracking_uri):
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
