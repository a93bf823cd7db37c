"""Whether the MLflow store answers: a run's StoreHealth, full disks named, waiting for a server."""

from __future__ import annotations

import base64
import errno
import os
import shutil
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import mlflow

from benchmark.errors import first_line
from benchmark.redaction import redact_url

RECOVERY_SECONDS = 60  # how long a finished training waits for its server to come back
# What SQLite, the operating system and an MLflow server (which passes SQLite's words on)
# say when a disk or a quota is full.
DISK_FULL_WORDS = ("database or disk is full", "no space left on device", "disk quota exceeded")


@dataclass
class StoreHealth:
    """How the store answered a training run's calls; once one failed, later calls wait less."""

    reason: str = ""  # the first failure, in one line; "" while none failed
    full: bool = False  # that failure was a full disk: the store answers at once, but refuses

    @property
    def down(self) -> bool:
        """Whether a store call already failed (and the store has not answered since)."""
        return bool(self.reason)

    def mark_down(self, error: BaseException) -> None:
        """Remember the first failure, so later calls do not wait on the store again."""
        if not self.reason:
            self.reason = describe_failure(error)
            self.full = disk_full(error) is not None

    def wait_until_answering(self, tracking_uri: str) -> bool:
        """Wait up to RECOVERY_SECONDS for a server that stopped answering; True once it does."""
        if not tracking_uri.startswith(("http://", "https://")):
            return False  # a file store that failed does not heal by waiting
        deadline = time.monotonic() + RECOVERY_SECONDS
        while time.monotonic() < deadline:
            try:
                with ask_health(tracking_uri):
                    self.reason, self.full = "", False
                    return True
            except (urllib.error.URLError, OSError, ValueError):
                time.sleep(2)
        return False


def ask_health(tracking_uri: str) -> Any:
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
