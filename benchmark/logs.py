"""Progress and messages through standard logging, printed by Rich like plain lines on stdout."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from rich.console import Console, ConsoleRenderable
from rich.logging import RichHandler

LOGGER = "benchmark"  # every module logs under it: logging.getLogger(__name__)
LEVELS = {-1: logging.WARNING, 0: logging.INFO, 1: logging.DEBUG}  # -q, default, -v
WIDTH_WHEN_PIPED = 200  # columns in logs and pipes, where Rich would otherwise wrap at 80


class _LineHandler(RichHandler):
    """Rich's handler without its time, level and path columns and without padding: one line."""

    def render(
        self, *, record: logging.LogRecord, traceback: Any, message_renderable: Any
    ) -> ConsoleRenderable:  # noqa: E501
        """The message alone (and a traceback under it when there is one)."""
        if traceback is None:
            return message_renderable
        from rich.console import Group

        return Group(message_renderable, traceback)


class _NotOurs(logging.Filter):
    """Pass only other libraries' records: ours already have their own handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(LOGGER)


def _handler(prefix: str) -> RichHandler:
    console = Console(highlight=False, width=None if sys.stdout.isatty() else WIDTH_WHEN_PIPED)
    handler = _LineHandler(
        console=console,
        show_time=False,
        show_level=False,
        show_path=False,
        markup=False,
        highlighter=None,
        keywords=[],
    )
    handler.setFormatter(logging.Formatter(prefix + "%(message)s"))
    handler.set_name(LOGGER)
    return handler


def _quiet_libraries() -> None:
    """Send MLflow's and alembic's records to the root logger instead of their own stderr.

    MLflow gives its loggers a handler of their own on import ("Creating initial MLflow
    database tables..." on every new store); the environment variable stops that in this
    process and its children, and the loop undoes it when MLflow was imported first.
    """
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    for name in ("mlflow", "alembic", "huey", "sqlalchemy.engine"):
        logger = logging.getLogger(name)
        logger.handlers = [h for h in logger.handlers if not isinstance(h, logging.StreamHandler)]
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


def setup(verbosity: int = 0, prefix: str = "") -> None:
    """Print the `benchmark` loggers' records at this verbosity (-1 quiet, 0, 1 verbose).

    Safe to call again (each `main()` in one process does): it replaces its own handlers.
    Other libraries' log lines and Python warnings are printed only when verbose (their
    warnings and errors, through the same handler); otherwise they are dropped.
    """
    ours = logging.getLogger(LOGGER)
    root = logging.getLogger()
    for logger in (ours, root):
        for handler in [h for h in logger.handlers if h.get_name() == LOGGER]:
            logger.removeHandler(handler)
    ours.setLevel(LEVELS[max(-1, min(1, verbosity))])
    ours.addHandler(_handler(prefix))
    _quiet_libraries()
    logging.captureWarnings(True)  # warnings become records of py.warnings, under root
    others: logging.Handler = _handler(prefix) if verbosity > 0 else logging.NullHandler()
    others.set_name(LOGGER)  # a root handler stops Python's last-resort printing to stderr
    others.setLevel(logging.WARNING)
    others.addFilter(_NotOurs())
    root.addHandler(others)


def verbosity() -> int:
    """The verbosity `setup` was last given in this process, for a spawned worker to inherit."""
    level = logging.getLogger(LOGGER).level
    return {value: key for key, value in LEVELS.items()}.get(level, 0)
