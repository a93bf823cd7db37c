"""What a model costs: multiply-accumulates per image, latency, throughput, time to a target."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence

import keras
import numpy as np

from benchmark.settings import TARGET_ACCURACY

# Images per step of every prediction without gradients: validation, test and throughput.
INFERENCE_BATCH = 1024


def count_macs(model: keras.Model) -> int:
    """Multiply-accumulates to classify one image, counted from the weight layers.

    Convention: one MAC is one multiplication of an input by a weight and its addition to a
    sum, in Conv2D, DepthwiseConv2D, SeparableConv2D (depthwise + pointwise) and Dense layers
    (nested models are walked). Bias additions, batch normalisation (foldable into the
    preceding layer at inference), pooling, activations, dropout and residual additions
    count 0. FLOPs, where reported, are 2 x MACs. A layer shared between several calls is
    counted once.
    """
    return sum(_layer_macs(layer) for layer in _weight_layers(model))


def _weight_layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _weight_layers(layer)
        else:
            yield layer


def _layer_macs(layer: keras.layers.Layer) -> int:
    # Order matters: SeparableConv2D and DepthwiseConv2D are not Conv2D subclasses in Keras 3,
    # but check the most specific types first in case a future version makes them so.
    if isinstance(layer, keras.layers.SeparableConv2D):
        in_channels, (height, width, out_channels) = _channels_in(layer), _spatial_out(layer)
        depthwise = height * width * in_channels * layer.depth_multiplier * _kernel_area(layer)
        return depthwise + height * width * in_channels * layer.depth_multiplier * out_channels
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        height, width, out_channels = _spatial_out(layer)
        return height * width * out_channels * _kernel_area(layer)
    if isinstance(layer, keras.layers.Conv2D):
        height, width, out_channels = _spatial_out(layer)
        per_output = _kernel_area(layer) * _channels_in(layer) // layer.groups
        return height * width * out_channels * per_output
    if isinstance(layer, keras.layers.Dense):
        positions = math.prod(layer.output.shape[1:-1])  # Dense on a >2-D input acts per position
        return positions * _channels_in(layer) * layer.units
    return 0


def _kernel_area(layer: keras.layers.Layer) -> int:
    return math.prod(layer.kernel_size)


def _channels_first(layer: keras.layers.Layer) -> bool:
    return getattr(layer, "data_format", "channels_last") == "channels_first"


def _channels_in(layer: keras.layers.Layer) -> int:
    shape = layer.input.shape
    return int(shape[1] if _channels_first(layer) else shape[-1])


def _spatial_out(layer: keras.layers.Layer) -> tuple[int, int, int]:
    """Output height, width and channels of a 2-D convolution."""
    shape = layer.output.shape
    if _channels_first(layer):
        return int(shape[2]), int(shape[3]), int(shape[1])
    return int(shape[1]), int(shape[2]), int(shape[3])


def latency_ms(
    model: keras.Model, input_shape: Sequence[int], repeats: int = 200, warmup: int = 20
) -> tuple[float, float]:
    """Median and 95th-percentile milliseconds to classify one image (batch size 1).

    Times `model.predict_on_batch`, Keras's compiled predict step, not an eager
    `model(x, training=False)` call, whose Python dispatch overhead would dominate one image's
    time and blur the differences between architectures (benchmarks/latency.py compares the two;
    docs/results.md, "Other timings").
    """
    x = np.zeros((1, *input_shape), dtype="float32")
    for _ in range(warmup):  # the first calls trace and compile the predict step
        model.predict_on_batch(x)
    times = np.empty(repeats)
    for index in range(repeats):
        start = time.perf_counter()
        model.predict_on_batch(x)  # returns NumPy, so the work is finished when it returns
        times[index] = time.perf_counter() - start
    p50, p95 = np.percentile(times * 1000.0, [50, 95])
    return float(p50), float(p95)


def throughput(model: keras.Model, x: np.ndarray, batch_size: int = INFERENCE_BATCH) -> float:
    """Images per second classified by `model.predict` in batches, after one warm-up batch."""
    # Trace the predict step for the full and the last, partial batch before timing.
    for warmup in {min(batch_size, len(x)), len(x) % batch_size} - {0}:
        model.predict(x[:warmup], batch_size=batch_size, verbose=0)
    start = time.perf_counter()
    model.predict(x, batch_size=batch_size, verbose=0)
    return len(x) / (time.perf_counter() - start)


def time_to_target(
    val_accuracy: Sequence[float],
    epoch_end_seconds: Sequence[float],
    target: float = TARGET_ACCURACY,
) -> float | None:
    """Training seconds at the end of the first epoch whose val_accuracy reached `target`."""
    for accuracy, seconds in zip(val_accuracy, epoch_end_seconds, strict=False):
        if accuracy >= target:
            return float(seconds)
    return None
