"""Significance against the leader and the top-K ensemble, from per-run rows and test outputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from benchmark.results import runs, stats

ALPHA = 0.05  # family-wise error rate of the Holm-adjusted comparisons with the leader
ENSEMBLE = "ensemble"

# run_id -> (test probabilities, test labels), or None for a run logged without them.
Loader = Callable[[str], tuple[np.ndarray, np.ndarray] | None]


def add_significance(board: pd.DataFrame, per_run: pd.DataFrame, load: Loader) -> pd.DataFrame:
    """Fill p_value_mcnemar, p_value_paired (raw), p_value (Holm) and distinguishable.

    Every row after the first (the leader) is compared with the leader. p_value is the
    Holm-adjusted paired t-test over seeds when both rows have at least 5 paired seeds, else
    the Holm-adjusted pooled exact McNemar test; each test is adjusted over the non-leader
    rows on its own.
    """
    board = board.copy()
    mcnemar = np.full(len(board), np.nan)
    paired = np.full(len(board), np.nan)
    if len(board):
        leader = _seed_runs(per_run, board.iloc[0])
        for index in range(1, len(board)):
            challenger = _seed_runs(per_run, board.iloc[index])
            mcnemar[index] = _pooled_mcnemar_p(challenger, leader, load)
            paired[index] = stats.paired_t(
                list(challenger["test_accuracy"]), list(leader["test_accuracy"])
            )
    holm_mcnemar, holm_paired = np.full(len(board), np.nan), np.full(len(board), np.nan)
    holm_mcnemar[1:], holm_paired[1:] = stats.holm(mcnemar[1:]), stats.holm(paired[1:])
    board["p_value_mcnemar"] = mcnemar
    board["p_value_paired"] = paired
    board["p_value"] = np.where(np.isfinite(paired), holm_paired, holm_mcnemar)
    board["distinguishable"] = [_verdict(index, p) for index, p in enumerate(board["p_value"])]
    return board


def _seed_runs(per_run: pd.DataFrame, row: pd.Series) -> pd.DataFrame:
    """The per-run rows of one board row, sorted by seed (the pairing order)."""
    mine = per_run[
        (per_run["arch"] == row["architecture"]) & (per_run["variant"] == row["variant"])
    ]
    return mine.sort_values("seed")


def _pooled_mcnemar_p(a: pd.DataFrame, b: pd.DataFrame, load: Loader) -> float:
    """Pooled McNemar p over seed pairs in sorted order; NaN when outputs are missing."""
    pairs = min(len(a), len(b))
    outputs_a = [load(run_id) for run_id in a["run_id"][:pairs]]
    outputs_b = [load(run_id) for run_id in b["run_id"][:pairs]]
    outputs = outputs_a + outputs_b
    if not outputs or any(output is None for output in outputs):
        return float("nan")  # runs logged before test probabilities were kept
    labels = outputs[0][1]
    if any(not np.array_equal(output[1], labels) for output in outputs):
        return float("nan")  # different test sets (e.g. other --subset sizes) cannot pair
    return stats.pooled_mcnemar(
        [_correct(output) for output in outputs_a], [_correct(output) for output in outputs_b]
    )[2]


def _correct(output: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    probabilities, labels = output
    return probabilities.argmax(axis=1) == labels


def _verdict(index: int, p_value: float) -> str:
    if index == 0:
        return "leader"
    if not np.isfinite(p_value):
        return "n/a"  # no test possible: missing test outputs or different test sets
    return "yes" if p_value < ALPHA else "no"


def ensemble_row(per_run: pd.DataFrame, k: int, load: Loader) -> dict[str, Any] | None:
    """The averaged softmax of the top-k runs by best validation accuracy, as a board row.

    Members are chosen on validation accuracy only, never on test accuracy. Runs without a
    validation accuracy or logged test outputs, or with a different test set from the best
    one, are passed over.
    None when no run has test outputs.
    """
    members, outputs = [], []
    for row in runs.by_validation(per_run).itertuples():
        output = load(row.run_id)
        if output is None or (outputs and not np.array_equal(output[1], outputs[0][1])):
            continue
        members.append(row)
        outputs.append(output)
        if len(members) == k:
            break
    if not members:
        return None
    probabilities = np.mean([output[0] for output in outputs], axis=0)
    accuracy = float((probabilities.argmax(axis=1) == outputs[0][1]).mean())
    return {
        "architecture": ENSEMBLE,
        "variant": f"top-{len(members)} by val",
        "seeds": len(members),
        "test_accuracy_mean": accuracy,
        "distinguishable": "n/a",
        # Inference cost of the ensemble: every member runs once per image.
        "params": sum(int(member.params) for member in members),
        "flops_per_image": sum(float(member.flops_per_image) for member in members),
        "run_ids": " ".join(member.run_id for member in members),
    }


def ensemble_metrics(board: pd.DataFrame) -> dict[str, float]:
    """ensemble_test_accuracy and ensemble_k of the board's ensemble row, if it has one."""
    rows = board[board["architecture"] == ENSEMBLE]
    if rows.empty:
        return {}
    return {
        "ensemble_test_accuracy": float(rows["test_accuracy_mean"].iloc[0]),
        "ensemble_k": float(rows["seeds"].iloc[0]),
    }
