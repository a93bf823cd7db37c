"""The comparison table, built from finished runs in MLflow so it can be rebuilt at any time."""

from __future__ import annotations

import pandas as pd

from benchmark import tracking

# Leaderboard column -> MLflow run column it comes from.
SOURCES = {
    "architecture": "tags.arch",
    "variant": "tags.variant",
    "test_accuracy": "metrics.test_accuracy",
    "test_loss": "metrics.test_loss",
    "test_f1_macro": "metrics.test_f1_macro",
    "best_val_accuracy": "metrics.best_val_accuracy",
    "params": "metrics.params",
    "epochs_run": "metrics.epochs_run",
    "train_seconds": "metrics.train_seconds",
    "seconds_per_epoch": "metrics.seconds_per_epoch",
    "inference_ms_per_image": "metrics.inference_ms_per_image",
    "run_id": "run_id",
}
COLUMNS = ["rank", *SOURCES]


def build(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run, best test accuracy first, with a 1-based rank."""
    if runs.empty:
        return pd.DataFrame(columns=COLUMNS)
    runs = runs.assign(**{"tags.variant": _variants(runs)})
    board = pd.DataFrame({column: runs.get(source) for column, source in SOURCES.items()})
    for column in ("params", "epochs_run"):
        board[column] = board[column].astype("int64")
    board = board.sort_values(["test_accuracy", "test_loss"], ascending=[False, True])
    board.insert(0, "rank", range(1, len(board) + 1))
    return board.reset_index(drop=True)


def latest_per_architecture(runs: pd.DataFrame) -> pd.DataFrame:
    """The newest finished run of each architecture and variant (runs arrive newest first)."""
    if runs.empty:
        return runs
    runs = runs.assign(**{"tags.variant": _variants(runs)})
    return runs.drop_duplicates(subset=["tags.arch", "tags.variant"], keep="first")


def _variants(runs: pd.DataFrame) -> pd.Series:
    """ "tuned" for runs trained with a study's best params, "default" otherwise."""
    if "tags.variant" not in runs:
        return pd.Series("default", index=runs.index)
    return runs["tags.variant"].fillna("default")


def from_experiment(experiment_id: str, run_ids: list[str] | None = None) -> pd.DataFrame:
    """The leaderboard of the given runs, or of each architecture's latest run."""
    runs = tracking.training_runs(experiment_id, run_ids)
    return build(runs if run_ids is not None else latest_per_architecture(runs))


def validation_curves(board: pd.DataFrame) -> dict[str, list[float]]:
    """Validation accuracy per epoch of every row, keyed by architecture."""
    return {
        _label(row): tracking.metric_history(row.run_id, "val_accuracy")
        for row in board.itertuples()
    }


def _label(row: object) -> str:
    """`dropout` for a default run, `dropout (tuned)` for a tuned one."""
    variant = getattr(row, "variant", "default")
    return row.architecture if variant == "default" else f"{row.architecture} ({variant})"


def _display(board: pd.DataFrame) -> pd.DataFrame:
    """Rounded copy for people: accuracies to 4 places, seconds to 1, parameters with commas."""
    shown = board.copy()
    for column in ("test_accuracy", "test_loss", "test_f1_macro", "best_val_accuracy"):
        shown[column] = shown[column].map("{:.4f}".format)
    for column in ("train_seconds", "seconds_per_epoch"):
        shown[column] = shown[column].map("{:.1f}".format)
    shown["inference_ms_per_image"] = shown["inference_ms_per_image"].map("{:.3f}".format)
    shown["params"] = shown["params"].map("{:,}".format)
    return shown


def to_markdown(board: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table."""
    shown = _display(board).astype(str)
    lines = ["| " + " | ".join(shown.columns) + " |", "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in shown.itertuples(index=False)]
    return "\n".join(lines)


def render(board: pd.DataFrame, fmt: str) -> str | object:
    """The board as CSV or markdown text, or as a rich Table for the terminal."""
    if fmt == "csv":
        return board.to_csv(index=False)
    if fmt == "markdown":
        return to_markdown(board)
    from rich.table import Table

    table = Table(title="Leaderboard (sorted by test accuracy)")
    for column in COLUMNS:
        table.add_column(
            column,
            justify="left" if column in ("architecture", "variant", "run_id") else "right",
        )
    for row in _display(board).astype(str).itertuples(index=False):
        table.add_row(*row)
    return table
