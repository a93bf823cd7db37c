"""Train a set of architectures on the same splits, tracked, skipping finished work.

The grid of cells (architecture x seed) goes to an Optuna study (benchmark.grid); this process,
its local workers and workers on other machines train the cells; the results are read back
from MLflow into the leaderboard.
"""

from __future__ import annotations

import json
import logging
import time

import pandas as pd
from mlflow.exceptions import MlflowException

from benchmark import logs, plan, runtime, tracking
from benchmark.data.sources import Request
from benchmark.data.splits import Splits, load_splits
from benchmark.errors import BenchmarkError, first_line
from benchmark.figures.runs import validation_overlay_png
from benchmark.grid.cells import Cell
from benchmark.grid.processes import run_local_workers
from benchmark.grid.queue import Grid, Outcome, Worker, grid_name
from benchmark.grid.worker import Loop
from benchmark.redaction import redact_url
from benchmark.results import champion, leaderboard, learned, runs
from benchmark.results import significance as comparison
from benchmark.settings import SPLIT_SEED, RunSettings
from benchmark.settings.data import data_request
from benchmark.training import precision
from benchmark.training.progress import duration

log = logging.getLogger(__name__)


def run_suite(settings: RunSettings) -> pd.DataFrame:
    """Train every requested architecture and seed not yet finished; return the board."""
    try:
        return _run_suite(settings)
    except MlflowException as error:  # a store that failed outside a finished training
        raise BenchmarkError(store_failed(settings, error)) from None


def store_failed(settings: RunSettings, error: Exception) -> str:
    """What to tell the user when the tracking store failed outside a finished training."""
    return (
        f"tracking store {tracking.resolve_tracking_uri(settings.tracking_uri)} failed "
        f"({first_line(error)}); runs it left RUNNING are closed by the next 'run'"
    )


def load_run_splits(settings: RunSettings) -> Splits:
    """The train, validation and test splits the settings ask for, the same in every process."""
    return load_splits(
        settings.validation_fraction,
        SPLIT_SEED,
        settings.subset,
        request=Request(**data_request(settings)),
    )


def _run_suite(settings: RunSettings) -> pd.DataFrame:
    """run_suite without turning store failures into one line."""
    dtype = precision.resolve(settings.precision)  # float32, bfloat16 or float16 here
    sources = plan.params_sources(settings)
    # The data and the architectures that fit it first: bad data leaves nothing in MLflow.
    splits = load_run_splits(settings)
    log.info(
        f"data: {splits.dataset} {splits.digest}  "
        + "x".join(map(str, splits.input_shape))
        + f", {splits.num_classes} classes  "
        + "  ".join(f"{key} {value:,}" for key, value in splits.sizes.items())
    )
    archs, skipped = plan.fitting_architectures(settings, splits, sources)
    uri = tracking.resolve_tracking_uri(settings.tracking_uri)
    runtime.check_writable(settings.output_dir, "--output-dir")
    # The work list before the results' store: a bad --storage leaves nothing in MLflow.
    name = grid_name(settings.experiment, splits.dataset)
    grid = Grid.create(settings.storage, name, settings.heartbeat_seconds, uri)
    experiment_id = tracking.connect(uri, settings.experiment)
    for name in tracking.sync_pending(experiment_id):
        log.info(f"logged the kept results of {name}, trained by an earlier invocation")
    for name in tracking.close_orphaned_runs(experiment_id):
        log.warning(f"marked run {name} as KILLED: its process ended without closing it")

    started = time.perf_counter()
    workers = plan.worker_count(archs, settings, splits, sources)
    largest = max(plan.parameter_count(name, settings, splits, sources) for name in archs)
    tracking.check_room_for_results(largest, len(splits.y_test), splits.num_classes, workers)
    logged = {**settings.logged_params(), "jobs": workers}  # what auto chose, if auto
    if skipped:
        logged["skipped_architectures"] = json.dumps(skipped)
    with tracking.comparison_run(experiment_id, "comparison", logged) as comparison_id:
        tracking.check_artifacts_writable()  # before any training, not after it
        invocation = plan.Invocation(experiment_id, comparison_id, dtype)
        cells = plan.cells(archs, settings, splits, sources, workers, invocation)
        outcomes = train_grid(grid, cells, settings, workers, uri)
        members = [outcomes[cell.key].run_id for cell in cells if outcomes[cell.key].run_id]
        failed = {
            cell.label: outcome.reason
            for cell in cells
            if (outcome := outcomes[cell.key]).state == "failed"
        }
        if not members:
            raise BenchmarkError(
                f"every cell failed; the first: {next(iter(failed.values()))} "
                f"(see python -m benchmark status --storage {redact_url(settings.storage)})"
            )
        per_run = runs.read_runs(experiment_id, members)
        board = leaderboard.with_mlflow_link(
            leaderboard.from_runs(per_run, settings.ensemble_k), experiment_id
        )
        tracking.log_comparison(
            board.to_csv(index=False),
            leaderboard.to_markdown(board),
            validation_overlay_png(runs.mean_per_epoch(runs.validation_curves(per_run))),
            settings.output_dir,
            comparison.ensemble_metrics(board),
        )
    log.info(champion.crown(experiment_id, splits.dataset))
    for name, reason in skipped.items():
        log.warning(f"[{name}] skipped: {reason}")
    board.attrs["skipped"] = skipped
    board.attrs["failed"] = failed
    log.info(
        f"done in {duration(time.perf_counter() - started)}; leaderboard written to "
        f"{settings.output_dir / 'leaderboard.csv'} and leaderboard.md"
    )
    if advice := learned.advice(board):  # the rows not to trust, and what to try
        log.warning(advice)
    return board


def train_grid(
    grid: Grid, cells: list[Cell], settings: RunSettings, workers: int, tracking_uri: str
) -> dict[str, Outcome]:
    """Queue the cells, train them here (or in `workers` local processes), wait for those
    other workers hold; return where each cell stands, by key."""
    finished = {}
    if not settings.force:
        for cell in cells:
            if found := tracking.find_finished_run(cell.experiment_id, cell.config):
                finished[cell.key] = found
                log.info(
                    f"{cell.label} skipped: finished run {found[0]} has the same configuration "
                    "(--force re-runs it)"
                )
    queued = grid.queue(cells, finished)
    log.debug(f"{grid.describe()}: {queued} cells queued")
    keys = [cell.key for cell in cells]
    code = cells[0].code

    def done() -> bool:
        return all(o.state != "pending" for o in grid.outcomes(keys, code).values())

    if workers > 1 and queued:
        try:
            run_local_workers(workers, settings.storage, grid.name, tracking_uri, logs.verbosity())
        finally:
            for name in tracking.close_orphaned_runs(cells[0].experiment_id):
                log.warning(f"marked run {name} as KILLED: its worker ended without closing it")
    # What is left: cells a dead worker held, or that workers elsewhere hold.
    Loop(Worker.here(name="run"), tracking_uri).run(lambda: [grid], done=done)
    return grid.outcomes(keys, code)
