"""Kept results on disk: written whole or not at all, listed, checked, removed.

A training's results are written under a hidden staging name inside the folder that keeps
them, flushed to disk (fsync), and renamed to their final name only once whole, so a failure
at any byte (a full disk, a crash) leaves the complete previous state or the complete new one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmark.errors import BenchmarkError, first_line
from benchmark.runtime import process_alive
from benchmark.tracking.artifacts import MODEL_FILE, NUMBERS_FILE

PENDING_FOLDER = Path(".benchmark-pending")
RECORD_FILE = "run.json"
STAGING = ".staging-"  # STAGING<pid>-<config>: being written, or being logged by <pid>
BYTES_PER_PARAMETER = 16  # weights and up to three optimizer slots (Adam keeps two), float32
OTHER_RESULT_BYTES = 1 << 20  # figures, reports, metrics: about 110 kB measured for MNIST
log = logging.getLogger(__name__)


def spool_folders() -> list[Path]:
    """Where kept results live: ./.benchmark-pending/, else a folder of the temporary folder
    named after the working folder, used only when the working folder cannot take them."""
    working = Path.cwd().resolve()
    digest = hashlib.sha256(str(working).encode()).hexdigest()[:16]
    return [working / PENDING_FOLDER, Path(tempfile.gettempdir()) / f"cnn-benchmark-kept-{digest}"]


def stage(config: str, write: Callable[[Path], None]) -> Path:
    """Write a training's results with `write` into a new hidden folder, flushed; return it.

    In the working folder's .benchmark-pending/, or in the fallback folder when that fails
    (a full or read-only disk); a partial copy is removed before the next place is tried.
    """
    failures = []
    for spool in spool_folders():
        folder = spool / f"{STAGING}{os.getpid()}-{config}"
        try:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            write(folder)
            _flush_tree(folder)
            return folder
        except Exception as error:  # noqa: BLE001 - a full disk fails in numpy, Keras or a file write
            failures.append(f"{spool}: {first_line(error)}")
            shutil.rmtree(folder, ignore_errors=True)
            remove_if_empty(spool)
    raise BenchmarkError(
        "the finished training's results could not be written anywhere ("
        + "; ".join(failures)
        + "); free some disk space"
    )


def publish(staged: Path) -> Path:
    """Give a whole staged folder its final name (replacing an older copy); return it."""
    target = staged.parent / staged.name.split("-", 2)[2]
    older = staged.parent / f"{STAGING}old-{os.getpid()}-{target.name}"
    if target.exists():
        target.rename(older)
    staged.rename(target)
    _flush_folder(staged.parent)
    shutil.rmtree(older, ignore_errors=True)
    return target


def discard(folder: Path) -> None:
    """Remove a folder of results that were logged, and its spool folder once empty."""
    shutil.rmtree(folder, ignore_errors=True)
    remove_if_empty(folder.parent)


def remove_if_empty(folder: Path) -> None:
    """Remove a spool folder that holds nothing more."""
    with contextlib.suppress(OSError):
        folder.rmdir()


def entries() -> list[tuple[Path, dict[str, Any]]]:
    """Kept results that can be logged, oldest first, each with its record.

    A staging folder of a process that is gone is taken over when whole; an entry that cannot
    be read is reported in one line and left where it is for the user.
    """
    found = []
    for spool in spool_folders():
        if not spool.is_dir():
            continue
        for folder in sorted(spool.iterdir()):
            if folder.name.startswith(STAGING):
                folder = _adopted(folder)
            if folder is None or folder.name.startswith(".") or not folder.is_dir():
                continue
            record = _readable(folder)
            if record is not None:
                found.append((folder, record))
    return sorted(found, key=lambda entry: entry[0].stat().st_mtime)


def _adopted(folder: Path) -> Path | None:
    """A whole staging folder whose process is gone, renamed as kept; None otherwise."""
    pid = folder.name.removeprefix(STAGING).split("-", 1)[0]
    if not pid.isdigit() or process_alive(int(pid)):
        return None
    if not (folder / RECORD_FILE).is_file():  # the process died while writing it
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return publish(folder)


def _readable(folder: Path) -> dict[str, Any] | None:
    """The folder's record when every file the logging needs reads back; else say why, None."""
    try:
        record = json.loads((folder / RECORD_FILE).read_text())
        json.loads((folder / NUMBERS_FILE).read_text())
        if not zipfile.is_zipfile(folder / MODEL_FILE):
            raise ValueError(f"{MODEL_FILE} is not a whole Keras file")
        missing = {"run_id", "experiment_id", "run_name", "tags", "params"} - record.keys()
        if missing:
            raise ValueError(f"{RECORD_FILE} lacks {', '.join(sorted(missing))}")
    except (OSError, ValueError, AttributeError) as error:
        log.warning(
            f"skipping the kept results in {folder}: they cannot be read ({first_line(error)}); "
            "remove that folder once you no longer need it"
        )
        return None
    return record


def _flush_tree(folder: Path) -> None:
    """fsync every file under `folder`, then every folder, so a crash cannot truncate them."""
    for root, _, files in os.walk(folder):
        for name in files:
            with open(Path(root) / name, "rb+") as handle:
                os.fsync(handle.fileno())
        _flush_folder(Path(root))


def _flush_folder(folder: Path) -> None:
    """fsync a folder, so the names in it (a rename) survive a crash."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def check_room_for_results(
    parameters: int, test_images: int, classes: int, at_once: int = 1
) -> None:
    """Refuse to train when the working folder cannot keep a finished training's results."""
    needed = at_once * (
        BYTES_PER_PARAMETER * parameters + 4 * test_images * classes + OTHER_RESULT_BYTES
    )
    working = Path.cwd().resolve()
    try:
        stats = os.statvfs(working)
    except OSError:  # no figure to go by: the kept results fall back to the temporary folder
        return
    free = stats.f_bavail * stats.f_frsize
    if free < needed:
        raise BenchmarkError(
            f"the working folder {working} has {free / 1e6:.1f} MB free; a finished training's "
            f"results need about {needed / 1e6:.1f} MB there ({PENDING_FOLDER}/) in case "
            "logging them fails: free some space or run from another folder"
        )
