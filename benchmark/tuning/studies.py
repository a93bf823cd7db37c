"""Optuna studies on disk or in a database: open, check, summarise, and read the best trial."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from architectures.registry import Architecture
from benchmark.data.splits import Splits
from benchmark.errors import BenchmarkError
from benchmark.redaction import redact_url
from benchmark.settings import default_study_name as default_study_name  # used as studies.*
from benchmark.training import budget
from benchmark.tuning import failures
from benchmark.tuning import objectives as tuning_objectives
from benchmark.tuning.storage import open_storage as open_storage  # used as studies.*
from benchmark.tuning.storage import sqlite_file as sqlite_file  # used as studies.*

log = logging.getLogger(__name__)

warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def open_study(
    name: str,
    storage: optuna.storages.RDBStorage,
    arch: Architecture,
    splits: Splits,
    epochs: int | None,
    objectives: list[str] | None = None,
) -> optuna.Study:
    """Create the study or load it, refusing one made for other data, architecture or objectives.

    A new study gets the architecture's defaults as its first trial, so the search is judged
    against them under the same budget.
    """
    objectives = objectives or ["accuracy"]
    # The passes a trial trains at most: --epochs, or the default budget over this data.
    max_epochs = epochs or budget.scaled_epochs(arch.defaults["epochs"], len(splits.x_train))
    wanted = {
        "arch": arch.name,
        "dataset": splits.dataset,
        "dataset_digest": splits.digest,
        "train_size": len(splits.x_train),
        "max_epochs": max_epochs,
    }
    try:  # exactly one of several workers starting together creates the study
        study = optuna.create_study(
            study_name=name, storage=storage, directions=tuning_objectives.directions(objectives)
        )
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=storage)
    else:
        for key, value in {**wanted, "objectives": objectives}.items():
            study.set_user_attr(key, value)
        defaults = {key: arch.defaults[key] for key in _searched_keys(arch)}
        study.enqueue_trial(defaults, user_attrs={"defaults": True})
        return study
    found = study.user_attrs  # empty while its creator is still writing them
    if found.get("arch", arch.name) != arch.name:
        raise BenchmarkError(
            f"study {name!r} belongs to architecture {found['arch']!r}, not {arch.name!r}; "
            "pass another --study-name"
        )
    found_objectives = study_objectives(study)
    if found_objectives != objectives:
        raise BenchmarkError(
            f"study {name!r} optimises {','.join(found_objectives)}, not {','.join(objectives)}; "
            f"pass --objective {','.join(found_objectives)} to resume it, or another --study-name"
        )
    clashes = [
        f"{key} {found[key]} (asked: {value})"
        for key, value in wanted.items()
        if key in found and found[key] != value
    ]
    if clashes:
        raise BenchmarkError(
            f"study {name!r} was made with {', '.join(clashes)}; pass the same --subset and "
            "--epochs or another --study-name"
        )
    _check_same_space(study, arch)
    return study


def study_objectives(study: optuna.Study) -> list[str]:
    """The objectives a study optimises: its user attribute; accuracy for older studies."""
    if len(study.directions) == 1:  # studies made before --objective stored none
        return list(study.user_attrs.get("objectives", ["accuracy"]))
    if "objectives" not in study.user_attrs:  # tune records them on every study it makes
        raise BenchmarkError(
            f"study {study.study_name!r} has {len(study.directions)} objectives but was not made "
            "by tune (it records their names); pass another --study-name"
        )
    return list(study.user_attrs["objectives"])


def accuracy_of(study: optuna.Study, trial: FrozenTrial) -> float:
    """A complete trial's best validation accuracy, whichever objectives the study has."""
    return float(trial.values[study_objectives(study).index("accuracy")])


def _check_same_space(study: optuna.Study, arch: Architecture) -> None:
    """Refuse a study whose trials searched another space (a choice list changed since)."""
    space = _recorder(arch).distributions
    for trial in study.get_trials(deepcopy=False):
        for key, old in trial.distributions.items():
            if key not in space:
                continue
            try:
                optuna.distributions.check_distribution_compatibility(old, space[key])
            except ValueError:
                raise BenchmarkError(
                    f"study {study.study_name!r} searched another space for {key} "
                    f"({_shown(old)}; now {_shown(space[key])}); pass another --study-name"
                ) from None


def _shown(distribution: optuna.distributions.BaseDistribution) -> str:
    choices = getattr(distribution, "choices", None)
    return ", ".join(map(str, choices)) if choices is not None else repr(distribution)


def _recorder(arch: Architecture) -> optuna.trial.FixedTrial:
    """A trial that takes the defaults and records what the search space suggests."""
    recorder = optuna.trial.FixedTrial(
        {key: value for key, value in arch.defaults.items()}, number=0
    )
    arch.search_space(recorder)
    return recorder


def _searched_keys(arch: Architecture) -> list[str]:
    """The hyperparameters the architecture's search space actually suggests."""
    return list(_recorder(arch).params)


def refuse_surplus(trial: optuna.Trial, target: int) -> None:
    """Fail a trial that would take the study past `target` finished trials.

    Workers check the count before asking for a trial; two asking at the same moment can
    both pass, and the one with the higher number gives way here.
    """
    study = trial.study
    finished = len(
        study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    )
    ahead = [
        other
        for other in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if other.number < trial.number
    ]
    if finished + len(ahead) >= target:
        reason = f"surplus: the study already had {target} finished or running trials"
        raise RuntimeError(failures.record(trial, failures.Failure.SURPLUS, reason))


def fail_stale(study: optuna.Study) -> None:
    """Fail (and so re-queue) running trials whose worker stopped sending heartbeats."""
    optuna.storages.fail_stale_trials(study)


def counts(study: optuna.Study, trials: list[FrozenTrial] | None = None) -> dict[str, int]:
    """Trials per state, lower-case state names; `trials` saves reading them again."""
    found = {state.name.lower(): 0 for state in TrialState}
    for trial in study.get_trials(deepcopy=False) if trials is None else trials:
        found[trial.state.name.lower()] += 1
    return found


def summarize(study: optuna.Study) -> dict[str, Any]:
    """Counts, best trial, the trials table and epochs trained, for logging and printing."""
    trials = study.get_trials(deepcopy=False)  # one read serves counts, best and epochs
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best = max(complete, key=lambda t: accuracy_of(study, t)) if complete else None
    return {
        "study": study,
        "objectives": study_objectives(study),
        "counts": counts(study, trials),
        "best_value": accuracy_of(study, best) if best else None,
        "best_params": dict(best.params) if best else {},
        "best_number": best.number if best else None,
        "epochs_trained": sum(int(t.user_attrs.get("epochs_trained", 0)) for t in trials),
        "trials": study.trials_dataframe() if trials else pd.DataFrame(),
    }


def best_params(storage_url: str, study_name: str, arch: str) -> tuple[dict[str, Any], int, float]:
    """The complete trial of best accuracy: its sampled params, number and accuracy."""
    study = _existing_study(storage_url, study_name, arch)
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    if not complete:
        raise BenchmarkError(f"study {study_name!r} has no complete trial yet; run tune first")
    best = max(complete, key=lambda t: accuracy_of(study, t))
    return dict(best.params), best.number, accuracy_of(study, best)


def _existing_study(storage_url: str, study_name: str, arch: str) -> optuna.Study:
    """A study that exists and belongs to `arch`, without creating any file; else an error."""
    database = sqlite_file(storage_url)
    if database is not None and not database.exists():
        raise BenchmarkError(
            f"no study storage at {database}; run 'python -m benchmark tune --arch {arch}' "
            "here first or pass --storage"
        )
    storage = open_storage(storage_url)
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        raise BenchmarkError(
            f"no study {study_name!r} in {redact_url(storage_url)}; run "
            f"'python -m benchmark tune --arch {arch}' first or pass --study-name/--storage"
        ) from None
    owner = study.user_attrs.get("arch", arch)
    if owner != arch:
        raise BenchmarkError(f"study {study_name!r} belongs to {owner!r}, not {arch!r}")
    return study


def trial_params(
    storage_url: str, study_name: str, arch: str, number: int
) -> tuple[dict[str, Any], float]:
    """Complete trial `number`'s sampled params and accuracy; errors if it is not complete."""
    study = _existing_study(storage_url, study_name, arch)
    complete = {t.number: t for t in study.trials if t.state == TrialState.COMPLETE}
    if number not in complete:
        numbers = ", ".join(map(str, sorted(complete))) or "none yet"
        raise BenchmarkError(
            f"study {study_name!r} has no complete trial {number} (complete trials: {numbers})"
        )
    return dict(complete[number].params), accuracy_of(study, complete[number])
