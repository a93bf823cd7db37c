"""Idle seconds between epochs, Keras' numpy pipeline against the project's feed, two at a time.

`run --jobs 2` trains two models at once, one TensorFlow thread each. Each setting here starts
two processes training `basic` on the same rows of MNIST at the same time and prints, per setting,
the seconds from one epoch's end to the next epoch's first batch (median and max over both
processes' epoch boundaries), the seconds per epoch, and each process's CPU use. `keras numpy`
is model.fit on the arrays (Keras' own autotuned tf.data pipeline); `feed` is
benchmark.training.feed, what `run` and `tune` train on.

    uv run python benchmarks/epoch_gap.py [--train-size N] [--epochs N] [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SETTINGS = ("keras numpy", "feed")


def child(setting: str, train_size: int, epochs: int) -> None:
    """Train basic for `epochs` epochs and print the epoch gaps and times as one JSON line."""
    for variable in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ[variable] = "1"  # what a `run --jobs 2` worker gets on two cores
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    import architectures
    from benchmark.data.mnist import load_mnist
    from benchmark.data.splits import to_model_input
    from benchmark.training import feed, runner
    from benchmark.training.optimizers import make_optimizer

    x_all, y_all, _, _ = load_mnist()
    x, y = to_model_input(x_all[:train_size]), y_all[:train_size]
    x_val, y_val = to_model_input(x_all[-6000:]), y_all[-6000:]
    arch = architectures.get("basic")
    keras.utils.set_random_seed(0)
    model = arch.build(arch.defaults, x.shape[1:], 10)
    model.compile(
        optimizer=make_optimizer("adam", 1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    gaps: list[float] = []
    ends: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            ends.append(time.perf_counter())

        def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
            if batch == 0 and ends:
                gaps.append(time.perf_counter() - ends[-1])

    batch = arch.defaults["batch_size"]
    start, cpu_start = time.perf_counter(), sum(os.times()[:2])
    if setting == "feed":
        model.fit(
            feed.batches(x, y, batch, seed=0),
            epochs=epochs,
            shuffle=False,  # the feed shuffles
            validation_data=feed.batches(x_val, y_val, runner.INFERENCE_BATCH),
            callbacks=[Clock()],
            verbose=0,
        )
    else:
        model.fit(
            x, y, batch_size=batch, epochs=epochs, validation_data=(x_val, y_val),
            callbacks=[Clock()], verbose=0,
        )  # fmt: skip
    wall = time.perf_counter() - start
    cpu = sum(os.times()[:2]) - cpu_start
    print(json.dumps({"gaps": gaps, "epoch": wall / epochs, "cpu": cpu / wall}))


def pair(setting: str, train_size: int, epochs: int) -> list[dict]:
    """Two children of `setting` at once; their JSON results."""
    command = [sys.executable, __file__, "--child", setting]
    command += ["--train-size", str(train_size), "--epochs", str(epochs)]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [process.communicate()[0] for process in processes]
    if any(process.returncode for process in processes):
        raise SystemExit(f"error: a {setting!r} child failed")
    return [json.loads(output.strip().splitlines()[-1]) for output in outputs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-size", type=int, default=54_000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2, help="pairs per setting")
    parser.add_argument("--child", choices=SETTINGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.train_size, args.epochs)
        return
    from benchmark.training import hardware

    print(f"CPU: {hardware.fingerprint()['machine']}")
    print(f"basic, {args.train_size:,} images, {args.epochs} epochs, two processes at a time")
    print(f"{'setting':<12} {'gap median':>10} {'gap max':>8} {'s/epoch':>8} {'CPU/process':>12}")
    for _ in range(args.repeats):
        for setting in SETTINGS:
            results = pair(setting, args.train_size, args.epochs)
            gaps = [gap for result in results for gap in result["gaps"]]
            epoch = statistics.mean(result["epoch"] for result in results)
            cpu = statistics.mean(result["cpu"] for result in results)
            print(
                f"{setting:<12} {statistics.median(gaps):9.2f}s {max(gaps):7.2f}s "
                f"{epoch:7.2f}s {cpu:11.0%}"
            )


if __name__ == "__main__":
    main()
