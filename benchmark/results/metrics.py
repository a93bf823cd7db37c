"""The per-run metrics the read side knows, and the one way numbers are shown to people."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmark.results import stats

# How the seeds of one (architecture, variant) become its board value.
AGGREGATES = ("mean_ci", "mean", "median", "max", "count", "mlperf")


@dataclass(frozen=True)
class Metric:
    """One per-run metric: its MLflow key (and per-run column), board column and display."""

    key: str  # MLflow metric key, and the per-run table's column of it
    aggregate: str | None = None  # one of AGGREGATES; None: in the per-run table only
    format: str = "{:.4f}"  # board cells in csv-free formats (markdown, terminal, HTML)
    header: str | None = None  # short terminal header; None: csv and markdown only
    column: str | None = None  # board column; default `<key>_mean` for means, else `<key>`
    section: str = "cost"  # "accuracy" columns come before the significance columns
    integer: bool = False  # board column is a (nullable) whole number
    terminal_scale: float = 1.0  # the terminal shows value * scale with terminal_format
    terminal_format: str | None = None

    def __post_init__(self) -> None:
        if self.aggregate is not None and self.aggregate not in AGGREGATES:
            raise ValueError(f"{self.key}: aggregate must be one of {AGGREGATES}")

    @property
    def board_column(self) -> str:
        """The board column this metric aggregates into."""
        if self.column:
            return self.column
        return f"{self.key}_mean" if self.aggregate in ("mean", "mean_ci") else self.key

    def board_columns(self) -> list[str]:
        """Every board column of this metric: mean_ci also gives std and the interval."""
        if self.aggregate is None:
            return []
        if self.aggregate == "mean_ci":
            return [f"{self.key}_{part}" for part in ("mean", "std", "ci_low", "ci_high")]
        return [self.board_column]

    def summarise(self, values: pd.Series) -> float:
        """The board value of one row's per-seed values (NaN where nothing was logged)."""
        values = pd.to_numeric(values, errors="coerce").astype(float)
        if self.aggregate == "count":
            return float(values.notna().sum())
        present = values.dropna()
        if present.empty:
            return math.nan
        if self.aggregate == "mlperf":
            return stats.mlperf_mean(present)
        # mean_ci's std and interval come from stats.mean_ci; its board_column is the mean.
        return float(getattr(present, "mean" if self.aggregate == "mean_ci" else self.aggregate)())


# One line per metric: adding a per-run metric to every board format is one line here.
METRICS: tuple[Metric, ...] = (
    Metric("test_accuracy", "mean_ci", header="test acc", section="accuracy"),
    Metric("test_loss"),
    # Whether a run learned (results/learned.py): its right answers and the majority rate.
    Metric("test_correct"),
    Metric("test_majority_rate"),
    Metric("best_val_accuracy", "mean", header="val acc", section="accuracy"),
    Metric("params", "max", "{:,.0f}", "params", integer=True),
    Metric(
        "flops_per_image",
        "max",
        "{:,.0f}",
        "FLOPs/img",
        integer=True,
        terminal_scale=1e-6,
        terminal_format="{:.2f}M",
    ),
    Metric("train_flops_per_epoch", "max", "{:,.0f}", integer=True),
    Metric("epochs_run"),
    Metric("train_seconds", "mean", "{:.1f}", "train s"),
    Metric("seconds_per_epoch", "mean", "{:.1f}", "s/epoch"),
    # Only runs whose validation accuracy reached the target log it: MLPerf's trimmed mean
    # (from 5 seeds on) is over those, and the board's `reached` column says how many did.
    Metric(
        "time_to_target_seconds",
        "mlperf",
        "{:.1f}",
        "s to target",
        column="time_to_target_seconds_mean",
    ),
    Metric(
        "time_to_target_seconds", "count", "{:,.0f}", column="seeds_reaching_target", integer=True
    ),
    # Medians over seeds: one busy moment on a shared machine should not move the row.
    Metric("latency_p50_ms", "median", "{:.3f}", "p50 ms"),
    Metric("latency_p95_ms", "median", "{:.3f}", "p95 ms"),
    Metric("throughput_images_per_second", "median", "{:,.0f}", "img/s"),
    Metric("macs_per_image"),
    Metric("target_accuracy"),
    # Training to a target: 0/1 per run; the others only where the run reached it.
    Metric("reached_target"),
    Metric("epochs_to_target", "mean", "{:.1f}"),
    Metric("train_flops_to_target", "mean", "{:,.0f}"),
    Metric("test_accuracy_at_target", "mean", section="accuracy"),
)

# The per-run table's metric columns, in METRICS order, each once.
METRIC_KEYS: tuple[str, ...] = tuple(dict.fromkeys(metric.key for metric in METRICS))


def format_column(values: pd.Series, pattern: str | None = None, missing: str = "–") -> list[str]:
    """Text for each value: by `pattern` ("{:.4f}") if given, else by the column's size.

    Without a pattern, whole numbers get thousands separators and decimals four significant
    digits of the column's largest value. Booleans read yes/no; missing values `missing`.
    """
    if pattern is not None:
        return [missing if _missing(value) else pattern.format(value) for value in values]
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return [_text(value, missing) for value in values]
    numbers = values.astype(float)  # nullable integers (the ensemble row's rank) become NaN
    finite = numbers[np.isfinite(numbers)]
    if finite.empty or (finite == finite.round()).all():
        return [missing if _missing(value) else f"{value:,.0f}" for value in values]
    largest = finite.abs().max()
    # Four significant digits of the column's largest value (2.071, 38.61, 231.7, 1,234), but
    # never more than four places (0.9944, 0.0312); smaller values then print as 2.0e-07.
    places = min(4, max(0, 3 - math.floor(math.log10(largest)))) if largest > 0 else 0
    texts = []
    for value in values:
        if _missing(value):
            texts.append(missing)
        elif value != 0 and abs(value) < 0.5 * 10**-places:  # e.g. a tiny p-value
            texts.append(f"{value:.1e}")
        else:
            texts.append(f"{value:,.{places}f}")
    return texts


def _text(value: object, missing: str) -> str:
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    return missing if _missing(value) else str(value)


def _missing(value: object) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))
