"""The notebook CNN with batch normalisation after every convolution and the hidden dense layer."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from architectures.common import training_space
from architectures.registry import register

DEFAULTS: dict[str, Any] = {
    "filters_1": 32,
    "filters_2": 64,
    "filters_3": 64,
    "dense_units": 128,
    "dense_dropout": 0.3,  # fraction dropped before the output layer
    "epochs": 6,
    "batch_size": 128,
    "optimizer": "adam",
    "learning_rate": 2e-3,  # batch norm tolerates a larger step
    "lr_schedule": "cosine",  # decays to 1% over the planned epochs
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


def _conv_bn(filters: int, padding: str) -> list[keras.layers.Layer]:
    """Conv without bias (batch norm's shift replaces it), then BN, then ReLU."""
    return [
        layers.Conv2D(filters, 3, padding=padding, use_bias=False),
        layers.BatchNormalization(),
        layers.Activation("relu"),
    ]


@register("batchnorm", "the notebook CNN with batch normalisation after each layer")
def build(params: dict[str, Any], input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """basic's layers with Conv-BN-ReLU blocks, a BN dense layer and head dropout."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            *_conv_bn(params["filters_1"], "same"),
            layers.MaxPooling2D(2),
            *_conv_bn(params["filters_2"], "valid"),
            layers.MaxPooling2D(2),
            *_conv_bn(params["filters_3"], "valid"),
            layers.Flatten(),
            layers.Dense(params["dense_units"], use_bias=False),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.Dropout(params["dense_dropout"]),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="batchnorm",
    )
