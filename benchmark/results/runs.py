"""Training runs read out of MLflow into one typed per-run table; the only reader of its columns.

MLflow hands back a wide frame (`metrics.*`, `params.*`, `tags.*`); `table` turns it into
snake-case columns that everything on the read side uses: the leaderboard, the significance
tests and ensemble, the champion choice and the HTML report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark import tracking
from benchmark.results.metrics import METRIC_KEYS
from benchmark.settings import DEFAULT_DATASET
from benchmark.settings.data import registered_model

DEFAULT_VARIANT = tracking.DEFAULT_VARIANT  # runs without a variant tag (older runs) read as this
FULL_DATA = 0  # `subset` of a run trained on the whole training split

# Whole-number columns read from params; missing values are pd.NA.
INTEGER_PARAMS = ("subset", "split_seed", "test_size", "train_size", "val_size")
COLUMNS = [
    "run_id",
    "start_time",
    "arch",
    "variant",
    "seed",
    "label",
    "machine",
    "dataset",
    *INTEGER_PARAMS,
    "validation_fraction",
    *METRIC_KEYS,
]
# Per-run column -> the MLflow column it is read from (identity and split columns aside).
RUN_SOURCES = {key: f"metrics.{key}" for key in METRIC_KEYS}


def table(runs: pd.DataFrame) -> pd.DataFrame:
    """Typed per-run rows of MLflow's runs frame, one per run, in the frame's order.

    The architecture and the seed come from the run's tags, falling back to its params (runs
    logged before those tags); the variant from its tag, else DEFAULT_VARIANT.
    """
    if runs.empty:
        return _empty()
    runs = runs.reset_index(drop=True)
    rows = pd.DataFrame(
        {
            "run_id": runs["run_id"].astype(str),
            "start_time": _column(runs, "start_time"),
            "arch": _column(runs, "tags.arch").fillna(_column(runs, "params.arch")),
            "variant": _column(runs, "tags.variant").replace("", np.nan).fillna(DEFAULT_VARIANT),
            "seed": _integers(_column(runs, "tags.seed").fillna(_column(runs, "params.seed"))),
        }
    )
    rows["label"] = labels(rows["arch"], rows["variant"])
    rows["machine"] = _column(runs, "tags.machine")  # missing for runs logged before the tag
    # Runs logged before datasets other than MNIST existed were all on MNIST.
    rows["dataset"] = _column(runs, "params.dataset").fillna(DEFAULT_DATASET).astype(str)
    for name in INTEGER_PARAMS:
        rows[name] = _integers(_column(runs, f"params.{name}"))
    rows["validation_fraction"] = _floats(_column(runs, "params.validation_fraction"))
    for key, source in RUN_SOURCES.items():
        rows[key] = _floats(_column(runs, source))
    return rows[COLUMNS]


def newest_per_seed(rows: pd.DataFrame) -> pd.DataFrame:
    """The newest run (latest start_time) of each (arch, variant, seed), sorted by those three."""
    newest_first = rows.sort_values("start_time", ascending=False, kind="stable")
    kept = newest_first.drop_duplicates(["arch", "variant", "seed"], keep="first")
    return kept.sort_values(["arch", "variant", "seed"], kind="stable").reset_index(drop=True)


def read_runs(experiment_id: str, run_ids: list[str] | None = None) -> pd.DataFrame:
    """The newest finished training run of each (arch, variant, seed), or of just `run_ids`."""
    return newest_per_seed(table(tracking.finished_training_runs(experiment_id, run_ids)))


def read_champion_candidates(experiment_id: str, dataset: str = DEFAULT_DATASET) -> pd.DataFrame:
    """Every finished training run of the experiment on `dataset`, plus its current champion."""
    rows = table(tracking.champion_candidates(experiment_id, registered_model(dataset)))
    return rows[rows["dataset"] == dataset].reset_index(drop=True)


def labels(arch: pd.Series, variant: pd.Series) -> pd.Series:
    """How rows are named in figures: the architecture, with `/variant` unless the default."""
    arch = arch.astype(str)
    return arch.where(variant == DEFAULT_VARIANT, arch + "/" + variant.astype(str))


def by_validation(rows: pd.DataFrame) -> pd.DataFrame:
    """Runs with a best_val_accuracy, highest first; ties keep their order. Never uses test."""
    scored = rows[rows["best_val_accuracy"].notna()]
    return scored.sort_values("best_val_accuracy", ascending=False, kind="stable")


def validation_curves(rows: pd.DataFrame) -> dict[str, list[list[float]]]:
    """Per label, each run's validation accuracy per epoch (runs without one are left out)."""
    curves: dict[str, list[list[float]]] = {}
    for run_id, name in zip(rows["run_id"], rows["label"], strict=True):
        history = tracking.metric_history(run_id, "val_accuracy")
        if history:
            curves.setdefault(name, []).append(history)
    return curves


def mean_per_epoch(curves: dict[str, list[list[float]]]) -> dict[str, list[float]]:
    """Each label's mean curve: per epoch, the mean over the runs that reached that epoch."""
    means = {}
    for name, histories in curves.items():
        longest = max((len(history) for history in histories), default=0)
        means[name] = [
            float(np.mean([history[epoch] for history in histories if len(history) > epoch]))
            for epoch in range(longest)
        ]
    return means


def _column(runs: pd.DataFrame, source: str) -> pd.Series:
    """A column of MLflow's runs frame; all missing when no run logged it."""
    if source in runs:
        return runs[source]
    return pd.Series([np.nan] * len(runs), index=runs.index, dtype=object)


def _integers(values: pd.Series) -> pd.Series:
    """Whole numbers as nullable Int64 (params and tags are strings in MLflow)."""
    return pd.to_numeric(values, errors="coerce").round().astype("Int64")


def _floats(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").astype(float)


def _empty() -> pd.DataFrame:
    """The table of no runs: every column, typed."""
    rows = pd.DataFrame({name: pd.Series(dtype=object) for name in COLUMNS})
    for name in ("seed", *INTEGER_PARAMS):
        rows[name] = rows[name].astype("Int64")
    for name in ("validation_fraction", *METRIC_KEYS):
        rows[name] = rows[name].astype(float)
    return rows
