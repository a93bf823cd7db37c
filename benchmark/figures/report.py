"""Figures of the HTML report: seed bands, confusion grids, per-class F1 and mistakes."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from benchmark.figures.common import colors_for


def validation_band_figure(curves: dict[str, list[list[float]]]) -> Figure:
    """Mean validation accuracy per epoch over seeds, min-max band shaded, one colour each."""
    fig, ax = plt.subplots(figsize=(10, 5.5))
    means, lows, highs = {}, {}, {}
    for (label, runs), color in zip(curves.items(), colors_for(len(curves)), strict=True):
        epochs = max(len(values) for values in runs)
        # Early stopping ends seeds at different epochs: pad with NaN, average what exists.
        table = np.full((len(runs), epochs), np.nan)
        for row, values in enumerate(runs):
            table[row, : len(values)] = values
        x = np.arange(1, epochs + 1)
        means[label] = np.nanmean(table, axis=0)
        lows[label], highs[label] = np.nanmin(table, axis=0), np.nanmax(table, axis=0)
        seeds = f"{len(runs)} seed{'s' if len(runs) > 1 else ''}"
        ax.plot(x, means[label], marker="o", markersize=4, color=color, label=f"{label} ({seeds})")
        if len(runs) > 1:
            ax.fill_between(x, lows[label], highs[label], color=color, alpha=0.2, linewidth=0)
    title = "Validation accuracy per epoch: mean over seeds, band = min to max"
    # Batch-norm nets can score far lower after epoch 1 than anywhere later; when that first
    # epoch alone stretches the axis, zoom on the later epochs where the architectures differ.
    later = np.concatenate([values[1:] for values in lows.values()])
    low_all = np.concatenate(list(lows.values()))
    top = max(np.nanmax(values) for values in highs.values())
    if later.size and top - np.nanmin(later) < 0.25 * (top - np.nanmin(low_all)):
        ax.set_ylim(np.nanmin(later) - 0.002, top + 0.001)
        title += "\n(lower first-epoch values cut off)"
    longest = max(len(values) for values in means.values())
    ax.set_xlim(0.5, longest + 0.5)  # whole epochs, even for a one-epoch smoke run
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9)
    fig.tight_layout()
    return fig


def _grid(count: int, columns: int, width: float, height: float) -> tuple[Figure, list]:
    rows = math.ceil(count / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[count:]:
        ax.set_axis_off()
    return fig, flat[:count]


def confusion_grid_figure(matrices: dict[str, pd.DataFrame]) -> Figure:
    """One annotated confusion matrix per label, side by side, four to a row."""
    fig, axes = _grid(len(matrices), min(4, len(matrices)), 4.4, 4.4)
    for ax, (label, matrix) in zip(axes, matrices.items(), strict=True):
        counts = matrix.to_numpy()
        # Log colours show the few mistakes beside a diagonal of hundreds; zeros stay blank.
        annotations = np.where(counts > 0, counts.astype(str), "")
        sns.heatmap(
            counts,
            annot=annotations,
            fmt="",
            cmap="Blues",
            cbar=False,
            ax=ax,
            norm=LogNorm(vmin=1, vmax=max(2, counts.max())),
            mask=counts == 0,
            linewidths=0.5,
            linecolor="#eeeeee",
            annot_kws={"fontsize": 7},
            xticklabels=list(matrix.columns),
            yticklabels=list(matrix.index),
            square=True,
        )
        accuracy = np.trace(counts) / max(1, counts.sum())
        ax.set_title(f"{label}\n(test accuracy {accuracy:.4f})", fontsize=10)
        ax.set_xlabel("predicted label")
        ax.set_ylabel("true label")
        ax.tick_params(labelsize=8, rotation=0)
    fig.tight_layout()
    return fig


def f1_heatmap_figure(f1: pd.DataFrame) -> Figure:
    """Per-class F1 with labels down and classes across, annotated to three places."""
    fig, ax = plt.subplots(figsize=(1.0 + 0.85 * len(f1.columns), 1.6 + 0.5 * len(f1)))
    sns.heatmap(
        f1,
        annot=True,
        fmt=".3f",
        cmap="viridis",
        ax=ax,
        annot_kws={"fontsize": 8},
        vmin=float(np.nanmin(f1.to_numpy())),
        vmax=1.0,
        linewidths=0.5,
        cbar_kws={"label": "F1", "shrink": 0.8},
    )
    ax.set_xlabel("class")
    ax.set_ylabel("")
    ax.set_title("Per-class F1 on the test set")
    ax.tick_params(axis="y", rotation=0)
    fig.tight_layout()
    return fig


def mistakes_figure(
    images: np.ndarray,
    true: np.ndarray,
    predicted: np.ndarray,
    confidence: np.ndarray,
    class_names: tuple[str, ...] = (),
    inverted: bool = True,
) -> Figure:
    """Misclassified images, ten to a row, each titled with prediction, confidence and truth.

    Images are shown in their own colours and size (grey 0 black, 255 white), except that
    `inverted` draws MNIST's white-on-black digits dark on white, as on paper.
    """
    fig, axes = _grid(len(images), min(10, len(images)), 1.25, 1.55)

    def name(label: int) -> str:
        return class_names[label][:14] if 0 <= label < len(class_names) else str(label)

    for ax, image, label, guess, probability in zip(
        axes, images, true, predicted, confidence, strict=True
    ):
        if image.ndim == 3 and image.shape[-1] == 3:
            ax.imshow(image, interpolation="nearest")
        else:
            grey = image[..., 0] if image.ndim == 3 else image
            ax.imshow(grey, cmap="gray_r" if inverted else "gray", vmin=0, vmax=255)
        ax.set_title(
            f"pred {name(int(guess))} ({probability:.2f})\ntrue {name(int(label))}",
            fontsize=7,
            color="crimson",
        )
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout(pad=0.4)
    return fig
