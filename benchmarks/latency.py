"""Why costs.latency_ms times `predict_on_batch`: batch-1 latency of eager calls against it.

Builds each architecture with its defaults (untrained weights time the same as trained ones)
and times one image through an eager `model(x, training=False)` call and through Keras's
compiled predict step, interleaved in the same process, then prints medians and the ratio.

    uv run python benchmarks/latency.py [--repeats 200] [--arch basic resnet mlp]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import architectures  # noqa: E402
from benchmark.cli.catalog import INPUT_SHAPE, MNIST_CLASSES  # noqa: E402


def median_ms(call: object, x: np.ndarray, repeats: int) -> float:
    """Median milliseconds of `call(x)` after 20 warm-up calls."""
    for _ in range(20):
        call(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(call(x))
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--arch", nargs="+", default=architectures.names())
    args = parser.parse_args()
    x = np.zeros((1, *INPUT_SHAPE), dtype="float32")
    print(f"{'architecture':<12} {'eager ms':>9} {'predict_on_batch ms':>20} {'ratio':>6}")
    for name in args.arch:
        arch = architectures.get(name)
        model = arch.build(arch.defaults, INPUT_SHAPE, MNIST_CLASSES)
        eager = median_ms(lambda batch, m=model: m(batch, training=False), x, args.repeats)
        compiled = median_ms(model.predict_on_batch, x, args.repeats)
        print(f"{name:<12} {eager:>9.3f} {compiled:>20.3f} {eager / compiled:>6.1f}")


if __name__ == "__main__":
    main()
