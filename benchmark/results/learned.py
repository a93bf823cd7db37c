"""Whether a run learned: its test accuracy clearly above what the class frequencies give.

The rule: a one-sided exact binomial test of the number of correct test predictions against the
majority-class rate of the test labels (always answering the most frequent class scores that
rate). A run learned when p < LEARNED_ALPHA; otherwise it "did not learn", is marked so on the
board and in the report, and is never crowned champion. Runs logged before `test_correct`
existed are judged from their logged test outputs, else left unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from benchmark.results.significance import Loader

LEARNED_ALPHA = 0.001  # one-sided level of the binomial test against the majority class
DID_NOT_LEARN = "did not learn"
COLUMNS = ("learned", "learned_p_value", "test_majority_rate")  # per-run: bool|NA, p, rate


@dataclass(frozen=True)
class Verdict:
    """One run's test: how many of its test images were right, against the majority rate."""

    correct: int
    size: int
    majority_rate: float

    @property
    def p_value(self) -> float:
        """P(at least `correct` right of `size`) when each is right with the majority rate."""
        if self.majority_rate >= 1.0:
            return 1.0  # a one-class test set: always answering that class is perfect
        return float(stats.binomtest(self.correct, self.size, self.majority_rate, "greater").pvalue)

    @property
    def learned(self) -> bool:
        """Whether the run is clearly above the class frequencies (p < LEARNED_ALPHA)."""
        return self.p_value < LEARNED_ALPHA


def from_outputs(probabilities: np.ndarray, y_true: np.ndarray) -> Verdict:
    """The verdict of logged test outputs: softmax probabilities and the true labels."""
    labels = np.asarray(y_true).astype(int)
    return Verdict(
        correct=int((np.asarray(probabilities).argmax(axis=1) == labels).sum()),
        size=len(labels),
        majority_rate=float(np.bincount(labels).max() / len(labels)),
    )


def judge(per_run: pd.DataFrame, load: Loader | None = None) -> pd.DataFrame:
    """`per_run` (results.runs) with COLUMNS: from the logged counts, else from `load`'s outputs.

    `learned` is pd.NA where neither is there (runs logged without counts or test outputs).
    """
    learned, p_values, rates = [], [], []
    for row in per_run.itertuples():
        verdict = _logged(row)
        if verdict is None and load is not None:
            outputs = load(row.run_id)
            verdict = None if outputs is None else from_outputs(*outputs)
        learned.append(pd.NA if verdict is None else verdict.learned)
        p_values.append(np.nan if verdict is None else verdict.p_value)
        rates.append(np.nan if verdict is None else verdict.majority_rate)
    judged = per_run.copy()
    judged["learned"] = pd.array(learned, dtype="boolean")
    judged["learned_p_value"] = np.asarray(p_values, dtype=float)
    judged["test_majority_rate"] = np.asarray(rates, dtype=float)
    return judged


def _logged(row: object) -> Verdict | None:
    """The verdict of a run's logged test_correct, test_size and test_majority_rate, if any."""
    values = [getattr(row, name, np.nan) for name in ("test_correct", "test_size")]
    rate = getattr(row, "test_majority_rate", np.nan)
    if any(pd.isna(value) for value in (*values, rate)) or int(values[1]) <= 0:
        return None
    return Verdict(correct=int(values[0]), size=int(values[1]), majority_rate=float(rate))


def mark(group: pd.DataFrame) -> str:
    """A board row's mark over its seeds: yes, did not learn (k/n seeds), or blank if unknown."""
    known = group["learned"].dropna() if "learned" in group else pd.Series(dtype="boolean")
    failed = int((~known.astype(bool)).sum())
    if known.empty:
        return ""
    if failed == 0:
        return "yes"
    if failed == len(group):
        return DID_NOT_LEARN
    return f"{DID_NOT_LEARN} ({failed}/{len(group)} seeds)"


def advice(board: pd.DataFrame) -> str | None:
    """One line naming the board's rows that did not learn, why, and what to try; None if none."""
    if "learned" not in board:
        return None
    marked = board[board["learned"].astype(str).str.startswith(DID_NOT_LEARN)]
    if marked.empty:
        return None
    named = ", ".join(
        f"{row.architecture}"
        + ("" if row.variant == "default" else f"/{row.variant}")
        + f" (test acc {row.test_accuracy_mean:.4f}, majority class {row.test_majority_rate:.4f},"
        f" p {row.learned_p_value:.2g})"
        for row in marked.itertuples()
    )
    return (
        f"{DID_NOT_LEARN} (test accuracy not above the majority class, one-sided binomial "
        f"p >= {LEARNED_ALPHA}): {named}; try more epochs (--epochs N passes over the data), "
        "'tune --arch NAME --epochs N', or more data"
    )
