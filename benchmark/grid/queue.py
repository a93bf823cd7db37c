"""The grid's queue: one Optuna study per experiment and dataset, a trial per cell.

Optuna's storage does the hard parts: a WAITING trial is claimed by one worker (a row-locked
state change), a RUNNING trial sends heartbeats, and a trial whose heartbeats stop is failed
and queued again by whichever process looks next. States: WAITING (queued), RUNNING (taken),
COMPLETE (done, its MLflow run id in `run_id`), FAIL (with `fail_reason`), PRUNED (a duplicate).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from benchmark.errors import BenchmarkError, first_line
from benchmark.grid.cells import CELL_ATTR, Cell
from benchmark.grid.versions import code_version, library_versions
from benchmark.redaction import redact_url
from benchmark.settings import HEARTBEAT_SECONDS
from benchmark.tuning.storage import open_storage, sqlite_file

log = logging.getLogger(__name__)
optuna.logging.set_verbosity(optuna.logging.WARNING)  # "Using an existing study" at each open

PREFIX = "grid-"  # grid studies are named grid-<experiment>-<dataset>
KIND_ATTR = "kind"  # the study user attribute marking a grid ("grid")
HEARTBEAT_ATTR = "heartbeat_seconds"  # the study user attribute: how often cells beat
TRACKING_ATTR = "tracking_uri"  # the study user attribute: where the cells' runs are tracked
STALE_RETRIES = 3  # times a dead worker's cell is queued again
PENDING = (TrialState.WAITING, TrialState.RUNNING)
HOLDER_ATTR = "holder"  # the trial user attribute: host, worker, pid, code, libraries, since


def grid_name(experiment: str, dataset: str) -> str:
    """The study of one experiment's grid on one dataset."""
    return f"{PREFIX}{experiment}-{dataset}"


@dataclass(frozen=True)
class Worker:
    """Who takes cells: the host and name recorded on each cell it takes, and its process."""

    host: str
    name: str
    pid: int

    @classmethod
    def here(cls, name: str | None = None, host: str | None = None) -> Worker:
        """This process, named `name` (default host/pid) on `host` (default this machine's)."""
        host = host or socket.gethostname()
        return cls(host, name or f"{host}/{os.getpid()}", os.getpid())


@dataclass(frozen=True)
class Taken:
    """A cell a worker holds: its trial's id and number in the study."""

    trial_id: int
    number: int
    cell: Cell
    retries: int


@dataclass(frozen=True)
class Outcome:
    """Where a cell stands: done (with its run), pending, or failed for good (with why)."""

    state: str  # "done", "pending" or "failed"
    run_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Trained:
    """How a worker ended a cell: its MLflow run, test accuracy, whether an earlier run was
    reused, and the test counts the learned-or-not check reads (None for a reused run)."""

    run_id: str
    accuracy: float
    reused: bool = False
    test: dict[str, float] | None = None  # correct, size, majority_rate


TEST_ATTR = "test"  # the trial user attribute with a done cell's Trained.test


class Grid:
    """One grid study in an Optuna storage."""

    def __init__(self, storage_url: str, name: str, heartbeat_seconds: int | None = None) -> None:
        self.url, self.name = storage_url, name
        self.storage = open_storage(
            storage_url, heartbeat_seconds or HEARTBEAT_SECONDS, on_stale=self._on_stale
        )
        self.study = optuna.create_study(study_name=name, storage=self.storage, load_if_exists=True)
        self.study_id = self.storage.get_study_id_from_name(name)

    @classmethod
    def create(cls, storage_url: str, name: str, heartbeat_seconds: int, tracking_uri: str) -> Grid:
        """Open the grid, creating it, with this `run`'s heartbeat and tracking store (a local
        SQLite file by its absolute path; a password masked: workers then pass their own)."""
        grid = cls(storage_url, name, heartbeat_seconds)
        grid.study.set_user_attr(KIND_ATTR, "grid")
        grid.study.set_user_attr(HEARTBEAT_ATTR, heartbeat_seconds)
        grid.study.set_user_attr(TRACKING_ATTR, redact_url(absolute_sqlite(tracking_uri)))
        return grid

    @property
    def tracking_uri(self) -> str | None:
        """The tracking store the grid's runs go to, as `run` recorded it."""
        return self.study.user_attrs.get(TRACKING_ATTR)

    @classmethod
    def all_in(cls, storage_url: str, known: dict[str, Grid] | None = None) -> list[Grid]:
        """The grids in a storage, each opened with the heartbeat it was queued with; those in
        `known` (by name) are reused, new ones added to it. A SQLite file that does not exist
        holds none (and is not created: a typo leaves no empty database behind)."""
        database = sqlite_file(storage_url)
        if database is not None and not database.is_file():
            return []
        known = {} if known is None else known
        storage = open_storage(storage_url)
        found = []
        for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
            if summary.user_attrs.get(KIND_ATTR) == "grid":
                if summary.study_name not in known:
                    beat = int(summary.user_attrs.get(HEARTBEAT_ATTR, HEARTBEAT_SECONDS))
                    known[summary.study_name] = cls(storage_url, summary.study_name, beat)
                found.append(known[summary.study_name])
        return found

    # ---- reading ---------------------------------------------------------------------------

    def trials(self, states: Iterable[TrialState] | None = None) -> list[FrozenTrial]:
        """The study's trials (cells), optionally only those in some states."""
        return self.study.get_trials(deepcopy=False, states=tuple(states) if states else None)

    def outcomes(self, keys: Iterable[str], code: str) -> dict[str, Outcome]:
        """Where each cell of `keys` stands, from the trials queued by the same code."""
        by_key: dict[str, list[FrozenTrial]] = {}
        for trial in self.trials():
            cell = cell_of(trial)
            if cell is not None and cell.code == code:
                by_key.setdefault(cell.key, []).append(trial)
        return {key: _outcome(by_key.get(key, [])) for key in keys}

    # ---- queueing --------------------------------------------------------------------------

    def queue(self, cells: list[Cell], finished: dict[str, tuple[str, float]]) -> int:
        """Queue each cell not done or queued yet; record `finished` ones done.

        `finished`: {key: (run id, test accuracy)} of the cells whose MLflow run is finished.

        Another process may queue the same cell at the same moment (Optuna's check before
        adding is not atomic): `take` then trains only one of the two. Cells queued by other
        code and not taken are failed as superseded. Returns how many cells were queued.
        """
        code = code_version()
        states: dict[str, set[TrialState]] = {}
        for trial in self.trials():
            cell = cell_of(trial)
            if cell is None:
                continue
            if cell.code != code and trial.state == TrialState.WAITING:
                self._end(self._id(trial), TrialState.FAIL, f"superseded: queued by code "
                          f"{cell.code}, this grid is now code {code}")  # fmt: skip
                continue
            if cell.code == code or trial.state != TrialState.COMPLETE:
                states.setdefault(cell.key, set()).add(trial.state)
        queued = 0
        for cell in cells:
            seen = states.get(cell.key, set())
            if cell.key in finished:
                if TrialState.COMPLETE not in seen:
                    run_id, accuracy = finished[cell.key]
                    self.study.add_trial(
                        optuna.create_trial(
                            state=TrialState.COMPLETE,
                            value=accuracy,
                            user_attrs={CELL_ATTR: cell.to_json(), "run_id": run_id,
                                        "reused": True},
                        )
                    )  # fmt: skip
            elif not seen & {*PENDING, *((TrialState.COMPLETE,) if cell.force else ())}:
                self.study.enqueue_trial({}, user_attrs={CELL_ATTR: cell.to_json(), "retries": 0})
                queued += 1
        return queued

    # ---- taking ----------------------------------------------------------------------------

    def take(self, worker: Worker) -> Taken | None:
        """Claim the first waiting cell of this code; None when none waits.

        The claim is Optuna's: a WAITING -> RUNNING change that only one process wins. A
        cell queued twice (two `run`s at once) is trained once: the copy taken later is
        PRUNED as a duplicate. Raises BenchmarkError when only other code's cells wait.
        """
        code, other = code_version(), set()
        waiting = [(cell_of(trial), trial) for trial in self.trials([TrialState.WAITING])]
        # In the grid's order, a cell queued again (its worker died) in its old place.
        waiting.sort(key=lambda pair: (pair[0].index if pair[0] else 0, pair[1].number))
        for cell, trial in waiting:
            if cell is None:
                continue
            if cell.code != code:
                other.add(cell.code)
                continue
            trial_id = self._id(trial)
            try:
                if not self.storage.set_trial_state_values(trial_id, TrialState.RUNNING):
                    continue  # another worker took it first
            except UpdateFinishedTrialError:
                continue
            self.storage.record_heartbeat(trial_id)
            holder = {
                "host": worker.host,
                "worker": worker.name,
                "pid": worker.pid,
                "code": code,
                "libraries": library_versions(),
                "since": time.time(),
            }
            self.storage.set_trial_user_attr(trial_id, HOLDER_ATTR, holder)
            retries = int(trial.user_attrs.get("retries", 0))
            taken = Taken(trial_id, trial.number, cell, retries)
            first = self._first_holder(taken)
            if first is not None:
                self._end(taken.trial_id, TrialState.PRUNED, f"duplicate of trial {first}")
                log.info(f"{cell.label} already taken (trial {first}): not trained twice")
                continue
            return taken
        if other:
            raise BenchmarkError(
                f"this worker runs code {code}, but the cells waiting in grid {self.name} were "
                f"queued by code {', '.join(sorted(other))}: start the worker from that code"
            )
        return None

    def _first_holder(self, taken: Taken) -> int | None:
        """Another trial of the same cell that was taken earlier and still runs (or, for a
        --force cell, is done): its number. A copy done already needs no check here: the
        worker finds its finished MLflow run and reuses it."""
        mine = self.storage.get_trial(taken.trial_id)
        for trial in self.trials([TrialState.COMPLETE, TrialState.RUNNING]):
            cell = cell_of(trial)
            if trial.number == taken.number or cell is None or cell.key != taken.cell.key:
                continue
            if cell.code != taken.cell.code:
                continue
            if trial.state == TrialState.COMPLETE:
                if cell.force:
                    return trial.number
            elif (trial.datetime_start, trial.number) < (mine.datetime_start, mine.number):
                return trial.number
        return None

    # ---- ending ----------------------------------------------------------------------------

    def record_run(self, taken: Taken, run_id: str) -> None:
        """Note the MLflow run that trains the cell, so a dead worker's run can be closed."""
        try:
            self.storage.set_trial_user_attr(taken.trial_id, "run_id", run_id)
        except UpdateFinishedTrialError:
            pass  # another process took this worker for dead: `complete` says so at the end

    def complete(self, taken: Taken, trained: Trained) -> bool:
        """The cell is done: its MLflow run, test accuracy and counts. False when another
        process ended the trial first (it took the worker for dead and queued the cell again)."""
        try:
            self.storage.set_trial_user_attr(taken.trial_id, "run_id", trained.run_id)
            if trained.reused:
                self.storage.set_trial_user_attr(taken.trial_id, "reused", True)
            if trained.test is not None:
                self.storage.set_trial_user_attr(taken.trial_id, TEST_ATTR, trained.test)
            self.storage.set_trial_state_values(
                taken.trial_id, TrialState.COMPLETE, [trained.accuracy]
            )
        except UpdateFinishedTrialError:
            return False
        return True

    def fail(self, taken: Taken, reason: str, retry: bool, max_retries: int = 0) -> bool:
        """The cell failed with `reason`; queue it again if `retry` and retries are left.

        A cell put back (interrupted, or its worker cannot read the data) is queued again
        without counting a retry when `retry` is False and `max_retries` is -1.
        """
        self._end(taken.trial_id, TrialState.FAIL, reason)
        again = max_retries < 0 or (retry and taken.retries < max_retries)
        if again:
            retries = taken.retries + (max_retries >= 0)
            self.study.enqueue_trial(
                {}, user_attrs={CELL_ATTR: taken.cell.to_json(), "retries": retries,
                                "retry_of": taken.number}
            )  # fmt: skip
        return again

    def _id(self, trial: FrozenTrial) -> int:
        """The storage's id of a trial of this study."""
        return self.storage.get_trial_id_from_study_id_trial_number(self.study_id, trial.number)

    def _end(self, trial_id: int, state: TrialState, reason: str) -> None:
        try:
            self.storage.set_trial_user_attr(trial_id, "fail_reason", reason)
            self.storage.set_trial_state_values(trial_id, state)
        except UpdateFinishedTrialError:
            pass  # another process ended it first (a stale check)

    @contextlib.contextmanager
    def heartbeat(self, taken: Taken) -> Iterator[None]:
        """Renew the cell's heartbeat from a thread while the block runs."""
        stop = threading.Event()
        seconds = self.storage.get_heartbeat_interval() or HEARTBEAT_SECONDS

        def beat() -> None:
            while not stop.wait(seconds):
                try:
                    self.storage.record_heartbeat(taken.trial_id)
                except Exception as error:  # noqa: BLE001 - the grace period covers a blip
                    log.debug(f"heartbeat of trial {taken.number} failed: {first_line(error)}")

        thread = threading.Thread(target=beat, name=f"heartbeat-{taken.number}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()

    # ---- faults ----------------------------------------------------------------------------

    def fail_stale(self) -> None:
        """Fail (and queue again) cells whose worker stopped beating, and cells whose worker
        process on this host is gone, without waiting for their grace period."""
        from benchmark.runtime import process_alive

        optuna.storages.fail_stale_trials(self.study)
        host = socket.gethostname()
        for trial in self.trials([TrialState.RUNNING]):
            held = holder_of(trial)
            pid = held.get("pid")
            if held.get("host") != host or not isinstance(pid, int):
                continue
            if pid != os.getpid() and not process_alive(pid):
                trial_id = self._id(trial)
                gone = f"{held.get('worker', '?')} on {host} stopped (its process is gone)"
                try:
                    self.storage.set_trial_user_attr(trial_id, "fail_reason", gone)
                    if self.storage.set_trial_state_values(trial_id, TrialState.FAIL):
                        self._on_stale(self.study, self.storage.get_trial(trial_id))
                except UpdateFinishedTrialError:
                    pass  # another process ended it first

    def _on_stale(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """A dead worker's cell: close its MLflow run KILLED and queue the cell again."""
        cell = cell_of(trial)
        label = cell.label if cell else f"trial {trial.number}"
        held = holder_of(trial)
        holder = f"{held.get('worker', '?')} on {held.get('host', '?')}"
        log.warning(f"{label} held by {holder}, which stopped: queued again")
        run_id = trial.user_attrs.get("run_id")
        if run_id:
            from benchmark import tracking  # here: `status` never loads MLflow's client

            tracking.kill_run(run_id)
        lost = int(trial.user_attrs.get("lost", 0)) + 1
        if cell is not None and lost <= STALE_RETRIES:
            study.enqueue_trial(
                {}, user_attrs={CELL_ATTR: cell.to_json(), "lost": lost, "retry_of": trial.number,
                                "retries": int(trial.user_attrs.get("retries", 0))}
            )  # fmt: skip

    def describe(self) -> str:
        """The grid's study and storage, password masked, for log lines."""
        return f"grid {self.name} in {redact_url(self.url)}"


def absolute_sqlite(uri: str) -> str:
    """sqlite:///relative.db as sqlite:////absolute/path.db; any other URI as it is."""
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return "sqlite:///" + str(Path(uri.removeprefix("sqlite:///")).expanduser().resolve())
    return uri


def cell_of(trial: FrozenTrial) -> Cell | None:
    """The cell a trial holds; None for a trial that is not a cell."""
    text = trial.user_attrs.get(CELL_ATTR)
    return Cell.from_json(text) if isinstance(text, str) else None


def holder_of(trial: FrozenTrial) -> dict:
    """Who took a trial's cell: host, worker, pid, code, libraries, since; {} if nobody."""
    held = trial.user_attrs.get(HOLDER_ATTR)
    return held if isinstance(held, dict) else {}


def _outcome(trials: list[FrozenTrial]) -> Outcome:
    """Where a cell stands, from all its trials: a copy queued after its last completion
    (its run was deleted, say) is pending; else the last completion; else failed."""
    done = [trial for trial in trials if trial.state == TrialState.COMPLETE]
    pending = [trial for trial in trials if trial.state in PENDING]
    last_done = max((trial.number for trial in done), default=-1)
    if any(trial.number > last_done for trial in pending):
        return Outcome("pending")
    if done:
        return Outcome("done", run_id=max(done, key=lambda t: t.number).user_attrs.get("run_id"))
    failed = [trial for trial in trials if trial.state == TrialState.FAIL]
    if not failed:
        return Outcome("failed", reason="no longer queued (superseded by other code)")
    return Outcome("failed", reason=fail_reason(failed[-1]))


def fail_reason(trial: FrozenTrial) -> str:
    """Why a failed trial failed; a trial failed for want of heartbeats has no reason of its own."""
    return str(trial.user_attrs.get("fail_reason", "its worker stopped sending heartbeats"))
