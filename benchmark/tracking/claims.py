"""Claims on a configuration, kept in the tracking store so processes on any host share work.

A RUNNING training run with a configuration hash is a claim on that configuration while its
process lives: on this host its pid answers, on another host its heartbeat tag is fresh.
Two processes that start the same configuration at once both see both runs; the run that
started first (then the smaller run id) keeps the claim and the other one withdraws.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator

from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from benchmark.errors import first_line
from benchmark.tracking.processes import process_alive

HEARTBEAT_TAG = "heartbeat"  # unix seconds when the claim was last renewed
HEARTBEAT_SECONDS = 10.0  # how often a training run renews its claim
STALE_SECONDS = 90.0  # a claim from another host not renewed for this long is dead
POLL_SECONDS = 5.0  # how often a waiting process looks at the claim it waits for
log = logging.getLogger(__name__)


def is_live(run: Run, now: float | None = None) -> bool:
    """Whether a RUNNING run's process still trains it."""
    tags = run.data.tags
    if tags.get("host") == socket.gethostname() and tags.get("pid", "").isdigit():
        return process_alive(int(tags["pid"]))
    try:
        beat = float(tags.get(HEARTBEAT_TAG, "nan"))
    except ValueError:
        return False
    return (now or time.time()) - beat < STALE_SECONDS


def live_claims(experiment_id: str, config: str) -> list[Run]:
    """RUNNING runs of this configuration whose process lives, first claim first."""
    runs = MlflowClient().search_runs(
        [experiment_id],
        filter_string=f"tags.config_hash = '{config}' and attributes.status = 'RUNNING'",
    )
    live = [run for run in runs if is_live(run)]
    return sorted(live, key=lambda run: (run.info.start_time, run.info.run_id))


def earlier_claim(experiment_id: str, config: str, run_id: str) -> Run | None:
    """The live claim that came before `run_id`'s on the same configuration, if any."""
    for run in live_claims(experiment_id, config):
        if run.info.run_id == run_id:
            return None
        return run
    return None


def describe(run: Run) -> str:
    """Which run, host and process hold a claim, for a log line."""
    tags = run.data.tags
    return f"run {run.info.run_id} (pid {tags.get('pid', '?')} on {tags.get('host', '?')})"


def wait_while_claimed(experiment_id: str, config: str, label: str) -> None:
    """Return once no live process holds a claim on the configuration."""
    said = False
    while claims := live_claims(experiment_id, config):
        if not said:
            log.info(f"{label} waiting: {describe(claims[0])} trains the same configuration")
            said = True
        time.sleep(POLL_SECONDS)


@contextlib.contextmanager
def heartbeat(run_id: str) -> Iterator[None]:
    """Renew the run's claim every HEARTBEAT_SECONDS from a thread while the block runs."""
    stop = threading.Event()

    def beat() -> None:
        client = MlflowClient()
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                client.set_tag(run_id, HEARTBEAT_TAG, f"{time.time():.0f}")
            except Exception as error:  # noqa: BLE001 - the main thread reports the store
                log.debug(f"heartbeat of run {run_id} failed: {first_line(error)}")

    thread = threading.Thread(target=beat, name=f"heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()


def withdraw(run_id: str) -> None:
    """End and delete the active run, which lost its claim to an earlier one and never trained."""
    client = MlflowClient()
    client.set_terminated(run_id, "KILLED")
    client.delete_run(run_id)
    forget_active_run()


def forget_active_run() -> None:
    """Drop the active run in this process without asking the store (ended or unreachable)."""
    from mlflow.tracking import fluent

    stack = fluent._active_run_stack.get()
    if stack:
        stack.pop()
