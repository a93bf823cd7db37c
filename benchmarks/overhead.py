"""The tool's overhead: bare `model.fit` against a tracked `benchmark run`, same model and epochs.

Trains the `basic` architecture on the full training split twice bare (build, fit with the
validation split, evaluate on test) and once through `python -m benchmark run` with MLflow
tracking, artifacts and the logged model, all in this one process, and prints the ratio.

    uv run python benchmarks/overhead.py [--epochs 5]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import architectures  # noqa: E402
from benchmark import tracking  # noqa: E402
from benchmark.cli import main  # noqa: E402
from benchmark.data.splits import load_splits, to_model_input  # noqa: E402
from benchmark.settings import SPLIT_SEED  # noqa: E402
from benchmark.training.runner import build_model  # noqa: E402


def bare_fit(epochs: int) -> float:
    """Seconds for the notebook's own steps: build, fit with validation, evaluate on test."""
    start = time.perf_counter()
    splits = load_splits(seed=SPLIT_SEED)
    arch = architectures.get("basic")
    keras.utils.set_random_seed(0)
    model = build_model(arch, arch.defaults, splits)
    model.fit(
        to_model_input(splits.x_train),
        splits.y_train,
        batch_size=128,
        epochs=epochs,
        validation_data=(to_model_input(splits.x_val), splits.y_val),
        verbose=0,
    )
    model.evaluate(to_model_input(splits.x_test), splits.y_test, verbose=0)
    return time.perf_counter() - start


def tracked_run(epochs: int, folder: Path) -> float:
    """Seconds for `python -m benchmark run --arch basic --epochs N` into an existing store."""
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    tracking.connect(uri, "overhead")  # the store exists already, as it does for a user
    start = time.perf_counter()
    code = main(
        [
            "run",
            "--arch",
            "basic",
            "--epochs",
            str(epochs),
            "--force",
            "--experiment",
            "overhead",
            "--tracking-uri",
            uri,
            "--output-dir",
            str(folder),
        ]
    )
    seconds = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"tracked run failed with exit code {code}")
    return seconds


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    bare_fit(1)  # warm-up: TensorFlow's first graph tracing is paid by neither side
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        first_bare = bare_fit(args.epochs)
        tracked = tracked_run(args.epochs, Path(folder))
        second_bare = bare_fit(args.epochs)
    bare = (first_bare + second_bare) / 2
    print(f"epochs: {args.epochs}  (basic, 54,000 training images, batch 128)")
    print(f"bare model.fit: {first_bare:.1f} s and {second_bare:.1f} s (mean {bare:.1f} s)")
    print(f"tracked benchmark run: {tracked:.1f} s")
    print(f"overhead ratio tracked/bare: {tracked / bare:.3f}  (target <= 1.05)")


if __name__ == "__main__":
    run()
