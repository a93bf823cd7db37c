"""The report's tuning section: each study's importances, optimisation history, Pareto front."""

from __future__ import annotations

import io

import pandas as pd

from benchmark import tracking
from benchmark.figures.common import to_png
from benchmark.figures.tuning import AXIS_LABELS, history_figure
from benchmark.report.page import Figure, Section, StudyView


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
            to_png(history_figure(trials, study.objectives, pareto)),
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
        importance_columns=[AXIS_LABELS[name] for name in columns],
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
