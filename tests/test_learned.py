"""The learned-or-not check: a run not clearly above the majority class is marked, never crowned."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn.datasets import load_digits

from benchmark import tracking
from benchmark.report import page
from benchmark.results import champion, leaderboard, learned
from benchmark.settings import CHAMPION_ALIAS
from tests.conftest import in_process


def shuffled_digits(path, seed: int = 0):
    """scikit-learn's digits with every label shuffled: nothing to learn, as an .npz file."""
    digits = load_digits()
    images = (digits.images * 255 / 16).astype(np.uint8)
    labels = np.random.default_rng(seed).permutation(digits.target)
    np.savez(path, x_train=images[:1200], y_train=labels[:1200],
             x_test=images[1200:], y_test=labels[1200:])  # fmt: skip
    return path


def test_a_run_on_shuffled_labels_is_marked_and_not_crowned(
    store, tmp_path, monkeypatch, capsys, caplog
):
    data = shuffled_digits(tmp_path / "shuffled.npz")
    args = ["run", "--arch", "mlp", "--epochs", "3", "--dataset", str(data)]
    done = in_process(*args, "--tracking-uri", store, cwd=tmp_path, monkeypatch=monkeypatch,
                      capsys=capsys)  # fmt: skip
    assert done.returncode == 0, done.stderr
    board = pd.read_csv(tmp_path / "leaderboard.csv")
    (row,) = board.itertuples()
    assert row.learned == "did not learn" and row.learned_p_value >= learned.LEARNED_ALPHA
    assert row.test_majority_rate == pytest.approx(np.bincount(np.load(data)["y_test"]).max() / 597)
    assert "did not learn" in (tmp_path / "leaderboard.md").read_text()
    assert "did not learn" in done.stdout, "the terminal table marks the row"
    said = caplog.text
    assert "champion: none (did not learn" in said
    advice = [line for line in said.splitlines() if "try more epochs" in line]
    assert len(advice) == 1 and "mlp (test acc" in advice[0] and "tune" in advice[0]
    client = MlflowClient(store)
    assert client.search_model_versions("name = 'cnn-benchmark-shuffled'") == []
    (run,) = client.search_runs(
        [client.get_experiment_by_name("cnn-benchmark-shuffled").experiment_id],
        filter_string="tags.run_kind = 'training'",
    )
    assert run.data.metrics["test_correct"] == round(597 * run.data.metrics["test_accuracy"])
    assert run.data.params["epochs"] == "3" and "budget_images" not in run.data.params

    # A champion crowned before the check existed loses its alias: predict must not serve it.
    tracking.connect(store, "cnn-benchmark-shuffled")
    tracking.register_champion(run.info.run_id, {}, "cnn-benchmark-shuffled")
    line = champion.crown(run.info.experiment_id, "shuffled")
    assert f"alias {CHAMPION_ALIAS} taken off cnn-benchmark-shuffled version 1" in line
    with pytest.raises(Exception, match="(?i)alias|not found|does not exist"):
        client.get_model_version_by_alias("cnn-benchmark-shuffled", CHAMPION_ALIAS)


def test_the_binomial_rule_against_the_majority_class() -> None:
    assert learned.Verdict(correct=36, size=360, majority_rate=0.1).p_value > 0.5  # chance
    assert not learned.Verdict(correct=55, size=360, majority_rate=0.1).learned  # p 0.00108
    assert learned.Verdict(correct=60, size=360, majority_rate=0.1).learned  # p 6.3e-05
    assert learned.Verdict(correct=350, size=360, majority_rate=0.1).p_value < 1e-100
    # 7 test images, the majority 3: even all 7 right is p = (3/7)^7 = 0.0027, not enough.
    assert not learned.Verdict(correct=7, size=7, majority_rate=3 / 7).learned
    assert learned.Verdict(correct=5, size=5, majority_rate=1.0).p_value == 1.0


def runs_table(**columns) -> pd.DataFrame:
    """A per-run table of two seeds of `mlp`, with these columns added."""
    rows = pd.DataFrame({"run_id": ["a", "b"], "arch": ["mlp", "mlp"],
                         "variant": ["default", "default"], "seed": [0, 1],
                         "start_time": [1, 2], "best_val_accuracy": [0.9, 0.8],
                         "test_accuracy": [0.1, 0.9], "subset": [0, 0]})  # fmt: skip
    return rows.assign(**columns)


def test_runs_logged_before_the_counts_are_judged_from_their_outputs_or_unknown() -> None:
    labels = np.arange(100) % 10
    chance = np.eye(10)[np.zeros(100, dtype=int)]  # always class 0: 10% right
    right = np.eye(10)[labels]
    outputs = {"a": (chance, labels), "b": (right, labels)}
    judged = learned.judge(runs_table(), outputs.get)
    assert judged["learned"].tolist() == [False, True]
    assert judged["test_majority_rate"].tolist() == [0.1, 0.1]
    unknown = learned.judge(runs_table(), lambda run_id: None)
    assert unknown["learned"].isna().all()
    assert leaderboard.aggregate(unknown)["learned"].tolist() == [""]
    board = leaderboard.aggregate(judged)
    assert board["learned"].tolist() == ["did not learn (1/2 seeds)"]
    assert "did not learn (1/2 seeds)" in page.table(board), "the HTML report's board marks it"


def test_the_champion_is_the_best_run_that_learned() -> None:
    logged = runs_table(test_correct=[10, 90], test_size=[100, 100], test_majority_rate=0.1)
    chosen = champion.choose(logged)
    assert chosen is not None and chosen.run_id == "b", "a, best on validation, did not learn"
    assert champion.choose(runs_table()).run_id == "a", "unknown counts as learned"
    nothing = runs_table(test_correct=[10, 9], test_size=[100, 100], test_majority_rate=0.1)
    assert champion.choose(nothing) is None
