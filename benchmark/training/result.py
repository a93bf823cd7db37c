"""What one training run produced, and the per-run numbers (and test reports) tracking logs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix

# The per-epoch numbers Keras's fit reports and every training run keeps (history, MLflow steps).
HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")


@dataclass
class TrainingResult:
    """Everything one training run produced; tracking turns it into an MLflow run."""

    arch: str
    params: dict[str, Any]
    seed: int
    history: dict[str, list[float]]  # per-epoch values of each of HISTORY_KEYS
    epoch_end_seconds: list[float]  # training seconds elapsed at the end of each epoch
    test_metrics: dict[str, float]
    y_true: np.ndarray
    y_pred: np.ndarray
    probabilities: np.ndarray  # softmax outputs on the test set, shape (N, classes)
    param_count: int
    train_seconds: float
    evaluation_seconds: float
    inference_ms_per_image: float  # batched prediction over the test set
    best_epoch: int  # 1-based epoch whose weights the model holds
    stopped_early: bool
    diverged: bool
    macs_per_image: int  # multiply-accumulates of one inference, see costs.count_macs
    latency_p50_ms: float  # one image at a time (batch size 1)
    latency_p95_ms: float
    throughput_images_per_second: float  # batched prediction, costs.INFERENCE_BATCH a batch
    train_size: int  # training images seen per epoch
    target_accuracy: float  # validation accuracy that time_to_target_seconds refers to
    time_to_target_seconds: float | None  # None: no epoch reached target_accuracy
    stopped_at_target: bool  # trained until the target (--target-accuracy), not a fixed budget
    model: Any = field(repr=False)
    class_names: tuple[str, ...] = ()  # one per label; empty: the label numbers

    @property
    def labels(self) -> list[str]:
        """One name per class: `class_names`, or the label numbers when it is empty."""
        classes = self.probabilities.shape[1]
        return list(self.class_names) or [str(label) for label in range(classes)]

    def confusion_matrix(self) -> np.ndarray:
        """Test-set counts, true labels down and predictions across, one row per class."""
        return confusion_matrix(self.y_true, self.y_pred, labels=range(len(self.labels)))

    def classification_report(self) -> tuple[str, dict[str, Any]]:
        """scikit-learn's per-class precision, recall and F1 on the test set, as text and dict."""
        report_args = {
            "y_true": self.y_true,
            "y_pred": self.y_pred,
            "digits": 4,
            "target_names": self.labels,
            "zero_division": 0,
        }
        return classification_report(**report_args), classification_report(
            **report_args, output_dict=True
        )

    @property
    def epochs_run(self) -> int:
        """Number of epochs actually trained."""
        return len(self.history["loss"])

    @property
    def seconds_per_epoch(self) -> float:
        """Mean wall-clock seconds of one training epoch (validation included)."""
        return self.train_seconds / max(self.epochs_run, 1)

    @property
    def flops_per_image(self) -> int:
        """Floating-point operations of one inference: 2 per multiply-accumulate."""
        return 2 * self.macs_per_image

    @property
    def train_flops_per_epoch(self) -> int:
        """Training FLOPs of one epoch: forward and backward (about 3x forward) per image."""
        return 3 * self.flops_per_image * self.train_size

    @property
    def epochs_to_target(self) -> int | None:
        """1-based first epoch whose validation accuracy reached the target; None if none did."""
        for epoch, accuracy in enumerate(self.history["val_accuracy"], start=1):
            if accuracy >= self.target_accuracy:
                return epoch
        return None

    @property
    def train_flops_to_target(self) -> int | None:
        """Training FLOPs spent until the target: 3 x forward FLOPs x images seen by then."""
        epochs = self.epochs_to_target
        return None if epochs is None else epochs * self.train_flops_per_epoch

    @property
    def test_correct(self) -> int:
        """Test images predicted right (the read side tests it against the majority rate)."""
        return int((np.asarray(self.y_pred) == np.asarray(self.y_true)).sum())

    @property
    def test_majority_rate(self) -> float:
        """Share of the most frequent class among the test labels: what guessing it scores."""
        labels = np.asarray(self.y_true).astype(int)
        return float(np.bincount(labels).max() / len(labels)) if len(labels) else float("nan")

    @property
    def best_val_accuracy(self) -> float:
        """Highest validation accuracy over the epochs."""
        return max(self.history["val_accuracy"], default=float("nan"))

    def metrics(self) -> dict[str, float]:
        """Every per-run number, by metric name; the *_to_target ones only when it was reached.

        `test_accuracy_at_target` is logged when training stopped at the target: the test
        accuracy of the model as it was when validation first reached it.
        """
        metrics = {
            **self.test_metrics,
            "test_correct": self.test_correct,
            "test_majority_rate": self.test_majority_rate,
            "params": self.param_count,
            "train_seconds": self.train_seconds,
            "seconds_per_epoch": self.seconds_per_epoch,
            "evaluation_seconds": self.evaluation_seconds,
            "inference_ms_per_image": self.inference_ms_per_image,
            "best_val_accuracy": self.best_val_accuracy,
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            "diverged": float(self.diverged),
            "macs_per_image": self.macs_per_image,
            "flops_per_image": self.flops_per_image,
            "train_flops_per_epoch": self.train_flops_per_epoch,
            "latency_p50_ms": self.latency_p50_ms,
            "latency_p95_ms": self.latency_p95_ms,
            "throughput_images_per_second": self.throughput_images_per_second,
            "target_accuracy": self.target_accuracy,
            "reached_target": float(self.epochs_to_target is not None),
        }
        if self.time_to_target_seconds is not None and self.epochs_to_target is not None:
            metrics["time_to_target_seconds"] = self.time_to_target_seconds
            metrics["epochs_to_target"] = self.epochs_to_target
            metrics["train_flops_to_target"] = self.train_flops_to_target
            if self.stopped_at_target:
                metrics["test_accuracy_at_target"] = self.test_metrics["test_accuracy"]
        return metrics
