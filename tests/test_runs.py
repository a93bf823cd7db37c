"""The per-run table read from MLflow's wide frame: typing, fallbacks and the newest-run rule."""

from __future__ import annotations

import math

import pandas as pd

from benchmark.results import runs
from benchmark.results.metrics import METRIC_KEYS


def mlflow_frame() -> pd.DataFrame:
    """Runs as tracking.finished_training_runs returns them, of three vintages of logging code."""
    return pd.DataFrame(
        {
            "run_id": ["old", "new", "legacy", "tuned"],
            "start_time": pd.to_datetime([1, 2, 0, 3], unit="s", utc=True),
            "tags.arch": ["basic", "basic", None, "mlp"],
            "tags.seed": ["0", "0", None, "1"],
            "tags.variant": ["default", "default", None, "tuned"],
            "params.arch": ["basic", "basic", "lenet5", "mlp"],
            "params.seed": ["0", "0", "3", "1"],
            "params.subset": ["0", "0", None, "300"],
            "params.validation_fraction": ["0.1", "0.1", None, "0.2"],
            "metrics.test_accuracy": [0.9, 0.95, 0.8, 0.7],
            "metrics.best_val_accuracy": [0.91, 0.96, math.nan, 0.71],
        }
    )


def test_table_types_columns_and_falls_back_to_params() -> None:
    rows = runs.table(mlflow_frame())
    assert list(rows.columns) == runs.COLUMNS
    assert set(METRIC_KEYS) <= set(rows.columns)
    legacy = rows.set_index("run_id").loc["legacy"]
    assert (legacy["arch"], legacy["seed"], legacy["variant"]) == ("lenet5", 3, "default")
    assert pd.isna(legacy["subset"]) and math.isnan(legacy["validation_fraction"])
    assert math.isnan(legacy["params"])  # a metric nobody logged is NaN, not a KeyError
    assert list(rows["label"]) == ["basic", "basic", "lenet5", "mlp/tuned"]
    assert str(rows["seed"].dtype) == str(rows["subset"].dtype) == "Int64"
    assert rows["validation_fraction"].tolist()[-1] == 0.2


def test_read_keeps_the_newest_run_per_arch_variant_seed() -> None:
    newest = runs.newest_per_seed(runs.table(mlflow_frame()))
    assert list(newest["run_id"]) == ["new", "legacy", "tuned"]


def test_by_validation_is_best_first_without_unscored_runs() -> None:
    ranked = runs.by_validation(runs.table(mlflow_frame()))
    assert list(ranked["run_id"]) == ["new", "old", "tuned"]


def test_an_empty_frame_gives_an_empty_typed_table() -> None:
    rows = runs.table(pd.DataFrame())
    assert rows.empty and list(rows.columns) == runs.COLUMNS
    assert str(rows["seed"].dtype) == "Int64"
