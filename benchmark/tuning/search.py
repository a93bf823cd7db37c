"""Optuna search over one architecture's space: pruned, resumable, shared between processes."""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any

import optuna

import architectures
from benchmark import logs, tracking
from benchmark.data.sources import Request
from benchmark.data.splits import Splits, load_splits
from benchmark.errors import BenchmarkError
from benchmark.redaction import redact_url
from benchmark.settings import OBJECTIVES, SPLIT_SEED, TuneSettings
from benchmark.settings.data import data_request
from benchmark.training import precision
from benchmark.training.progress import duration
from benchmark.tuning import failures, insight, strategies, studies
from benchmark.tuning import worker as tune_worker
from benchmark.tuning.trial import Objective

log = logging.getLogger(__name__)

warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def work(
    settings: TuneSettings,
    worker: int,
    experiment_id: str,
    parent_run_id: str,
    deadline: float | None,
) -> None:
    """Run trials until the study has `settings.trials` finished ones or time is up."""
    storage = studies.open_storage(settings.storage, settings.heartbeat_seconds)
    splits = _splits(settings)
    probe = optuna.load_study(study_name=settings.name, storage=storage)
    max_epochs = probe.user_attrs["max_epochs"]
    study = optuna.load_study(
        study_name=settings.name,
        storage=storage,
        # Distinct seeds per worker and per resume, so no two streams repeat each other.
        sampler=strategies.make_sampler(
            settings.sampler, (settings.seed + 1000 * worker + len(probe.trials)) % 2**32
        ),
        pruner=strategies.make_pruner(_pruner(settings), max_epochs),
    )
    objective = Objective(settings, splits, experiment_id, parent_run_id)
    since = failures.first_new_trial(probe)  # a streak counts this invocation's trials
    while deadline is None or time.time() < deadline:
        if failures.repeated_failure(study, since, settings.max_failures):
            return  # tune() names the error once the workers have stopped
        studies.fail_stale(study)
        state = studies.counts(study)
        finished = state["complete"] + state["pruned"]
        if finished >= settings.trials:
            return
        if finished + state["running"] >= settings.trials:
            time.sleep(max(1.0, settings.heartbeat_seconds / 2))  # others hold the last slots
            continue
        study.optimize(objective, n_trials=1, catch=(Exception,), gc_after_trial=True)


def _pruner(settings: TuneSettings) -> str:
    """--pruner, or none for a multi-objective study: Optuna's pruners judge one value."""
    return settings.pruner if len(settings.objectives) == 1 else "none"


def _splits(settings: TuneSettings) -> Splits:
    """The dataset the settings name, split with the fixed seed."""
    request = Request(**data_request(settings))
    return load_splits(subset=settings.subset, seed=SPLIT_SEED, request=request)


def tune(settings: TuneSettings) -> dict[str, Any]:
    """Bring the study to `settings.trials` finished trials; log it to MLflow; return a summary."""
    if logs.verbosity() <= 0:
        optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures: one line of ours
    dtype = precision.resolve(settings.precision)  # refuses bfloat16 on hardware without it
    # The data first (bad data leaves nothing behind), then the tracking store: an
    # unreachable one must leave no study behind, subset pinned.
    splits = _splits(settings)
    arch = architectures.get(settings.arch)
    reason = arch.unfit_reason(arch.defaults, splits.input_shape, splits.num_classes)
    if reason is not None:
        raise BenchmarkError(f"cannot tune {arch.name} on {splits.dataset}: it {reason}")
    uri = tracking.resolve_tracking_uri(settings.tracking_uri)
    experiment_id = tracking.connect(uri, settings.experiment)
    storage = studies.open_storage(settings.storage, settings.heartbeat_seconds)
    study = studies.open_study(
        settings.name, storage, arch, splits, settings.epochs, settings.objectives
    )
    since = failures.first_new_trial(study)
    before = studies.counts(study)
    done = before["complete"] + before["pruned"]
    aims = ", ".join(f"{name} ({OBJECTIVES[name]})" for name in settings.objectives)
    log.info(
        f"study {settings.name} in {redact_url(settings.storage)}: {done} of "
        f"{settings.trials} trials finished; objective {aims}; {settings.workers} worker(s), "
        f"pruner {_pruner(settings)}, sampler {settings.sampler}, {dtype}"
    )
    if _pruner(settings) != settings.pruner:
        log.info("multi-objective: no pruning (Optuna prunes single-objective studies only)")
    started = time.perf_counter()
    deadline = time.time() + settings.timeout if settings.timeout else None
    with tracking.tuning_run(
        experiment_id,
        settings.name,
        redact_url(settings.storage),
        arch.name,
        settings.logged_params(),
    ) as parent_run_id:
        if settings.workers == 1:
            work(settings, 0, experiment_id, parent_run_id, deadline)
        else:
            tune_worker.run_workers(settings, experiment_id, parent_run_id, deadline, uri)
        for name in tracking.close_orphaned_runs(experiment_id):
            log.warning(f"marked run {name} as KILLED: its worker ended without closing it")
        summary = insight.conclude(optuna.load_study(study_name=settings.name, storage=storage))
    state = summary["counts"]
    log.info(
        f"done in {duration(time.perf_counter() - started)}: {state['complete']} complete, "
        f"{state['pruned']} pruned, {state['fail']} failed; {summary['epochs_trained']} epochs "
        "trained in all"
    )
    if summary["best_value"] is not None:
        log.info(
            f"best trial {summary['best_number']}: val_accuracy {summary['best_value']:.4f} "
            f"with {summary['best_params']}"
        )
    repeated = failures.repeated_failure(summary["study"], since, settings.max_failures)
    if repeated:
        raise BenchmarkError(
            f"tune stopped: {settings.max_failures} trials in a row failed with {repeated} "
            f"(--max-failures); the study {settings.name} keeps its finished trials"
        )
    return summary
