"""Figures of the HTML report: seed bands, Pareto fronts, confusion grids, F1 and mistakes."""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

DPI = 100  # pixels per inch of the embedded PNGs


def to_png(fig: Figure) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    buffer = io.BytesIO()
    # A tight box keeps titles and axis labels of square panels inside the image.
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.15)
    plt.close(fig)
    return buffer.getvalue()


def _colors(count: int) -> list:
    return sns.color_palette("tab10" if count <= 10 else "tab20", count)


def validation_band_figure(curves: dict[str, list[list[float]]]) -> Figure:
    """Mean validation accuracy per epoch over seeds, min-max band shaded, one colour each."""
    fig, ax = plt.subplots(figsize=(10, 5.5))
    means, lows, highs = {}, {}, {}
    for (label, runs), color in zip(curves.items(), _colors(len(curves)), strict=True):
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


def pareto_front(cost: np.ndarray, accuracy: np.ndarray) -> np.ndarray:
    """A mask of the points no other point beats on both lower cost and higher accuracy."""
    front = np.ones(len(cost), dtype=bool)
    for i in range(len(cost)):
        beaten = (cost <= cost[i]) & (accuracy >= accuracy[i])
        strictly = (cost < cost[i]) | (accuracy > accuracy[i])
        front[i] = not np.any(beaten & strictly)
    return front


def pareto_figure(summary: pd.DataFrame) -> Figure:
    """Mean test accuracy against parameters and against training seconds, fronts marked.

    `summary` has one row per label with columns label, test_accuracy_mean,
    test_accuracy_std (NaN for one seed), params and train_seconds.
    """
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    colors = dict(zip(summary["label"], _colors(len(summary)), strict=True))
    accuracy = summary["test_accuracy_mean"].to_numpy(dtype=float)
    for ax, column, xlabel in (
        (axes[0], "params", "trainable parameters"),
        (axes[1], "train_seconds", "training seconds, mean over seeds"),
    ):
        cost = summary[column].to_numpy(dtype=float)
        front = pareto_front(cost, accuracy)
        order = np.argsort(cost[front])
        ax.step(
            cost[front][order],
            accuracy[front][order],
            where="post",
            color="crimson",
            linewidth=1.5,
            alpha=0.7,
            label="Pareto front",
            zorder=1,
        )
        for row, on_front in zip(summary.itertuples(), front, strict=True):
            x, y = getattr(row, column), row.test_accuracy_mean
            error = 0.0 if math.isnan(row.test_accuracy_std) else row.test_accuracy_std
            ax.errorbar(
                x,
                y,
                yerr=error,
                fmt="o",
                markersize=8,
                color=colors[row.label],
                markeredgecolor="crimson" if on_front else "white",
                markeredgewidth=2,
                capsize=3,
                zorder=2,
            )
        ax.set_xlabel(xlabel + (" (log scale)" if _cost_axis(ax, cost) else ""))
        ax.set_ylabel("test accuracy, mean over seeds (bar = ±1 std)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(loc="lower right", fontsize=9)
        ax.margins(x=0.15, y=0.12)
    axes[0].set_title("Accuracy against size")
    axes[1].set_title("Accuracy against training time")
    fig.tight_layout()
    for ax, column in zip(axes, ("params", "train_seconds"), strict=True):
        _label_points(ax, summary[column], summary["test_accuracy_mean"], summary["label"], colors)
    return fig


def _label_points(
    ax: plt.Axes, xs: pd.Series, ys: pd.Series, labels: pd.Series, colors: dict
) -> None:
    """Name each point in its colour, trying four corners so no name covers another or a point."""
    ax.autoscale_view()
    fontsize, pixels_per_point = 9, ax.figure.dpi / 72
    height = 1.3 * fontsize * pixels_per_point
    points = [ax.transData.transform((x, y)) for x, y in zip(xs, ys, strict=True)]
    taken = [(px - 6, py - 6, px + 6, py + 6) for px, py in points]  # the markers
    corners = ((6, 3, "left"), (6, -3 - 1.3 * fontsize, "left"), (-6, 3, "right"))
    corners += ((-6, -3 - 1.3 * fontsize, "right"),)
    for (px, py), x, y, text in zip(points, xs, ys, labels, strict=True):
        width = 0.62 * fontsize * len(text) * pixels_per_point  # DejaVu Sans averages ~0.6 em
        for dx, dy, align in (*corners, corners[0]):
            left = px + dx * pixels_per_point - (width if align == "right" else 0)
            box = (left, py + dy * pixels_per_point, left + width, py + dy * pixels_per_point)
            box = (*box[:3], box[1] + height)
            if not any(_overlap(box, other) for other in taken):
                break
        taken.append(box)
        ax.annotate(
            text,
            (x, y),
            xytext=(dx, dy),
            textcoords="offset points",
            ha=align,
            va="bottom",
            fontsize=fontsize,
            color=colors[text],
        )


def _overlap(a: tuple, b: tuple) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _compact(value: float) -> str:
    """60k, 1.2M, 4.5: short tick labels."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def _cost_axis(ax: plt.Axes, cost: np.ndarray) -> bool:
    """A log axis when costs span ten times or more, else linear; True when it is log."""
    positive = cost[cost > 0]
    if positive.size and positive.max() >= 10 * positive.min():
        ax.set_xscale("log")

        def minor(value: float, _: int) -> str:
            leading = round(value / 10 ** math.floor(math.log10(value)))
            return _compact(value) if leading in (2, 5) else ""

        ax.xaxis.set_minor_formatter(FuncFormatter(minor))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: _compact(value)))
    return ax.get_xscale() == "log"


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
    images: np.ndarray, true: np.ndarray, predicted: np.ndarray, confidence: np.ndarray
) -> Figure:
    """Misclassified images, ten to a row, each titled with prediction, confidence and truth."""
    fig, axes = _grid(len(images), min(10, len(images)), 1.25, 1.55)
    for ax, image, label, guess, probability in zip(
        axes, images, true, predicted, confidence, strict=True
    ):
        ax.imshow(image, cmap="gray_r", interpolation="nearest")
        ax.set_title(f"pred {guess} ({probability:.2f})\ntrue {label}", fontsize=8, color="crimson")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout(pad=0.4)
    return fig
