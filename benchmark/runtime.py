"""Process helpers shared by the command line and spawned tuning workers; imports nothing heavy."""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmark.errors import BenchmarkError


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _interrupt_once(signum: int, frame: object) -> None:
    signal.signal(signum, signal.SIG_IGN)  # a later copy is the same request: let it finish
    raise KeyboardInterrupt


def stop_on_sigterm(repeats: bool = True) -> None:
    """Make `kill` (SIGTERM) clean up like Ctrl-C: raise KeyboardInterrupt in the main thread.

    With `repeats=False` (a `run --jobs` worker) only the first SIGTERM counts: SIGTERM to a
    process group reaches a worker twice, from the sender and from its parent, and the second
    would cut short the clean-up the first started (ending the run FAILED).
    """
    signal.signal(signal.SIGTERM, _interrupt if repeats else _interrupt_once)


def ignores_repeats(handler: object) -> bool:
    """Whether a signal handler acts on the first signal only (`stop_on_sigterm(False)`)."""
    return handler is _interrupt_once


def process_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def x86() -> bool:
    """Whether this is a 64-bit x86 machine, the only kind oneDNN's CPU choices apply to."""
    return platform.machine().lower() in ("x86_64", "amd64")


def onednn_chosen_here() -> bool:
    """Whether `choose_onednn` turns oneDNN on on this kind of machine: x86 Linux."""
    return platform.system() == "Linux" and x86()


def choose_onednn() -> None:
    """Before TensorFlow loads: oneDNN's custom operations on for x86 Linux, unless the user chose.

    TensorFlow leaves them off by itself on CPUs without AVX512_VNNI, AVX512_BF16, AVX_VNNI or
    AMX, such as an AVX2-only EPYC (Zen 1), where `run --all` measured faster with them on
    (docs/results.md#onednn-on-and-off-run---all); where TensorFlow turns them on anyway, this
    changes nothing. TF_ENABLE_ONEDNN_OPTS, when set, always wins; once TensorFlow has loaded,
    its choice is made and this does nothing.
    """
    if "TF_ENABLE_ONEDNN_OPTS" in os.environ or "tensorflow" in sys.modules:
        return
    if onednn_chosen_here():
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with native stderr muted: its CUDA probing prints errors on CPU hosts.

    Only the C++ start-up chatter is muted; a Python exception still propagates. oneDNN is
    chosen first: TensorFlow reads that choice once, as it loads.
    """
    choose_onednn()
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
    """BenchmarkError "<what> <folder> is not writable (<why>)" unless files can be written in
    `folder`, which is left as it was found (folders made for the probe are removed).

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
        raise BenchmarkError(f"{what} {folder} is not writable ({reason})") from None
    finally:
        for path in missing:  # deepest first
            try:
                path.rmdir()
            except OSError:
                pass


def git_commit() -> str:
    """The commit of the code that runs, or 'unknown' outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def run_processes(processes: list[Any]) -> None:
    """Start worker processes and wait for all of them. Ctrl-C: SIGTERM to each (a worker
    stops before its next batch) and wait; a second Ctrl-C: kill them, do not wait."""
    for process in processes:
        process.start()
    try:
        for process in processes:
            process.join()
    except KeyboardInterrupt:
        for process in processes:
            if process.is_alive():
                process.terminate()
        try:
            for process in processes:
                process.join()
        except KeyboardInterrupt:  # a second Ctrl-C: do not wait for the batches
            for process in processes:
                process.kill()
        raise
