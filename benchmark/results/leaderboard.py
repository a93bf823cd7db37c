"""The comparison table, built from finished runs in MLflow so it can be rebuilt at any time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark import tracking
from benchmark.results import significance as comparison
from benchmark.results import stats

# Per-run column -> MLflow run column it comes from (see runs_frame).
RUN_SOURCES = {
    "run_id": "run_id",
    "test_accuracy": "metrics.test_accuracy",
    "test_loss": "metrics.test_loss",
    "best_val_accuracy": "metrics.best_val_accuracy",
    "params": "metrics.params",
    "epochs_run": "metrics.epochs_run",
    "train_seconds": "metrics.train_seconds",
    "seconds_per_epoch": "metrics.seconds_per_epoch",
    "macs_per_image": "metrics.macs_per_image",
    "flops_per_image": "metrics.flops_per_image",
    "latency_p50_ms": "metrics.latency_p50_ms",
    "latency_p95_ms": "metrics.latency_p95_ms",
    "throughput_images_per_second": "metrics.throughput_images_per_second",
    "time_to_target_seconds": "metrics.time_to_target_seconds",
    "target_accuracy": "metrics.target_accuracy",
}
RUN_COLUMNS = ["arch", "variant", "seed", *RUN_SOURCES]
INTEGER_COLUMNS = ("rank", "seeds", "params", "flops_per_image", "seeds_reaching_target")
COLUMNS = [
    "rank",
    "architecture",
    "variant",
    "seeds",
    "test_accuracy_mean",
    "test_accuracy_std",
    "test_accuracy_ci_low",
    "test_accuracy_ci_high",
    "best_val_accuracy_mean",
    "p_value_mcnemar",
    "p_value_paired",
    "p_value",
    "distinguishable",
    "params",
    "flops_per_image",
    "train_seconds_mean",
    "seconds_per_epoch_mean",
    "time_to_target_seconds_mean",
    "seeds_reaching_target",
    "latency_p50_ms",
    "latency_p95_ms",
    "throughput_images_per_second",
    "run_ids",
]


def per_run_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per latest run of each (arch, variant, seed); runs arrive newest first."""
    if runs.empty:
        return pd.DataFrame(columns=RUN_COLUMNS)
    rows = pd.DataFrame({column: _column(runs, source) for column, source in RUN_SOURCES.items()})
    rows.insert(0, "arch", runs["tags.arch"].to_numpy())
    # Runs from before the variant and seed tags: "default" variant, seed from the params.
    variant = _column(runs, "tags.variant").fillna(tracking.DEFAULT_VARIANT)
    seed = _column(runs, "tags.seed").fillna(_column(runs, "params.seed"))
    rows.insert(1, "variant", variant.to_numpy())
    rows.insert(2, "seed", pd.to_numeric(seed).astype("int64").to_numpy())
    rows = rows.drop_duplicates(subset=["arch", "variant", "seed"], keep="first")
    return rows.sort_values(["arch", "variant", "seed"]).reset_index(drop=True)


def _column(runs: pd.DataFrame, source: str) -> pd.Series:
    """A column of the MLflow runs frame; all-NaN when no run logged it."""
    if source in runs:
        return runs[source].reset_index(drop=True)
    return pd.Series([np.nan] * len(runs), dtype=object)


def runs_frame(experiment_id: str, run_ids: list[str] | None = None) -> pd.DataFrame:
    """Per-run rows of the experiment's finished training runs (or just of `run_ids`)."""
    return per_run_rows(tracking.training_runs(experiment_id, run_ids))


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
    mean, std, low, high = stats.mean_ci(group["test_accuracy"])
    reached = group["time_to_target_seconds"].dropna()
    return {
        "architecture": group["arch"].iloc[0],
        "variant": group["variant"].iloc[0],
        "seeds": len(group),
        "test_accuracy_mean": mean,
        "test_accuracy_std": std,
        "test_accuracy_ci_low": low,
        "test_accuracy_ci_high": high,
        "best_val_accuracy_mean": group["best_val_accuracy"].mean(),
        "params": int(group["params"].max()),
        "flops_per_image": group["flops_per_image"].astype(float).max(),
        "train_seconds_mean": group["train_seconds"].mean(),
        "seconds_per_epoch_mean": group["seconds_per_epoch"].mean(),
        "time_to_target_seconds_mean": reached.astype(float).mean() if len(reached) else np.nan,
        "seeds_reaching_target": len(reached),
        # Medians over seeds: one busy moment on a shared machine should not move the row.
        "latency_p50_ms": group["latency_p50_ms"].astype(float).median(),
        "latency_p95_ms": group["latency_p95_ms"].astype(float).median(),
        "throughput_images_per_second": group["throughput_images_per_second"]
        .astype(float)
        .median(),
        "run_ids": " ".join(group["run_id"]),
    }


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


def from_experiment(
    experiment_id: str, run_ids: list[str] | None = None, ensemble_k: int | None = None
) -> pd.DataFrame:
    """The board of the given runs, or of the latest run of each architecture, variant, seed."""
    return build(runs_frame(experiment_id, run_ids), tracking.load_test_probabilities, ensemble_k)


def validation_curves(board: pd.DataFrame) -> dict[str, list[float]]:
    """Mean validation accuracy per epoch over each row's seeds (over the runs reaching it)."""
    curves = {}
    for row in board[board["architecture"] != comparison.ENSEMBLE].itertuples():
        histories = [
            tracking.metric_history(run_id, "val_accuracy") for run_id in row.run_ids.split()
        ]
        longest = max((len(history) for history in histories), default=0)
        label = row.architecture
        if row.variant != tracking.DEFAULT_VARIANT:
            label += f" ({row.variant})"
        curves[label] = [
            float(np.mean([history[epoch] for history in histories if len(history) > epoch]))
            for epoch in range(longest)
        ]
    return curves


# How each column is shown to people; NaN and missing values show as empty cells.
_FORMATS = {
    **dict.fromkeys(
        [
            "test_accuracy_mean",
            "test_accuracy_std",
            "test_accuracy_ci_low",
            "test_accuracy_ci_high",
            "best_val_accuracy_mean",
        ],
        "{:.4f}",
    ),
    **dict.fromkeys(["p_value_mcnemar", "p_value_paired", "p_value"], "{:.3g}"),
    **dict.fromkeys(["params", "flops_per_image", "throughput_images_per_second"], "{:,.0f}"),
    **dict.fromkeys(
        ["train_seconds_mean", "seconds_per_epoch_mean", "time_to_target_seconds_mean"], "{:.1f}"
    ),
    **dict.fromkeys(["latency_p50_ms", "latency_p95_ms"], "{:.3f}"),
}


def _display(board: pd.DataFrame) -> pd.DataFrame:
    """A copy of strings for people: rounded numbers, thousands separators, blanks for NaN."""
    shown = board.astype(object).where(board.notna(), "")
    for column, pattern in _FORMATS.items():
        shown[column] = [pattern.format(v) if v != "" else "" for v in shown[column]]
    return shown.astype(str)


def to_markdown(board: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table."""
    shown = _display(board)
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
    shown = _display(board)
    # The t interval is symmetric: its half-width says it all in a narrow column.
    half_width = board["test_accuracy_ci_high"] - board["test_accuracy_mean"]
    shown["test_accuracy_ci"] = [f"±{v:.4f}" if pd.notna(v) else "" for v in half_width]
    shown["flops_per_image"] = [f"{v / 1e6:.2f}M" for v in board["flops_per_image"].fillna(0)]
    shown.loc[board["flops_per_image"].isna().to_numpy(), "flops_per_image"] = ""
    for row in shown[list(_TERMINAL)].itertuples(index=False):
        table.add_row(*row)
    return table


# Terminal columns and their short headers; the full board is in the CSV and markdown.
_TERMINAL = {
    "rank": "rank",
    "architecture": "architecture",
    "variant": "variant",
    "seeds": "seeds",
    "test_accuracy_mean": "test acc",
    "test_accuracy_std": "std",
    "test_accuracy_ci": "95% CI",
    "best_val_accuracy_mean": "val acc",
    "p_value": "p (Holm)",
    "distinguishable": "differs",
    "params": "params",
    "flops_per_image": "FLOPs/img",
    "train_seconds_mean": "train s",
    "seconds_per_epoch_mean": "s/epoch",
    "time_to_target_seconds_mean": "s to target",
    "seeds_reaching_target": "reached",
    "latency_p50_ms": "p50 ms",
    "latency_p95_ms": "p95 ms",
    "throughput_images_per_second": "img/s",
}
_LEFT = ("architecture", "variant", "differs")
