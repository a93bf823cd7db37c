"""`python -m benchmark status`: the grids of a storage on one screen, as Rich tables."""

from __future__ import annotations

import time
from collections import Counter

from optuna.trial import FrozenTrial, TrialState
from rich.markup import escape
from rich.table import Table

from benchmark.grid.queue import TEST_ATTR, Grid, cell_of, fail_reason, holder_of
from benchmark.results.learned import DID_NOT_LEARN, Verdict

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
    unlearned = {t.number: why for t in newest.values() if (why := not_learned(t))}
    said = {
        name: f"{counts.get(name, 0)} {name}" for name in ("waiting", "running", "done", "failed")
    }
    if unlearned:
        said["done"] += f" ({len(unlearned)} {DID_NOT_LEARN})"
    line = f"{grid.name}: " + ", ".join(said.values())
    table = Table()
    for column in ("cell", "state", "host", "worker", "since / reason"):
        table.add_column(column)
    shown = [
        trial
        for trial in newest.values()
        if trial.state in (TrialState.RUNNING, TrialState.FAIL) or trial.number in unlearned
    ]
    if not shown:
        return line, None
    for trial in sorted(shown, key=lambda t: -t.number)[:SHOWN_ROWS]:
        cell, held = cell_of(trial), holder_of(trial)
        if trial.state == TrialState.RUNNING:
            since = held.get("since")
            detail = f"{_ago(since)} ago" if isinstance(since, int | float) else "?"
        elif trial.state == TrialState.COMPLETE:
            detail = unlearned[trial.number]
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


def not_learned(trial: FrozenTrial) -> str | None:
    """Why a done cell did not learn (results.learned's rule on its test counts); None if it
    learned, is not done, or has no counts (a reused run)."""
    test = trial.user_attrs.get(TEST_ATTR)
    if trial.state != TrialState.COMPLETE or not isinstance(test, dict):
        return None
    try:
        verdict = Verdict(int(test["correct"]), int(test["size"]), float(test["majority_rate"]))
    except (KeyError, TypeError, ValueError):
        return None
    if verdict.learned:
        return None
    return (
        f"{DID_NOT_LEARN}: test accuracy {verdict.correct / verdict.size:.4f}, majority class "
        f"{verdict.majority_rate:.4f}, p {verdict.p_value:.2g}"
    )


def _ago(since: float) -> str:
    """Seconds since `since` as '1 h 02 min', '3 min 05 s' or '12 s'."""
    seconds = max(0, int(time.time() - since))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"
