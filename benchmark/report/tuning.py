"""The report's tuning section: each study's importances, optimisation history, Pareto front."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure as PlotFigure  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from benchmark import tracking  # noqa: E402
from benchmark.report import figures  # noqa: E402
from benchmark.report.page import Figure, Section, StudyView  # noqa: E402
from benchmark.report.pareto import _compact  # noqa: E402

LABELS = {  # how each objective is named on the figure's axes
    "accuracy": "validation accuracy",
    "latency": "latency, ms per image (p50, batch 1)",
    "flops": "FLOPs per image",
    "params": "parameters",
}


def tuning_section(experiment_id: str) -> Section:
    """One view per study tuned into the experiment, from its newest finished `tune` run."""
    logged = tracking.logged_studies(experiment_id)
    if not logged:
        return Section("tuning", note="no finished tune run in this experiment")
    return Section("tuning", studies=tuple(_view(study) for study in logged))


def _view(study: tracking.LoggedStudy) -> StudyView:
    """A study's importance table, and its history (and Pareto front) as one figure."""
    counts = ", ".join(f"{count} {state}" for state, count in study.counts.items() if count)
    columns = [name for name in study.objectives if _shares(study, name)]
    rows: list[tuple[str, list[str]]] = []
    if columns:
        first = _shares(study, columns[0])
        for param in sorted(first, key=lambda key: -first[key]):
            rows.append(
                (param, [f"{_shares(study, name).get(param, 0.0):.3f}" for name in columns])
            )
    trials = pd.read_csv(io.StringIO(study.trials_csv)) if study.trials_csv else pd.DataFrame()
    figure = None
    if not trials.empty and "state" in trials:
        pareto = pd.read_csv(io.StringIO(study.pareto_csv)) if study.pareto_csv else None
        figure = Figure(
            figures.to_png(history_figure(trials, study.objectives, pareto)),
            f"optimisation history of study {study.study_name}",
            "Each complete trial's best validation accuracy in trial order; the line is the best "
            "so far."
            + (
                " Right: the trials' accuracy against their cost, the Pareto front in red."
                if pareto is not None
                else ""
            ),
        )
    return StudyView(
        name=study.study_name,
        arch=study.arch,
        run_id=study.run_id,
        objectives=", ".join(study.objectives),
        counts=counts,
        importance_columns=[LABELS[name] for name in columns],
        importance_rows=rows,
        figure=figure,
    )


def _shares(study: tracking.LoggedStudy, objective: str) -> dict[str, float]:
    """One objective's importances: importance.<param> is accuracy's, importance.<cost>.<param>."""
    if objective == "accuracy":
        return {key: value for key, value in study.importances.items() if "." not in key}
    prefix = f"{objective}."
    return {
        key.removeprefix(prefix): value
        for key, value in study.importances.items()
        if key.startswith(prefix)
    }


def _values(trials: pd.DataFrame, objectives: tuple[str, ...], name: str) -> pd.Series:
    """One objective's column of Optuna's trials table: `value`, or `values_<i>`."""
    column = "value" if len(objectives) == 1 else f"values_{objectives.index(name)}"
    return trials[column].astype(float)


def history_figure(
    trials: pd.DataFrame, objectives: tuple[str, ...], pareto: pd.DataFrame | None
) -> PlotFigure:
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
    ax.set_ylabel(LABELS["accuracy"])
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
        ax.set_xlabel(LABELS[cost])
        ax.set_ylabel(LABELS["accuracy"])
        ax.set_title(f"Accuracy against {cost}")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: _compact(value)))
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=9)
    fig.tight_layout()
    return fig
