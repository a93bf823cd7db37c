"""The notebook CNN with batch normalisation after every convolution and the hidden dense layer."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from architectures.common import bn_head, conv_bn, training_space
from architectures.registry import register

DEFAULTS: dict[str, Any] = {
    "filters_1": 32,
    "filters_2": 64,
    "filters_3": 64,
    "dense_units": 128,
    "dense_dropout": 0.3,  # fraction dropped before the output layer
    "epochs": 3,  # one cycle over this budget, set for time to accuracy
    "batch_size": 128,
    "optimizer": "adam",
    "learning_rate": 4e-3,  # the one-cycle peak, per batch of `batch_size`
    "lr_schedule": "one_cycle",  # 20% linear warm-up from 4% of the peak, cosine decay to 0
    "patience": 3,
}


def search_space(trial: Any) -> dict[str, Any]:
    """Optuna space over widths, head dropout and the training knobs."""
    return {
        "filters_1": trial.suggest_categorical("filters_1", [16, 32, 48]),
        "filters_2": trial.suggest_categorical("filters_2", [32, 64, 96]),
        "filters_3": trial.suggest_categorical("filters_3", [32, 64, 96]),
        "dense_units": trial.suggest_categorical("dense_units", [64, 128, 256]),
        "dense_dropout": trial.suggest_float("dense_dropout", 0.0, 0.5),
        **training_space(trial, DEFAULTS),
    }


@register(
    "batchnorm",
    "the notebook CNN with batch normalisation after each layer; designed for MNIST digits",
)
def build(params: dict[str, Any], input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """basic's layers with Conv-BN-ReLU blocks, a BN dense layer and head dropout."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            *conv_bn(params["filters_1"], padding="same"),
            layers.MaxPooling2D(2),
            *conv_bn(params["filters_2"]),
            layers.MaxPooling2D(2),
            *conv_bn(params["filters_3"]),
            *bn_head(params["dense_units"], params["dense_dropout"], num_classes),
        ],
        name="batchnorm",
    )
