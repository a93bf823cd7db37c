"""The aggregated leaderboard of a real two-seed smoke run, checked against MLflow's contents."""

from __future__ import annotations

import io
import math

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from scipy.stats import binomtest

from benchmark import tracking
from benchmark.cli import main
from benchmark.results import leaderboard, runs
from tests.conftest import store_after

SMOKE = ["--subset", "300", "--epochs", "1", "--experiment", "seeds"]
RUN = ["run", "--arch", "basic", "mlp", "--seeds", "2", "--ensemble", *SMOKE]


@pytest.fixture(scope="module")
def seeds_store(tmp_path_factory: pytest.TempPathFactory):
    """`run --seeds 2 --ensemble` of basic and mlp into a fresh SQLite store, run once."""
    folder, uri, (code,) = store_after(tmp_path_factory, "seeds", RUN)
    mlflow.set_tracking_uri(uri)
    return folder, uri, code


def training_runs(uri: str) -> list:
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("seeds")
    return client.search_runs([experiment.experiment_id], "tags.run_kind = 'training'")


def probabilities(uri: str, run_id: str) -> tuple[np.ndarray, np.ndarray]:
    """A run's logged test outputs, read straight from the artifact (not via benchmark code)."""
    path = MlflowClient(uri).download_artifacts(run_id, "test_probabilities.npz")
    with np.load(path) as saved:
        return saved["probabilities"], saved["y_true"]


def test_board_aggregates_two_seeds_per_architecture(seeds_store) -> None:
    folder, uri, code = seeds_store
    assert code == 0
    board = pd.read_csv(folder / "leaderboard.csv")
    assert list(board.columns) == leaderboard.COLUMNS
    for part in ("std", "ci", "params", "flops", "latency", "p_value"):
        assert any(part in column for column in board.columns), part
    ranked = board[board["architecture"] != "ensemble"]
    assert sorted(ranked["architecture"]) == ["basic", "mlp"]
    assert list(ranked["rank"]) == [1, 2]
    assert list(ranked["seeds"]) == [2, 2]
    assert list(ranked["variant"]) == ["default", "default"]
    assert ranked["test_accuracy_mean"].is_monotonic_decreasing
    assert (ranked["test_accuracy_ci_low"] <= ranked["test_accuracy_mean"]).all()
    assert (ranked["test_accuracy_mean"] <= ranked["test_accuracy_ci_high"]).all()
    runs = training_runs(uri)
    for row in ranked.itertuples():
        accuracies = [
            run.data.metrics["test_accuracy"]
            for run in runs
            if run.data.tags["arch"] == row.architecture
        ]
        assert row.test_accuracy_mean == pytest.approx(np.mean(accuracies))
        assert row.test_accuracy_std == pytest.approx(np.std(accuracies, ddof=1))
        assert row.params > 0 and row.flops_per_image > 0
        assert 0 < row.latency_p50_ms <= row.latency_p95_ms
        assert row.throughput_images_per_second > 0
        assert row.seeds_reaching_target == 0  # one epoch on 300 images never reaches 99%
        assert math.isnan(row.time_to_target_seconds_mean)
        assert len(row.run_ids.split()) == 2
    assert board.loc[board["architecture"] == "basic", "flops_per_image"].item() == 2 * 3_536_000


def test_train_flops_per_epoch_is_a_board_column(seeds_store) -> None:
    """3 x forward FLOPs per image x training images, logged per run, max over seeds."""
    folder, uri, _ = seeds_store
    board = pd.read_csv(folder / "leaderboard.csv")
    basic = board.loc[board["architecture"] == "basic"].iloc[0]
    (train_size,) = {int(run.data.params["train_size"]) for run in training_runs(uri)}
    assert train_size == 300  # --subset 300: training images
    assert basic["train_flops_per_epoch"] == 3 * 2 * 3_536_000 * train_size
    for run in training_runs(uri):
        metrics = run.data.metrics
        assert metrics["train_flops_per_epoch"] == 3 * metrics["flops_per_image"] * train_size
    assert "train_flops_per_epoch" in (folder / "leaderboard.md").read_text()


def test_second_row_is_tested_against_the_leader_with_pooled_mcnemar(seeds_store) -> None:
    folder, uri, _ = seeds_store
    board = pd.read_csv(folder / "leaderboard.csv", keep_default_na=False, na_values=[""])
    leader, second = board.iloc[0], board.iloc[1]
    assert leader["distinguishable"] == "leader"
    assert math.isnan(leader["p_value"])
    b = c = 0
    for run_a, run_b in zip(second["run_ids"].split(), leader["run_ids"].split(), strict=True):
        probs_a, labels = probabilities(uri, run_a)
        probs_b, labels_b = probabilities(uri, run_b)
        np.testing.assert_array_equal(labels, labels_b)
        right_a, right_b = probs_a.argmax(1) == labels, probs_b.argmax(1) == labels
        b += int((right_a & ~right_b).sum())
        c += int((~right_a & right_b).sum())
    expected = binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
    assert second["p_value_mcnemar"] == pytest.approx(expected)
    assert math.isnan(second["p_value_paired"])  # two seeds: too few for the paired t-test
    assert second["p_value"] == pytest.approx(expected)  # Holm over one comparison: unchanged
    assert second["distinguishable"] == ("yes" if expected < 0.05 else "no")


def test_ensemble_row_averages_the_members_probabilities(seeds_store) -> None:
    folder, uri, _ = seeds_store
    board = pd.read_csv(folder / "leaderboard.csv")
    (ensemble,) = board[board["architecture"] == "ensemble"].itertuples()
    members = ensemble.run_ids.split()
    assert ensemble.seeds == len(members) == 4  # --ensemble asks for 5; four runs exist
    assert ensemble.variant == "top-4 by val"
    outputs = [probabilities(uri, run_id) for run_id in members]
    mean = np.mean([probs for probs, _ in outputs], axis=0)
    labels = outputs[0][1]
    assert ensemble.test_accuracy_mean == pytest.approx((mean.argmax(1) == labels).mean())
    parent = MlflowClient(uri).get_run(training_runs(uri)[0].data.tags["comparison_run_id"])
    assert parent.data.metrics["ensemble_k"] == 4
    assert parent.data.metrics["ensemble_test_accuracy"] == pytest.approx(
        ensemble.test_accuracy_mean
    )


def test_ensemble_members_are_chosen_on_validation_accuracy(seeds_store, capsys) -> None:
    _, uri, _ = seeds_store
    args = ["leaderboard", "--experiment", "seeds", "--tracking-uri", uri, "--format", "csv"]
    assert main([*args, "--ensemble-k", "2"]) == 0
    out = capsys.readouterr().out
    board = pd.read_csv(io.StringIO(out))
    (ensemble,) = board[board["architecture"] == "ensemble"].itertuples()
    members = set(ensemble.run_ids.split())
    best_val = {
        run.info.run_id: run.data.metrics["best_val_accuracy"] for run in training_runs(uri)
    }
    assert len(members) == 2
    assert min(best_val[m] for m in members) >= max(
        value for run_id, value in best_val.items() if run_id not in members
    )
    outputs = [probabilities(uri, run_id) for run_id in members]
    mean = np.mean([probs for probs, _ in outputs], axis=0)
    assert ensemble.test_accuracy_mean == pytest.approx((mean.argmax(1) == outputs[0][1]).mean())
    assert main(args) == 0
    assert "ensemble" not in capsys.readouterr().out  # no row unless asked for


def test_every_seed_is_a_child_run_with_costs_and_test_outputs(seeds_store) -> None:
    _, uri, _ = seeds_store
    client = MlflowClient(uri)
    runs = training_runs(uri)
    assert sorted((r.data.tags["arch"], r.data.tags["seed"]) for r in runs) == [
        ("basic", "0"),
        ("basic", "1"),
        ("mlp", "0"),
        ("mlp", "1"),
    ]
    for run in runs:
        metrics = run.data.metrics
        assert run.data.tags["variant"] == "default"
        assert run.data.params["seed"] == run.data.tags["seed"]
        assert metrics["flops_per_image"] == 2 * metrics["macs_per_image"] > 0
        assert 0 < metrics["latency_p50_ms"] <= metrics["latency_p95_ms"]
        assert metrics["throughput_images_per_second"] > 0
        assert "time_to_target_seconds" not in metrics  # not reached, so not logged
        history = client.get_metric_history(run.info.run_id, "epoch_seconds")
        assert [m.step for m in history] == [1] and history[0].value > 0
        probs, labels = probabilities(uri, run.info.run_id)
        assert probs.dtype == np.float32 and labels.dtype == np.uint8
        assert probs.shape == (150, 10)
        assert (probs.argmax(1) == labels).mean() == pytest.approx(metrics["test_accuracy"])


def test_rerun_skips_every_finished_seed(seeds_store, capsys) -> None:
    folder, uri, _ = seeds_store
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        assert main([*RUN, "--tracking-uri", uri]) == 0
    assert capsys.readouterr().out.count("skipped: finished run") == 4
    assert len(training_runs(uri)) == 4


def test_runs_frame_has_one_row_per_seed(seeds_store) -> None:
    _, uri, _ = seeds_store
    experiment_id = tracking.connect(uri, "seeds", create=False)
    frame = runs.read_runs(experiment_id)
    assert len(frame) == 4
    assert {"arch", "variant", "seed", "run_id", "test_accuracy", "best_val_accuracy"} <= set(
        frame.columns
    )
    assert {"params", "train_seconds", "flops_per_image", "latency_p50_ms"} <= set(frame.columns)
    assert sorted(zip(frame["arch"], frame["seed"], strict=True)) == [
        ("basic", 0),
        ("basic", 1),
        ("mlp", 0),
        ("mlp", 1),
    ]


def test_validation_overlay_is_the_mean_over_seeds(seeds_store) -> None:
    _, uri, _ = seeds_store
    experiment_id = tracking.connect(uri, "seeds", create=False)
    board = leaderboard.from_experiment(experiment_id)
    curves = runs.mean_per_epoch(runs.validation_curves(runs.read_runs(experiment_id)))
    assert set(curves) == {"basic", "mlp"}
    for row in board.itertuples():
        values = [
            tracking.metric_history(run_id, "val_accuracy")[0] for run_id in row.run_ids.split()
        ]
        assert curves[row.architecture] == pytest.approx([np.mean(values)])


def test_runs_without_test_outputs_get_no_p_values(seeds_store) -> None:
    """Runs logged before test_probabilities.npz (and before seed/variant tags) still rank."""
    _, uri, _ = seeds_store
    experiment_id = tracking.connect(uri, "legacy")
    for arch, accuracy in (("old-a", 0.99), ("old-b", 0.98)):
        with mlflow.start_run(
            experiment_id=experiment_id, tags={"run_kind": "training", "arch": arch}
        ):
            mlflow.log_param("seed", 3)
            mlflow.log_metrics(
                {"test_accuracy": accuracy, "best_val_accuracy": accuracy, "params": 10}
                | {"train_seconds": 1.0, "seconds_per_epoch": 1.0, "test_loss": 0.1}
            )
    board = leaderboard.from_experiment(experiment_id, ensemble_k=3)
    assert list(board["architecture"]) == ["old-a", "old-b"]  # no ensemble without outputs
    assert list(board["variant"]) == ["default", "default"]
    assert list(board["distinguishable"]) == ["leader", "n/a"]
    assert board["p_value"].isna().all()
    assert board["flops_per_image"].isna().all()
    assert runs.read_runs(experiment_id)["seed"].tolist() == [3, 3]
    assert "old-a" in leaderboard.to_markdown(board)
