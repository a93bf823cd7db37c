"""Pieces the architecture modules share: search-space knobs, BN blocks, the float32 classifier."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers


def training_space(trial: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    """Suggest the training knobs every architecture shares; epochs and patience stay fixed."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256]),
        "optimizer": trial.suggest_categorical("optimizer", ["adam", "adamw", "rmsprop"]),
        "lr_schedule": trial.suggest_categorical(
            "lr_schedule", ["constant", "cosine", "one_cycle"]
        ),
        "epochs": defaults["epochs"],
        "patience": defaults["patience"],
    }


def conv_bn(
    filters: int, kernel: int = 3, strides: int = 1, padding: str = "valid"
) -> list[keras.layers.Layer]:
    """Conv without bias (batch norm's shift replaces it), then BN, then ReLU."""
    return [
        layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False),
        layers.BatchNormalization(),
        layers.Activation("relu"),
    ]


def bn_head(units: int, dropout: float, num_classes: int) -> list[keras.layers.Layer]:
    """Flatten, a BN-ReLU dense layer without bias, dropout, then the softmax classifier."""
    return [
        layers.Flatten(),
        layers.Dense(units, use_bias=False),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        layers.Dropout(dropout),
        classifier(num_classes),
    ]


def classifier(num_classes: int) -> keras.layers.Layer:
    """The softmax output layer, computed in float32 whatever the mixed-precision policy.

    Under `mixed_bfloat16` the other layers compute in bfloat16; probabilities and the loss
    stay in float32, where bfloat16's 8-bit mantissa would round small probabilities away.
    Under float32 this is the plain Dense softmax layer.
    """
    return layers.Dense(num_classes, activation="softmax", dtype="float32")


def record_space(trial: Any, defaults: dict[str, Any], peak: tuple[float, float]) -> dict[str, Any]:
    """The record net's Optuna space: widths, batch size, the one-cycle peak (log-uniform
    within `peak`) and Adam's betas; epochs and patience stay the architecture's."""
    return {
        "filters_1": trial.suggest_categorical("filters_1", [16, 24, 32]),
        "filters_2": trial.suggest_categorical("filters_2", [32, 48, 64]),
        "dense_units": trial.suggest_categorical("dense_units", [128, 256, 512]),
        "epochs": defaults["epochs"],
        "batch_size": trial.suggest_categorical("batch_size", [128, 256, 512]),
        "optimizer": "adam",
        "learning_rate": trial.suggest_float("learning_rate", *peak, log=True),
        "beta_1": trial.suggest_float("beta_1", 0.6, 0.9),
        "beta_2": trial.suggest_categorical("beta_2", [0.9, 0.99, 0.999]),
        "lr_schedule": "one_cycle",
        "patience": defaults["patience"],
    }


def record_net(params: dict[str, Any], num_classes: int) -> list[keras.layers.Layer]:
    """The public MNIST speed record's layers after the input (speedrun, jitter)."""
    return [
        layers.Conv2D(params["filters_1"], 5, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(params["filters_2"], 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(params["dense_units"], activation="relu"),
        classifier(num_classes),
    ]
