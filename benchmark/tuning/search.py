"""Optuna search over one architecture's space: pruned, resumable, shared between processes."""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any

import keras
import optuna
from optuna_integration import KerasPruningCallback

import architectures
from benchmark import logs, tracking
from benchmark.data.sources import Request
from benchmark.data.splits import Splits, load_splits
from benchmark.errors import BenchmarkError, first_line
from benchmark.redaction import redact_url
from benchmark.settings import OBJECTIVES, SPLIT_SEED, TuneSettings
from benchmark.settings.data import data_request
from benchmark.training import precision
from benchmark.training.progress import EpochProgress, duration
from benchmark.training.runner import fit
from benchmark.tuning import failures, insight, strategies, studies
from benchmark.tuning import objectives as tuning_objectives
from benchmark.tuning import worker as tune_worker
from benchmark.tuning.failures import Ending, Failure, TrialEnd

log = logging.getLogger(__name__)

warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


class _ValidationRecord(keras.callbacks.Callback):
    """Keep validation accuracy per epoch; the pruning callback may stop fit() by raising."""

    def __init__(self) -> None:
        super().__init__()
        self.val_accuracy: list[float] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.val_accuracy.append(float((logs or {}).get("val_accuracy", float("nan"))))


class Objective:
    """Train one trial's configuration; its values: best validation accuracy, then the costs."""

    def __init__(
        self,
        settings: TuneSettings,
        splits: Splits,
        experiment_id: str,
        parent_run_id: str,
    ) -> None:
        self.settings, self.splits = settings, splits
        self.experiment_id, self.parent_run_id = experiment_id, parent_run_id
        self.arch = architectures.get(settings.arch)
        self.dtype = precision.resolve(settings.precision)  # float32, bfloat16 or float16

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        try:
            return self._tracked(trial)
        except optuna.TrialPruned:
            raise
        except Exception as error:
            # A failure outside training (the tracking store, the trial's bookkeeping) must
            # carry its reason too, or no streak would ever stop a study that repeats it.
            if failures.kind_of(trial) is None:
                reason = f"{type(error).__name__}: {first_line(error)}"
                failures.record(trial, Failure.OUTSIDE, reason)
                log.warning(f"[{self.settings.name} trial {trial.number}] failed: {reason}")
            raise

    def _tracked(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        """Train the trial inside its nested MLflow run; raise what stopped it early."""
        studies.refuse_surplus(trial, self.settings.trials)
        label = f"[{self.settings.name} trial {trial.number}]"
        record = _ValidationRecord()
        with tracking.trial_run(
            self.experiment_id, self.parent_run_id, self.settings.name, trial.number, self.arch.name
        ) as outcome:
            ending = self._attempt(trial, label, record)
            if ending.state is TrialEnd.FAILED:
                outcome["status"] = "FAILED"
            trial.set_user_attr("epochs_trained", len(record.val_accuracy))
            tracking.end_trial_run(ending.state.value, _metrics(record, ending), ending.reason)
        epochs = len(record.val_accuracy)
        if ending.state is TrialEnd.PRUNED:
            log.info(f"{label} pruned after {epochs} epochs")
        elif ending.state is TrialEnd.FAILED:
            log.warning(f"{label} failed: {ending.reason}")
        if ending.error is not None:
            raise ending.error
        shown = "".join(
            f", {name} {tuning_objectives.shown(name, value)}"
            for name, value in ending.values.items()
            if name != "accuracy"
        )
        log.info(
            f"{label} complete: best val_accuracy {ending.values['accuracy']:.4f}{shown} after "
            f"{epochs} epochs"
        )
        ordered = tuple(ending.values[name] for name in self.settings.objectives)
        return ordered[0] if len(ordered) == 1 else ordered

    def _attempt(self, trial: optuna.Trial, label: str, record: _ValidationRecord) -> Ending:
        """Train the trial: complete, pruned or failed (recorded); Ctrl-C is recorded, raised."""
        try:
            values = self._train(trial, label, record)
        except optuna.TrialPruned as pruned:
            return Ending(TrialEnd.PRUNED, error=pruned)
        except KeyboardInterrupt:
            failures.record(trial, Failure.INTERRUPTED, "interrupted")
            raise
        except Exception as error:  # the trial's failure; the study goes on
            reason = failures.record(
                trial, Failure.TRAINING, f"{type(error).__name__}: {error}".strip()
            )
            return Ending(TrialEnd.FAILED, error=error, reason=reason)
        return Ending(TrialEnd.COMPLETE, values=values)

    def _train(
        self, trial: optuna.Trial, label: str, record: _ValidationRecord
    ) -> dict[str, float]:
        """Suggest, log and train one configuration; its objectives' values by name."""
        overrides = self.arch.search_space(trial)
        if self.settings.epochs:
            overrides["epochs"] = self.settings.epochs
        params = self.arch.params(overrides)
        tracking.log_trial_params({**params, "precision": self.dtype})
        callbacks = [
            tracking.EpochLogger(),
            record,
            EpochProgress(label, params["epochs"]),
        ]
        if len(self.settings.objectives) == 1:  # Optuna prunes single-objective studies only
            callbacks.append(KerasPruningCallback(trial, "val_accuracy"))
        result = fit(
            self.arch, params, self.splits, self.settings.seed, True, callbacks, self.dtype
        )
        if result.diverged:
            raise FloatingPointError(f"loss became NaN at epoch {len(result.history['loss'])}")
        measured = tuning_objectives.costs_of(
            self.settings.objectives, result.model, self.splits.input_shape
        )
        return {"accuracy": max(result.history["val_accuracy"]), **measured}


def _metrics(record: _ValidationRecord, ending: Ending) -> dict[str, float]:
    """What a trial run logs as it ends: epochs, best val_accuracy, a complete trial's costs."""
    metrics = {"epochs_trained": len(record.val_accuracy)}
    if record.val_accuracy:
        metrics["best_val_accuracy"] = max(record.val_accuracy)
    costs = {key: value for key, value in ending.values.items() if key != "accuracy"}
    return metrics | {tuning_objectives.METRICS[key]: value for key, value in costs.items()}


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
