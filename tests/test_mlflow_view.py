"""The comparison view's interval column: each run carries its board row's interval as a tag."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from scipy import stats

from benchmark.cli import main
from benchmark.tracking import views
from tests.conftest import store_after

TINY = ["--subset", "300", "--epochs", "1", "--jobs", "1", "--experiment", "view"]
TWO_SEEDS = ["run", "--arch", "mlp", "--seeds", "2", *TINY]
TAG = "test_accuracy_95ci"  # the column's name in MLflow's runs table, as the guide gives it


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory: pytest.TempPathFactory):
    """`run --arch mlp --seeds 2` on 300 images for 1 epoch into a fresh store, run once."""
    folder, uri, (code,) = store_after(
        tmp_path_factory, "view", [*TWO_SEEDS, "--output-dir", "out"]
    )
    assert code == 0
    return folder, uri


def _intervals(uri: str) -> dict[int, str | None]:
    """Each training run's seed -> its interval tag (None without one)."""
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("view")
    found = client.search_runs([experiment.experiment_id], "tags.run_kind = 'training'")
    return {int(r.data.tags["seed"]): r.data.tags.get(TAG) for r in found}


def test_each_seed_carries_the_boards_interval(two_seeds) -> None:
    folder, uri = two_seeds
    board = pd.read_csv(folder / "out" / "leaderboard.csv")
    (row,) = board.itertuples()
    half = row.test_accuracy_ci_high - row.test_accuracy_mean
    shown = f"{row.test_accuracy_mean:.4f} ± {half:.4f}"
    assert _intervals(uri) == {0: shown, 1: shown}
    # the board's interval is the t interval of the runs' test accuracies, as MLflow holds them
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("view")
    runs = client.search_runs([experiment.experiment_id], "tags.run_kind = 'training'")
    accuracies = [r.data.metrics["test_accuracy"] for r in runs]
    t_half = stats.t.ppf(0.975, 1) * np.std(accuracies, ddof=1) / np.sqrt(2)
    assert half == pytest.approx(t_half)


def test_the_shared_view_shows_the_interval_next_to_test_accuracy(two_seeds) -> None:
    _, uri = two_seeds
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("view")
    state = json.loads(experiment.tags[views.SHARED_VIEW_PREFIX + views.VIEW_KEY])
    shown = ["metrics.`test_accuracy`", "tags.`test_accuracy_95ci`"]
    assert state["selectedColumns"][:2] == shown
    assert state["columnOrder"][:2] == shown  # else the table puts tags after every metric


def test_a_one_seed_board_blanks_the_interval_and_the_next_board_restores_it(
    two_seeds, monkeypatch
) -> None:
    folder, uri = two_seeds
    before = _intervals(uri)
    assert None not in before.values()
    monkeypatch.chdir(folder)
    # seed 0 is reused: the newest board that holds it has one seed, so no interval
    assert main(["run", "--arch", "mlp", "--seeds", "1", *TINY, "--tracking-uri", uri]) == 0
    assert _intervals(uri) == {0: None, 1: before[1]}
    # `leaderboard` rewrites the view over both seeds, and with it their interval
    args = ["leaderboard", "--experiment", "view", "--tracking-uri", uri, "--format", "csv"]
    assert main(args) == 0
    assert _intervals(uri) == before
