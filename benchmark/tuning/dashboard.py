"""optuna-dashboard over the project's study storage: `python -m benchmark dashboard`."""

from __future__ import annotations

import logging

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
    try:
        optuna_dashboard.run_server(storage, host=host, port=port)
    except OSError as error:  # the port is taken, or the address is not this machine's
        raise BenchmarkError(
            f"cannot serve on {host}:{port}: {first_line(error)}; pass another --port or --host"
        ) from None
    except KeyboardInterrupt:
        log.info("optuna-dashboard stopped")
