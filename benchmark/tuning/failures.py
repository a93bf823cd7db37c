"""How a trial ends and why it failed, as types; a study failing alike again and again stops."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

import optuna
from optuna.trial import FrozenTrial, TrialState

DONE = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
REASON_ATTR = "fail_reason"  # the user attribute (and MLflow tag) that says why, in words
KIND_ATTR = "fail_kind"  # the user attribute that holds the Failure's value


class Failure(Enum):
    """Why a trial failed; only the kinds that say something of the study make a streak."""

    SURPLUS = "surplus"  # another worker took the study's last slot first
    INTERRUPTED = "interrupted"  # Ctrl-C or SIGTERM stopped it
    TRAINING = "training"  # its configuration raised while training, or its loss became NaN
    OUTSIDE = "outside"  # outside training: the tracking store, the trial's bookkeeping

    @property
    def counts(self) -> bool:
        """Whether a streak of it stops the study: bookkeeping says nothing of the study."""
        return self in (Failure.TRAINING, Failure.OUTSIDE)


class TrialEnd(Enum):
    """How a trial's training ended: the value of its MLflow run's tag trial_state."""

    COMPLETE = "complete"
    PRUNED = "pruned"
    FAILED = "failed"


@dataclass(frozen=True)
class Ending:
    """A trial's end: complete with its objectives' values, or the error that stopped it."""

    state: TrialEnd
    values: dict[str, float] = field(default_factory=dict)  # by objective name, if complete
    error: Exception | None = None  # Optuna's TrialPruned or the training's error, re-raised
    reason: str = ""  # why it failed, in words


def record(trial: optuna.Trial, kind: Failure, reason: str) -> str:
    """Record on the trial why it failed (its kind and its reason); return the reason."""
    trial.set_user_attr(REASON_ATTR, reason)
    trial.set_user_attr(KIND_ATTR, kind.value)
    return reason


def kind_of(trial: optuna.Trial | FrozenTrial) -> Failure | None:
    """The recorded failure; None if none was (a dead worker's trial failed by its heartbeat)."""
    value = trial.user_attrs.get(KIND_ATTR)
    return None if value is None else Failure(value)


def _same_error(reason: str) -> str:
    """The reason with its numbers blanked: "NaN at epoch 2" and "at epoch 3" are one error."""
    return re.sub(r"\d+(\.\d+)?", "#", reason)


def _counts(trial: FrozenTrial) -> bool:
    """Whether a trial takes part in a streak: finished, or failed by its own configuration."""
    if trial.state != TrialState.FAIL:
        return True
    kind = kind_of(trial)
    return kind is not None and kind.counts


def first_new_trial(study: optuna.Study) -> int:
    """The number from which trials are this invocation's: those queued count, as they run."""
    started = [t.number for t in study.get_trials(deepcopy=False) if t.state != TrialState.WAITING]
    return max(started, default=-1) + 1


def repeated_failure(study: optuna.Study, since: int, limit: int) -> str | None:
    """The error the last `limit` trials numbered `since` or more all failed with, or None."""
    trials = [t for t in study.get_trials(deepcopy=False, states=DONE) if t.number >= since]
    streak = sorted((t for t in trials if _counts(t)), key=lambda t: t.number)[-limit:]
    if len(streak) < limit or any(t.state != TrialState.FAIL for t in streak):
        return None
    reasons = [t.user_attrs[REASON_ATTR] for t in streak]
    if len({_same_error(reason) for reason in reasons}) != 1:
        return None
    return reasons[-1]
