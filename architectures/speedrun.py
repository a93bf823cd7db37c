"""The public MNIST speed-record net: two small convolutions, dense 256, one-cycle Adam, 2 epochs.

Designed for 28x28 digits such as MNIST: 5x5 then 3x3 convolutions with 2x2 pooling leave a
5x5x32 map, which a 256-unit layer classifies. Large batches, a high peak learning rate with
short warm-up and a short budget make it the board's time-to-accuracy entry.
"""

from __future__ import annotations

from typing import Any

import keras

from architectures.common import record_net, record_space
from architectures.registry import register

DEFAULTS: dict[str, Any] = {
    "filters_1": 24,  # channels of the 5x5 convolution
    "filters_2": 32,  # channels of the 3x3 convolution
    "dense_units": 256,
    "epochs": 2,  # the record's budget
    # images per step; the record used 256. 512 halves the steps for the 6-s target at a small
    # cost in accuracy (docs/results.md, "Zen 5: the time-to-accuracy targets")
    "batch_size": 512,
    "optimizer": "adam",
    "learning_rate": 1e-2,  # the one-cycle schedule's peak, per batch of `batch_size`
    "beta_1": 0.7,  # Adam's first-moment decay: shorter memory suits a 2-epoch run
    "beta_2": 0.9,  # Adam's second-moment decay
    "lr_schedule": "one_cycle",  # 20% linear warm-up from 4% of the peak, cosine decay to 0
    "patience": 2,  # epochs without a better val_loss: never reached in a 2-epoch budget
}


def search_space(trial: Any) -> dict[str, Any]:
    """Optuna space over widths, batch size, the one-cycle peak and Adam's betas."""
    return record_space(trial, DEFAULTS, peak=(2e-3, 3e-2))


@register("speedrun", "the public MNIST speed-record net for 28x28 digits, one-cycle, 2 epochs")
def build(params: dict[str, Any], input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """Conv5x5-Pool-Conv3x3-Pool-Flatten-Dense(256)-Dense(classes), ReLU after each hidden layer."""
    return keras.Sequential(
        [keras.Input(shape=input_shape), *record_net(params, num_classes)], name="speedrun"
    )
