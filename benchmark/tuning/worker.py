"""`tune --workers K`: start the K processes, and their entry point, which imports nothing heavy
until stderr is muted."""

from __future__ import annotations

import multiprocessing
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmark.settings import TuneSettings


def main(
    settings: dict[str, Any],
    worker: int,
    experiment_id: str,
    parent_run_id: str,
    deadline: float | None,
    tracking_uri: str,
    verbosity: int = 0,
) -> None:
    """Work on the study in this spawned process until it has enough finished trials."""
    from benchmark import logs, runtime

    runtime.stop_on_sigterm()  # the parent's terminate() is a Ctrl-C here
    logs.setup(verbosity, prefix=f"w{worker} ")  # each line says which worker printed it
    runtime.import_tensorflow_quietly()
    import optuna

    from benchmark import tracking
    from benchmark.tuning import search as tuning

    tracking.use_store(tracking_uri)
    if verbosity <= 0:
        optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures: one line of ours
    try:
        tuning.work(tuning.TuneSettings(**settings), worker, experiment_id, parent_run_id, deadline)
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def run_workers(
    settings: TuneSettings, experiment_id: str, parent_run_id: str, deadline: float | None, uri: str
) -> None:
    """Start `settings.workers` processes on the study and wait; Ctrl-C stops them all."""
    from benchmark import logs, runtime

    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(
            target=main,
            args=(
                asdict(settings),
                index,
                experiment_id,
                parent_run_id,
                deadline,
                uri,
                logs.verbosity(),
            ),
            name=f"tune-worker-{index}",
        )
        for index in range(settings.workers)
    ]
    runtime.run_processes(processes)
