"""One trial: train its configuration inside its nested MLflow run; complete, pruned or failed."""

from __future__ import annotations

import logging

import keras
import optuna
from optuna_integration import KerasPruningCallback

import architectures
from benchmark import tracking
from benchmark.data.splits import Splits
from benchmark.errors import first_line
from benchmark.settings import TuneSettings
from benchmark.training import budget, precision
from benchmark.training.progress import EpochProgress
from benchmark.training.runner import fit
from benchmark.tuning import failures, studies
from benchmark.tuning import objectives as tuning_objectives
from benchmark.tuning.failures import Ending, Failure, TrialEnd

log = logging.getLogger(__name__)


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
        """Train the trial inside its nested MLflow run; its values, or raise what stopped it."""
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
        return self._conclude(label, ending, len(record.val_accuracy))

    def _conclude(self, label: str, ending: Ending, epochs: int) -> float | tuple[float, ...]:
        """Say how the trial ended; its objectives' values, or raise the error that ended it."""
        if ending.error is not None:
            if ending.state is TrialEnd.PRUNED:
                log.info(f"{label} pruned after {epochs} epochs")
            else:
                log.warning(f"{label} failed: {ending.reason}")
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
        if not self.settings.epochs:  # the budget in images seen, as `run` trains it
            params = budget.scaled(params, len(self.splits.x_train))
        tracking.log_trial_params({**params, "precision": self.dtype})
        callbacks = [
            tracking.EpochLogger(),
            record,
            EpochProgress(label, params["epochs"]),
        ]
        if len(self.settings.objectives) == 1:  # Optuna prunes single-objective studies only
            callbacks.append(KerasPruningCallback(trial, "val_accuracy"))
        result = fit(
            self.arch,
            params,
            self.splits,
            seed=self.settings.seed,
            early_stopping=True,
            callbacks=callbacks,
            dtype=self.dtype,
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
