"""`run --jobs N`: a suite's trainings in N worker processes sharing the cores; light imports.

One training keeps a 2-core machine near 160% busy (docs/results.md); N processes with
cores/N TensorFlow threads each fill the gaps between one another's operations. The workers
take jobs from one queue in the suite's order (the most work first) and claim their
configurations in the tracking store like any other process, so a second `run` beside them
still trains nothing twice.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue as queues
import signal
from dataclasses import asdict
from typing import Any

from benchmark.errors import EXIT_INTERRUPTED, EXIT_USER_ERROR, BenchmarkError

log = logging.getLogger(__name__)

JOIN_SECONDS = 1.0  # how often the parent looks at its workers while they train


def train_in_workers(
    settings: Any,
    count: int,
    jobs: list[tuple[int, str, int, str]],
    experiment_id: str,
    parent_run_id: str,
    dtype: str,
    sources: dict[str, Any],
) -> list[str]:
    """Train the jobs in `count` worker processes; return their run ids in the jobs' order.

    Ctrl-C or SIGTERM here sends each worker one SIGTERM: it stops before its next batch and
    marks its run FAILED, like a single process does; runs that finished stay finished.
    """
    from benchmark import logs, tracking
    from benchmark.training import hardware

    threads = max(1, hardware.cpu_cores() // count)
    log.info(
        f"{count} worker processes, {threads} TensorFlow thread{'s' if threads > 1 else ''} "
        "each; their lines start with j0, j1, ..."
    )
    context = multiprocessing.get_context("spawn")
    todo, results = context.Queue(), context.Queue()
    for job in jobs:
        todo.put(job)
    for _ in range(count):
        todo.put(None)  # one end mark per worker
    uri = tracking.resolve_tracking_uri(settings.tracking_uri)
    shared = (asdict(settings), experiment_id, parent_run_id, dtype, sources, uri, threads)
    processes = [
        context.Process(
            target=work,
            args=(index, todo, results, *shared, logs.verbosity()),
            name=f"run-worker-{index}",
        )
        for index in range(count)
    ]
    for process in processes:
        process.start()
    try:
        done, errors = _collect(processes, results)
    finally:
        # Jobs left in the queue (after Ctrl-C, or a worker that died) must not hold this
        # process at exit: its feeder thread would wait for room in a pipe nobody reads.
        todo.cancel_join_thread()
    for name in tracking.close_orphaned_runs(experiment_id):
        log.warning(f"marked run {name} as KILLED: its worker ended without closing it")
    if errors:
        raise BenchmarkError(errors[0])
    missing = [label for index, _, _, label in jobs if index not in done]
    if missing:
        codes = ", ".join(f"j{i} {p.exitcode}" for i, p in enumerate(processes) if p.exitcode)
        raise BenchmarkError(
            f"workers ended ({codes or 'exit codes 0'}) before training {', '.join(missing)}; "
            "finished runs are kept: run the same command again to train what is missing"
        )
    return [done[index] for index, *_ in jobs]


def _collect(
    processes: list[multiprocessing.Process], results: Any
) -> tuple[dict[int, str], list[str]]:
    """Read the workers' results until every worker has ended; stop them all on Ctrl-C."""
    done: dict[int, str] = {}
    errors: list[str] = []

    def take(timeout: float | None) -> None:
        kind, *rest = results.get(timeout=timeout) if timeout else results.get_nowait()
        if kind == "done":
            done[rest[0]] = rest[1]
        else:
            errors.append(rest[0])

    try:
        while any(process.is_alive() for process in processes):
            try:
                take(JOIN_SECONDS)
            except queues.Empty:
                pass
    except KeyboardInterrupt:
        for process in processes:
            if process.is_alive():
                process.terminate()  # one SIGTERM: the worker stops before its next batch
        try:
            for process in processes:
                process.join()
        except KeyboardInterrupt:  # a second Ctrl-C: do not wait for the batches
            for process in processes:
                process.kill()
        raise
    for process in processes:
        process.join()
    while True:  # what the workers sent just before they ended
        try:
            take(None)
        except queues.Empty:
            return done, errors


def work(
    index: int,
    todo: Any,
    results: Any,
    settings: dict[str, Any],
    experiment_id: str,
    parent_run_id: str,
    dtype: str,
    sources: dict[str, Any],
    tracking_uri: str,
    threads: int,
    verbosity: int = 0,
) -> None:
    """A worker process: train jobs from `todo` until its end mark, sending each run id back."""
    from benchmark.training.hardware import THREAD_VARIABLES

    # TensorFlow reads its thread counts once, as it starts: before its import below.
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    # The terminal's Ctrl-C reaches every process of the group; the parent turns it into one
    # SIGTERM per worker, which stops training between batches. SIGTERM to the whole group
    # (timeout, systemd, Slurm, kill -- -PGID) reaches a worker twice, from the sender and from
    # the parent: the worker acts on the first and ignores the second, which would otherwise
    # interrupt the clean-up that ends its run FAILED and leave the run RUNNING.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from benchmark import logs, runtime

    runtime.stop_on_sigterm(repeats=False)
    logs.setup(verbosity, prefix=f"j{index} ")  # each line says which worker printed it
    runtime.import_tensorflow_quietly()
    from mlflow.exceptions import MlflowException

    from benchmark import suite, tracking

    tracking.use_store(tracking_uri)
    run_settings = suite.RunSettings(**settings)
    try:
        splits = suite.load_run_splits(run_settings)
        jobs = iter(todo.get, None)
        for job_index, run_id in suite.train_jobs(
            jobs, run_settings, splits, experiment_id, dtype, sources, parent_run_id
        ):
            results.put(("done", job_index, run_id))
    except BenchmarkError as error:
        results.put(("error", str(error)))
        raise SystemExit(EXIT_USER_ERROR) from None
    except MlflowException as error:
        results.put(("error", suite.store_failed(run_settings, error)))
        raise SystemExit(EXIT_USER_ERROR) from None
    except KeyboardInterrupt:
        raise SystemExit(EXIT_INTERRUPTED) from None
