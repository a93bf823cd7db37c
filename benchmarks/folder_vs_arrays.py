"""A folder of MNIST PNGs against the same images as arrays: test accuracy per architecture.

Writes a stratified TRAIN training and TEST test digits of MNIST as PNG files into class
folders (train/<digit>/, test/<digit>/), saves the very same arrays as an .npz file, runs
`python -m benchmark run` on each with the same architectures, seed and epochs in one
temporary store, and prints each architecture's test accuracy on both, with the digests.

    uv run python benchmarks/folder_vs_arrays.py [--train 3000] [--test 1000] [--epochs 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from benchmark.cli import main  # noqa: E402
from benchmark.data.mnist import load_mnist  # noqa: E402


def stratified(labels: np.ndarray, n: int) -> np.ndarray:
    """Sorted indices of a stratified sample of n labels (seed 0)."""
    taken, _ = train_test_split(
        np.arange(len(labels)), train_size=n, stratify=labels, random_state=0
    )
    return np.sort(taken)


def write_folder(root: Path, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    """root/split/<digit>/<index>.png, zero-padded so a folder reads back in this order."""
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = root / split / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{index:05d}.png")


def accuracies(uri: str, experiment: str) -> dict[str, float]:
    """Test accuracy per architecture of the experiment's training runs."""
    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id], "tags.run_kind = 'training'")
    return {run.data.tags["arch"]: run.data.metrics["test_accuracy"] for run in runs}


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--arch", nargs="+", default=None, help="default: --all")
    args = parser.parse_args()
    x_train, y_train, x_test, y_test = load_mnist()
    train, test = stratified(y_train, args.train), stratified(y_test, args.test)
    archs = ["--arch", *args.arch] if args.arch else ["--all"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "mnist-pngs"
        # Class by class, as the folder is read back, so both hold the same arrays in order.
        order_train = train[np.argsort(y_train[train], kind="stable")]
        order_test = test[np.argsort(y_test[test], kind="stable")]
        write_folder(folder, "train", x_train[order_train], y_train[order_train])
        write_folder(folder, "test", x_test[order_test], y_test[order_test])
        arrays = Path(tmp) / "mnist-arrays.npz"
        np.savez(
            arrays,
            x_train=x_train[order_train],
            y_train=y_train[order_train],
            x_test=x_test[order_test],
            y_test=y_test[order_test],
        )
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        os.environ["BENCHMARK_DATA_DIR"] = str(Path(tmp) / "cache")
        seconds = {}
        for dataset in (folder, arrays):
            start = time.perf_counter()
            command = ["-q", "run", *archs, "--epochs", str(args.epochs), "--dataset"]
            command += [str(dataset), "--tracking-uri", uri, "--output-dir", tmp]
            assert main(command) == 0, f"run on {dataset.name} failed"
            seconds[dataset.name] = time.perf_counter() - start
        on_folder = accuracies(uri, "cnn-benchmark-mnist-pngs")
        on_arrays = accuracies(uri, "cnn-benchmark-mnist-arrays")
    print(f"{args.train} train / {args.test} test MNIST digits, {args.epochs} epochs, seed 0")
    print(f"{'architecture':<12} {'folder':>8} {'arrays':>8} {'diff':>8}")
    for name in sorted(on_folder):
        diff = on_folder[name] - on_arrays.get(name, float("nan"))
        print(f"{name:<12} {on_folder[name]:>8.4f} {on_arrays.get(name, float('nan')):>8.4f} "
              f"{diff:>+8.4f}")  # fmt: skip
    print("seconds: " + ", ".join(f"{name} {value:.0f}" for name, value in seconds.items()))


if __name__ == "__main__":
    main_()
