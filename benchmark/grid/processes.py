"""`run --jobs N`'s N local workers, and the entry point they and `worker` share.

A local worker is a spawned process running the same loop as a worker on another machine:
it takes cells from the grid's study until none waits. Its imports stay light until its
thread counts are set (TensorFlow reads them once, as it starts).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue as queues
import signal
from typing import Any

from benchmark.errors import EXIT_INTERRUPTED, EXIT_USER_ERROR, BenchmarkError

log = logging.getLogger(__name__)

JOIN_SECONDS = 1.0  # how often the parent looks at its workers while they train


def main(
    index: int,
    storage_url: str,
    grid_name: str,
    tracking_uri: str,
    threads: int,
    verbosity: int,
    errors: Any,
) -> None:
    """A local worker process: the grid's cells until none waits."""
    from benchmark.training.hardware import THREAD_VARIABLES

    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    # The terminal's Ctrl-C reaches every process of the group; the parent turns it into one
    # SIGTERM per worker. SIGTERM to the whole group reaches a worker twice (the sender's and
    # the parent's): the worker acts on the first and lets its clean-up finish.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from benchmark import logs, runtime

    runtime.stop_on_sigterm(repeats=False)
    logs.setup(verbosity, prefix=f"j{index} ")  # each line says which worker printed it
    runtime.import_tensorflow_quietly()
    from benchmark import tracking
    from benchmark.grid.queue import Grid, Worker
    from benchmark.grid.worker import Loop

    tracking.use_store(tracking_uri)
    try:
        grid = Grid(storage_url, grid_name)
        Loop(Worker.here(name=f"j{index}"), tracking_uri).run(lambda: [grid])
    except BenchmarkError as error:
        errors.put(str(error))  # the parent says it, once, as the command's error
        raise SystemExit(EXIT_USER_ERROR) from None
    except KeyboardInterrupt:
        raise SystemExit(EXIT_INTERRUPTED) from None


def run_local_workers(
    count: int, storage_url: str, grid_name: str, tracking_uri: str, verbosity: int
) -> None:
    """Start `count` workers on the grid and wait for them; raise the first one's error.

    Ctrl-C or SIGTERM here sends each worker one SIGTERM: it stops before its next batch,
    ends its run FAILED and puts its cell back; a second Ctrl-C kills them.
    """
    from benchmark import runtime
    from benchmark.training import hardware

    threads = max(1, hardware.cpu_cores() // count)
    log.info(
        f"{count} worker processes, {threads} TensorFlow thread{'s' if threads > 1 else ''} "
        "each; their lines start with j0, j1, ..."
    )
    context = multiprocessing.get_context("spawn")
    errors = context.Queue()
    processes = [
        context.Process(
            target=main,
            args=(index, storage_url, grid_name, tracking_uri, threads, verbosity, errors),
            name=f"run-worker-{index}",
        )
        for index in range(count)
    ]
    runtime.run_processes(processes)
    try:
        raise BenchmarkError(errors.get(timeout=0.5))
    except queues.Empty:
        pass
