"""Train a set of architectures on the same splits, tracked, skipping finished work."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException

import architectures
from benchmark import parallel, tracking
from benchmark.data.sources import Request
from benchmark.data.splits import Splits, load_splits
from benchmark.errors import BenchmarkError, first_line
from benchmark.redaction import redact_url
from benchmark.results import champion, leaderboard, runs
from benchmark.results import significance as comparison
from benchmark.settings import SPLIT_SEED, TARGET_ACCURACY, RunSettings
from benchmark.settings.data import data_request, dataset_name
from benchmark.training import costs, precision
from benchmark.training.progress import EpochProgress, duration
from benchmark.training.runner import train_and_evaluate

log = logging.getLogger(__name__)

Job = tuple[int, str, int, str]  # index from 1, architecture, seed, log label


def run_suite(settings: RunSettings) -> pd.DataFrame:
    """Train every requested architecture and seed not yet finished; return the board."""
    try:
        return _run_suite(settings)
    except MlflowException as error:  # a store that failed outside a finished training
        raise BenchmarkError(store_failed(settings, error)) from None


def store_failed(settings: RunSettings, error: Exception) -> str:
    """What to tell the user when the tracking store failed outside a finished training."""
    return (
        f"tracking store {tracking.resolve_tracking_uri(settings.tracking_uri)} failed "
        f"({first_line(error)}); runs it left RUNNING are closed by the next 'run'"
    )


def load_run_splits(settings: RunSettings) -> Splits:
    """The train, validation and test splits the settings ask for, the same in every process."""
    return load_splits(
        settings.validation_fraction,
        SPLIT_SEED,
        settings.subset,
        request=Request(**data_request(settings)),
    )


def _run_suite(settings: RunSettings) -> pd.DataFrame:
    """run_suite without turning store failures into one line."""
    dtype = precision.resolve(settings.precision)  # float32 or bfloat16 on this machine
    tuned = _tuned_params(settings)
    # The data and the architectures that fit it first: bad data leaves nothing in MLflow.
    splits = load_run_splits(settings)
    log.info(
        f"data: {splits.dataset} {splits.digest}  "
        + "x".join(map(str, splits.input_shape))
        + f", {splits.num_classes} classes  "
        + "  ".join(f"{key} {value:,}" for key, value in splits.sizes.items())
    )
    archs, skipped = fitting_architectures(settings, splits, tuned)
    uri = tracking.resolve_tracking_uri(settings.tracking_uri)
    tracking.check_writable(settings.output_dir, "--output-dir")
    experiment_id = tracking.connect(uri, settings.experiment)
    for name in tracking.sync_pending(experiment_id):
        log.info(f"logged the kept results of {name}, trained by an earlier invocation")
    for name in tracking.close_orphaned_runs(experiment_id):
        log.warning(f"marked run {name} as KILLED: its process ended without closing it")

    started = time.perf_counter()
    # Seed by seed: an interrupted invocation still leaves every architecture's first seeds.
    pairs = [(seed, name) for seed in settings.seeds for name in archs]
    workers = min(settings.jobs, len(pairs))
    if workers > 1:  # the largest trainings first, seed by seed
        work = {name: training_work(name, settings, splits, tuned) for name in archs}
        pairs.sort(key=lambda pair: (settings.seeds.index(pair[0]), -work[pair[1]]))
    jobs = [
        (index, name, seed, f"[{name}{seed_label(seed, settings)} {index}/{len(pairs)}]")
        for index, (seed, name) in enumerate(pairs, start=1)
    ]
    logged = settings.logged_params()
    if skipped:
        logged["skipped_architectures"] = json.dumps(skipped)
    with tracking.comparison_run(experiment_id, "comparison", logged) as comparison_id:
        tracking.check_artifacts_writable()  # before any training, not after it
        if workers > 1:
            members = parallel.train_in_workers(
                settings, workers, jobs, experiment_id, comparison_id, dtype, tuned
            )
        else:
            done = dict(train_jobs(jobs, settings, splits, experiment_id, dtype, tuned))
            members = [done[index] for index, *_ in jobs]
        per_run = runs.read_runs(experiment_id, members)
        board = leaderboard.from_runs(per_run, settings.ensemble_k)
        tracking.log_comparison(
            board.to_csv(index=False),
            leaderboard.to_markdown(board),
            runs.mean_per_epoch(runs.validation_curves(per_run)),
            settings.output_dir,
            comparison.ensemble_metrics(board),
        )
    log.info(champion.crown(experiment_id, splits.dataset))
    for name, reason in skipped.items():
        log.warning(f"[{name}] skipped: {reason}")
    board.attrs["skipped"] = skipped
    log.info(
        f"done in {duration(time.perf_counter() - started)}; leaderboard written to "
        f"{settings.output_dir / 'leaderboard.csv'} and leaderboard.md"
    )
    return board


def fitting_architectures(
    settings: RunSettings, splits: Splits, tuned: dict[str, Any]
) -> tuple[list[str], dict[str, str]]:
    """The architectures that can be built for the data, and why each other one cannot."""
    fit, skipped = [], {}
    for name in settings.archs:
        arch = architectures.get(name)
        params = _params(name, settings, tuned)
        reason = arch.unfit_reason(params, splits.input_shape, splits.num_classes)
        if reason is None:
            fit.append(name)
        else:
            skipped[name] = reason
            log.warning(f"[{name}] skipped: {reason}")
    if not fit:
        size = "x".join(map(str, splits.input_shape))
        raise BenchmarkError(
            f"the {splits.dataset} images ({size}) are too small for every architecture asked "
            f"for ({', '.join(settings.archs)}); pass a larger --image-size or try --arch mlp"
        )
    return fit, skipped


def training_work(name: str, settings: RunSettings, splits: Splits, tuned: dict[str, Any]) -> float:
    """An estimate of an architecture's training work: MACs per image x its most epochs.

    `run --jobs` hands the largest first to its workers, so that none waits long at the end
    for another one's last, large training (longest-processing-time-first scheduling).
    """
    params = _params(name, settings, tuned)
    model = architectures.get(name).build(params, splits.input_shape, splits.num_classes)
    return float(costs.count_macs(model) * params["epochs"])


def _params(name: str, settings: RunSettings, tuned: dict[str, Any]) -> dict[str, Any]:
    """An architecture's hyperparameters: its params source, then the command line's."""
    best = tuned.get(name, ({}, {}))[0]
    return architectures.get(name).params({**best, **settings.overrides()})


def seed_label(seed: int, settings: RunSettings) -> str:
    """' seed 3' in a job's log label when the invocation trains several seeds, else ''."""
    return f" seed {seed}" if len(settings.seeds) > 1 else ""


def train_jobs(
    jobs: Iterable[Job],
    settings: RunSettings,
    splits: Splits,
    experiment_id: str,
    dtype: str,
    tuned: dict[str, tuple[dict[str, Any], dict[str, str]]],
    parent_run_id: str | None = None,
) -> Iterator[tuple[int, str]]:
    """Train or reuse each job, then those another process held; yield (job index, run id)."""
    deferred = []  # configurations another live process trains: waited for at the end
    for index, name, seed, label in jobs:
        args = (name, seed, label, settings, splits, experiment_id, dtype, tuned.get(name))
        run_id = _run_one(*args, parent_run_id=parent_run_id)
        if run_id:
            yield index, run_id
        else:
            deferred.append((index, args))
    for index, args in deferred:
        run_id = None
        while run_id is None:  # the other process may die: then this one trains it
            run_id = _run_one(*args, wait=True, parent_run_id=parent_run_id)
        yield index, run_id


def _run_one(
    name: str,
    seed: int,
    label: str,
    settings: RunSettings,
    splits: Splits,
    experiment_id: str,
    dtype: str,
    tuned: tuple[dict[str, Any], dict[str, str]] | None = None,
    wait: bool = False,
    parent_run_id: str | None = None,
) -> str | None:
    """Train and track one architecture and seed, or reuse its finished run; return the run id.

    None: another live process trains the same configuration (with `wait`, this waits for it).
    """
    arch = architectures.get(name)
    best, tags = tuned or ({}, {"variant": "default"})
    params = arch.params({**best, **settings.overrides()})
    extra = {
        "early_stopping": settings.uses_early_stopping,
        "validation_fraction": settings.validation_fraction,
        "subset": settings.subset or 0,
        "split_seed": SPLIT_SEED,
        "params_source": settings.params,  # a tuned run is its own row, even at the defaults
    }
    if settings.target_accuracy is not None:  # absent otherwise: older runs keep their hash
        extra["target_accuracy"] = settings.target_accuracy
    config = tracking.config_hash(name, params, seed, splits, **hashed_extra(extra, dtype))
    log.debug(f"{label} configuration {config}: {params}")
    if wait:
        tracking.wait_while_claimed(experiment_id, config, label)
    finished = tracking.find_finished_run(experiment_id, config)
    if finished and not settings.force:
        log.info(
            f"{label} skipped: finished run {finished} has the same configuration "
            "(--force re-runs it)"
        )
        return finished
    claims = tracking.live_claims(experiment_id, config)
    if claims:
        log.info(f"{label} deferred: {tracking.describe(claims[0])} trains the same configuration")
        return None
    until = f", until val_accuracy {settings.target_accuracy}" if settings.target_accuracy else ""
    log.info(
        f"{label} training up to {params['epochs']} epochs{until}, batch {params['batch_size']}, "
        f"early stopping {'on' if settings.uses_early_stopping else 'off'}, {dtype}"
    )
    logged = {**extra, "precision": dtype}
    with tracking.start_training_run(
        experiment_id,
        name,
        params,
        seed,
        splits,
        config,
        logged,
        tags,
        tags["variant"],
        parent_run_id=parent_run_id,
    ) as run:
        rival = tracking.earlier_claim(experiment_id, config, run.run_id)
        if rival is not None:  # started at the same moment as another process's run: give way
            log.info(f"{label} deferred: {tracking.describe(rival)} trains the same configuration")
            tracking.withdraw(run.run_id)
        else:
            epochs = tracking.EpochLogger()
            with tracking.heartbeat(run.run_id):
                result = train_and_evaluate(
                    arch,
                    params,
                    splits,
                    seed=seed,
                    early_stopping=settings.uses_early_stopping,
                    callbacks=[epochs, EpochProgress(label, params["epochs"])],
                    target_accuracy=settings.target_accuracy or TARGET_ACCURACY,
                    dtype=dtype,
                    stop_at_target=settings.target_accuracy is not None,
                )
                tracking.log_result(result, run, epochs.logged_epochs)
    if rival is not None:
        return None
    reached = ""
    if settings.target_accuracy is not None:
        reached = (
            f"; reached val_accuracy {result.target_accuracy} at epoch {result.epochs_to_target}"
            if result.epochs_to_target
            else f"; never reached val_accuracy {result.target_accuracy}"
        )
    log.info(
        f"{label} test accuracy {result.test_metrics['test_accuracy']:.4f} after "
        f"{result.epochs_run} epochs in {duration(result.train_seconds)}{reached}"
    )
    return run.run_id


def hashed_extra(extra: dict[str, Any], dtype: str) -> dict[str, Any]:
    """The run settings that enter the configuration hash besides params, seed and data.

    The precision enters only when it is bfloat16, so float32 runs keep the hashes they had
    before --precision existed and their finished runs are still found and skipped.
    """
    return {**extra, "precision": dtype} if dtype != "float32" else dict(extra)


def _tuned_params(settings: RunSettings) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
    """Each architecture's params source other than its defaults, and the tags naming it.

    With --params best, the best trial of its Optuna study; with a preset name, that preset.
    """
    if settings.params in architectures.PRESETS:
        return {
            name: (architectures.get(name).presets[settings.params], {"variant": settings.params})
            for name in settings.archs
        }
    if settings.params != "best":
        return {}
    from benchmark.tuning import studies

    found = {}
    for name in settings.archs:
        study = settings.study_name or studies.default_study_name(
            name, dataset_name(settings.dataset)
        )
        params, number, value = studies.best_params(settings.storage, study, name)
        log.info(
            f"{name}: best trial {number} of study {study} (val_accuracy {value:.4f}): {params}"
        )
        tags = {
            "variant": "tuned",
            "study_name": study,
            "study_trial": str(number),
            "study_storage": redact_url(settings.storage),
        }
        found[name] = (params, tags)
    return found
