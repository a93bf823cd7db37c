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
from benchmark import parallel, plan, runtime, tracking
from benchmark.data.sources import Request
from benchmark.data.splits import Splits, load_splits
from benchmark.errors import BenchmarkError, first_line
from benchmark.figures.runs import training_run_pngs, validation_overlay_png
from benchmark.results import champion, leaderboard, learned, runs
from benchmark.results import significance as comparison
from benchmark.settings import SPLIT_SEED, TARGET_ACCURACY, RunSettings
from benchmark.settings.data import data_request
from benchmark.training import identity, precision
from benchmark.training.progress import EpochProgress, duration
from benchmark.training.runner import train_and_evaluate

log = logging.getLogger(__name__)


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
    dtype = precision.resolve(settings.precision)  # float32, bfloat16 or float16 here
    sources = plan.params_sources(settings)
    # The data and the architectures that fit it first: bad data leaves nothing in MLflow.
    splits = load_run_splits(settings)
    log.info(
        f"data: {splits.dataset} {splits.digest}  "
        + "x".join(map(str, splits.input_shape))
        + f", {splits.num_classes} classes  "
        + "  ".join(f"{key} {value:,}" for key, value in splits.sizes.items())
    )
    archs, skipped = plan.fitting_architectures(settings, splits, sources)
    uri = tracking.resolve_tracking_uri(settings.tracking_uri)
    runtime.check_writable(settings.output_dir, "--output-dir")
    experiment_id = tracking.connect(uri, settings.experiment)
    for name in tracking.sync_pending(experiment_id):
        log.info(f"logged the kept results of {name}, trained by an earlier invocation")
    for name in tracking.close_orphaned_runs(experiment_id):
        log.warning(f"marked run {name} as KILLED: its process ended without closing it")

    started = time.perf_counter()
    workers = plan.worker_count(archs, settings, splits, sources)
    largest = max(plan.parameter_count(name, settings, splits, sources) for name in archs)
    tracking.check_room_for_results(largest, len(splits.y_test), splits.num_classes, workers)
    jobs = plan.jobs(archs, settings, splits, sources, workers)
    logged = {**settings.logged_params(), "jobs": workers}  # what auto chose, if auto
    if skipped:
        logged["skipped_architectures"] = json.dumps(skipped)
    with tracking.comparison_run(experiment_id, "comparison", logged) as comparison_id:
        tracking.check_artifacts_writable()  # before any training, not after it
        if workers > 1:
            members = parallel.train_in_workers(
                settings, workers, jobs, experiment_id, comparison_id, dtype, sources
            )
        else:
            done = dict(train_jobs(jobs, settings, splits, experiment_id, dtype, sources))
            members = [done[index] for index, *_ in jobs]
        per_run = runs.read_runs(experiment_id, members)
        board = leaderboard.with_mlflow_link(
            leaderboard.from_runs(per_run, settings.ensemble_k), experiment_id
        )
        tracking.log_comparison(
            board.to_csv(index=False),
            leaderboard.to_markdown(board),
            validation_overlay_png(runs.mean_per_epoch(runs.validation_curves(per_run))),
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
    if advice := learned.advice(board):  # the rows not to trust, and what to try
        log.warning(advice)
    return board


def train_jobs(
    jobs: Iterable[plan.Job],
    settings: RunSettings,
    splits: Splits,
    experiment_id: str,
    dtype: str,
    sources: dict[str, plan.Source],
    parent_run_id: str | None = None,
) -> Iterator[tuple[int, str]]:
    """Train or reuse each job, then those another process held; yield (job index, run id)."""
    deferred = []  # configurations another live process trains: waited for at the end
    for index, name, seed, label in jobs:
        args = (name, seed, label, settings, splits, experiment_id, dtype, sources.get(name))
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
    source: plan.Source | None = None,
    wait: bool = False,
    parent_run_id: str | None = None,
) -> str | None:
    """Train and track one architecture and seed, or reuse its finished run; return the run id.

    None: another live process trains the same configuration (with `wait`, this waits for it).
    """
    arch = architectures.get(name)
    tags = source[1] if source else {"variant": "default"}
    params = plan.params_for(name, settings, source, len(splits.x_train))
    extra = {
        "early_stopping": settings.uses_early_stopping,
        "validation_fraction": settings.validation_fraction,
        "subset": settings.subset or 0,
        "split_seed": SPLIT_SEED,
        "params_source": settings.params,  # a tuned run is its own row, even at the defaults
    }
    if settings.target_accuracy is not None:  # absent otherwise: older runs keep their hash
        extra["target_accuracy"] = settings.target_accuracy
    config = identity.config_hash(name, params, seed, splits, **hashed_extra(extra, dtype))
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
    logged = {**extra, "precision": dtype, **plan.budget_params(name, settings, source)}
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
            epochs = tracking.EpochLogger(run.health)
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
                tracking.log_result(result, run, epochs.logged_epochs, training_run_pngs(result))
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

    The precision enters only when it is not float32, so float32 runs keep the hashes they had
    before --precision existed and their finished runs are still found and skipped.
    """
    return {**extra, "precision": dtype} if dtype != "float32" else dict(extra)
