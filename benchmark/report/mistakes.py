"""The best model's most confident mistakes, from its logged test probabilities (no model load)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmark import tracking
from benchmark.data.sources import Request
from benchmark.data.splits import load_splits
from benchmark.errors import BenchmarkError
from benchmark.results.runs import by_validation
from benchmark.settings import DATASETS
from benchmark.settings.data import dataset_name

# Columns of the per-run table needed to rebuild a run's test images.
SPLIT_COLUMNS = ("validation_fraction", "split_seed", "subset")


@dataclass(frozen=True)
class Mistakes:
    """The test images one model gets wrong, most confident mistakes first."""

    run_id: str
    label: str
    images: np.ndarray  # uint8 (N, H, W) grey or (N, H, W, 3), at most `limit` of them
    true: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray  # the model's probability for its wrong answer
    wrong: int  # all mistakes, not only those shown
    test_size: int
    logged_accuracy: float
    class_names: tuple[str, ...] = ()
    dataset: str = "mnist"

    @property
    def accuracy(self) -> float:
        """Test accuracy recomputed from the logged probabilities."""
        return 1 - self.wrong / self.test_size


def _request(best: pd.Series, given: Request | None) -> Request | None:
    """How to reload the best run's data: by name, or the folder or file --dataset gives."""
    dataset = str(best.get("dataset", "mnist"))
    if dataset == "mnist":
        return None  # the verified MNIST loader, as always
    if dataset in DATASETS:
        return Request(dataset)
    if given is not None and dataset_name(given.spec) == dataset:
        return given
    raise BenchmarkError(
        f"run {best.run_id} was trained on {dataset}; pass its folder or .npz file as "
        "--dataset to show its mistakes"
    )


def best_model_mistakes(
    runs: pd.DataFrame, limit: int = 60, request: Request | None = None
) -> Mistakes:
    """The mistakes of the run with the best validation accuracy, from its logged probabilities."""
    scored = by_validation(runs)
    if scored.empty:
        raise BenchmarkError("no run has a best_val_accuracy to pick the best model by")
    best = scored.iloc[0]  # chosen on validation accuracy only, never on test
    logged = tracking.load_test_probabilities(best.run_id)
    if logged is None:
        raise BenchmarkError(
            f"run {best.run_id} has no {tracking.PROBABILITIES_ARTIFACT} artifact to read its "
            "mistakes from"
        )
    probabilities, y_true = logged
    missing = [name for name in SPLIT_COLUMNS if pd.isna(best.get(name))]
    if missing:
        raise BenchmarkError(
            f"run {best.run_id} has no {', '.join(missing)} to rebuild its test images"
        )
    subset = int(best["subset"])
    splits = load_splits(
        float(best["validation_fraction"]),
        seed=int(best["split_seed"]),
        subset=subset or None,  # 0 stands for "the whole data set"
        request=_request(best, request),
    )
    if not np.array_equal(splits.y_test, y_true):
        raise BenchmarkError(
            f"the rebuilt test split ({len(splits.y_test)} images) does not match the "
            f"{len(y_true)} labels logged by run {best.run_id}; was it trained on other data?"
        )
    found = _most_confident(best, splits.x_test, np.asarray(y_true), probabilities, limit)
    return dataclasses.replace(found, class_names=splits.names, dataset=splits.dataset)


def _most_confident(
    best: pd.Series,
    images: np.ndarray,
    y_true: np.ndarray,
    probabilities: np.ndarray,
    limit: int,
) -> Mistakes:
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y_true)
    confidence = probabilities[wrong, predicted[wrong]]
    shown = wrong[np.argsort(-confidence, kind="stable")][:limit]
    return Mistakes(
        run_id=best.run_id,
        label=best.label,
        images=images[shown],
        true=y_true[shown],
        predicted=predicted[shown],
        confidence=probabilities[shown, predicted[shown]],
        wrong=len(wrong),
        test_size=len(y_true),
        logged_accuracy=float(best["test_accuracy"]),
    )
