"""Entry point of a `tune --workers K` process; imports nothing heavy until stderr is muted."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any


def main(
    settings: dict[str, Any],
    worker: int,
    experiment_id: str,
    parent_run_id: str,
    deadline: float | None,
    tracking_uri: str,
) -> None:
    """Work on the study in this spawned process until it has enough finished trials."""
    from benchmark.cli import _import_tensorflow_quietly

    signal.signal(signal.SIGTERM, _interrupt)  # the parent's terminate() is a Ctrl-C here
    _import_tensorflow_quietly()
    import optuna

    from benchmark import tracking
    from benchmark.tuning import search as tuning

    tracking.use_store(tracking_uri)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures: one line of ours
    say = _printer(f"w{worker} ")
    try:
        tuning.work(
            tuning.TuneSettings(**settings), worker, experiment_id, parent_run_id, deadline, say
        )
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _printer(prefix: str) -> Callable[[str], None]:
    return lambda line: print(prefix + line, flush=True)
