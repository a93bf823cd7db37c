"""Costs of a model: MACs against hand counts, latency, throughput and time to target."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

import architectures
from benchmark.training import costs

MNIST = (28, 28, 1)


def test_basic_macs_match_a_hand_count() -> None:
    arch = architectures.get("basic")
    model = arch.build(arch.defaults, MNIST, 10)
    hand = (
        28 * 28 * 32 * (3 * 3 * 1)  # conv 32, padding same, on 28x28x1
        + 12 * 12 * 64 * (3 * 3 * 32)  # conv 64, valid, on the pooled 14x14x32
        + 4 * 4 * 64 * (3 * 3 * 64)  # conv 64, valid, on the pooled 6x6x64
        + 1024 * 64  # dense 64 on the flattened 4x4x64
        + 64 * 10  # the classifier
    )
    assert hand == 3_536_000
    assert costs.count_macs(model) == hand


def test_augmented_macs_count_strided_convolutions_and_skip_augmentation() -> None:
    arch = architectures.get("augmented")
    model = arch.build(arch.defaults, MNIST, 10)
    hand = (
        26 * 26 * 32 * (3 * 3 * 1)  # 3x3 valid on 28x28x1
        + 24 * 24 * 32 * (3 * 3 * 32)  # 3x3 valid on 26x26x32
        + 12 * 12 * 32 * (5 * 5 * 32)  # 5x5 stride 2, padding same, on 24x24x32
        + 10 * 10 * 64 * (3 * 3 * 32)  # 3x3 valid on 12x12x32
        + 8 * 8 * 64 * (3 * 3 * 64)  # 3x3 valid on 10x10x64
        + 4 * 4 * 64 * (5 * 5 * 64)  # 5x5 stride 2, padding same, on 8x8x64
        + 1024 * 128  # dense 128 on the flattened 4x4x64
        + 128 * 10  # the classifier
    )
    assert hand == 15_162_752
    assert costs.count_macs(model) == hand


def test_separable_depthwise_grouped_and_dense_layers_are_counted() -> None:
    inputs = keras.Input((8, 8, 3))
    x = layers.SeparableConv2D(8, 3, padding="same", depth_multiplier=2)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.DepthwiseConv2D(3, strides=2)(x)
    x = layers.Conv2D(4, 1, groups=2)(x)
    x = layers.Dense(5)(x)
    model = keras.Model(inputs, layers.GlobalAveragePooling2D()(x))
    separable = 8 * 8 * 3 * 2 * 9 + 8 * 8 * (3 * 2) * 8  # depthwise, then pointwise
    depthwise = 3 * 3 * 8 * 9  # 8x8 -> 3x3 with stride 2, one filter per channel
    grouped = 3 * 3 * 4 * (8 // 2)  # each output channel sees half of the 8 inputs
    dense = 3 * 3 * 4 * 5  # applied at each of the 3x3 positions
    assert costs.count_macs(model) == separable + depthwise + grouped + dense


def test_nested_models_are_walked() -> None:
    inner = keras.Sequential([keras.Input((4,)), layers.Dense(3)])
    outer = keras.Sequential([keras.Input((4,)), inner, layers.Dense(2)])
    assert costs.count_macs(outer) == 4 * 3 + 3 * 2


@pytest.mark.parametrize("name", architectures.names())
def test_every_architecture_has_a_positive_count(name: str) -> None:
    arch = architectures.get(name)
    model = arch.build(arch.defaults, MNIST, 10)
    macs = costs.count_macs(model)
    assert isinstance(macs, int)
    # Every kernel weight is used at least once per image; MNIST nets stay under a billion.
    kernels = sum(int(np.prod(weight.shape)) for weight in model.weights if "kernel" in weight.path)
    assert kernels <= macs < 1e9


def test_latency_and_throughput_are_measured() -> None:
    arch = architectures.get("mlp")
    model = arch.build(arch.defaults, MNIST, 10)
    p50, p95 = costs.latency_ms(model, MNIST, repeats=30, warmup=3)
    assert 0 < p50 <= p95 < 1000
    images = np.zeros((300, *MNIST), dtype="float32")
    assert 0 < costs.throughput(model, images, batch_size=128) < 1e8


def test_time_to_target_is_the_first_epoch_that_reaches_it() -> None:
    accuracy = [0.97, 0.985, 0.991, 0.989, 0.995]
    seconds = [10.0, 21.0, 30.5, 41.0, 50.0]
    assert costs.time_to_target(accuracy, seconds) == 30.5
    assert costs.time_to_target(accuracy, seconds, target=0.995) == 50.0
    assert costs.time_to_target(accuracy, seconds, target=0.97) == 10.0
    assert costs.time_to_target(accuracy, seconds, target=0.999) is None
    assert costs.time_to_target([], [], target=0.5) is None
