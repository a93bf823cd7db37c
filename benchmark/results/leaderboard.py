"""The comparison table, built from finished runs in MLflow so it can be rebuilt at any time."""

from __future__ import annotations

import pandas as pd

from benchmark import tracking
from benchmark.results import learned, runs, stats
from benchmark.results import significance as comparison
from benchmark.results.metrics import METRICS, format_column

# Board columns that are not a per-run metric: who the row is, and its significance.
IDENTITY = ["rank", "architecture", "variant", "seeds"]
SIGNIFICANCE = ["p_value_mcnemar", "p_value_paired", "p_value", "distinguishable"]
COLUMNS = [
    *IDENTITY,
    *[c for m in METRICS if m.section == "accuracy" for c in m.board_columns()],
    *learned.COLUMNS,  # yes / did not learn (k/n seeds); the weakest seed's p; majority rate
    *SIGNIFICANCE,
    *[c for m in METRICS if m.section == "cost" for c in m.board_columns()],
    "reached",  # "k/n": seeds that reached the target validation accuracy, of the row's seeds
    "machine",  # the machine(s) the row's timings come from (the runs' `machine` tag)
    "run_ids",
]
RANKINGS = {  # --rank-by: the board columns rows are sorted by, and whether each ascends
    "test_accuracy": (["test_accuracy_mean", "best_val_accuracy_mean"], [False, False]),
    "time_to_target": (["time_to_target_seconds_mean", "test_accuracy_mean"], [True, False]),
}
TITLES = {
    "test_accuracy": "sorted by mean test accuracy over seeds",
    "time_to_target": "sorted by time to target (MLPerf: from 5 seeds, fastest and slowest "
    "dropped), over the seeds that reached it",
}
MACHINE_SEPARATOR = " + "
INTEGER_COLUMNS = ("rank", "seeds", *[m.board_column for m in METRICS if m.integer])


def aggregate(per_run: pd.DataFrame, rank_by: str = "test_accuracy") -> pd.DataFrame:
    """One ranked row per (architecture, variant) over its seeds, without p-values."""
    if "learned" not in per_run:  # judged from the logged counts alone
        per_run = learned.judge(per_run)
    rows = [_summary(group) for _, group in per_run.groupby(["arch", "variant"], sort=False)]
    return rank(pd.DataFrame(rows, columns=COLUMNS), rank_by)


def rank(board: pd.DataFrame, rank_by: str = "test_accuracy") -> pd.DataFrame:
    """The rows sorted by `rank_by` (a key of RANKINGS) and numbered; missing values last."""
    keys, ascending = RANKINGS[rank_by]
    board = board.sort_values(
        [*keys, "architecture"], ascending=[*ascending, True], kind="stable", na_position="last"
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
    row["learned"] = learned.mark(group)
    row["learned_p_value"] = group["learned_p_value"].max()  # the weakest seed's
    row["test_majority_rate"] = group["test_majority_rate"].max()
    timed = group.get("time_to_target_seconds", pd.Series(dtype=float))
    row["reached"] = f"{int(timed.notna().sum())}/{len(group)}"
    row["machine"] = MACHINE_SEPARATOR.join(_machines(group))
    row["run_ids"] = " ".join(group["run_id"])
    return row


def _machines(rows: pd.DataFrame) -> list[str]:
    """The distinct `machine` tags of some runs, in first-seen order; older runs have none."""
    if "machine" not in rows:
        return []
    return list(dict.fromkeys(str(m) for m in rows["machine"].dropna() if str(m)))


def machines(board: pd.DataFrame) -> list[str]:
    """The distinct machines whose timings the board's rows hold, in row order."""
    found: dict[str, None] = {}
    for cell in board["machine"].dropna():
        found.update(dict.fromkeys(part for part in str(cell).split(MACHINE_SEPARATOR) if part))
    return list(found)


def machine_note(board: pd.DataFrame) -> tuple[str, str | None]:
    """A line naming the machine(s) of the timings, and a warning when there are several."""
    found = machines(board)
    if not found:
        return "timings from: unknown machine (runs logged before the machine tag)", None
    note = "timings from: " + "; ".join(found)
    if len(found) == 1:
        return note, None
    return note, (
        f"the rows' timings come from {len(found)} different machines (or thread counts); "
        "compare seconds only between rows of the same machine (column 'machine')"
    )


def build(
    per_run: pd.DataFrame,
    load: comparison.Loader,
    ensemble_k: int | None = None,
    rank_by: str = "test_accuracy",
) -> pd.DataFrame:
    """The ranked board with significance against the most accurate row and an ensemble row.

    Significance is always about test accuracy against the most accurate row, also when the
    rows are ranked by time to target.
    """
    per_run = learned.judge(per_run, load)  # older runs: from their logged test outputs
    board = comparison.add_significance(aggregate(per_run), per_run, load)
    if rank_by != "test_accuracy":
        board = rank(board, rank_by)
    if ensemble_k:
        row = comparison.ensemble_row(per_run, ensemble_k, load)
        if row is not None:
            board = pd.concat([board, pd.DataFrame([row], columns=COLUMNS)], ignore_index=True)
    # Nullable integers: the ensemble row has no rank, older runs have no flops.
    return board[COLUMNS].astype(dict.fromkeys(INTEGER_COLUMNS, "Int64"))


def from_runs(
    per_run: pd.DataFrame, ensemble_k: int | None = None, rank_by: str = "test_accuracy"
) -> pd.DataFrame:
    """The board of a per-run table (results.runs), test outputs loaded from MLflow."""
    return build(per_run, tracking.load_test_probabilities, ensemble_k, rank_by)


def from_experiment(
    experiment_id: str,
    run_ids: list[str] | None = None,
    ensemble_k: int | None = None,
    rank_by: str = "test_accuracy",
) -> pd.DataFrame:
    """The board of the given runs, or of the newest run of each architecture, variant, seed.

    `board.attrs["mlflow_link"]` is the link that opens its runs in MLflow's UI.
    """
    board = from_runs(runs.read_runs(experiment_id, run_ids), ensemble_k, rank_by)
    return with_mlflow_link(board, experiment_id)


def link_line(board: pd.DataFrame) -> str | None:
    """The line that gives the board's MLflow link, printed after the table (None without)."""
    link = board.attrs.get("mlflow_link")
    if not link:
        return None
    local = link.startswith(tracking.LOCAL_UI)
    return f"compare in MLflow{' (start `mlflow ui` here first)' if local else ''}: {link}"


def with_mlflow_link(board: pd.DataFrame, experiment_id: str) -> pd.DataFrame:
    """The board with `attrs["mlflow_link"]`: its runs, as a comparison view in MLflow's UI."""
    ranked = board[board["rank"].notna()]  # the ensemble row repeats runs of other rows
    run_ids = [run_id for cell in ranked["run_ids"] for run_id in str(cell).split()]
    if run_ids:
        variants = ranked["variant"].nunique() > 1
        board.attrs["mlflow_link"] = tracking.comparison_link(
            experiment_id, run_ids, variants, run_intervals(ranked)
        )
    return board


def run_intervals(board: pd.DataFrame) -> dict[str, str]:
    """Each run of a row with a test-accuracy interval -> the row's "mean ± half-width"."""
    shown = FORMATS["test_accuracy_mean"]
    found: dict[str, str] = {}
    for mean, high, cell in zip(
        board["test_accuracy_mean"], board["test_accuracy_ci_high"], board["run_ids"], strict=True
    ):
        if pd.notna(high):  # one seed: no interval, a blank in MLflow as on the board
            text = f"{shown.format(mean)} ± {shown.format(high - mean)}"
            found.update(dict.fromkeys(str(cell).split(), text))
    return found


# How each column is shown to people (markdown, terminal, HTML); the CSV keeps raw values.
FORMATS = {
    **{column: m.format for m in METRICS for column in m.board_columns()},
    **dict.fromkeys(["p_value_mcnemar", "p_value_paired", "p_value"], "{:.3g}"),
    "learned_p_value": "{:.3g}",
    "test_majority_rate": "{:.4f}",
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


def render(board: pd.DataFrame, fmt: str, rank_by: str = "test_accuracy") -> str | object:
    """The board as CSV or markdown text, or as a rich Table of the main columns."""
    if fmt == "csv":
        return board.to_csv(index=False)
    if fmt == "markdown":
        return to_markdown(board)
    from rich import box
    from rich.table import Table

    table = Table(
        title=f"Leaderboard ({TITLES[rank_by]})",
        caption=f"{machine_note(board)[0]}\nraw p-values, machines and run ids: --format csv "
        "or markdown",
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
    "learned": "learned",
    "p_value": "p (Holm)",
    "distinguishable": "differs",
    **_headers("cost"),
}


def _insert_after(headers: dict[str, str], key: str, new: dict[str, str]) -> dict[str, str]:
    """`headers` with `new` placed right after `key`."""
    items = list(headers.items())
    at = [name for name, _ in items].index(key) + 1
    return dict([*items[:at], *new.items(), *items[at:]])


# `reached` (k/n) right after the time to target it qualifies.
_TERMINAL = _insert_after(_TERMINAL, "time_to_target_seconds_mean", {"reached": "reached"})
_LEFT = ("architecture", "variant", "learned", "differs")
