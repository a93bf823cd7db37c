"""Tuning: one parent run per `tune` invocation, one nested run per Optuna trial."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from benchmark.tracking.artifacts import log_png
from benchmark.tracking.processes import process_tags
from benchmark.tracking.reading import artifact_text
from benchmark.tracking.runs import parent_run

RUN_KIND_TUNING = "tuning"
RUN_KIND_TRIAL = "trial"


@contextlib.contextmanager
def tuning_run(
    experiment_id: str, study_name: str, storage: str, arch: str, settings: dict[str, Any]
) -> Iterator[str]:
    """The parent run of one `tune` invocation, tagged with study and (password-free) storage."""
    tags = {"run_kind": RUN_KIND_TUNING, "arch": arch, "study_name": study_name, "storage": storage}
    with parent_run(experiment_id, f"tune-{study_name}", tags, settings) as run_id:
        yield run_id


@contextlib.contextmanager
def trial_run(
    experiment_id: str,
    parent_run_id: str,
    study_name: str,
    trial_number: int,
    arch: str,
) -> Iterator[dict[str, str]]:
    """A run nested under the invocation's parent for one trial; works in worker processes.

    Yields a dict whose "status" the caller may set to FAILED; an exception escaping the
    block (Ctrl-C included) also ends the run as FAILED.
    """
    tags = {
        "run_kind": RUN_KIND_TRIAL,
        "arch": arch,
        "study_name": study_name,
        "trial_number": str(trial_number),
        **process_tags(),
    }
    active = mlflow.active_run()
    mlflow.start_run(
        experiment_id=experiment_id,
        run_name=f"{study_name}-trial-{trial_number}",
        nested=active is not None,
        parent_run_id=parent_run_id,
        tags=tags,
    )
    outcome = {"status": "FINISHED"}
    try:
        mlflow.log_params({"arch": arch, "trial_number": trial_number})
        yield outcome
    except BaseException:
        outcome["status"] = "FAILED"
        raise
    finally:
        mlflow.end_run(status=outcome["status"])


def log_trial_params(params: dict[str, Any]) -> None:
    """The hyperparameters a trial trains with, on the active trial run."""
    mlflow.log_params(params)


def end_trial_run(state: str, metrics: dict[str, float], reason: str = "") -> None:
    """Record a trial's outcome (complete, pruned or failed) on the active trial run."""
    mlflow.log_metrics({key: value for key, value in metrics.items() if np.isfinite(value)})
    mlflow.set_tag("trial_state", state)
    if reason:
        mlflow.set_tag("fail_reason", reason[:5000])


def log_study_summary(
    best_value: float | None,
    best_params: dict[str, Any],
    trials: pd.DataFrame,
    figures: dict[str, bytes],
    counts: dict[str, int],
) -> None:
    """Best value and params, the trials table and Optuna's figures (PNGs), into the active run."""
    if best_value is not None:
        mlflow.log_metric("best_val_accuracy", best_value)
        mlflow.log_params({f"best_{key}": value for key, value in best_params.items()})
    mlflow.log_metrics({f"trials_{state}": count for state, count in counts.items()})
    mlflow.log_text(trials.to_csv(index=False), "trials.csv")
    for artifact, png in figures.items():
        log_png(png, artifact)


def log_study_insight(
    importances: dict[str, float], pareto_trials: list[int], pareto_csv: str | None
) -> None:
    """The importances as metrics, and a multi-objective study's Pareto front, on the active run."""
    if importances:
        mlflow.log_metrics(importances)
    if pareto_csv is not None:
        mlflow.log_metric("pareto_trials", len(pareto_trials))
        mlflow.set_tag("pareto_trials", ",".join(map(str, pareto_trials)))
        mlflow.log_text(pareto_csv, "pareto_front.csv")


@dataclass(frozen=True)
class LoggedStudy:
    """What the newest finished `tune` of a study logged: for the report's tuning section."""

    study_name: str
    arch: str
    run_id: str
    objectives: tuple[str, ...]
    importances: dict[str, float]  # the importance.* metrics, prefix dropped
    counts: dict[str, int]  # trials per state: complete, pruned, fail
    trials_csv: str | None
    pareto_csv: str | None


def logged_studies(experiment_id: str) -> list[LoggedStudy]:
    """The newest finished tuning run of each study in the experiment, by study name."""
    runs = mlflow.search_runs(
        [experiment_id],
        filter_string=f"tags.run_kind = '{RUN_KIND_TUNING}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        output_format="list",
    )
    newest: dict[str, Any] = {}
    for run in runs:
        newest.setdefault(run.data.tags.get("study_name", ""), run)
    found = []
    for name, run in sorted(newest.items()):
        metrics = run.data.metrics
        found.append(
            LoggedStudy(
                study_name=name,
                arch=run.data.tags.get("arch", ""),
                run_id=run.info.run_id,
                objectives=tuple(run.data.params.get("objectives", "accuracy").split(",")),
                importances={
                    key.removeprefix("importance."): value
                    for key, value in metrics.items()
                    if key.startswith("importance.")
                },
                counts={
                    key.removeprefix("trials_"): int(value)
                    for key, value in metrics.items()
                    if key.startswith("trials_")
                },
                trials_csv=artifact_text(run.info.run_id, "trials.csv"),
                pareto_csv=artifact_text(run.info.run_id, "pareto_front.csv")
                if "pareto_trials" in metrics
                else None,
            )
        )
    return found
