"""Which code and libraries a worker runs: cells of one comparison are trained by one code."""

from __future__ import annotations

import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGE = "cnn-benchmark"
LIBRARIES = ("tensorflow", "keras", "numpy", "mlflow", "optuna")


@cache
def code_version() -> str:
    """`git describe` of the checkout the code runs from (with -dirty for local edits), else
    the installed package's version."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return f"{PACKAGE} {version(PACKAGE)}"
    except PackageNotFoundError:
        return "unknown"


def library_versions() -> dict[str, str]:
    """The installed versions of the libraries that decide a training's numbers."""
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "absent"
    return found
