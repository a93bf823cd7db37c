"""Seconds to answer `--help`, an argument error and an unknown architecture (median of 5)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time

CASES = {
    "--help": ["--help"],
    "argument error (run --all --subset 0)": ["run", "--all", "--subset", "0"],
    "unknown architecture (run --arch nosuch)": ["run", "--arch", "nosuch"],
}
REPEATS = 5


def seconds(args: list[str], folder: str) -> float:
    """Wall-clock seconds of one `python -m benchmark ...` in a fresh process."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "benchmark", *args], cwd=folder, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    """Print the median of REPEATS runs of each case."""
    with tempfile.TemporaryDirectory() as folder:
        for name, args in CASES.items():
            median = statistics.median(seconds(args, folder) for _ in range(REPEATS))
            print(f"{median:6.2f} s  {name}")


if __name__ == "__main__":
    main()
