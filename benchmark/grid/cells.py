"""A cell of the grid: one architecture, params source and seed on one dataset."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

CELL_ATTR = "cell"  # the trial's user attribute holding the cell, as JSON


@dataclass(frozen=True)
class Data:
    """The data a cell trains on: what `load_splits` needs, the same on every machine."""

    spec: str  # a dataset name, or an absolute path to a folder of images or an .npz file
    digest: str  # the digest of the data where the grid was queued: every worker checks it
    image_size: tuple[int, int] | None
    color: str | None
    subset: int | None
    validation_fraction: float


@dataclass(frozen=True)
class Cell:
    """Everything a worker needs to train one cell and track it, whoever queued it."""

    key: str  # the queue's identity of the cell: its configuration hash (+ a --force round)
    config: str  # the configuration hash its MLflow run carries (finished runs are reused)
    arch: str
    seed: int
    label: str  # "[basic seed 1 3/8]" in log lines
    params: dict[str, Any]  # the hyperparameters it trains with
    tags: dict[str, str]  # the variant and where its params came from
    logged: dict[str, Any]  # the run settings logged as params beside the hyperparameters
    early_stopping: bool
    target_accuracy: float | None  # stop at this validation accuracy (--target-accuracy)
    dtype: str  # float32, bfloat16 or float16, as resolved where the grid was queued
    data: Data
    experiment_id: str
    comparison_run_id: str  # the comparison run of the invocation that queued it
    force: bool  # train even if a finished run has the configuration
    max_retries: int  # times a cell that raises is queued again
    code: str  # the code version that queued it; only the same code trains it
    index: int = 0  # its place in the grid's order (seed by seed, the most work first)

    def to_json(self) -> str:
        """The cell as the JSON a trial's user attribute holds."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Cell:
        """The cell a trial's user attribute holds."""
        values = json.loads(text)
        size = values["data"]["image_size"]
        values["data"] = Data(**{**values["data"], "image_size": tuple(size) if size else None})
        return cls(**values)
