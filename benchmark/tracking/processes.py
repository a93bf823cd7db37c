"""Which host, process and commit a run came from; closing runs whose process is gone."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from mlflow.tracking import MlflowClient

from benchmark.runtime import process_alive


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


def _process_tags() -> dict[str, str]:
    return {"host": socket.gethostname(), "pid": str(os.getpid()), "git_commit": git_commit()}


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


def kill_run(run_id: str) -> None:
    """Mark a run KILLED if it is still RUNNING: its worker, on any host, stopped."""
    client = MlflowClient()
    if client.get_run(run_id).info.status == "RUNNING":
        client.set_terminated(run_id, status="KILLED")
