"""The report's Pareto view: accuracy against size, training time and FLOPs, fronts marked."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from benchmark.figures.common import colors_for, compact


def pareto_front(cost: np.ndarray, accuracy: np.ndarray) -> np.ndarray:
    """A mask of the points no other point beats on both lower cost and higher accuracy."""
    front = np.ones(len(cost), dtype=bool)
    for i in range(len(cost)):
        beaten = (cost <= cost[i]) & (accuracy >= accuracy[i])
        strictly = (cost < cost[i]) | (accuracy > accuracy[i])
        front[i] = not np.any(beaten & strictly)
    return front


# The figure's panels: cost column of report.data.summary, x-axis label, title.
PANELS = (
    ("params", "trainable parameters", "Accuracy against size"),
    ("train_seconds", "training seconds, mean over seeds", "Accuracy against training time"),
    (
        "train_flops",
        "training FLOPs (3 x forward x images seen), mean over seeds",
        "Accuracy against training FLOPs",
    ),
)


def pareto_figure(summary: pd.DataFrame) -> Figure:
    """Mean test accuracy (±std) against params, train_seconds and train_flops, fronts marked.

    A panel shows the rows that have its cost; rows logged without FLOPs are left out of that
    one only.
    """
    fig, axes = plt.subplots(1, len(PANELS), figsize=(19, 5.5))
    colors = dict(zip(summary["label"], colors_for(len(summary)), strict=True))
    shown = []
    for ax, (column, xlabel, title) in zip(axes, PANELS, strict=True):
        rows = summary[np.isfinite(summary[column].to_numpy(dtype=float))]
        shown.append(rows)
        ax.set_title(title)
        if rows.empty:
            ax.text(0.5, 0.5, "no run logged it", ha="center", transform=ax.transAxes)
            continue
        _panel(ax, rows, column, xlabel, colors)
    fig.tight_layout()
    for ax, rows, (column, _, _) in zip(axes, shown, PANELS, strict=True):
        if not rows.empty:
            _label_points(ax, rows[column], rows["test_accuracy_mean"], rows["label"], colors)
    return fig


def _panel(ax: plt.Axes, rows: pd.DataFrame, column: str, xlabel: str, colors: dict) -> None:
    """One cost axis: every row's point with its std bar, the Pareto front as red steps."""
    accuracy = rows["test_accuracy_mean"].to_numpy(dtype=float)
    cost = rows[column].to_numpy(dtype=float)
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
    for row, on_front in zip(rows.itertuples(), front, strict=True):
        error = 0.0 if math.isnan(row.test_accuracy_std) else row.test_accuracy_std
        ax.errorbar(
            getattr(row, column),
            row.test_accuracy_mean,
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


def _cost_axis(ax: plt.Axes, cost: np.ndarray) -> bool:
    """A log axis when costs span ten times or more, else linear; True when it is log."""
    positive = cost[cost > 0]
    if positive.size and positive.max() >= 10 * positive.min():
        ax.set_xscale("log")

        def minor(value: float, _: int) -> str:
            leading = round(value / 10 ** math.floor(math.log10(value)))
            return compact(value) if leading in (2, 5) else ""

        ax.xaxis.set_minor_formatter(FuncFormatter(minor))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: compact(value)))
    return ax.get_xscale() == "log"
