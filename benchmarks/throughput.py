"""Seconds per training epoch under each execution setting, as ratios against plain float32 fit.

Every (architecture, setting, repeat) trains in a fresh child process, because TensorFlow's
thread pools and Keras' dtype policy are fixed once a process has used them. Each child trains
the architecture's default model on the full MNIST training split (54,000 images, validation
on 6,000 after every epoch) and reports each epoch's seconds; the first epoch (tracing and
warm-up) is left out. The table gives the median and the minimum over the later epochs of all
repeats, and the ratio of the baseline's median to the setting's median (above 1 = faster).

    uv run python benchmarks/throughput.py                       # basic and augmented
    uv run python benchmarks/throughput.py --arch basic --epochs 4 --repeats 3

Settings: `float32` (numpy arrays into model.fit, Keras' own pipeline, oneDNN on unless
TF_ENABLE_ONEDNN_OPTS says otherwise: the baseline; the header says which), `feed`
(benchmark.training.feed, what `run` and `tune` train on: Keras' pipeline without autotuning;
see benchmarks/epoch_gap.py for why), `tf.data`
(from_tensor_slices, shuffle, batch, prefetch), `threads` (intra-op threads = cores, inter-op
1), `steps/exec 16` (steps_per_execution=16), `tf.data+steps` (both), `tf.data augment` (the
model's random augmentation layers moved into that pipeline's map, for `augmented`), `oneDNN on`
and `oneDNN off` (TF_ENABLE_ONEDNN_OPTS=1 or 0 in that child; a value you set in the environment
holds for the baseline and every other setting), `float32 again` (the baseline once more, in its
own children: its ratio is what this machine's noise alone gives, the bar a setting must clear),
`bfloat16` (Keras mixed_bfloat16; only where the device that trains computes bfloat16 natively,
unless --emulated-bf16), `float16` (mixed_float16; only on a GPU of compute capability 7.0+),
and `jit` with --jit.
`CPU %` is the child's CPU seconds over wall seconds in the timed epochs: 200% keeps two cores
busy. It runs unchanged on a GPU machine (the header names the GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SETTINGS = (
    "float32",
    "float32 again",
    "feed",
    "tf.data",
    "threads",
    "steps/exec 16",
    "tf.data+steps",
    "tf.data augment",
    "oneDNN on",
    "oneDNN off",
    "bfloat16",
    "float16",
    "jit",
)
TRAIN_SIZE, VAL_SIZE = 54_000, 6_000


def child(arch_name: str, setting: str, epochs: int, train_size: int = TRAIN_SIZE) -> None:
    """Train once under one setting and print {"epoch_seconds": [...]} as the last line."""
    if setting in ("oneDNN on", "oneDNN off"):
        # Read once, when TensorFlow loads; without it TensorFlow decides by the CPU's flags.
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1" if setting == "oneDNN on" else "0"
    import tensorflow as tf

    if setting == "threads":
        tf.config.threading.set_intra_op_parallelism_threads(len(os.sched_getaffinity(0)))
        tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras
    import numpy as np

    import architectures
    from benchmark.data.mnist import load_mnist
    from benchmark.training import precision
    from benchmark.training.optimizers import make_optimizer

    if setting in precision.REDUCED:
        keras.mixed_precision.set_global_policy(precision.KERAS_POLICIES[setting])
    x_train, y_train, _, _ = load_mnist()
    x = (x_train.astype("float32") / 255.0)[..., None]
    x_fit, y_fit = x[:train_size], y_train[:train_size]
    x_val, y_val = x[TRAIN_SIZE : TRAIN_SIZE + VAL_SIZE], y_train[TRAIN_SIZE:][:VAL_SIZE]
    arch = architectures.get(arch_name)
    params = dict(arch.defaults)
    keras.utils.set_random_seed(0)
    model = arch.build(params, x.shape[1:], 10)
    augment = None
    if setting == "tf.data augment":
        # Move the model's random augmentation layers into the input pipeline, where tf.data
        # runs them on its own threads, overlapping the training steps.
        moved = [layer for layer in model.layers if layer.__class__.__name__.startswith("Random")]
        if not moved:
            raise SystemExit(f"error: {arch_name} has no augmentation layers to move")
        kept = [layer for layer in model.layers if layer not in moved]
        model = keras.Sequential([keras.Input(shape=x.shape[1:]), *kept], name=model.name)
        augment = keras.Sequential(moved)
    model.compile(
        optimizer=make_optimizer(params["optimizer"], params["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=16 if setting in ("steps/exec 16", "tf.data+steps") else 1,
        jit_compile=setting == "jit",
    )
    ends: list[float] = []
    cpu: list[float] = []

    def clock_epoch(epoch: int, logs: dict) -> None:
        ends.append(time.perf_counter())
        cpu.append(sum(os.times()[:2]))

    clock = keras.callbacks.LambdaCallback(on_epoch_end=clock_epoch)
    batch = params["batch_size"]
    if setting == "feed":
        from benchmark.training import feed, runner

        start, cpu_start = time.perf_counter(), sum(os.times()[:2])
        model.fit(
            feed.batches(x_fit, y_fit, batch, seed=0),
            epochs=epochs,
            shuffle=False,  # the feed shuffles
            validation_data=feed.batches(x_val, y_val, runner.INFERENCE_BATCH),
            callbacks=[clock],
            verbose=0,
        )
    elif setting in ("tf.data", "tf.data+steps", "tf.data augment"):
        data = (
            tf.data.Dataset.from_tensor_slices((x_fit, y_fit))
            .shuffle(len(x_fit), seed=0, reshuffle_each_iteration=True)
            .batch(batch)
        )
        if augment is not None:
            data = data.map(
                lambda images, labels: (augment(images, training=True), labels),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
        data = data.prefetch(tf.data.AUTOTUNE)
        val = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(1024)
        start, cpu_start = time.perf_counter(), sum(os.times()[:2])
        model.fit(data, epochs=epochs, validation_data=val, callbacks=[clock], verbose=0)
    else:
        start, cpu_start = time.perf_counter(), sum(os.times()[:2])
        model.fit(
            x_fit,
            y_fit,
            batch_size=batch,
            epochs=epochs,
            validation_data=(x_val, y_val),
            callbacks=[clock],
            verbose=0,
        )
    seconds = list(np.diff([start, *ends]))
    cpu_seconds = list(np.diff([cpu_start, *cpu]))
    print(
        json.dumps(
            {
                "epoch_seconds": [float(s) for s in seconds],
                "cpu_seconds": [float(s) for s in cpu_seconds],
            }
        )
    )


def run_child(
    arch: str, setting: str, epochs: int, train_size: int
) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds per epoch of one fresh child process (the first epoch dropped)."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", setting, "--arch", arch, "--epochs", str(epochs)]
        + ["--train-size", str(train_size)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"error: {arch} under {setting} failed: {tail}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["epoch_seconds"][1:], report["cpu_seconds"][1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", nargs="+", default=["basic", "augmented"])
    parser.add_argument("--epochs", type=int, default=3, help="per child; the first is dropped")
    parser.add_argument("--repeats", type=int, default=2, help="children per setting")
    parser.add_argument(
        "--train-size", type=int, default=TRAIN_SIZE, help="training images (smoke checks: fewer)"
    )
    parser.add_argument("--jit", action="store_true", help="also time jit_compile=True")
    parser.add_argument(
        "--emulated-bf16", action="store_true", help="time bfloat16 without native support too"
    )
    parser.add_argument(
        "--settings", nargs="+", choices=SETTINGS, help="only these (float32 is always timed)"
    )
    parser.add_argument("--child", choices=SETTINGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.epochs < 2 or args.repeats < 1:
        parser.error("--epochs must be at least 2 and --repeats at least 1")
    if args.child:
        child(args.arch[0], args.child, args.epochs, args.train_size)
        return

    from benchmark import runtime
    from benchmark.training import hardware

    runtime.choose_onednn()  # the baseline children run as `run` does
    native = hardware.native_precisions()
    tags = hardware.fingerprint(precision="float32")
    print(f"machine: {tags['machine']}; flags: {tags['cpu_flags']}; oneDNN {tags['onednn']}")
    print(f"native reduced precisions: {', '.join(sorted(native)) or 'none'}")
    settings = [s for s in SETTINGS if s != "jit" or args.jit]
    if args.settings:
        settings = [s for s in settings if s == "float32" or s in args.settings]
    if "bfloat16" not in native and not args.emulated_bf16 and "bfloat16" in settings:
        settings.remove("bfloat16")
    if "float16" not in native and "float16" in settings:  # a GPU's (7.0+): tensor cores
        settings.remove("float16")
    print(
        f"{args.train_size} training images; {args.repeats} children per setting, "
        f"{args.epochs} epochs each, first one dropped"
    )
    print()
    header = (
        f"{'architecture':<12} {'setting':<14} {'median s/epoch':>15} {'min':>8} {'x float32':>10}"
        f" {'CPU %':>6}"
    )
    print(header)
    print("-" * len(header))
    for arch in args.arch:
        # Interleave settings within each repeat so that a slow spell of the VM hits all alike.
        samples: dict[str, list[float]] = {setting: [] for setting in settings}
        cpu: dict[str, list[float]] = {setting: [] for setting in settings}
        for _ in range(args.repeats):
            for setting in settings:
                wall, busy = run_child(arch, setting, args.epochs, args.train_size)
                samples[setting] += wall
                cpu[setting] += busy
        baseline = statistics.median(samples["float32"])
        for setting in settings:
            median = statistics.median(samples[setting])
            # CPU seconds over wall seconds of the timed epochs: 200% keeps two cores busy.
            busy = 100.0 * sum(cpu[setting]) / sum(samples[setting])
            print(
                f"{arch:<12} {setting:<14} {median:>15.2f} {min(samples[setting]):>8.2f} "
                f"{baseline / median:>9.2f}x {busy:>5.0f}%",
                flush=True,
            )


if __name__ == "__main__":
    main()
