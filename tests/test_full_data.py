"""Slow checks on the full MNIST training set (run with `uv run pytest -m slow`)."""

from __future__ import annotations

import pandas as pd
import pytest

from benchmark.cli import main


@pytest.mark.slow
def test_basic_learns_full_mnist_in_one_epoch(store: str) -> None:
    """One epoch of the notebook CNN on 54,000 images already passes 97% on the test set."""
    code = main(
        ["run", "--arch", "basic", "--epochs", "1", "--experiment", "full", "--tracking-uri", store]
    )
    assert code == 0
    board = pd.read_csv("leaderboard.csv")
    assert board.loc[0, "architecture"] == "basic"
    assert board.loc[0, "test_accuracy_mean"] >= 0.97
