"""`run --target-accuracy`: runs stop at the target, what they log, the board that ranks them."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from benchmark.cli import main
from tests.conftest import store_after

TINY = ["--arch", "mlp", "--subset", "300", "--epochs", "3", "--experiment", "target"]


@pytest.fixture(scope="module")
def target_store(tmp_path_factory: pytest.TempPathFactory):
    """Two seeds of mlp trained to a reachable target (0.3), then one to an unreachable one."""
    return store_after(
        tmp_path_factory,
        "target",
        ["run", *TINY, "--seeds", "2", "--target-accuracy", "0.3"],
        ["run", *TINY, "--target-accuracy", "1"],
    )


def training_runs(uri: str) -> list:
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("target")
    return client.search_runs([experiment.experiment_id], "tags.run_kind = 'training'")


def test_runs_stop_at_the_target_and_log_what_it_took(target_store) -> None:
    _, uri, codes = target_store
    assert codes == [0, 0]
    runs = training_runs(uri)
    assert len(runs) == 3, "each target is its own configuration"
    reached = [run for run in runs if run.data.params["target_accuracy"] == "0.3"]
    assert len(reached) == 2
    for run in reached:
        metrics = run.data.metrics
        assert run.data.params["early_stopping"] == "False"
        assert metrics["reached_target"] == 1.0 and metrics["target_accuracy"] == 0.3
        assert metrics["epochs_run"] == metrics["epochs_to_target"] < 3
        assert metrics["train_flops_to_target"] == (
            metrics["epochs_to_target"] * metrics["train_flops_per_epoch"]
        )
        assert metrics["time_to_target_seconds"] > 0
        assert metrics["test_accuracy_at_target"] == metrics["test_accuracy"]
    (never,) = [run for run in runs if run.data.params["target_accuracy"] == "1.0"]
    assert never.data.metrics["reached_target"] == 0.0
    assert never.data.metrics["epochs_run"] == 3, "capped at its epoch budget"
    assert "time_to_target_seconds" not in never.data.metrics


def test_the_leaderboard_counts_a_run_that_never_reached_the_target(target_store) -> None:
    folder, _, _ = target_store
    board = pd.read_csv(folder / "leaderboard.csv")  # written by the run to target 1.0
    assert board.loc[0, "architecture"] == "mlp"
    assert board.loc[0, "seeds"] == 1
    assert pd.isna(board.loc[0, "time_to_target_seconds_mean"])


def test_leaderboard_ranks_by_time_to_target_and_names_the_machine(target_store, capsys) -> None:
    from benchmark.training.hardware import fingerprint

    _, uri, _ = target_store
    args = ["leaderboard", "--experiment", "target", "--tracking-uri", uri]
    assert main([*args, "--rank-by", "time_to_target"]) == 0
    out, err = capsys.readouterr()
    assert "sorted by time to target" in out and "reached" in out
    assert f"timings from: {fingerprint('float32')['machine']}" in out
    assert "warning" not in err
    assert main([*args, "--rank-by", "time_to_target", "--format", "csv"]) == 0
    board = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert board.loc[0, "machine"] == fingerprint("float32")["machine"]
    assert board.loc[0, "reached"] in ("0/1", "1/1", "0/2", "1/2", "2/2")


def test_a_run_without_a_target_keeps_its_params_and_hash(target_store) -> None:
    """target_accuracy is a param, and part of the hash, only when it is given."""
    folder, uri, _ = target_store
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        assert main(["run", *TINY, "--tracking-uri", uri]) == 0
    plain = [run for run in training_runs(uri) if "target_accuracy" not in run.data.params]
    assert len(plain) == 1
    assert plain[0].data.metrics["reached_target"] in (0.0, 1.0)
    assert len({run.data.tags["config_hash"] for run in training_runs(uri)}) == 4
