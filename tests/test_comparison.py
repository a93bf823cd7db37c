"""The choice of test against the leader and the ensemble, on hand-made runs and test outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmark.results import leaderboard, stats
from benchmark.results import significance as comparison

LABELS = np.arange(20) % 10


def outputs(correct: int) -> tuple[np.ndarray, np.ndarray]:
    """Test outputs classifying the first `correct` of 20 images right and the rest wrong."""
    predicted = LABELS.copy()
    predicted[correct:] = (predicted[correct:] + 1) % 10
    return np.eye(10, dtype=np.float32)[predicted], LABELS


def run(arch: str, seed: int, correct: int, best_val: float) -> dict:
    return {
        "arch": arch,
        "variant": "default",
        "seed": seed,
        "run_id": f"{arch}-{seed}",
        "test_accuracy": correct / 20,
        "best_val_accuracy": best_val,
        "params": 100,
        "flops_per_image": 1000,
        "train_seconds": 1.0,
        "seconds_per_epoch": 1.0,
        "time_to_target_seconds": np.nan,
        "latency_p50_ms": 1.0,
        "latency_p95_ms": 2.0,
        "throughput_images_per_second": 10.0,
    }


# Leader a and b with five seeds each; c with two other seeds (7 and 9) and the best val.
RUNS = [run("a", seed, correct, 0.9) for seed, correct in enumerate([19, 18, 19, 20, 19])]
RUNS += [run("b", seed, correct, 0.8) for seed, correct in enumerate([15, 16, 14, 16, 15])]
RUNS += [run("c", 7, 12, 0.95), run("c", 9, 13, 0.5)]
CORRECT = {row["run_id"]: round(row["test_accuracy"] * 20) for row in RUNS}


@pytest.fixture
def per_run() -> pd.DataFrame:
    return pd.DataFrame(RUNS)


def load(run_id: str) -> tuple[np.ndarray, np.ndarray]:
    """Test outputs consistent with the run's test accuracy."""
    return outputs(CORRECT[run_id])


def test_paired_t_with_five_seeds_and_pooled_mcnemar_otherwise(per_run: pd.DataFrame) -> None:
    board = leaderboard.build(per_run, load)
    assert list(board["architecture"]) == ["a", "b", "c"]
    leader_acc = [0.95, 0.9, 0.95, 1.0, 0.95]
    b_acc = [0.75, 0.8, 0.7, 0.8, 0.75]
    b_row, c_row = board.iloc[1], board.iloc[2]
    assert b_row["p_value_paired"] == pytest.approx(stats.paired_t(b_acc, leader_acc))
    assert b_row["p_value"] == pytest.approx(b_row["p_value_paired"])  # Holm over one test
    assert np.isnan(c_row["p_value_paired"])  # two seeds: McNemar decides
    # c's seeds 7 and 9 pair with the leader's seeds 0 and 1 (sorted order): the leader alone
    # is right on images 12..18 and 13..17, so b = 0, c = 7 + 5 = 12.
    assert stats.pooled_mcnemar(
        [outputs(12)[0].argmax(1) == LABELS, outputs(13)[0].argmax(1) == LABELS],
        [outputs(19)[0].argmax(1) == LABELS, outputs(18)[0].argmax(1) == LABELS],
    )[:2] == (0, 12)
    raw = [b_row["p_value_mcnemar"], c_row["p_value_mcnemar"]]
    assert c_row["p_value_mcnemar"] == pytest.approx(2 * 0.5**12)
    assert c_row["p_value"] == pytest.approx(stats.holm(raw)[1])
    assert list(board["distinguishable"]) == ["leader", "yes", "yes"]


def test_missing_outputs_give_nan_not_a_crash(per_run: pd.DataFrame) -> None:
    board = leaderboard.build(
        per_run, lambda run_id: None if run_id.startswith("c") else load(run_id), 2
    )
    assert np.isnan(board.iloc[2]["p_value"])
    assert board.iloc[2]["distinguishable"] == "n/a"
    assert board.iloc[1]["distinguishable"] == "yes"  # b still has its paired test
    ensemble = board.iloc[3]
    assert ensemble["run_ids"] == "a-0 a-1"  # c-7 has the best validation but no outputs


def test_ensemble_takes_the_best_validation_runs(per_run: pd.DataFrame) -> None:
    row = comparison.ensemble_row(per_run, 2, load)
    assert row["run_ids"] == "c-7 a-0"  # best_val 0.95, then the first of the 0.9 ties
    assert row["seeds"] == 2 and row["variant"] == "top-2 by val"
    # c-7 is right on images 0..11, a-0 on 0..18; both wrongly say label + 1 elsewhere. The
    # mean ties on 12..18 between the label and label + 1, and argmax takes the lower index,
    # the label; image 19 both get wrong: 19 of 20 right.
    assert row["test_accuracy_mean"] == 0.95
    assert row["params"] == 200 and row["flops_per_image"] == 2000


def timed(arch: str, seconds: list[float], machine: str = "CPU X (2 cores)") -> list[dict]:
    """Runs of `arch`, one per entry; NaN seconds: that seed never reached the target."""
    rows = [run(arch, seed, 18, 0.9) for seed in range(len(seconds))]
    for row, value in zip(rows, seconds, strict=True):
        row["time_to_target_seconds"] = value
        row["machine"] = machine
        CORRECT.setdefault(row["run_id"], 18)
    return rows


def test_rank_by_time_to_target_uses_mlperf_over_the_seeds_that_reached_it() -> None:
    # fast: 5 of 6 seeds reached; the MLPerf mean drops 1 and 40 -> (5+6+7)/3 = 6.
    # steady: 3 seeds, plain mean 8. never: no seed reached, so it comes last.
    per_run = pd.DataFrame(
        timed("fast", [1.0, 5.0, 6.0, 7.0, 40.0, np.nan])
        + timed("steady", [8.0, 7.0, 9.0])
        + timed("never", [np.nan, np.nan])
    )
    board = leaderboard.build(per_run, load, rank_by="time_to_target")
    assert list(board["architecture"]) == ["fast", "steady", "never"]
    assert list(board["rank"]) == [1, 2, 3]
    assert list(board["time_to_target_seconds_mean"][:2]) == [pytest.approx(6.0), 8.0]
    assert np.isnan(board["time_to_target_seconds_mean"].iloc[2])
    assert list(board["reached"]) == ["5/6", "3/3", "0/2"]
    assert list(board["seeds_reaching_target"]) == [5, 3, 0]
    # The default ranking is by test accuracy: all tie at 0.9 here, so by name.
    assert list(leaderboard.build(per_run, load)["architecture"]) == ["fast", "never", "steady"]


def test_the_board_names_its_machines_and_warns_when_they_differ() -> None:
    one = leaderboard.build(pd.DataFrame(timed("a1", [1.0]) + timed("b1", [2.0])), load)
    assert list(one["machine"]) == ["CPU X (2 cores)"] * 2
    assert leaderboard.machine_note(one) == ("timings from: CPU X (2 cores)", None)
    mixed = pd.DataFrame(timed("a1", [1.0]) + timed("b1", [2.0], machine="CPU Y (8 cores)"))
    note, warning = leaderboard.machine_note(leaderboard.build(mixed, load))
    assert note == "timings from: CPU X (2 cores); CPU Y (8 cores)"
    assert warning is not None and "2 different machines" in warning
    both = timed("a1", [1.0, 2.0])
    both[1]["machine"] = "CPU Y (8 cores)"
    row = leaderboard.build(pd.DataFrame(both), load).iloc[0]
    assert row["machine"] == "CPU X (2 cores) + CPU Y (8 cores)"
