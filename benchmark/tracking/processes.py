"""Which host, process and commit a run came from; closing runs whose process is gone."""

from __future__ import annotations

import os
import socket

from mlflow.tracking import MlflowClient

from benchmark.runtime import git_commit, process_alive


def close_orphaned_runs(experiment_id: str) -> list[str]:
    """Mark RUNNING runs whose process on this host is gone as KILLED; return their names."""
    client, closed = MlflowClient(), []
    host = socket.gethostname()
    for run in client.search_runs([experiment_id], "attributes.status = 'RUNNING'"):
        tags = run.data.tags
        if tags.get("host") != host or not tags.get("pid", "").isdigit():
            continue
        if int(tags["pid"]) != os.getpid() and not process_alive(int(tags["pid"])):
            client.set_terminated(run.info.run_id, status="KILLED")
            closed.append(run.info.run_name)
    return closed


def process_tags() -> dict[str, str]:
    """The tags naming the host, process and commit a run comes from."""
    return {"host": socket.gethostname(), "pid": str(os.getpid()), "git_commit": git_commit()}


def kill_run(run_id: str) -> None:
    """Mark a run KILLED if it is still RUNNING: its worker, on any host, stopped."""
    client = MlflowClient()
    if client.get_run(run_id).info.status == "RUNNING":
        client.set_terminated(run_id, status="KILLED")
