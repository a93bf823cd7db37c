"""The comparison table, built from finished runs in MLflow so it can be rebuilt at any time."""

from __future__ import annotations

import pandas as pd

from benchmark import tracking
from benchmark.results import runs, stats
from benchmark.results import significance as comparison
from benchmark.results.metrics import METRICS, format_column

# Board columns that are not a per-run metric: who the row is, and its significance.
IDENTITY = ["rank", "architecture", "variant", "seeds"]
SIGNIFICANCE = ["p_value_mcnemar", "p_value_paired", "p_value", "distinguishable"]
COLUMNS = [
    *IDENTITY,
    *[c for m in METRICS if m.section == "accuracy" for c in m.board_columns()],
    *SIGNIFICANCE,
    *[c for m in METRICS if m.section == "cost" for c in m.board_columns()],
    "run_ids",
]
INTEGER_COLUMNS = ("rank", "seeds", *[m.board_column for m in METRICS if m.integer])


def aggregate(per_run: pd.DataFrame) -> pd.DataFrame:
    """One ranked row per (architecture, variant) over its seeds, without p-values."""
    rows = [_summary(group) for _, group in per_run.groupby(["arch", "variant"], sort=False)]
    board = pd.DataFrame(rows, columns=COLUMNS)
    board = board.sort_values(
        ["test_accuracy_mean", "best_val_accuracy_mean", "architecture"],
        ascending=[False, False, True],
        kind="stable",
    ).reset_index(drop=True)
    board["rank"] = range(1, len(board) + 1)
    return board


def _summary(group: pd.DataFrame) -> dict[str, object]:
    """The board row of one architecture and variant; group rows are sorted by seed."""
    row: dict[str, object] = {
        "architecture": group["arch"].iloc[0],
        "variant": group["variant"].iloc[0],
        "seeds": len(group),
    }
    for metric in METRICS:
        values = group[metric.key] if metric.key in group else pd.Series(dtype=float)
        if metric.aggregate == "mean_ci":
            row.update(zip(metric.board_columns(), stats.mean_ci(values), strict=True))
        elif metric.aggregate is not None:
            row[metric.board_column] = metric.summarise(values)
    row["run_ids"] = " ".join(group["run_id"])
    return row


def build(
    per_run: pd.DataFrame, load: comparison.Loader, ensemble_k: int | None = None
) -> pd.DataFrame:
    """The aggregated, ranked board with significance against the leader and an ensemble row."""
    board = comparison.add_significance(aggregate(per_run), per_run, load)
    if ensemble_k:
        row = comparison.ensemble_row(per_run, ensemble_k, load)
        if row is not None:
            board = pd.concat([board, pd.DataFrame([row], columns=COLUMNS)], ignore_index=True)
    # Nullable integers: the ensemble row has no rank, older runs have no flops.
    return board[COLUMNS].astype(dict.fromkeys(INTEGER_COLUMNS, "Int64"))


def from_runs(per_run: pd.DataFrame, ensemble_k: int | None = None) -> pd.DataFrame:
    """The board of a per-run table (results.runs), test outputs loaded from MLflow."""
    return build(per_run, tracking.load_test_probabilities, ensemble_k)


def from_experiment(
    experiment_id: str, run_ids: list[str] | None = None, ensemble_k: int | None = None
) -> pd.DataFrame:
    """The board of the given runs, or of the newest run of each architecture, variant, seed."""
    return from_runs(runs.read_runs(experiment_id, run_ids), ensemble_k)


# How each column is shown to people (markdown, terminal, HTML); the CSV keeps raw values.
FORMATS = {
    **{column: m.format for m in METRICS for column in m.board_columns()},
    **dict.fromkeys(["p_value_mcnemar", "p_value_paired", "p_value"], "{:.3g}"),
}


def display(board: pd.DataFrame, missing: str = "") -> pd.DataFrame:
    """A copy of strings for people: rounded numbers, thousands separators, blanks for NaN."""
    return pd.DataFrame(
        {name: format_column(board[name], FORMATS.get(name), missing) for name in board},
        index=board.index,
    )


def to_markdown(board: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table."""
    shown = display(board)
    lines = ["| " + " | ".join(shown.columns) + " |", "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in shown.itertuples(index=False)]
    return "\n".join(lines)


def render(board: pd.DataFrame, fmt: str) -> str | object:
    """The board as CSV or markdown text, or as a rich Table of the main columns."""
    if fmt == "csv":
        return board.to_csv(index=False)
    if fmt == "markdown":
        return to_markdown(board)
    from rich import box
    from rich.table import Table

    table = Table(
        title="Leaderboard (sorted by mean test accuracy over seeds)",
        caption="raw p-values and run ids: --format csv or markdown",
        box=box.SIMPLE_HEAD,
    )
    for header in _TERMINAL.values():
        left = header in _LEFT
        table.add_column(header, justify="left" if left else "right", no_wrap=left)
    shown = _terminal_cells(board)
    for row in shown[list(_TERMINAL)].itertuples(index=False):
        table.add_row(*row)
    return table


def _terminal_cells(board: pd.DataFrame) -> pd.DataFrame:
    """The terminal's columns as text: the CI as its half-width, scaled units where asked."""
    shown = display(board)
    for metric in METRICS:
        if metric.aggregate == "mean_ci":
            # The t interval is symmetric: its half-width says it all in a narrow column.
            half = board[f"{metric.key}_ci_high"] - board[f"{metric.key}_mean"]
            shown[f"{metric.key}_ci"] = format_column(half, "±" + metric.format, "")
        elif metric.terminal_format and metric.aggregate is not None:
            scaled = board[metric.board_column].astype(float) * metric.terminal_scale
            shown[metric.board_column] = format_column(scaled, metric.terminal_format, "")
    return shown


def _headers(section: str) -> dict[str, str]:
    """Terminal column -> short header of the section's metrics that show in the terminal."""
    headers = {}
    for metric in METRICS:
        if metric.section != section or metric.header is None:
            continue
        if metric.aggregate == "mean_ci":
            headers[f"{metric.key}_mean"] = metric.header
            headers[f"{metric.key}_std"] = "std"
            headers[f"{metric.key}_ci"] = "95% CI"
        else:
            headers[metric.board_column] = metric.header
    return headers


# Terminal columns and their short headers, in board order; the full board is in csv/markdown.
_TERMINAL = {
    **{name: name for name in IDENTITY},
    **_headers("accuracy"),
    "p_value": "p (Holm)",
    "distinguishable": "differs",
    **_headers("cost"),
}
_LEFT = ("architecture", "variant", "differs")
