"""What Optuna's enqueue guarantees under concurrency, and how the grid trains a cell once anyway.

Optuna's `enqueue_trial(..., skip_if_exists=True)` reads the trials, then adds one: two
processes queueing the same params at the same moment can both add (its docstring says so).
The grid does not rely on it: a cell queued twice is a second WAITING trial, and of two
workers that take copies of one cell only one trains it; the other copy is PRUNED.
No training here: fake cells in a SQLite store under tmp_path.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import optuna
import pytest
from optuna.trial import TrialState

from benchmark.grid.cells import Cell, Data
from benchmark.grid.queue import Grid, Trained, Worker, cell_of
from benchmark.grid.versions import code_version

NAME = "grid-stress-test-mnist"


def fake_cell(seed: int) -> Cell:
    """A cell of the current code that nobody will train: enough to queue and take."""
    data = Data("mnist", "digest", None, None, 200, 0.1)
    return Cell(
        key=f"config-{seed}", config=f"config-{seed}", arch="mlp", seed=seed,
        label=f"[mlp seed {seed}]", params={"epochs": 1, "batch_size": 128}, tags={},
        logged={}, early_stopping=False, target_accuracy=None, dtype="float32", data=data,
        experiment_id="0", comparison_run_id="none", force=False, max_retries=1,
        code=code_version(),
    )  # fmt: skip


@pytest.fixture
def storage(tmp_path) -> str:
    """A fresh SQLite Optuna store."""
    return f"sqlite:///{tmp_path / 'optuna.db'}"


def test_enqueue_skip_if_exists_is_check_then_add(storage, monkeypatch) -> None:
    """Two callers that both check before either adds both add: the skip is not atomic."""
    optuna.create_study(study_name="race", storage=storage)
    check = optuna.study.Study._should_skip_enqueue
    both_checked = threading.Barrier(2, timeout=30)

    def check_then_wait(self, params):
        skip = check(self, params)
        both_checked.wait()  # the other caller checks before this one adds
        return skip

    monkeypatch.setattr(optuna.study.Study, "_should_skip_enqueue", check_then_wait)

    def enqueue(_: int) -> None:
        study = optuna.load_study(study_name="race", storage=storage)
        study.enqueue_trial({"x": 1}, skip_if_exists=True)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(enqueue, range(2)))
    trials = optuna.load_study(study_name="race", storage=storage).trials
    assert [t.state for t in trials] == [TrialState.WAITING] * 2
    assert all(t.system_attrs["fixed_params"] == {"x": 1} for t in trials)

    monkeypatch.setattr(optuna.study.Study, "_should_skip_enqueue", check)
    optuna.load_study(study_name="race", storage=storage).enqueue_trial(
        {"x": 1}, skip_if_exists=True
    )
    assert len(optuna.load_study(study_name="race", storage=storage).trials) == 2, (
        "one caller at a time: the existing trial is found and nothing is added"
    )


def queued_twice(storage: str, monkeypatch) -> list[Cell]:
    """Two `run`s queue the same cells at once: the second read the trials before the first
    added any, so each cell ends up WAITING twice."""
    cells = [fake_cell(seed) for seed in range(3)]
    first, second = Grid(storage, NAME), Grid(storage, NAME)
    before = second.trials()  # the second run's read, taken before the first one adds
    assert first.queue(cells, {}) == 3
    monkeypatch.setattr(second, "trials", lambda states=None: before)
    assert second.queue(cells, {}) == 3
    assert Grid(storage, NAME).queue(cells, {}) == 0, "a run that reads after the adds skips"
    return cells


def copies(grid: Grid, key: str) -> list[optuna.trial.FrozenTrial]:
    """The trials of one cell."""
    return [trial for trial in grid.trials() if cell_of(trial).key == key]


def test_a_cell_queued_twice_is_taken_once_then_pruned(storage, monkeypatch) -> None:
    """Two workers take in turn until nothing waits: each cell is held once, and each second
    copy is PRUNED as a duplicate of the trial that holds the cell."""
    cells = queued_twice(storage, monkeypatch)
    grids = [Grid(storage, NAME), Grid(storage, NAME)]
    workers = [Worker("host-a", "a", 1), Worker("host-b", "b", 2)]
    held = []
    for turn in range(10):
        taken = grids[turn % 2].take(workers[turn % 2])
        if taken is None:
            break
        held.append(taken)
    assert sorted(taken.cell.key for taken in held) == sorted(cell.key for cell in cells)
    holder = {taken.cell.key: taken.number for taken in held}
    for cell in cells:
        trials = copies(grids[0], cell.key)
        assert sorted(t.state.name for t in trials) == ["PRUNED", "RUNNING"]
        pruned = next(t for t in trials if t.state == TrialState.PRUNED)
        assert pruned.user_attrs["fail_reason"] == f"duplicate of trial {holder[cell.key]}"


def test_two_workers_taking_at_once_train_a_duplicated_cell_once(storage, monkeypatch) -> None:
    """Two workers take at the same moment from a grid where one cell waits twice: exactly
    one of them holds it; the other copy is PRUNED as a duplicate of the held one."""
    cell = fake_cell(0)
    Grid(storage, NAME).queue([cell], {})
    optuna.load_study(study_name=NAME, storage=storage).enqueue_trial(
        {}, user_attrs={"cell": cell.to_json(), "retries": 0}
    )  # the copy a concurrent `run` adds
    grids = [Grid(storage, NAME), Grid(storage, NAME)]
    start = threading.Barrier(2, timeout=30)

    def take(index: int):
        start.wait()
        return grids[index].take(Worker(f"host-{index}", f"w{index}", 100 + index))

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(take, range(2)))
    held = [taken for taken in results if taken is not None]
    assert len(held) == 1 and results.count(None) == 1
    trials = copies(grids[0], cell.key)
    assert sorted(t.state.name for t in trials) == ["PRUNED", "RUNNING"]
    running = next(t for t in trials if t.state == TrialState.RUNNING)
    pruned = next(t for t in trials if t.state == TrialState.PRUNED)
    assert running.number == held[0].number
    assert pruned.user_attrs["fail_reason"] == f"duplicate of trial {running.number}"


def test_one_waiting_cell_is_claimed_by_one_of_two_workers(storage, monkeypatch) -> None:
    """Two workers read the same WAITING trial before either writes: only one may win it.

    Optuna's claim reads the trial (SELECT ... FOR UPDATE), then writes RUNNING. PostgreSQL
    blocks the second reader until the first commits; SQLite ignores FOR UPDATE, so unless the
    store takes its write lock when the transaction begins, both read WAITING and both win.
    Each reader here waits (up to 2 s) for the other to have read too: a store that blocks
    the second reader lets the first go on after 2 s, one that does not lets both read.
    """
    from optuna.storages._rdb import models

    Grid(storage, NAME).queue([fake_cell(0)], {})
    read = models.TrialModel.find_or_raise_by_id
    both = threading.Condition()
    readers = [0]

    def read_then_wait(cls, trial_id, session, for_update=False):
        trial = read(trial_id, session, for_update=for_update)
        if for_update:
            with both:
                readers[0] += 1
                both.notify_all()
                both.wait_for(lambda: readers[0] >= 2, timeout=2)
        return trial

    monkeypatch.setattr(models.TrialModel, "find_or_raise_by_id", classmethod(read_then_wait))
    grids = [Grid(storage, NAME), Grid(storage, NAME)]

    def take(index: int):
        return grids[index].take(Worker(f"host-{index}", f"w{index}", 100 + index))

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(take, range(2)))
    assert results.count(None) == 1, f"both workers hold trial {results[0].number}"


def test_a_cell_beats_while_its_worker_loads_the_data(storage, monkeypatch) -> None:
    """Loading the data takes longer than the grace period (a first cell on a busy machine):
    the cell beats from its claim on, so another process's stale check leaves it running."""
    from benchmark.grid import worker as worker_module

    Grid.create(storage, NAME, 1, "file:./mlruns").queue([fake_cell(0)], {})  # grace: 3 s
    grid, other = Grid(storage, NAME, 1), Grid(storage, NAME, 1)
    taken = grid.take(Worker("elsewhere", "w0", 1))  # another host: only heartbeats count

    def slow_load(self, data):
        time.sleep(4.5)
        other.fail_stale()  # another worker looks for dead cells meanwhile
        return None

    monkeypatch.setattr(worker_module.Loop, "load", slow_load)
    monkeypatch.setattr(worker_module, "train_cell", lambda *args: Trained("run-id", 0.5))
    worker_module.Loop(Worker("elsewhere", "w0", 1), tracking_uri="file:./mlruns").train(
        grid, taken
    )
    states = [trial.state for trial in grid.trials()]
    assert states == [TrialState.COMPLETE], states


def test_a_cell_given_up_for_dead_meanwhile_ends_without_a_traceback(
    storage, monkeypatch, caplog
) -> None:
    """Another process failed the cell while this worker trained it: the worker says so in
    one line and goes on; the cell is queued again by the process that failed it."""
    from benchmark.grid import worker as worker_module

    Grid(storage, NAME).queue([fake_cell(0)], {})
    grid = Grid(storage, NAME)
    taken = grid.take(Worker("elsewhere", "w0", 1))

    def ended_elsewhere(*args):
        Grid(storage, NAME).storage.set_trial_state_values(taken.trial_id, TrialState.FAIL)
        return Trained("run-id", 0.5)

    monkeypatch.setattr(worker_module.Loop, "load", lambda self, data: None)
    monkeypatch.setattr(worker_module, "train_cell", ended_elsewhere)
    with caplog.at_level("WARNING"):
        worker_module.Loop(Worker("elsewhere", "w0", 1), tracking_uri="x").train(grid, taken)
    assert "given up for dead" in caplog.text
    assert [trial.state for trial in grid.trials()] == [TrialState.FAIL]


def test_status_marks_a_done_cell_that_did_not_learn(storage) -> None:
    """A cell done at the majority-class rate is counted and listed as 'did not learn' with
    its figures; one well above it is not."""
    from benchmark.grid.status import summary

    grid = Grid(storage, NAME)
    grid.queue([fake_cell(0), fake_cell(1)], {})
    chance = {"correct": 10, "size": 100, "majority_rate": 0.1}
    learned = {"correct": 97, "size": 100, "majority_rate": 0.1}
    for test in (chance, learned):
        taken = grid.take(Worker("here", "w0", 1))
        assert grid.complete(
            taken, Trained(f"run-{taken.number}", test["correct"] / 100, test=test)
        )
    line, table = summary(grid)
    assert "2 done (1 did not learn), 0 failed" in line, line
    assert table is not None and table.row_count == 1
    cells = [str(cell) for column in table.columns for cell in column._cells]
    assert r"\[mlp seed 0]" in cells  # Rich markup escaped
    assert any(
        c.startswith("did not learn: test accuracy 0.1000, majority class 0.1000") for c in cells
    )
