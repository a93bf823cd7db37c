"""Figures of tuning: a study's history and Pareto front (the report's), and Optuna's own."""

from __future__ import annotations

import logging
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import optuna
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator
from optuna.trial import FrozenTrial, TrialState

from benchmark.figures.common import compact, to_png

log = logging.getLogger(__name__)

AXIS_LABELS = {  # how each objective is named on the figure's axes
    "accuracy": "validation accuracy",
    "latency": "latency, ms per image (p50, batch 1)",
    "flops": "FLOPs per image",
    "params": "parameters",
}


def optuna_pngs(
    study: optuna.Study,
    target_names: list[str],
    accuracy: Callable[[FrozenTrial], float],
    evaluator: optuna.importance.BaseImportanceEvaluator | None,
) -> dict[str, bytes]:
    """Optuna's figures (matplotlib) by artifact name: optimisation history (of accuracy), the
    importances for accuracy (drawn when `evaluator` is given) and a multi-objective study's
    Pareto front; `target_names` names the study's objectives in order."""
    from optuna.visualization import matplotlib as optuna_plots

    made: dict[str, Figure] = {}
    if not any(trial.state == TrialState.COMPLETE for trial in study.trials):
        log.info("tune: no complete trial yet; no figures")
        return {}
    # A multi-objective study's history and importances are drawn for accuracy.
    many = len(target_names) > 1
    target = {"target": accuracy, "target_name": "val accuracy"} if many else {}
    made["optimization_history.png"] = optuna_plots.plot_optimization_history(
        study, **target
    ).figure
    if evaluator is not None:
        made["param_importances.png"] = optuna_plots.plot_param_importances(
            study, evaluator=evaluator, **target
        ).figure
    if many and len(target_names) <= 3:  # Optuna draws fronts of 2 or 3 values
        front = optuna_plots.plot_pareto_front(study, target_names=target_names)
        made["pareto_front.png"] = front.figure
    for fig in made.values():
        fig.set_size_inches(9, 5)
        fig.tight_layout()
    return {name: to_png(fig, tight=False) for name, fig in made.items()}


def _values(trials: pd.DataFrame, objectives: tuple[str, ...], name: str) -> pd.Series:
    """One objective's column of Optuna's trials table: `value`, or `values_<i>`."""
    column = "value" if len(objectives) == 1 else f"values_{objectives.index(name)}"
    return trials[column].astype(float)


def history_figure(
    trials: pd.DataFrame, objectives: tuple[str, ...], pareto: pd.DataFrame | None
) -> Figure:
    """Accuracy per complete trial with the best so far; beside it, accuracy against cost."""
    complete = trials[trials["state"] == "COMPLETE"].sort_values("number")
    panels = 2 if pareto is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(7.5 * panels, 4.5), squeeze=False)
    ax = axes[0][0]
    accuracy = _values(complete, objectives, "accuracy")
    ax.plot(complete["number"], accuracy, "o", color="#1f77b4", label="complete trial")
    ax.step(
        complete["number"], np.maximum.accumulate(accuracy.to_numpy()), where="post",
        color="crimson", label="best so far",
    )  # fmt: skip
    ax.set_xlabel("trial")
    ax.set_ylabel(AXIS_LABELS["accuracy"])
    ax.set_title("Optimisation history")
    ax.grid(alpha=0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="best", fontsize=9)
    if pareto is not None:
        cost = next(name for name in objectives if name != "accuracy")
        ax = axes[0][1]
        ax.scatter(_values(complete, objectives, cost), accuracy, color="#999999", label="trial")
        front = pareto.sort_values(cost)
        ax.step(front[cost], front["accuracy"], where="post", color="crimson", alpha=0.7)
        ax.scatter(front[cost], front["accuracy"], color="crimson", label="Pareto front", zorder=3)
        for row in front.itertuples():
            ax.annotate(f"#{row.trial}", (getattr(row, cost), row.accuracy), xytext=(4, 4),
                        textcoords="offset points", fontsize=8)  # fmt: skip
        ax.set_xlabel(AXIS_LABELS[cost])
        ax.set_ylabel(AXIS_LABELS["accuracy"])
        ax.set_title(f"Accuracy against {cost}")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: compact(value)))
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=9)
    fig.tight_layout()
    return fig
