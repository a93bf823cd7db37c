"""What the HTML report shows, read from MLflow: runs per seed, curves, summaries."""

from __future__ import annotations

import io
import json

import pandas as pd

from benchmark import tracking

DEFAULT_VARIANT = "default"  # the variant of runs logged without a tags.variant
SUMMARY_ROWS = ("accuracy", "macro avg", "weighted avg")  # not classes in a sklearn report


def runs_per_seed(runs: pd.DataFrame) -> pd.DataFrame:
    """The newest of `tracking.training_runs` (newest first) per architecture, variant, seed."""
    runs = runs.copy()
    for column, source, missing in (
        ("variant", "tags.variant", DEFAULT_VARIANT),
        ("seed", "params.seed", "?"),
    ):
        values = runs[source] if source in runs else pd.Series(missing, index=runs.index)
        runs[column] = values.fillna(missing).replace("", missing)
    runs["label"] = runs["tags.arch"].where(
        runs["variant"] == DEFAULT_VARIANT, runs["tags.arch"] + "/" + runs["variant"]
    )
    runs = runs.drop_duplicates(["tags.arch", "variant", "seed"], keep="first")
    order = runs.groupby("label")["metrics.test_accuracy"].mean().sort_values(ascending=False)
    rank = {label: position for position, label in enumerate(order.index)}
    return runs.sort_values("label", key=lambda labels: labels.map(rank), kind="stable")


def validation_curves(runs: pd.DataFrame) -> dict[str, list[list[float]]]:
    """Per label, each seed's validation accuracy per epoch (runs without one are left out)."""
    curves: dict[str, list[list[float]]] = {}
    for row in runs.itertuples():
        history = tracking.metric_history(row.run_id, "val_accuracy")
        if history:
            curves.setdefault(row.label, []).append(history)
    return curves


def summary(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per label: seeds, mean and std of test accuracy, mean params and train seconds."""
    grouped = runs.groupby("label", sort=False)
    return pd.DataFrame(
        {
            "seeds": grouped.size(),
            "test_accuracy_mean": grouped["metrics.test_accuracy"].mean(),
            "test_accuracy_std": grouped["metrics.test_accuracy"].std(),  # NaN for one seed
            "params": grouped["metrics.params"].mean(),
            "train_seconds": grouped["metrics.train_seconds"].mean(),
        }
    ).reset_index()


def best_per_label(runs: pd.DataFrame) -> pd.DataFrame:
    """Each label's run with the highest best_val_accuracy (validation only, never test)."""
    scored = runs.dropna(subset=["metrics.best_val_accuracy"])
    best = scored.groupby("label", sort=False)["metrics.best_val_accuracy"].idxmax()
    return scored.loc[best.to_numpy()]


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
