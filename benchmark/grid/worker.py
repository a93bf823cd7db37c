"""A worker: take a cell from the grid, train and track it, say how it ended; again until done.

`run` (in its own process or in `--jobs N` local processes) and `python -m benchmark worker`
on any machine go through the same loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import architectures
from benchmark import tracking
from benchmark.data.sources import Request
from benchmark.data.splits import Splits, load_splits
from benchmark.errors import BenchmarkError, first_line
from benchmark.figures.runs import training_run_pngs
from benchmark.grid.cells import Cell, Data
from benchmark.grid.queue import Grid, Taken, Trained, Worker
from benchmark.settings import SPLIT_SEED, TARGET_ACCURACY
from benchmark.training.progress import EpochProgress, duration
from benchmark.training.runner import train_and_evaluate

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0  # how often an idle worker looks for cells again


class Loop:
    """One worker's loop over grids: its identity, its cached splits, what it has trained."""

    def __init__(self, worker: Worker, tracking_uri: str | None = None) -> None:
        self.worker = worker
        self.tracking_uri = tracking_uri  # None: each grid's own, as `run` recorded it
        self.splits: dict[Data, Splits] = {}
        self.trained = 0

    def run(
        self,
        grids: Callable[[], list[Grid]],
        done: Callable[[], bool] | None = None,
        wait: bool = False,
    ) -> None:
        """Take and train cells until none waits, then until `done()` (polling), or for ever
        with `wait`."""
        said = False
        while True:
            took = False
            for grid in grids():
                grid.fail_stale()
                taken = grid.take(self.worker)
                if taken is not None:
                    self.train(grid, taken)
                    took, said = True, False
                    break
            if took:
                continue
            if done is None and not wait:
                return
            if done is not None and done():
                return
            if not said:
                log.info("waiting for cells that other workers hold" if done else
                         "waiting for new cells (--wait)")  # fmt: skip
                said = True
            time.sleep(POLL_SECONDS)

    def train(self, grid: Grid, taken: Taken) -> None:
        """Train one taken cell and end its trial: done, failed (retried or not), or put back."""
        cell = taken.cell
        try:
            # The cell beats from its claim on: loading data or reading MLflow may take longer
            # than the grace period on a busy machine, and a silent cell counts as dead.
            with grid.heartbeat(taken):
                if self.tracking_uri is None:
                    tracking.use_store(store_of(grid))
                splits = self.load(cell.data)
                trained = train_cell(cell, splits, self.worker, grid, taken)
        except KeyboardInterrupt:
            grid.fail(taken, "interrupted", retry=False, max_retries=-1)  # put back as it was
            raise
        except BenchmarkError as error:  # the worker's data or store, not the cell: put back
            try:
                grid.fail(taken, first_line(error), retry=False, max_retries=-1)
            except Exception:  # noqa: BLE001 - a full disk may refuse this too: the error stands
                log.debug(f"{cell.label}: the grid could not record the failure")
            raise
        except Exception as error:  # noqa: BLE001 - a cell that raises is the cell's failure
            reason = f"{type(error).__name__}: {first_line(error)}"
            again = grid.fail(taken, reason, retry=True, max_retries=cell.max_retries)
            log.warning(
                f"{cell.label} failed ({reason}); "
                + ("queued again" if again else "recorded as failed, no retries left")
            )
            return
        if not grid.complete(taken, trained):
            log.warning(
                f"{cell.label} was given up for dead by another process while this worker "
                f"trained it (heartbeats late) and queued again; its MLflow run "
                f"{trained.run_id} stays"
            )
        self.trained += not trained.reused

    def load(self, data: Data) -> Splits:
        """The cell's splits, loaded once per worker and data."""
        if data not in self.splits:
            self.splits[data] = load_splits(
                data.validation_fraction,
                SPLIT_SEED,
                data.subset,
                request=Request(data.spec, data.image_size, data.color),
            )
        return self.splits[data]


def store_of(grid: Grid) -> str:
    """The tracking store of a grid's runs, or one line asking for --tracking-uri."""
    uri = grid.tracking_uri
    if not uri or "***" in uri:
        raise BenchmarkError(
            f"{grid.describe()} tracks its runs in {uri or 'an unrecorded store'}: pass that "
            "store to the worker with --tracking-uri (with its password)"
        )
    return uri


def train_cell(cell: Cell, splits: Splits, worker: Worker, grid: Grid, taken: Taken) -> Trained:
    """Train and track one cell, or reuse its finished run."""
    if splits.digest != cell.data.digest:
        raise BenchmarkError(
            f"{cell.label}: the data here ({splits.digest}) differ from the data the grid was "
            f"queued with ({cell.data.digest}); give every worker the same data"
        )
    if not cell.force:
        finished = tracking.find_finished_run(cell.experiment_id, cell.config)
        if finished:
            log.info(
                f"{cell.label} skipped: finished run {finished[0]} has the same configuration "
                "(--force re-runs it)"
            )
            return Trained(finished[0], finished[1], reused=True)
    until = f", until val_accuracy {cell.target_accuracy}" if cell.target_accuracy else ""
    log.info(
        f"{cell.label} training up to {cell.params['epochs']} epochs{until}, batch "
        f"{cell.params['batch_size']}, early stopping {'on' if cell.early_stopping else 'off'}, "
        f"{cell.dtype}"
    )
    tags = {**cell.tags, "host": worker.host, "worker": worker.name}
    with tracking.start_training_run(
        cell.experiment_id, cell.arch, cell.params, cell.seed, splits, cell.config, cell.logged,
        tags, cell.tags["variant"], parent_run_id=cell.comparison_run_id,
    ) as run:  # fmt: skip
        grid.record_run(taken, run.run_id)
        epochs = tracking.EpochLogger(run.health)
        result = train_and_evaluate(
            architectures.get(cell.arch),
            cell.params,
            splits,
            seed=cell.seed,
            early_stopping=cell.early_stopping,
            callbacks=[epochs, EpochProgress(cell.label, cell.params["epochs"])],
            target_accuracy=cell.target_accuracy or TARGET_ACCURACY,
            dtype=cell.dtype,
            stop_at_target=cell.target_accuracy is not None,
        )
        tracking.log_result(result, run, epochs.logged_epochs, training_run_pngs(result))
    reached = ""
    if cell.target_accuracy is not None:
        reached = (
            f"; reached val_accuracy {result.target_accuracy} at epoch {result.epochs_to_target}"
            if result.epochs_to_target
            else f"; never reached val_accuracy {result.target_accuracy}"
        )
    accuracy = float(result.test_metrics["test_accuracy"])
    log.info(
        f"{cell.label} test accuracy {accuracy:.4f} after {result.epochs_run} epochs in "
        f"{duration(result.train_seconds)}{reached}"
    )
    test = {
        "correct": result.test_correct,
        "size": len(result.y_true),
        "majority_rate": result.test_majority_rate,
    }
    return Trained(run.run_id, accuracy, test=test)
