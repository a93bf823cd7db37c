"""What a finished study says: which hyperparameters mattered, and its Pareto front."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState
from rich.table import Table

from benchmark import tracking
from benchmark.errors import first_line
from benchmark.figures.tuning import optuna_pngs
from benchmark.redaction import redact_url
from benchmark.settings import DEFAULT_STORAGE
from benchmark.tuning import objectives as tuning_objectives
from benchmark.tuning.studies import accuracy_of, study_objectives, summarize

log = logging.getLogger(__name__)

# fANOVA fits a random forest: a fixed seed makes the same trials give the same importances.
IMPORTANCE_SEED = 0
MIN_TRIALS = 2  # complete trials fANOVA needs to compare anything


@dataclass(frozen=True)
class Importances:
    """Each objective's importance per hyperparameter (shares of its variance, summing to 1)."""

    values: dict[str, dict[str, float]]  # objective -> parameter -> importance
    trials: int  # the complete trials they were computed from

    def metrics(self) -> dict[str, float]:
        """As MLflow metrics: importance.<param> for accuracy, importance.<cost>.<param> else."""
        return {
            f"importance.{param}"
            if objective == "accuracy"
            else f"importance.{objective}.{param}": (value)
            for objective, shares in self.values.items()
            for param, value in shares.items()
        }


@dataclass(frozen=True)
class ParetoTrial:
    """A Pareto trial: no other is at least as good on every objective and better on one."""

    number: int
    values: dict[str, float]  # objective -> value
    params: dict[str, Any]


def conclude(study: optuna.Study) -> dict[str, Any]:
    """Summarise a study, with importances and Pareto front, and log it all to the active run."""
    summary = summarize(study)
    summary["importances"] = found = importances(study)
    summary["pareto"] = front = pareto_front(study)
    tracking.log_study_summary(
        summary["best_value"],
        summary["best_params"],
        summary["trials"],
        figures(study, isinstance(found, Importances)),
        summary["counts"],
    )
    tracking.log_study_insight(
        found.metrics() if isinstance(found, Importances) else {},
        [trial.number for trial in front],
        pareto_csv(front) if front else None,
    )
    return summary


def evaluator() -> optuna.importance.FanovaImportanceEvaluator:
    """The evaluator of every importance tune prints, logs and draws: fANOVA, seeded."""
    return optuna.importance.FanovaImportanceEvaluator(seed=IMPORTANCE_SEED)


def importances(study: optuna.Study) -> Importances | str:
    """The importances for each objective, or the one-line reason they are skipped."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < MIN_TRIALS:
        return (
            f"parameter importances skipped: study {study.study_name} has {len(complete)} "
            f"complete trial(s) and fANOVA needs at least {MIN_TRIALS} (pruned and failed "
            "trials have no final value)"
        )
    names = study_objectives(study)
    values: dict[str, dict[str, float]] = {}
    for index, name in enumerate(names):
        target = None if len(names) == 1 else (lambda trial, i=index: trial.values[i])
        try:
            found = optuna.importance.get_param_importances(
                study, evaluator=evaluator(), target=target
            )
        except (RuntimeError, ValueError, ZeroDivisionError) as error:
            return f"parameter importances skipped: {first_line(error)}"
        values[name] = {param: float(value) for param, value in found.items()}
    return Importances(values, len(complete))


def pareto_front(study: optuna.Study) -> list[ParetoTrial]:
    """The Pareto-optimal complete trials of a multi-objective study, most accurate first."""
    names = study_objectives(study)
    if len(names) < 2:
        return []
    front = sorted(study.best_trials, key=lambda trial: -accuracy_of(study, trial))
    return [
        ParetoTrial(trial.number, dict(zip(names, trial.values, strict=True)), dict(trial.params))
        for trial in front
    ]


def importance_heading(study_name: str, found: Importances) -> str:
    """The line above the importance table: the study, the evaluator and the trials."""
    return (
        f"What mattered in study {study_name}: fANOVA importance (seed {IMPORTANCE_SEED}) over "
        f"{found.trials} complete trials; each column sums to 1"
    )


def importance_table(found: Importances) -> Table:
    """The importances as a Rich table, most important (for accuracy) first."""
    names = list(found.values)
    table = Table()
    table.add_column("hyperparameter")
    for name in names:
        table.add_column(f"for {tuning_objectives.LABELS[name]}", justify="right")
    first = found.values[names[0]]
    for param in sorted(first, key=lambda key: -first[key]):
        table.add_row(param, *(f"{found.values[name].get(param, 0.0):.3f}" for name in names))
    return table


def pareto_table(
    study_name: str, front: list[ParetoTrial], arch: str, storage: str, complete: int
) -> Table:
    """The Pareto front as a Rich table, with the command that trains one of its trials."""
    names = list(front[0].values)
    where = "" if storage == DEFAULT_STORAGE else f" --storage {redact_url(storage)}"
    table = Table(
        title=f"Pareto front of study {study_name}: {len(front)} of {complete} complete trials",
        title_justify="left",
        caption=f"train one as a variant: python -m benchmark run --arch {arch} --study-name "
        f"{study_name}{where} --params trial:N",
        caption_justify="left",
    )
    table.add_column("trial", justify="right")
    for name in names:
        table.add_column(tuning_objectives.LABELS[name], justify="right")
    table.add_column("hyperparameters")
    for trial in front:
        values = (tuning_objectives.shown(name, trial.values[name]) for name in names)
        params = ", ".join(f"{key}={_short(value)}" for key, value in trial.params.items())
        table.add_row(str(trial.number), *values, params)
    return table


def pareto_csv(front: list[ParetoTrial]) -> str:
    """The front as CSV: trial, each objective, each hyperparameter."""
    import pandas as pd

    rows = [{"trial": t.number, **t.values, **t.params} for t in front]
    return pd.DataFrame(rows).to_csv(index=False)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def figures(study: optuna.Study, importances: bool = True) -> dict[str, bytes]:
    """Optuna's figures as PNGs by artifact name, drawn by benchmark.figures (see optuna_pngs)."""
    names = [tuning_objectives.LABELS[name] for name in study_objectives(study)]
    evaluated = evaluator() if importances else None
    return optuna_pngs(study, names, lambda trial: accuracy_of(study, trial), evaluated)
