"""Figures of a training run and of a comparison: confusion matrix, curves, validation overlay."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.figure import Figure

from benchmark.figures.common import to_png
from benchmark.training.result import TrainingResult


def training_run_pngs(result: TrainingResult) -> dict[str, bytes]:
    """The PNG artifacts of a training run, by file name: its confusion matrix and its curves."""
    title = f"{result.arch}: test accuracy {result.test_metrics['test_accuracy']:.4f}"
    matrix = confusion_matrix_figure(result.confusion_matrix(), list(result.labels), title)
    return {
        "confusion_matrix.png": to_png(matrix, tight=False),
        "training_curves.png": to_png(training_curves_figure(result.history, result.arch), False),
    }


def validation_overlay_png(curves: dict[str, list[float]]) -> bytes:
    """A comparison's validation_accuracy.png: every architecture's curve on one axis."""
    return to_png(validation_overlay_figure(curves), tight=False)


def confusion_matrix_figure(matrix: np.ndarray, labels: list[str], title: str) -> Figure:
    """An annotated heatmap of counts, true labels down, predictions across (as the notebook)."""
    fig, ax = plt.subplots(figsize=(8, 6.5))
    sns.heatmap(
        matrix,
        annot=True,
        fmt="d",
        cmap="Blues",
        cbar=False,
        ax=ax,
        xticklabels=labels,
        yticklabels=labels,
    )
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def training_curves_figure(history: dict[str, list[float]], title: str) -> Figure:
    """Accuracy and loss per epoch, training against validation, side by side."""
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(11, 4))
    epochs = np.arange(1, len(history["loss"]) + 1)
    for ax, key in ((acc_ax, "accuracy"), (loss_ax, "loss")):
        ax.plot(epochs, history[key], "o-", label=f"training {key}")
        ax.plot(epochs, history[f"val_{key}"], "s-", label=f"validation {key}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def validation_overlay_figure(curves: dict[str, list[float]]) -> Figure:
    """Every architecture's validation accuracy per epoch on one axis."""
    fig, ax = plt.subplots(figsize=(9, 5))
    for name, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", markersize=3, label=name)
    # Batch-norm nets can score low after epoch 1; zoom on where the architectures differ.
    later = [value for values in curves.values() for value in values[1:]]
    everything = [value for values in curves.values() for value in values]
    title = "Validation accuracy per epoch"
    if later and min(everything) < min(later) - 0.002:
        ax.set_ylim(min(later) - 0.002, max(everything) + 0.001)
        title += " (lower first-epoch values cut off)"
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig
