"""Process helpers shared by the command line and spawned tuning workers; imports nothing heavy."""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

from benchmark.errors import BenchmarkError


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """Make `kill` (SIGTERM) clean up like Ctrl-C: raise KeyboardInterrupt in the main thread."""
    signal.signal(signal.SIGTERM, _interrupt)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with native stderr muted: its CUDA probing prints errors on CPU hosts.

    Only the C++ start-up chatter is muted; a Python exception still propagates.
    """
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow

        tensorflow.config.list_physical_devices()  # the CUDA probe runs here, not at import
        # Every model trained or timed traces fresh predict and train functions; TensorFlow
        # counts them together per process and warns about "retracing" that is expected here.
        tensorflow.get_logger().addFilter(
            lambda record: "triggered tf.function retracing" not in record.getMessage()
        )
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def check_writable(folder: Path, what: str) -> None:
    """BenchmarkError unless files can be written in `folder`; it is left as it was found.

    A probe, not `os.access`: root passes every permission check, but not a read-only mount
    or a pseudo file system such as /proc.
    """
    folder = Path(folder).expanduser()
    missing = []
    existing = folder
    while not existing.exists() and existing != existing.parent:
        missing.append(existing)
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError(f"{existing} is not a folder")
        for path in reversed(missing):
            path.mkdir()
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        raise BenchmarkError(f"cannot write to the {what} {folder}: {reason}") from None
    finally:
        for path in missing:  # deepest first
            try:
                path.rmdir()
            except OSError:
                pass
