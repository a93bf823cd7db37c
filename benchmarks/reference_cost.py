"""What one epoch of a published 99.70% recipe costs here, against `augmented`'s, in one run.

MnistSimpleCNN (An et al., arXiv 2008.10400) reaches 99.70% final-epoch test accuracy (mean
over 30 seeds) with its M3 model after 150 epochs on a GPU: ten 3x3 valid convolutions of 32,
48, ..., 176 channels, each followed by batch norm and ReLU, then the flattened 8x8x176 map into
a 10-way dense layer with batch norm; batch 120. This script builds that model and `augmented`'s
default model under the precision `run` would pick, trains each on the project's feed of the
54,000 MNIST training images for --steps batches once (warm-up) and then --repeats more times,
and prints each model's seconds per epoch (the timed steps scaled to a full pass), the ratio
M3 / augmented, how many of M3's 150 epochs fit into 15 minutes and what 150 would take.
M3 here gets `augmented`'s random shifts and rotations (the paper's own augmentation differs),
so that both pay for the same input pipeline.

    uv run python benchmarks/reference_cost.py [--steps 60] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

M3_CHANNELS = (32, 48, 64, 80, 96, 112, 128, 144, 160, 176)
M3_BATCH = 120
M3_EPOCHS = 150
BUDGET_SECONDS = 15 * 60


def m3(params: dict) -> object:
    """MnistSimpleCNN's M3 on 28x28x1 inputs, after augmented's random shift and rotation."""
    import keras
    from keras import layers

    convolutions = []
    for channels in M3_CHANNELS:
        convolutions += [
            layers.Conv2D(channels, 3, use_bias=False),
            layers.BatchNormalization(),
            layers.Activation("relu"),
        ]
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.RandomTranslation(params["shift"], params["shift"], fill_mode="constant"),
        layers.RandomRotation(params["rotation"], fill_mode="constant"),
        *convolutions,
        layers.Flatten(),
        layers.Dense(10, use_bias=False),
        layers.BatchNormalization(),
        layers.Activation("softmax", dtype="float32"),
    ])  # fmt: skip


def epoch_seconds(
    model: object, x: object, y: object, batch: int, steps: int, repeats: int
) -> list[float]:
    """Seconds per pass over x, from `repeats` timed runs of `steps` batches after a warm-up."""
    from benchmark.training import feed
    from benchmark.training.optimizers import make_optimizer

    model.compile(optimizer=make_optimizer("adam", 1e-3), loss="sparse_categorical_crossentropy")
    batches = feed.batches(x, y, batch, seed=0).repeat()
    model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)  # tracing and warm-up
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)
        timings.append((time.perf_counter() - start) / steps * len(x) / batch)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="timed batches per repeat")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if args.steps < 1 or args.repeats < 1:
        parser.error("--steps and --repeats must be at least 1")

    from benchmark.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras

    import architectures
    from benchmark.data.splits import load_splits, to_model_input
    from benchmark.training import hardware, precision

    splits = load_splits()
    x, y = to_model_input(splits.x_train), splits.y_train
    augmented = architectures.get("augmented")
    chosen = precision.resolve("auto")
    figures = {}
    with precision.policy(chosen):
        for name, build, batch in (
            ("augmented", lambda: augmented.build(augmented.defaults, x.shape[1:], 10),
             augmented.defaults["batch_size"]),
            ("MnistSimpleCNN M3", lambda: m3(augmented.defaults), M3_BATCH),
        ):  # fmt: skip
            keras.utils.set_random_seed(0)
            model = build()
            seconds = epoch_seconds(model, x, y, batch, args.steps, args.repeats)
            figures[name] = {"params": model.count_params(), "epoch_s": seconds}
    median = {name: statistics.median(f["epoch_s"]) for name, f in figures.items()}
    reference = median["MnistSimpleCNN M3"]
    cpu = f"{hardware.cpu_info()[0]} ({hardware.cpu_generation()}), {hardware.cpu_cores()} cores"
    print(f"{cpu}, {chosen}, {len(x):,} training images")
    for name, f in figures.items():
        shown = ", ".join(f"{s:.1f}" for s in f["epoch_s"])
        print(f"{name}: {f['params']:,} params, s per epoch {shown} (median {median[name]:.1f})")
    print(
        f"M3 / augmented: {reference / median['augmented']:.2f}x; M3 epochs in 15 min: "
        f"{BUDGET_SECONDS / reference:.1f} of {M3_EPOCHS}; {M3_EPOCHS} epochs: "
        f"{reference * M3_EPOCHS / 3600:.1f} h"
    )
    print(json.dumps({"precision": chosen, **{k: v["epoch_s"] for k, v in figures.items()}}))


if __name__ == "__main__":
    main()
