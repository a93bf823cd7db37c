"""Run the fault-injection tests and print, per scenario, what was lost, repeated or left over.

Each scenario is a test in tests/test_faults_run.py or tests/test_faults_tune.py (real
processes, real MLflow stores, a real `mlflow server` on loopback that is killed); the tests
write what they measured and this script prints it as one table, with the machine on top:

    uv run python benchmarks/faults.py                 # every scenario, 10-20 min on 2 cores
    uv run python benchmarks/faults.py -k kill_9       # some of them (a pytest -k expression)

Columns: trainings = trainings started, kills included; lost = finished trainings not in the store
at the end (or trained a second time); duplicate = configurations with more than one FINISHED
run; RUNNING = runs left RUNNING; champion = repeated registrations of one run; seconds = the
scenario's wait (fault to exit, or the whole scenario) against its documented bound.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmark.training import hardware  # noqa: E402 - after the path above; imports no TF

TESTS = ["tests/test_faults_run.py", "tests/test_faults_tune.py", "tests/test_disk_full.py"]
COLUMNS = ("trainings", "lost", "duplicates", "running", "champion_repeats")


def cell(value: object) -> str:
    """A figure as the table shows it."""
    if value is None:
        return "-"
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def main() -> int:
    """Run the scenarios, print the table; exit non-zero when a scenario's test failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="pytest -k expression selecting scenarios")
    options = parser.parse_args()
    model, flags = hardware.cpu_info()
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "faults.jsonl"
        command = [sys.executable, "-m", "pytest", *TESTS, "-m", "slow or not slow", "-n0", "-q"]
        command += ["-p", "no:cacheprovider"] + (["-k", options.k] if options.k else [])
        started = time.monotonic()
        code = subprocess.run(
            command, cwd=ROOT, env={**os.environ, "BENCHMARK_FAULT_REPORT": str(report)}
        ).returncode
        wall = time.monotonic() - started
        rows = (
            [json.loads(line) for line in report.read_text().splitlines()]
            if report.exists()
            else []
        )
    print()
    print(f"machine: {model}, {hardware.cpu_cores()} cores; date {time.strftime('%Y-%m-%d')}")
    print(f"command: {' '.join(['python', '-m', 'pytest', *command[3:]])}  ({wall / 60:.1f} min)")
    print()
    header = ["scenario", *COLUMNS, "seconds", "bound", "test", "what happened"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        figures = [cell(row.get(column)) for column in COLUMNS]
        result = "passed" if row.get("passed") else "FAILED"
        print(
            f"| {row['scenario']} | " + " | ".join(figures)
            + f" | {cell(row.get('seconds'))} | {cell(row.get('bound'))} | {result}"
            + f" | {row.get('note', '')} |"
        )  # fmt: skip
    totals = {column: sum(row.get(column) or 0 for row in rows) for column in COLUMNS[1:]}
    over = sum(
        1
        for row in rows
        if row.get("bound") is not None and (row.get("seconds") or 0) > row["bound"]
    )
    print()
    print(
        f"{len(rows)} scenarios: {totals['lost']} finished trainings lost, "
        f"{totals['duplicates']} duplicate finished runs, {totals['running']} runs left RUNNING, "
        f"{totals['champion_repeats']} repeated champion registrations, "
        f"{over} waits past their bound; pytest exit code {code}"
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
