"""The classic Keras MNIST notebook CNN: three convolutions, one hidden dense layer."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from architectures.common import classifier, training_space
from architectures.registry import register

DEFAULTS: dict[str, Any] = {
    "filters_1": 32,  # channels of the first 3x3 convolution
    "filters_2": 64,
    "filters_3": 64,
    "dense_units": 64,
    "epochs": 20,  # the notebook's protocol; early stopping ends run --all sooner
    "batch_size": 128,  # images per step
    "optimizer": "adam",
    "learning_rate": 1e-3,  # per batch of `batch_size`
    "lr_schedule": "constant",  # the notebook's fixed rate
    "patience": 2,  # epochs without a better val_loss before early stopping
}


def search_space(trial: Any) -> dict[str, Any]:
    """Optuna space over filter counts, dense width and the training knobs."""
    return {
        "filters_1": trial.suggest_categorical("filters_1", [16, 32, 48]),
        "filters_2": trial.suggest_categorical("filters_2", [32, 64, 96]),
        "filters_3": trial.suggest_categorical("filters_3", [32, 64, 96]),
        "dense_units": trial.suggest_categorical("dense_units", [32, 64, 128]),
        **training_space(trial, DEFAULTS),
    }


@register(
    "basic",
    "the Keras notebook CNN: 3 convolutions, 2 max-pools, dense 64; designed for MNIST digits",
)
def build(params: dict[str, Any], input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """Conv(32, same)-Pool-Conv(64)-Pool-Conv(64)-Flatten-Dense(64)-Dense(classes)."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(params["filters_1"], 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Conv2D(params["filters_2"], 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(params["filters_3"], 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(params["dense_units"], activation="relu"),
            classifier(num_classes),
        ],
        name="basic",
    )
