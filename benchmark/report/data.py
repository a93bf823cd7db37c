"""What the HTML report shows, read from MLflow: runs per seed, curves, summaries, mistakes."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmark import tracking
from benchmark.data.splits import load_splits, to_model_input
from benchmark.errors import BenchmarkError
from benchmark.results import leaderboard, runs

SUMMARY_ROWS = ("accuracy", "macro avg", "weighted avg")  # not classes in a sklearn report
SPLIT_PARAMS = ("validation_fraction", "split_seed", "subset")


def runs_per_seed(per_run: pd.DataFrame) -> pd.DataFrame:
    """The per-run table (results.runs) with labels ordered by mean test accuracy, best first."""
    order = per_run.groupby("label")["test_accuracy"].mean().sort_values(ascending=False)
    rank = {name: position for position, name in enumerate(order.index)}
    return per_run.sort_values("label", key=lambda labels: labels.map(rank), kind="stable")


# The report's curves are the read side's: each seed's validation accuracy per epoch.
validation_curves = runs.validation_curves


def summary(per_run: pd.DataFrame) -> pd.DataFrame:
    """One row per label in the runs' order, from the leaderboard's aggregation over seeds."""
    board = leaderboard.aggregate(per_run)
    board.insert(0, "label", runs.labels(board["architecture"], board["variant"]))
    order = {name: position for position, name in enumerate(per_run["label"].unique())}
    board = board.sort_values("label", key=lambda labels: labels.map(order), kind="stable")
    columns = ["label", "seeds", "test_accuracy_mean", "test_accuracy_std", "params"]
    return board[[*columns, "train_seconds_mean"]].rename(
        columns={"train_seconds_mean": "train_seconds"}
    )


def best_per_label(per_run: pd.DataFrame) -> pd.DataFrame:
    """Each label's run with the highest best_val_accuracy (validation only, never test)."""
    return runs.by_validation(per_run).drop_duplicates("label", keep="first")


def confusion_matrices(best: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per label, the confusion_matrix.csv of its best run, true labels down."""
    matrices = {}
    for row in best.itertuples():
        text = tracking.artifact_text(row.run_id, "confusion_matrix.csv")
        if text is not None:
            matrix = pd.read_csv(io.StringIO(text), index_col=0)
            matrix.index = matrix.index.astype(str)
            matrices[row.label] = matrix
    return matrices


def per_class_f1(best: pd.DataFrame) -> pd.DataFrame:
    """Labels down, classes (then macro avg) across, from each best run's classification report."""
    rows = {}
    for row in best.itertuples():
        text = tracking.artifact_text(row.run_id, "classification_report.json")
        if text is None:
            continue
        report = json.loads(text)
        classes = [key for key in report if key not in SUMMARY_ROWS]
        classes.sort(key=lambda key: (not key.isdigit(), int(key) if key.isdigit() else key))
        rows[row.label] = {key: report[key]["f1-score"] for key in [*classes, "macro avg"]}
    return pd.DataFrame.from_dict(rows, orient="index")


@dataclass
class Mistakes:
    """The test images one model gets wrong, most confident mistakes first."""

    run_id: str
    label: str
    images: np.ndarray  # uint8 (N, 28, 28), at most `limit` of them
    true: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray  # the model's probability for its wrong answer
    wrong: int  # all mistakes, not only those shown
    test_size: int
    logged_accuracy: float


def best_model_mistakes(
    runs: pd.DataFrame, limit: int = 60, log: Callable[[str], None] = print
) -> Mistakes:
    """Rebuild the test split of the run with the best validation accuracy and predict on it."""
    scored = runs.dropna(subset=["metrics.best_val_accuracy"])
    if scored.empty:
        raise BenchmarkError("no run has a best_val_accuracy to pick the best model by")
    best = scored.loc[scored["metrics.best_val_accuracy"].idxmax()]
    missing = [name for name in SPLIT_PARAMS if pd.isna(best.get(f"params.{name}"))]
    if missing:
        raise BenchmarkError(
            f"run {best.run_id} has no {', '.join(missing)} params to rebuild its test split"
        )
    subset = int(best["params.subset"])
    splits = load_splits(
        float(best["params.validation_fraction"]),
        seed=int(best["params.split_seed"]),
        subset=subset or None,  # 0 is logged for "the whole data set"
        log=log,
    )
    expected = best.get("params.test_size")
    if pd.notna(expected) and int(expected) != len(splits.y_test):
        raise BenchmarkError(
            f"the rebuilt test split has {len(splits.y_test)} images, run {best.run_id} "
            f"was tested on {expected}"
        )
    model = tracking.load_run_model(best.run_id)
    probabilities = model.predict(to_model_input(splits.x_test), batch_size=512, verbose=0)
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != splits.y_test)
    confidence = probabilities[wrong, predicted[wrong]]
    shown = wrong[np.argsort(-confidence, kind="stable")][:limit]
    return Mistakes(
        run_id=best.run_id,
        label=best.label,
        images=splits.x_test[shown],
        true=splits.y_test[shown],
        predicted=predicted[shown],
        confidence=probabilities[shown, predicted[shown]],
        wrong=len(wrong),
        test_size=len(splits.y_test),
        logged_accuracy=float(best["metrics.test_accuracy"]),
    )
