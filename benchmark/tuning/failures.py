"""A study whose trials fail the same way again and again stops instead of looping."""

from __future__ import annotations

import re

import optuna
from optuna.trial import FrozenTrial, TrialState

DONE = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
# Failures that say nothing about the configuration: a worker giving way to another, Ctrl-C.
BOOKKEEPING = ("surplus:", "interrupted")


def _same_error(reason: str) -> str:
    """The reason with its numbers blanked: "NaN at epoch 2" and "at epoch 3" are one error."""
    return re.sub(r"\d+(\.\d+)?", "#", reason)


def _counts(trial: FrozenTrial) -> bool:
    """Whether a trial takes part in a streak: finished, or failed by its own configuration."""
    if trial.state != TrialState.FAIL:
        return True
    reason = trial.user_attrs.get("fail_reason")
    # No reason: a trial failed for its dead worker's missing heartbeats, then retried.
    return reason is not None and not reason.startswith(BOOKKEEPING)


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
    reasons = [t.user_attrs["fail_reason"] for t in streak]
    if len({_same_error(reason) for reason in reasons}) != 1:
        return None
    return reasons[-1]
