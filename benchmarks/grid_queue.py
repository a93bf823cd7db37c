"""Stress the grid's queue: real tiny cells taken by N `worker` processes on one store.

`run --storage URL --jobs 1` queues the cells (mlp, --subset 200, 1 epoch, seeds 0..K-1)
and trains some itself; as soon as they are queued, N `python -m benchmark worker` processes
join on the same store and take the rest. Every process runs through this script's wrapper
(`--instrument`), which times the grid's calls and counts the statements sent to the Optuna
database (a SQLAlchemy `before_cursor_execute` listener), per cell, then calls the same
`benchmark.cli.main.main`. Nothing is instrumented in `benchmark/` itself.

    uv run python benchmarks/grid_queue.py                          # 200 cells, 8 workers, SQLite
    uv run python benchmarks/grid_queue.py --storage postgresql://u@127.0.0.1:5432/db

Prints cells queued, trained, duplicates (cells with more than one FINISHED MLflow run, or more
than one trial that trained), lost (cells never done), and the queue's own overhead per cell:
seconds in take / record_run / complete / fail / fail_stale / heartbeat / opening grids, and the
database statements (round trips). Exits 1 when any cell is duplicated or lost.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STATS_VARIABLE = "GRID_QUEUE_STATS"  # read only by this script's wrapper: where records go
STORAGE_VARIABLE = "GRID_QUEUE_STORAGE"  # the Optuna database whose statements are counted
TIMED = ("take", "record_run", "complete", "fail", "fail_stale", "queue", "outcomes")
PARTS = (*TIMED, "open", "heartbeat", "other")  # "other": statements outside those calls
EXPERIMENT = "grid-stress"


# ---- inside each process: the wrapper ------------------------------------------------------


def instrument(stats_path: str, storage_url: str) -> None:
    """Time the grid's calls and count the storage's statements; one JSON line per cell."""
    import optuna
    from sqlalchemy import event
    from sqlalchemy.engine import Engine, make_url

    from benchmark.grid import queue

    def place(url: object) -> tuple:
        url = make_url(str(url))
        return url.get_backend_name(), url.database, url.host, url.port

    target = place(storage_url)
    lock, local = threading.Lock(), threading.local()
    cell: dict[str, list[float]] = {}  # part -> [seconds, statements] for the cell in hand
    idle: dict[str, list[float]] = {}  # the same for polls that found nothing to take

    def add(part: str, seconds: float, statements: int) -> None:
        with lock:
            figures = cell.setdefault(part, [0.0, 0, 0])  # seconds, statements, calls
            figures[0] += seconds
            figures[1] += statements
            figures[2] += 1

    def on_statement(conn, cursor, statement, parameters, context, executemany) -> None:
        if place(conn.engine.url) != target:
            return  # MLflow's own database, when it is SQL too
        if getattr(local, "part", None) is not None:
            local.statements += 1
        else:
            add("other", 0.0, 1)

    event.listen(Engine, "before_cursor_execute", on_statement)

    def emit(record: dict) -> None:
        with open(stats_path, "a") as out:
            out.write(json.dumps(record) + "\n")

    def timed(part: str, function):
        def wrapper(*args, **kwargs):
            if getattr(local, "part", None) is not None:  # nested: the outer call counts it
                return function(*args, **kwargs)
            local.part, local.statements, started = part, 0, time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                add(part, time.perf_counter() - started, local.statements)
                local.part = None

        return wrapper

    def take(self, worker):
        taken = timed_take(self, worker)
        if taken is None:
            with lock:
                for part, values in cell.items():
                    figures = idle.setdefault(part, [0.0, 0, 0])
                    for index, value in enumerate(values):
                        figures[index] += value
                cell.clear()
        return taken

    def ended(function):
        def wrapper(self, taken, *args, **kwargs):
            result = function(self, taken, *args, **kwargs)
            with lock:
                record = {"kind": "cell", "trial": taken.number, "key": taken.cell.key,
                          "pid": os.getpid(), "parts": dict(cell)}  # fmt: skip
                cell.clear()
            emit(record)
            return result

        return wrapper

    timed_take = timed("take", queue.Grid.take)
    queue.Grid.take = take
    for part in ("record_run", "fail_stale", "queue", "outcomes"):
        setattr(queue.Grid, part, timed(part, getattr(queue.Grid, part)))
    queue.Grid.complete = ended(timed("complete", queue.Grid.complete))
    queue.Grid.fail = ended(timed("fail", queue.Grid.fail))
    queue.Grid.__init__ = timed("open", queue.Grid.__init__)
    queue.Grid.all_in = classmethod(timed("open", queue.Grid.all_in.__func__))
    beat = optuna.storages.RDBStorage.record_heartbeat
    optuna.storages.RDBStorage.record_heartbeat = timed("heartbeat", beat)  # the beating thread
    atexit.register(lambda: emit({"kind": "idle", "pid": os.getpid(), "parts": dict(idle)}))


def instrumented(argv: list[str]) -> int:
    """`python -m benchmark <argv>` with the grid's calls timed and counted."""
    instrument(os.environ[STATS_VARIABLE], os.environ[STORAGE_VARIABLE])
    from benchmark.cli.main import main

    return main(argv)


# ---- the driver ----------------------------------------------------------------------------


def queued_cells(storage_url: str) -> int:
    """How many trials the stress grid's study holds so far."""
    import optuna

    try:
        summaries = optuna.get_all_study_summaries(storage_url, include_best_trial=False)
    except Exception:  # noqa: BLE001 - not created yet, or the tables are being made
        return 0
    return sum(s.n_trials for s in summaries if s.study_name.startswith(f"grid-{EXPERIMENT}"))


def stress(options: argparse.Namespace, folder: Path) -> dict:
    """Queue and train the cells; return what the stores and the wrappers recorded."""
    storage = options.storage or f"sqlite:///{folder / 'optuna.db'}"
    tracking_uri = f"sqlite:///{folder / 'mlflow.db'}"
    stats = folder / "stats.jsonl"
    env = {**os.environ, STATS_VARIABLE: str(stats), STORAGE_VARIABLE: storage}
    me = [sys.executable, str(Path(__file__).resolve()), "--instrument"]
    common = ["--storage", storage, "--tracking-uri", tracking_uri, "-q"]
    run_args = ["run", "--arch", options.arch, "--subset", str(options.subset), "--epochs", "1",
                "--seeds", str(options.cells), "--jobs", "1", "--experiment", EXPERIMENT,
                "--heartbeat", str(options.heartbeat), *common]  # fmt: skip
    started = time.monotonic()
    logs = folder / "logs"
    logs.mkdir()
    run = subprocess.Popen(
        [*me, *run_args], cwd=folder, env=env, stdout=open(logs / "run.log", "w"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    while queued_cells(storage) < options.cells:
        if run.poll() is not None:
            raise SystemExit(f"run ended (exit {run.returncode}) before queueing: see its log")
        time.sleep(0.5)
    queued_at = time.monotonic() - started
    workers = [
        subprocess.Popen(
            [*me, "worker", *common, "--name", f"w{index}"],
            cwd=folder,
            env=env,
            stdout=open(logs / f"w{index}.log", "w"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        for index in range(options.workers)
    ]
    codes = {"run": run.wait()}
    for index, worker in enumerate(workers):
        try:
            codes[f"w{index}"] = worker.wait(timeout=120)
        except subprocess.TimeoutExpired:
            worker.send_signal(signal.SIGINT)
            codes[f"w{index}"] = worker.wait()
    wall = time.monotonic() - started
    records = [json.loads(line) for line in stats.read_text().splitlines()]
    return {"storage": storage, "tracking": tracking_uri, "records": records, "codes": codes,
            "wall": wall, "queued_at": queued_at}  # fmt: skip


def census(storage: str, tracking_uri: str) -> dict:
    """Cells queued, trained, duplicated and lost, from the study and from MLflow."""
    import mlflow
    import optuna
    from optuna.trial import TrialState

    from benchmark.grid.queue import cell_of

    name = next(s.study_name for s in optuna.get_all_study_summaries(storage)
                if s.study_name.startswith(f"grid-{EXPERIMENT}"))  # fmt: skip
    trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
    keys, trained, done = set(), Counter(), Counter()
    states = Counter(t.state.name for t in trials)
    configs: dict[str, str] = {}
    for trial in trials:
        cell = cell_of(trial)
        keys.add(cell.key)
        configs[cell.key] = cell.config
        if trial.state == TrialState.COMPLETE:
            done[cell.key] += 1
            trained[cell.key] += not trial.user_attrs.get("reused")
    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], max_results=50_000)
    finished = Counter(r.data.tags.get("config_hash") for r in runs if r.info.status == "FINISHED")
    return {
        "queued": len(keys),
        "trained": sum(1 for key in keys if trained[key] >= 1),
        "duplicates": sum(1 for key in keys if trained[key] > 1 or finished[configs[key]] > 1),
        "lost": sum(1 for key in keys if not done[key] or not finished[configs[key]]),
        "running_runs": sum(1 for r in runs if r.info.status == "RUNNING"),
        "trial_states": dict(states),
    }


def overhead(records: list[dict]) -> dict:
    """Per cell: the queue's seconds and statements, in all and by part; idle polls apart."""
    cells = [r for r in records if r["kind"] == "cell"]
    idle = [r for r in records if r["kind"] == "idle"]

    def spread(values: list[float]) -> dict:
        return {"median": statistics.median(values), "max": max(values),
                "mean": statistics.fmean(values)}  # fmt: skip

    def total(record: dict, index: int, parts=PARTS) -> float:
        return sum(record["parts"].get(part, [0, 0, 0])[index] for part in parts)

    by_part = {
        part: {
            "seconds": spread([total(r, 0, [part]) for r in cells]),
            "statements": spread([total(r, 1, [part]) for r in cells]),
            "calls": spread([total(r, 2, [part]) for r in cells]),
        }  # fmt: skip
        for part in PARTS
        if any(part in r["parts"] for r in cells)
    }
    beats = sum(total(r, 2, ["heartbeat"]) for r in cells)
    beat_statements = sum(total(r, 1, ["heartbeat"]) for r in cells)
    return {
        "cells": len(cells),
        "per_process": sorted(Counter(r["pid"] for r in cells).values(), reverse=True),
        "seconds": spread([total(r, 0) for r in cells]),
        "statements": spread([total(r, 1) for r in cells]),
        "by_part": by_part,
        "statements_per_heartbeat": beat_statements / beats if beats else None,
        "idle_seconds": sum(total(r, 0) for r in idle),
        "idle_statements": sum(total(r, 1) for r in idle),
    }


def show(found: dict, figures: dict, result: dict, options: argparse.Namespace) -> None:
    """The figures as a plain table, the machine on top."""
    from benchmark.redaction import redact_url
    from benchmark.training import hardware

    model, _ = hardware.cpu_info()
    print(f"machine: {model}, {hardware.cpu_cores()} cores; store {redact_url(result['storage'])}")
    print(f"{options.cells} cells ({options.arch}, --subset {options.subset}, 1 epoch) by run "
          f"--jobs 1 + {options.workers} workers; wall {result['wall']:.0f} s, queued after "
          f"{result['queued_at']:.0f} s; exit codes {result['codes']}")  # fmt: skip
    for name in ("queued", "trained", "duplicates", "lost", "running_runs"):
        print(f"  {name:<26}{found[name]:>8}")
    print(f"  {'trial states':<26}{found['trial_states']}")
    print(f"  {'cells per process':<26}{figures['per_process']}")
    print(f"\nqueue overhead per cell ({figures['cells']} cells)    median      max     mean")
    for label, key in (("seconds", "seconds"), ("database statements", "statements")):
        s = figures[key]
        print(f"  {label:<36}{s['median']:>8.3f} {s['max']:>8.3f} {s['mean']:>8.3f}")
    print("\nby call                    s median   s max   stmts median   stmts max   calls mean")
    for part, p in figures["by_part"].items():
        print(f"  {part:<24}{p['seconds']['median']:>8.3f}{p['seconds']['max']:>8.3f}"
              f"{p['statements']['median']:>15.1f}{p['statements']['max']:>12.0f}"
              f"{p['calls']['mean']:>13.2f}")  # fmt: skip
    per_beat = figures["statements_per_heartbeat"]
    print(f"\nstatements per heartbeat: {per_beat if per_beat is None else round(per_beat, 2)}; "
          f"idle polls (nothing to take): {figures['idle_seconds']:.1f} s, "
          f"{figures['idle_statements']} statements in all")  # fmt: skip


def main() -> int:
    """Run the stress test, print its table; exit 1 on any duplicate or lost cell."""
    if len(sys.argv) > 1 and sys.argv[1] == "--instrument":
        return instrumented(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=200, help="seeds, one cell each")
    parser.add_argument("--workers", type=int, default=8, help="worker processes")
    parser.add_argument("--arch", default="mlp")
    parser.add_argument("--subset", type=int, default=200, help="training images per cell")
    parser.add_argument("--heartbeat", type=int, default=10, help="seconds between heartbeats")
    parser.add_argument("--storage", help="an SQLAlchemy URL (default: SQLite in a temp folder)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the folder with the logs")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="grid-queue-"))
    result = stress(options, folder)
    found = census(result["storage"], result["tracking"])
    figures = overhead(result["records"])
    show(found, figures, result, options)
    if options.json:
        options.json.write_text(json.dumps({"census": found, "overhead": figures,
                                            "wall": result["wall"]}, indent=1))  # fmt: skip
    if options.keep:
        print(f"logs and stores kept in {folder}")
    else:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    return 1 if found["duplicates"] or found["lost"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
