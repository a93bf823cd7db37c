"""`python -m benchmark status`: the grids of a storage on one screen, as Rich tables."""

from __future__ import annotations

import time
from collections import Counter

from optuna.trial import FrozenTrial, TrialState
from rich.markup import escape
from rich.table import Table

from benchmark.grid.queue import Grid, cell_of, fail_reason, holder_of

STATES = {
    TrialState.WAITING: "waiting",
    TrialState.RUNNING: "running",
    TrialState.COMPLETE: "done",
    TrialState.FAIL: "failed",
    TrialState.PRUNED: "duplicate",
}
SHOWN_ROWS = 20  # rows of running and failed cells shown per grid, newest first


def summary(grid: Grid) -> tuple[str, Table | None]:
    """One grid: how many cells wait, run, are done or failed; who runs which since when;
    why the failed ones failed. A cell counts once, by its newest trial."""
    newest: dict[str, FrozenTrial] = {}
    for trial in grid.trials():
        cell = cell_of(trial)
        if cell is not None:
            newest[cell.key] = trial  # trials come in number order: the last one stands
    counts = Counter(STATES[trial.state] for trial in newest.values())
    line = f"{grid.name}: " + ", ".join(
        f"{counts.get(name, 0)} {name}" for name in ("waiting", "running", "done", "failed")
    )
    table = Table()
    for column in ("cell", "state", "host", "worker", "since / reason"):
        table.add_column(column)
    shown = [t for t in newest.values() if t.state in (TrialState.RUNNING, TrialState.FAIL)]
    if not shown:
        return line, None
    for trial in sorted(shown, key=lambda t: -t.number)[:SHOWN_ROWS]:
        cell, held = cell_of(trial), holder_of(trial)
        if trial.state == TrialState.RUNNING:
            since = held.get("since")
            detail = f"{_ago(since)} ago" if isinstance(since, int | float) else "?"
        else:
            detail = fail_reason(trial)
        table.add_row(
            escape(cell.label) if cell else str(trial.number),
            STATES[trial.state],
            str(held.get("host", "")),
            str(held.get("worker", "")),
            escape(detail),
        )
    return line, table


def _ago(since: float) -> str:
    """Seconds since `since` as '1 h 02 min', '3 min 05 s' or '12 s'."""
    seconds = max(0, int(time.time() - since))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"
