"""optuna-dashboard over the project's study storage: `python -m benchmark dashboard`."""

from __future__ import annotations

import logging
import socket
import threading

import optuna

from benchmark.errors import BenchmarkError, first_line
from benchmark.redaction import redact_url
from benchmark.tuning import studies

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "optuna-dashboard is not installed: it is the optional extra 'dashboard'; run "
    "'uv run --extra dashboard python -m benchmark dashboard' (or 'uv sync --extra dashboard')"
)


def serve(storage_url: str, host: str, port: int) -> None:
    """Serve every study of the storage until Ctrl-C; a missing storage or busy port is an error."""
    try:
        import optuna_dashboard
    except ImportError:
        raise BenchmarkError(INSTALL_HINT) from None
    database = studies.sqlite_file(storage_url)
    if database is not None and not database.exists():
        raise BenchmarkError(
            f"no study storage at {database}; run 'python -m benchmark tune' here first or "
            "pass --storage"
        )
    storage = studies.open_storage(storage_url)
    names = optuna.study.get_all_study_names(storage)
    shown = redact_url(storage_url)
    log.info(
        f"optuna-dashboard: {len(names)} stud{'y' if len(names) == 1 else 'ies'} in {shown}"
        f"{' (' + ', '.join(names) + ')' if names else ''}"
    )
    log.info(f"open http://{host}:{port}/ ; Ctrl-C stops the server")
    try:  # a taken port is one line, before the server prints its banner
        with socket.create_server((host, port)):
            pass
    except OSError as error:
        raise BenchmarkError(
            f"cannot serve on {host}:{port}: {first_line(error)}; pass another --port or --host"
        ) from None
    failed: list[OSError] = []

    def run() -> None:
        try:
            optuna_dashboard.run_server(storage, host=host, port=port)
        except OSError as error:  # the port is taken, or the address is not this machine's
            failed.append(error)

    # The server runs in a daemon thread: wsgiref's request handler catches every exception,
    # so a Ctrl-C or SIGTERM arriving during a request would be swallowed in its thread. Here
    # it reaches the main thread, which only waits, and the process ends with it.
    server = threading.Thread(target=run, name="optuna-dashboard", daemon=True)
    server.start()
    try:
        while server.is_alive():
            server.join(0.5)
    except KeyboardInterrupt:
        log.info("optuna-dashboard stopped")
        return
    if failed:
        raise BenchmarkError(
            f"cannot serve on {host}:{port}: {first_line(failed[0])}; pass another --port or --host"
        )
