"""What the HTML report shows, read from MLflow: runs per seed, curves, summaries."""

from __future__ import annotations

import io
import json

import pandas as pd

from benchmark import tracking
from benchmark.results import leaderboard, runs

SUMMARY_ROWS = ("accuracy", "macro avg", "weighted avg")  # not classes in a sklearn report


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
    summary = board[[*columns, "train_seconds_mean"]].rename(
        columns={"train_seconds_mean": "train_seconds"}
    )
    # A run's training FLOPs: each epoch's (3 x forward x training images) times its epochs.
    flops = per_run["train_flops_per_epoch"] * per_run["epochs_run"]
    summary["train_flops"] = summary["label"].map(flops.groupby(per_run["label"]).mean())
    return summary


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
        if all(key.isdigit() for key in classes):  # label numbers: numeric order
            classes.sort(key=int)
        rows[row.label] = {key: report[key]["f1-score"] for key in [*classes, "macro avg"]}
    return pd.DataFrame.from_dict(rows, orient="index")
