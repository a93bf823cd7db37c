"""A grid re-run by new code: cells whose finished run exists are done, not failed."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.grid import queue
from benchmark.grid.cells import Cell, Data


def _cell(code: str) -> Cell:
    data = Data("mnist", "digest", None, None, 200, 0.1)
    return Cell(
        key="k1", config="k1", arch="mlp", seed=0, label="[mlp seed 0 1/1]", params={},
        tags={"variant": "default"}, logged={}, early_stopping=False, target_accuracy=None,
        dtype="float32", data=data, experiment_id="1", comparison_run_id="c", force=False,
        max_retries=1, code=code,
    )  # fmt: skip


def test_finished_cells_stay_done_when_the_code_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found on loopback: `run` again after a commit printed its finished cells as failed
    ('superseded by other code') and exited 2, though their MLflow runs were finished."""
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    grid = queue.Grid.create(storage, "grid-x-mnist", 10, "sqlite:///mlflow.db")
    monkeypatch.setattr(queue, "code_version", lambda: "v1")
    grid.queue([_cell("v1")], {"k1": ("run1", 0.9)})  # done under v1
    monkeypatch.setattr(queue, "code_version", lambda: "v2")
    grid.queue([_cell("v2")], {"k1": ("run1", 0.9)})  # the same finished run, found by v2
    assert grid.outcomes(["k1"], "v2")["k1"].state == "done"
